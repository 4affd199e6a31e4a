"""`GET /api/places?search=` at 5,000 places, against `GET /api/health` in the same run.

Starts the production-shaped stack (atmr/serve.py: gunicorn gthread on PostgreSQL and Redis)
on loopback, seeds the demo company (its 10 real places) and fills the table up to
BENCH_PLACES places (default 5,000: a third global, the rest spread over the demo company and
two others), logs in as the demo dispatcher and times each query: first one request at a time
on one keep-alive connection (latency without queueing), then BENCH_CONCURRENCY connections
at once. Prints a Markdown table (also written to bench/results/places-<date>.md) and the
PostgreSQL plan of the search.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/atmr_places_bench \\
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/places_bench.py

Knobs: BENCH_PLACES, BENCH_REQUESTS (per query and pass, default 400), BENCH_CONCURRENCY
(default 4), BENCH_PORT / BENCH_WS_PORT (default 8220/8221), WEB_WORKERS, WEB_THREADS.
Everything runs on 127.0.0.1 and stops by itself (a fixed number of requests).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atmr import serve as stack

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/atmr_places_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/3"
DISPATCHER = ("dispatcher@demo.atmr.test", "demo-atmr")
QUERIES = [
    ("GET /api/health (ceiling)", "/api/health", False),
    ("GET /api/companies/me (auth floor)", "/api/companies/me", True),
    ("search=hug", "/api/places?search=hug", True),
    ("search=hopital cantonal", "/api/places?search=hopital%20cantonal", True),
    ("search=CHUV", "/api/places?search=CHUV", True),
    ("search=clinique (page of 20)", "/api/places?search=clinique&page_size=20", True),
    ("search=clinique (page of 100)", "/api/places?search=clinique", True),
    ("search=zzzz (no match)", "/api/places?search=zzzz", True),
]


def TARGETED(name: str) -> bool:
    return name.startswith("search=") and "page of 100" not in name


def is_targeted(name: str) -> bool:
    """The target is the search box's: a name or alias, a page of up to 20."""
    return name.startswith("search=") and "page of 100" not in name


# Run inside `manage.py shell`: Django is set up there. Idempotent: refills to the wanted size.
FILL = """
import random
from atmr.accounts.models import Company
from places.models import Place, place_search_text
wanted = {wanted}
demo = Company.objects.get(name="Demo Transports")
others = [Company.objects.get_or_create(name=n)[0] for n in ("Bench Ambulances", "Bench Taxi")]
Place.objects.filter(name__startswith="Bench ").delete()
rng = random.Random(5000)
kinds = ["hospital", "clinic", "dialysis", "care_home", "practice", "other"]
words = {{"hospital": "Hôpital", "clinic": "Clinique", "dialysis": "Centre de dialyse",
    "care_home": "EMS", "practice": "Cabinet médical", "other": "Centre"}}
towns = ["Lausanne", "Genève", "Nyon", "Morges", "Vevey", "Montreux", "Renens", "Pully",
    "Yverdon", "Carouge", "Meyrin", "Rolle", "Gland", "Aigle", "Bulle", "Sion"]
rows = []
for n in range(max(0, wanted - Place.objects.count())):
    kind = rng.choice(kinds)
    town = rng.choice(towns)
    name = f"Bench {{words[kind]}} {{town}} {{n}}"
    aliases = [f"{{town[:3].upper()}}{{n}}", f"Site {{rng.choice(towns)}} {{n % 97}}"]
    company = None if n % 3 == 0 else rng.choice([demo, demo, *others])
    rows.append(Place(company=company, name=name, kind=kind, address=f"Rue {{n}}, {{town}}",
        lat=46.2 + rng.random() * 0.5, lon=6.1 + rng.random() * 0.9, aliases=aliases,
        search_text=place_search_text(name, aliases)))
Place.objects.bulk_create(rows, batch_size=1000)
print(Place.objects.count(), "places")
"""


@dataclass
class Timing:
    name: str
    connections: int
    latencies_ms: list[float]
    seconds: float
    rows: int

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def database(dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname")
    admin = psycopg.conninfo.make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            print(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"email": DISPATCHER[0], "password": DISPATCHER[1]})
    conn.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"log-in failed: {response.status} {data}")
    return data["access"]


def _worker(port: int, path: str, headers: dict[str, str], count: int, out: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status}")
    conn.close()


def measure(port: int, name: str, path: str, token: str | None, n: int, conns: int) -> Timing:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    warm: list[float] = []
    _worker(port, path, headers, 20, warm)  # connections, prepared statements, caches
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    body = json.loads(conn.getresponse().read())
    rows = body.get("count", 0) if isinstance(body, dict) else 0
    latencies: list[list[float]] = [[] for _ in range(conns)]
    threads = [
        threading.Thread(target=_worker, args=(port, path, headers, n // conns, latencies[i]))
        for i in range(conns)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return Timing(name, conns, [x for part in latencies for x in part], seconds, rows)


def explain(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT id FROM accounts_company WHERE name = 'Demo Transports'"
        ).fetchone()
        if found is None:
            raise RuntimeError("No 'Demo Transports' company: the demo seed did not run.")
        company = found[0]
        sql = (
            "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM places_place "
            "WHERE (company_id = %s OR company_id IS NULL) AND search_text LIKE %s "
            "ORDER BY name LIMIT 101"
        )
        return "\n".join(r[0] for r in conn.execute(sql, (company, "%hug%")).fetchall())


def table(timings: list[Timing]) -> str:
    health = {t.connections: t for t in timings if t.name.startswith("GET /api/health")}
    lines = [
        "| query | conns | rows | req/s | % of health | p50 ms | p95 ms | p99 ms | requests |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in timings:
        share = 100 * t.rps / health[t.connections].rps
        lines.append(
            f"| {t.name} | {t.connections} | {t.rows} | {t.rps:,.0f} | {share:.1f}% | "
            f"{t.pct(50):.1f} | {t.pct(95):.1f} | {t.pct(99):.1f} | {len(t.latencies_ms)} |"
        )
    return "\n".join(lines)


def main() -> int:
    dsn = os.environ.get("DATABASE_URL") or DEFAULT_DB
    redis = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    wanted, n = env_int("BENCH_PLACES", 5000), env_int("BENCH_REQUESTS", 400)
    conns = env_int("BENCH_CONCURRENCY", 4)
    shape = stack.Shape(
        port=env_int("BENCH_PORT", 8220),
        ws_port=env_int("BENCH_WS_PORT", 8221),
        workers=env_int("WEB_WORKERS", 2),
        threads=env_int("WEB_THREADS", 4),
    )
    database(dsn)
    base = dict(os.environ, DATABASE_URL=dsn, REDIS_URL=redis, LOG_LEVEL="WARNING")
    env = stack.serving_env(shape, base)
    stack.prepare(env)
    stack.manage(env, "seed_demo", "--days", "1", "--bookings-per-day", "10")
    stack.manage(env, "shell", "-c", FILL.format(wanted=wanted))
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A table in its steady state: refilling leaves dead rows and a long GIN pending list.
        conn.execute("VACUUM ANALYZE places_place")
    server = stack.start(shape, env)
    load_before = os.getloadavg()[0]
    try:
        token = login(shape.port)
        timings = [
            measure(shape.port, name, path, token if auth else None, n, c)
            for c in (1, conns)
            for name, path, auth in QUERIES
        ]
    finally:
        load_after = os.getloadavg()[0]
        server.stop()
    today = datetime.now(UTC).date()
    report = (
        f"# Places search bench, {today}\n\n{wanted:,} places; "
        f"gunicorn {shape.workers} workers x {shape.threads} threads; {os.cpu_count()} cores; "
        f"client on the same machine, {n} requests per row; load average "
        f"{load_before:.1f} before, {load_after:.1f} after.\n\n{table(timings)}\n\n"
        f"```\n{explain(dsn)}\n```\n"
    )
    print(report)
    out = stack.ROOT / "bench" / "results" / f"places-{today}.md"
    out.write_text(report)
    print(f"results: {out}")
    targeted = [t for t in timings if t.connections == 1 and is_targeted(t.name)]
    worst = max(t.pct(95) for t in targeted)
    print(f"worst search p95, one connection: {worst:.1f} ms (target < 20 ms)")
    return 0 if worst < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
