"""`make bench`: the production-shaped stack on PostgreSQL and Redis under bounded wrk loads.

Writes bench/results/<date>.md: one table per scenario (req/s, p50/p95/p99, errors, SQL per
request, server CPU and RSS), each figure also as a share of the trivial `/api/health` in the
same run, then the bookings list again with about 1 M rows in the table, with EXPLAIN output.

Every load targets 127.0.0.1 and stops by itself (wrk -d). Knobs (environment):
DATABASE_URL / REDIS_URL (default: a local `atmr_bench` database, created, and Redis db 2),
BENCH_DURATION (s, default 20), BENCH_MIX_DURATION (s, default 60), BENCH_THINK_MIN_MS /
BENCH_THINK_MAX_MS (mix think time, default 3000-9000), BENCH_SCALE_ROWS (default 1000000;
0 skips the scale step), BENCH_PORT / BENCH_WS_PORT (default 8800/8801), BENCH_ONLY (a
comma-separated subset of health,lists,mix,scale,positions; default all).

The `positions` part (no server, no wrk) runs bench/positions_bench.py on the same database
once the HTTP loads are over: a day of BENCH_POSITIONS_ROWS fixes (default 2,000,000; 29 M is
a full day of 10,000 drivers) loaded with COPY into its day partition, one driver's track, the
websocket write path at 667 batches/s for BENCH_POSITIONS_SECONDS (default 20), and dropping
the day; its figures go in the results file beside the targets of issue 15.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from atmr import serve as stack
from bench.web_load import bulk

ROOT = stack.ROOT
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/atmr_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"
DEMO = "Demo Transports"
DISPATCHER = ("dispatcher@demo.atmr.test", "demo-atmr")
BOOKINGS_PER_DAY = 50  # scenario 1: a day of 50 bookings
STATS_FLUSH_S = 11


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass
class Sample:
    """CPU seconds per process group and PostgreSQL transaction counters at one instant."""

    at: float
    web: float
    postgres: float
    total: float
    xacts: int


@dataclass
class Result:
    name: str
    connections: int
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    errors: int
    statuses: dict[str, int]
    sql_per_request: float | None = None
    web_cpu: float = 0.0  # % of one core, all web workers together
    pg_cpu: float = 0.0
    other_cpu: float = 0.0  # everything else on the machine (wrk, other people's jobs)
    rss_mb: list[float] = field(default_factory=list)
    note: str = ""


class Bench:
    def __init__(self) -> None:
        self.dsn = os.environ.get("DATABASE_URL") or DEFAULT_DB
        self.redis = os.environ.get("REDIS_URL") or DEFAULT_REDIS
        self.duration = env_int("BENCH_DURATION", 20)
        self.mix_duration = env_int("BENCH_MIX_DURATION", 60)
        self.think = (env_int("BENCH_THINK_MIN_MS", 3000), env_int("BENCH_THINK_MAX_MS", 9000))
        self.shape = stack.Shape(
            port=env_int("BENCH_PORT", 8800),
            ws_port=env_int("BENCH_WS_PORT", 8801),
            workers=env_int("WEB_WORKERS", 2),
            threads=env_int("WEB_THREADS", 4),
        )
        self.base = f"http://127.0.0.1:{self.shape.port}"
        self.day = datetime.now(ZoneInfo("Europe/Zurich")).date()
        self.results: list[Result] = []
        self.notes: list[str] = []
        self.explains: dict[str, str] = {}
        self.only = {part for part in os.environ.get("BENCH_ONLY", "").split(",") if part}
        self.positions_figures: dict | None = None

    def wants(self, part: str) -> bool:
        return not self.only or part in self.only

    # --- set-up ---------------------------------------------------------------------------
    def database(self) -> None:
        info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        name = info.get("dbname")
        admin = psycopg.conninfo.make_conninfo(self.dsn, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if not exists.fetchone():
                print(f"creating database {name}")
                conn.execute(f'CREATE DATABASE "{name}"')

    def env(self) -> dict[str, str]:
        base = dict(os.environ, DATABASE_URL=self.dsn, REDIS_URL=self.redis)
        # The mix logs in hundreds of times from one address: lift the throttles for the run.
        base["LOGIN_RATE_PER_IP"] = base["LOGIN_RATE_PER_EMAIL"] = "1000000/min"
        base.setdefault("LOG_LEVEL", "WARNING")
        return stack.serving_env(self.shape, base)

    def seed(self, env: dict[str, str]) -> None:
        stack.prepare(env)
        stack.manage(env, "seed_demo", "--days", "2", "--bookings-per-day", str(BOOKINGS_PER_DAY))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            # Earlier runs' created bookings and queued dispatch runs would skew the mix.
            conn.execute(
                "DELETE FROM bookings_booking WHERE pickup_address = 'Rue du Bench 1, Lausanne' "
                "AND company_id = (SELECT id FROM accounts_company WHERE name = %s)",
                (DEMO,),
            )
            conn.execute(
                "DELETE FROM dispatch_dispatchrun WHERE company_id = "
                "(SELECT id FROM accounts_company WHERE name = %s)",
                (DEMO,),
            )

    # --- measuring ------------------------------------------------------------------------
    def web_procs(self, web: subprocess.Popen[bytes]) -> list[psutil.Process]:
        return psutil.Process(web.pid).children()

    def sample(self, web: subprocess.Popen[bytes]) -> Sample:
        def cpu(procs: list[psutil.Process]) -> float:
            total = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            return total

        pg = [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres",)]
        times = psutil.cpu_times()
        busy = times.user + times.system + getattr(times, "nice", 0) + getattr(times, "irq", 0)
        busy += getattr(times, "softirq", 0)
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            ).fetchone()
        assert row is not None  # the current database always has a pg_stat_database row
        return Sample(time.monotonic(), cpu(self.web_procs(web)), cpu(pg), busy, row[0])

    def wrk(
        self, path: str, connections: int, duration: int, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        threads = 2 if connections >= 2 and not env else 1
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s"]
        cmd += ["-s", str(HERE / "report.lua")]
        if self.token and not path.startswith("/api/auth") and path != "/api/health":
            cmd += ["-H", f"Authorization: Bearer {self.token}"]
        cmd.append(self.base + path)
        return subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
        )

    @staticmethod
    def parse(proc: subprocess.Popen[str]) -> dict:
        out, _ = proc.communicate()
        for line in out.splitlines():
            if line.startswith("WRK_JSON "):
                return json.loads(line.removeprefix("WRK_JSON "))
        raise RuntimeError(f"wrk printed no summary:\n{out}")

    def run(
        self,
        web: subprocess.Popen[bytes],
        loads: Sequence[tuple[str, str, int, dict[str, str] | None]],
        duration: int,
    ) -> list[Result]:
        """Runs the loads together; CPU and SQL counters cover the whole window."""
        # PostgreSQL flushes an idle backend's statistics within 10 s (PGSTAT_IDLE_INTERVAL).
        time.sleep(STATS_FLUSH_S)
        before = self.sample(web)
        procs = [(name, self.wrk(path, c, duration, env), c) for name, path, c, env in loads]
        parsed = [(name, self.parse(p), c) for name, p, c in procs]
        finished = self.sample(web)
        time.sleep(STATS_FLUSH_S)
        after = self.sample(web)
        after = Sample(finished.at, finished.web, finished.postgres, finished.total, after.xacts)
        span = after.at - before.at
        web_cpu = (after.web - before.web) / span * 100
        # Short-lived backends (the samples' own connections) can make this dip below zero.
        pg_cpu = max((after.postgres - before.postgres) / span * 100, 0.0)
        other = (after.total - before.total) / span * 100 - web_cpu - pg_cpu
        rss = [p.memory_info().rss / 2**20 for p in self.web_procs(web)]
        total_requests = sum(d["requests"] for _, d, _ in parsed) or 1
        sql = (after.xacts - before.xacts) / total_requests
        results = []
        for name, d, c in parsed:
            bad = sum(n for code, n in d["statuses"].items() if not code.startswith("2"))
            errors = bad + d["connect"] + d["read"] + d["write"] + d["timeout"]
            results.append(
                Result(
                    name=name,
                    connections=c,
                    rps=d["requests"] / (d["duration_us"] / 1e6),
                    p50=d["p50"] / 1000,
                    p95=d["p95"] / 1000,
                    p99=d["p99"] / 1000,
                    requests=d["requests"],
                    errors=errors,
                    statuses=d["statuses"],
                    sql_per_request=sql if len(loads) == 1 else None,
                    web_cpu=web_cpu,
                    pg_cpu=pg_cpu,
                    other_cpu=max(other, 0.0),
                    rss_mb=rss,
                )
            )
        for r in results:
            print(
                f"  {r.name}: {r.rps:,.0f} req/s p50 {r.p50:.1f} p95 {r.p95:.1f} "
                f"p99 {r.p99:.1f} ms errors {r.errors} statuses {r.statuses}"
            )
        return results

    # --- API helpers ----------------------------------------------------------------------
    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if getattr(self, "token", None):
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, {}

    def login(self) -> None:
        self.token = ""
        status, body = self.call(
            "POST", "/api/auth/login", {"email": DISPATCHER[0], "password": DISPATCHER[1]}
        )
        if status != 200:
            raise RuntimeError(f"log-in failed: {status}")
        self.token = body["access"]

    # --- EXPLAIN --------------------------------------------------------------------------
    def explain(self, label: str) -> None:
        with psycopg.connect(self.dsn) as conn:
            found = conn.execute(
                "SELECT id, timezone FROM accounts_company WHERE name = %s", (DEMO,)
            ).fetchone()
            assert found is not None, "the demo company is seeded before the bench runs"
            company, tz = found
            driver = conn.execute(
                "SELECT driver_id FROM bookings_booking WHERE company_id = %s AND driver_id "
                "IS NOT NULL LIMIT 1",
                (company,),
            ).fetchone()
            start = datetime.combine(self.day, datetime.min.time(), tzinfo=ZoneInfo(tz))
            end = start + timedelta(days=1)
            day = {"c": company, "s": start, "e": end}
            queries = {
                "bookings of a company's day (GET /api/bookings?date=, rows)": (
                    "SELECT b.id, b.scheduled_at, c.last_name, u.last_name, v.plate, r.id "
                    "FROM bookings_booking b JOIN bookings_client c ON c.id = b.client_id "
                    "LEFT JOIN drivers_driver d ON d.id = b.driver_id "
                    "LEFT JOIN accounts_user u ON u.id = d.user_id "
                    "LEFT JOIN drivers_vehicle v ON v.id = b.vehicle_id "
                    "LEFT JOIN bookings_booking r ON r.return_of_id = b.id "
                    "WHERE b.company_id = %(c)s AND b.scheduled_at >= %(s)s "
                    "AND b.scheduled_at < %(e)s ORDER BY b.scheduled_at LIMIT 100"
                ),
                "count of a company's day (GET /api/bookings?date=, count)": (
                    "SELECT count(*) FROM bookings_booking WHERE company_id = %(c)s "
                    "AND scheduled_at >= %(s)s AND scheduled_at < %(e)s"
                ),
                "a driver's day (driver app, manual-assign conflict check)": (
                    "SELECT id FROM bookings_booking WHERE driver_id = %(d)s "
                    "AND scheduled_at >= %(s)s AND scheduled_at < %(e)s ORDER BY scheduled_at"
                ),
                "pending bookings of a company's day (status filter, dispatch board)": (
                    "SELECT id FROM bookings_booking WHERE company_id = %(c)s "
                    "AND status = 'pending' AND scheduled_at >= %(s)s "
                    "AND scheduled_at < %(e)s ORDER BY scheduled_at"
                ),
            }
            day["d"] = driver[0] if driver else None
            for title, sql in queries.items():
                conn.execute(sql, day).fetchall()  # warm the cache like a live server
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, day).fetchall()
                self.explains[f"{title} — {label}"] = "\n".join(r[0] for r in plan)

    # --- the run --------------------------------------------------------------------------
    def main(self) -> int:
        if self.only == {"positions"}:  # the positions part alone: no server, no wrk
            self.database()
            env = self.env()
            stack.prepare(env)
            self.positions(env)
            print(f"results: {self.write()}")
            return 0
        if not shutil.which("wrk"):
            print("make bench needs wrk (apt-get install -y wrk)", file=sys.stderr)
            return 2
        self.database()
        env = self.env()
        self.seed(env)
        print("filler rows: 10 k bookings in the table")
        bulk.shrink_to_demo(self.dsn)
        rows_small = bulk.grow_to(self.dsn, 10_000)
        self.explain(f"{rows_small:,} rows")
        log_dir = Path(tempfile.gettempdir()) / "atmr-bench-logs"
        server = stack.start(self.shape, env, log_dir=log_dir)
        try:
            self.scenarios(server.web, rows_small)
            scale = env_int("BENCH_SCALE_ROWS", 1_000_000)
            if scale and self.wants("scale"):
                print(f"filler rows: {scale:,} bookings in the table")
                rows_big = bulk.grow_to(self.dsn, scale)
                self.explain(f"{rows_big:,} rows")
                self.login()
                day = f"/api/bookings?date={self.day}"
                big = self.run(
                    server.web,
                    [("GET /api/bookings?date= (50 rows)", day, 50, None)],
                    self.duration,
                )[0]
                big.note = f"{rows_big:,} rows in the table"
                self.results.append(big)
                self.results.append(self.fresh_bookings(server.web, big.note))
        finally:
            server.stop()
        if self.wants("positions"):
            self.positions(env)
        path = self.write()
        print(f"results: {path}")
        return 0

    def fresh_bookings(self, web: subprocess.Popen[bytes], note: str) -> Result:
        """The bookings list past its page cache (`Cache-Control: no-cache`): the database path,
        which is what the table's size could slow down."""
        self.login()
        name = "GET /api/bookings?date= (50 rows, no-cache)"
        day = f"/api/bookings?date={self.day}"
        result = self.run(web, [(name, day, 50, {"BENCH_NO_CACHE": "1"})], self.duration)[0]
        result.note = note
        return result

    def scenarios(self, web: subprocess.Popen[bytes], rows: int) -> None:
        d = self.duration
        note = f"{rows:,} rows in the table"
        self.token = ""
        if self.wants("health"):
            health = self.run(web, [("GET /api/health (ceiling)", "/api/health", 50, None)], d)
            health[0].note = "no auth, no DB"
            self.results.append(health[0])
        self.login()
        day = f"/api/bookings?date={self.day}"
        status, body = self.call("GET", day)
        assert status == 200 and body["count"] == BOOKINGS_PER_DAY, (status, body.get("count"))
        singles = [
            ("GET /api/bookings?date= (50 rows)", day),
            ("GET /api/drivers (30 rows)", "/api/drivers"),
            ("GET /api/companies/me", "/api/companies/me"),
            ("GET /api/vehicles (30 rows)", "/api/vehicles"),
            ("GET /api/clients (100 of 300 rows)", "/api/clients"),
        ]
        for name, path in singles if self.wants("lists") else []:
            self.login()  # a fresh 15-minute token for each load
            result = self.run(web, [(name, path, 50, None)], d)[0]
            result.note = note
            self.results.append(result)
        if self.wants("lists") or self.wants("scale"):
            self.results.append(self.fresh_bookings(web, note))
        if self.wants("mix"):
            self.mix(web)

    def mix(self, web: subprocess.Popen[bytes]) -> None:
        self.login()
        _, clients = self.call("GET", "/api/clients?page_size=1")
        client = clients["results"][0]["id"]
        probe, _ = self.call("POST", "/api/dispatch/run", {"date": "2000-01-01", "mode": "x"})
        dispatch = probe != 404
        if not dispatch:
            self.notes.append("dispatch run skipped: POST /api/dispatch/run answers 404.")
        think = {"BENCH_THINK_MIN_MS": str(self.think[0]), "BENCH_THINK_MAX_MS": str(self.think[1])}
        base_epoch = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
        base_epoch += (int(time.time()) % 5000) * 86400 * 7  # new days on every run
        create_day = str(self.day + timedelta(days=30))
        users = [
            ("mix: POST /api/auth/login", "/api/auth/login", 20, {"BENCH_KIND": "login"}),
            ("mix: GET /api/bookings?date=", f"/api/bookings?date={self.day}", 40, {}),
            (
                "mix: POST /api/bookings",
                "/api/bookings",
                10,
                {"BENCH_KIND": "create", "BENCH_CLIENT": client, "BENCH_CREATE_DAY": create_day},
            ),
            ("mix: GET /api/drivers", "/api/drivers", 20, {}),
        ]
        if dispatch:
            users.append(
                (
                    "mix: POST /api/dispatch/run (suggest)",
                    "/api/dispatch/run",
                    10,
                    {"BENCH_KIND": "dispatch", "BENCH_DISPATCH_BASE_EPOCH": str(base_epoch)},
                )
            )
        loads = [(n, p, c, {**think, **e}) for n, p, c, e in users]
        for result in self.run(web, loads, self.mix_duration):
            result.note = f"100 users, think {self.think[0]}-{self.think[1]} ms"
            self.results.append(result)

    # --- positions (no server) -------------------------------------------------------------
    def positions(self, env: dict[str, str]) -> None:
        """bench/positions_bench.py on this database, bounded by BENCH_POSITIONS_ROWS and
        BENCH_POSITIONS_SECONDS; its JSON figures go in the results file."""
        rows = env_int("BENCH_POSITIONS_ROWS", 2_000_000)
        seconds = env_int("BENCH_POSITIONS_SECONDS", 20)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "positions.json"
            command = [sys.executable, str(ROOT / "bench" / "positions_bench.py")]
            command += ["--rows", str(rows), "--write-seconds", str(seconds), "--json", str(out)]
            print(f"positions: {rows:,} fixes of 10,000 drivers, write path for {seconds} s")
            before = os.getloadavg()
            done = subprocess.run(command, env=env, cwd=ROOT, check=False)
            if done.returncode or not out.exists():
                self.notes.append(f"positions bench failed (exit {done.returncode}).")
                return
            self.positions_figures = {
                **json.loads(out.read_text()),
                "loadavg": (before, os.getloadavg()),
            }

    def positions_lines(self) -> list[str]:
        p = self.positions_figures
        if not p:
            return []
        steps = ", ".join(f"{k} {v} s" for k, v in p["load_s"].items())
        track, write = p["track_ms"], p["write_path_ms"]
        (b1, b5, b15), (a1, a5, a15) = p["loadavg"]
        return [
            "## Positions (day-partitioned table, bench/positions_bench.py)",
            "",
            f"{p['drivers']:,} drivers; load average {b1:.2f} {b5:.2f} {b15:.2f} before, "
            f"{a1:.2f} {a5:.2f} {a15:.2f} after. A full day (10,000 drivers, 12 h, a fix every "
            "15 s) is 28.8 M rows.",
            "",
            "| what | measured | target |",
            "| --- | --- | --- |",
            "| load a day with COPY "
            + (
                "(into the day's bare table, then its key, then ATTACH) "
                if p["load_method"] == "partition"
                else "(through the partitioned table) "
            )
            + f"| {p['rows']:,} rows in {p['load_total_s']} s ({steps}); COPY "
            f"{p['copy_rows_per_s']:,} rows/s, all steps {p['rows_per_s']:,} rows/s; "
            f"{p['partition_mib']:,} MiB | - |",
            f"| write path, {write['batches_per_s']} batches/s of 3 fixes for "
            f"{write['seconds']:.0f} s | batch wait+store p50 {write['p50']} ms, p95 "
            f"{write['p95']} ms, p99 {write['p99']} ms; flush p95 {write['flush_p95']} ms "
            "| p95 as before partitioning (22 ms end to end) |",
            f"| drop the day | {p['drop_s']} s for {p['rows']:,} rows | < 5 s |",
            *(
                [
                    f"| one driver's track as the phones wrote it ({written['fixes']:,} fixes) "
                    f"| read once: p50 {written['p50']} ms, p95 {written['p95']} ms, max "
                    f"{written['max']} ms | < 50 ms |"
                ]
                if (written := p.get("track_as_written_ms"))
                else []
            ),
            *(
                [
                    f"| the nightly step ({p['nightly']}) on the day, during the write path | "
                    f"{p['nightly_s']['total']} s | - |"
                ]
                if p.get("nightly_s")
                else []
            ),
            f"| one driver's track for the day ({track['fixes']:,} fixes"
            + (f", after the nightly step {p['nightly']}" if p.get("nightly_s") else "")
            + f") | read once: p50 {track['p50']} ms, p95 {track['p95']} ms, max "
            f"{track['max']} ms over {track['drivers']} drivers; read again: p50 "
            f"{track['warm_p50']} ms | < 50 ms |",
            "",
        ]

    # --- the report -----------------------------------------------------------------------
    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = "".join(f"-{part}" for part in sorted(self.only))  # partial runs: own file
        path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}{suffix}.md"
        ceiling = next((r for r in self.results if r.name.startswith("GET /api/health")), None)
        if self.only == {"positions"}:
            title = f"# Positions benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
            machine = (
                f"Machine: {psutil.cpu_count()} cores, "
                f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}."
            )
            body = [*[f"- {n}" for n in self.notes], "", *self.positions_lines()]
            path.write_text("\n".join([title, "", machine, "", *body]))
            return path
        lines = [
            f"# HTTP benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} "
            f"GiB, {platform.platform()}. Server: gunicorn gthread {self.shape.workers} workers "
            f"x {self.shape.threads} threads (psycopg pool {self.shape.threads} per worker), "
            "uvicorn for websockets (idle here), DEBUG off, PostgreSQL and Redis on loopback. "
            f"Load: wrk on the same machine, {self.duration} s per single-endpoint load, "
            f"{self.mix_duration} s for the mix; JWT on every API call.",
            "",
            "Columns: req/s and its share of the trivial endpoint's req/s in the same run; "
            "latency percentiles in ms; errors = non-2xx + socket errors; SQL/req = "
            "PostgreSQL transactions per request (pg_stat_database; every statement is its "
            "own transaction in autocommit, so this is queries per request for reads); CPU "
            "in % of one core over the load window (web = all gunicorn workers, other = "
            "everything else on the machine, wrk and other jobs included); RSS of each web "
            "worker after the load.",
            "",
            "| scenario | conns | req/s | % of health | p50 | p95 | p99 | requests | errors "
            "| SQL/req | web CPU | PG CPU | other CPU | worker RSS MB | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]

        def share(r: Result) -> str:
            return f"{r.rps / ceiling.rps:.1%}" if ceiling else "-"

        for r in self.results:
            sql = "" if r.sql_per_request is None else f"{r.sql_per_request:.2f}"
            rss = " / ".join(f"{m:.0f}" for m in r.rss_mb)
            lines.append(
                f"| {r.name} | {r.connections} | {r.rps:,.0f} | {share(r)} "
                f"| {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} | {r.requests:,} | {r.errors} "
                f"| {sql} | {r.web_cpu:.0f} % | {r.pg_cpu:.0f} % | {r.other_cpu:.0f} % "
                f"| {rss} | {r.note} |"
            )
        lines += ["", *[f"- {n}" for n in self.notes], "", *self.positions_lines()]
        lines += ["## EXPLAIN (ANALYZE, BUFFERS)", ""] if self.explains else []
        for title, plan in self.explains.items():
            lines += [f"### {title}", "", "```", plan, "```", ""]
        path.write_text("\n".join(lines))
        return path


if __name__ == "__main__":
    sys.exit(Bench().main())
