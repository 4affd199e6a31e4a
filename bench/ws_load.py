"""Load test of the realtime sockets: N drivers sending positions, a few dispatchers watching.

Three steps (see realtime/PROTOCOL.md, "Benchmark"):

    python bench/ws_load.py setup   --drivers 1000 --dispatchers 3 [--state FILE]
    python bench/ws_load.py run     [--state FILE] --url ws://127.0.0.1:8765 \
                                    --duration 60 --interval 15 --server-pid <uvicorn pid>
    python bench/ws_load.py cleanup [--state FILE]

`setup` and `cleanup` use the ORM with the same settings/env as the server (DATABASE_URL,
SECRET_KEY / JWT_SIGNING_KEY, so the tokens verify). `run` only talks to the server, then
counts the stored rows through the ORM. Everything targets loopback and is bounded by
--duration. No extra dependencies: RSS and CPU come from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `python bench/ws_load.py` puts bench/ first on sys.path, and bench/ holds packages of other
# benchmarks (bench/http/) that would shadow the standard library for websockets and Django.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
BENCH_COMPANY = "ws-bench"
MAX_DURATION_S = 1800
MAX_DRIVERS = 20_000
# Holds access tokens: outside the repository on purpose.
DEFAULT_STATE = str(Path(tempfile.gettempdir()) / "atmr_ws_bench.json")


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmr.settings")
    import django

    django.setup()


# --- setup / cleanup (ORM) ----------------------------------------------------------------------
def setup(args: argparse.Namespace) -> None:
    django_setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from atmr.accounts.models import Company, User
    from atmr.accounts.tokens import token_claims
    from drivers.models import Driver

    if Company.objects.filter(name=BENCH_COMPANY).exists():
        sys.exit(f"A company named {BENCH_COMPANY!r} exists: run cleanup first.")
    unusable = make_password(None)
    with transaction.atomic():
        company = Company.objects.create(name=BENCH_COMPANY)
        users = User.objects.bulk_create(
            User(
                email=f"bench-driver-{i}@ws-bench.test",
                company=company,
                role=User.Role.DRIVER,
                password=unusable,
            )
            for i in range(args.drivers)
        )
        drivers = Driver.objects.bulk_create(
            Driver(company=company, user=u, status=Driver.Status.AVAILABLE) for u in users
        )
        office = User.objects.bulk_create(
            User(
                email=f"bench-dispatcher-{i}@ws-bench.test",
                company=company,
                role=User.Role.DISPATCHER,
                password=unusable,
            )
            for i in range(args.dispatchers)
        )

    def token(user: User) -> str:
        access = AccessToken.for_user(user)
        access.set_exp(lifetime=timedelta(minutes=args.token_minutes))
        for key, value in token_claims(user).items():
            access[key] = value
        return str(access)

    for user, driver in zip(users, drivers, strict=True):
        user.driver_profile = driver  # token_claims reads it; saves a query per driver
    state = {
        "company_id": str(company.id),
        "drivers": [
            {"id": str(d.id), "token": token(u)} for u, d in zip(users, drivers, strict=True)
        ],
        "dispatchers": [token(u) for u in office],
    }
    Path(args.state).write_text(json.dumps(state))
    print(f"Created {len(drivers)} drivers and {len(office)} dispatchers; state in {args.state}")


def cleanup(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import transaction

    from atmr.accounts.models import Company, User
    from drivers.models import Driver, DriverLocation

    with transaction.atomic():
        for company in Company.objects.filter(name=BENCH_COMPANY):
            rows = DriverLocation.objects.filter(company=company).delete()[0]
            Driver.objects.filter(company=company).delete()
            users = User.objects.filter(company=company).delete()[0]
            company.delete()
            print(f"Deleted {rows} positions and {users} rows of users and their tokens.")
    Path(args.state).unlink(missing_ok=True)


def stored_rows(company_id: str, since: datetime) -> tuple[int, int]:
    """(rows received since `since`, distinct (driver, recorded_at) among them)."""
    django_setup()
    from django.db.models import Count

    from drivers.models import DriverLocation

    qs = DriverLocation.objects.filter(company_id=company_id, received_at__gte=since)
    rows = qs.count()
    distinct = qs.values("driver_id", "recorded_at").annotate(n=Count("id")).count()
    return rows, distinct


# --- /proc sampling ------------------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children.get(current, []))
    return pids


def rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


# --- the load ------------------------------------------------------------------------------------
@dataclass
class Stats:
    connected: int = 0
    failed: int = 0
    closed_early: int = 0
    batches_sent: int = 0
    positions_sent: int = 0
    acked_batches: int = 0
    acked_positions: int = 0
    errors: int = 0
    sent_at: dict[tuple[str, int], float] = field(default_factory=dict)
    ack_waits: dict[str, float] = field(default_factory=dict)
    ack_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    unmatched: int = 0


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


async def driver(
    url: str,
    me: dict[str, str],
    args: argparse.Namespace,
    stats: Stats,
    gate: asyncio.Semaphore,
    start: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    try:
        async with gate:
            ws = await connect(
                f"{url}/ws/driver/",
                additional_headers={"Authorization": f"Bearer {me['token']}"},
                compression=None,
                ping_interval=None,
                open_timeout=60,
                max_queue=None,
            )
            json.loads(await ws.recv())  # hello
    except Exception:
        stats.failed += 1
        return
    stats.connected += 1

    async def read_acks() -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "ack":
                stats.acked_batches += 1
                stats.acked_positions += message["accepted"]
                sent = stats.ack_waits.pop(message["id"], None)
                if sent is not None:
                    stats.ack_ms.append((time.perf_counter() - sent) * 1000)
            elif message["type"] == "error":
                stats.errors += 1

    reader = asyncio.create_task(read_acks())
    try:
        await start.wait()
        await asyncio.sleep(random.uniform(0, args.interval))  # phones are not synchronised
        seq = 0
        lat, lon = 46.5 + random.random() / 10, 6.6 + random.random() / 10
        while not stop.is_set():
            began = time.perf_counter()
            now_ms = int(time.time() * 1000)
            n = args.batch
            positions = [
                {"lat": lat, "lon": lon + k / 10_000, "ts": now_ms - (n - 1 - k), "speed": 8.5}
                for k in range(n)
            ]
            batch_id = f"{me['id'][:8]}-{seq}"
            stats.sent_at[(me["id"], now_ms)] = began
            stats.ack_waits[batch_id] = began
            await ws.send(
                json.dumps({"type": "location_batch", "id": batch_id, "positions": positions})
            )
            stats.batches_sent += 1
            stats.positions_sent += n
            seq += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.interval - (time.perf_counter() - began))
        await asyncio.sleep(args.drain)  # let the last acks arrive
    except ConnectionClosed:
        stats.closed_early += 1
    finally:
        reader.cancel()
        await ws.close()


async def dispatcher(
    url: str, token: str, stats: Stats, ready: asyncio.Queue[bool], stop: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect

    try:
        ws = await connect(
            f"{url}/ws/company/?token={token}",
            compression=None,
            ping_interval=None,
            max_queue=None,
            open_timeout=60,
        )
        json.loads(await ws.recv())  # hello
    except Exception:
        await ready.put(False)
        return
    await ready.put(True)
    async with ws:

        async def read() -> None:
            async for raw in ws:
                received = time.perf_counter()
                message = json.loads(raw)
                if message["type"] != "driver_position":
                    continue
                sent = stats.sent_at.get((message["driver_id"], _ms(message["recorded_at"])))
                if sent is None:
                    stats.unmatched += 1
                else:
                    stats.latency_ms.append((received - sent) * 1000)

        reader = asyncio.create_task(read())
        await stop.wait()
        await asyncio.sleep(1.0)
        reader.cancel()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    state = json.loads(Path(args.state).read_text())
    drivers = state["drivers"][: args.drivers] if args.drivers else state["drivers"]
    if len(drivers) + 100 > hard:
        sys.exit(f"{len(drivers)} sockets need more file descriptors than the limit {hard}.")
    stats, start, stop = Stats(), asyncio.Event(), asyncio.Event()
    base_rss = rss_mb(args.server_pid) if args.server_pid else None

    t0 = time.perf_counter()
    ready: asyncio.Queue[bool] = asyncio.Queue()
    office = [
        asyncio.create_task(dispatcher(args.url, t, stats, ready, stop))
        for t in state["dispatchers"]
    ]
    watching = sum([await ready.get() for _ in office])
    print(f"{watching} of {len(office)} dispatchers connected", flush=True)
    gate = asyncio.Semaphore(args.connect_concurrency)
    phones = [
        asyncio.create_task(driver(args.url, d, args, stats, gate, start, stop)) for d in drivers
    ]
    while stats.connected + stats.failed < len(drivers) and time.perf_counter() - t0 < 300:
        if all(task.done() for task in phones):
            break
        await asyncio.sleep(0.2)
    ramp_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    held_rss = rss_mb(args.server_pid) if args.server_pid else None
    print(
        f"{stats.connected} drivers connected ({stats.failed} failed) in {ramp_s:.1f} s", flush=True
    )

    since = datetime.now(UTC)
    cpu0 = cpu_seconds(args.server_pid) if args.server_pid else 0.0
    # The generator shares the cores with the server: its own CPU says how close it is to
    # being the bottleneck (one process, so 100 % is all it can take).
    own0 = time.process_time()
    # The generator's own full collections (tens of thousands of sockets and samples) stall
    # its loop and would be counted as server latency: none during the timed load.
    gc.collect()
    gc.freeze()
    gc.disable()
    t_start = time.perf_counter()
    start.set()
    await asyncio.sleep(args.duration)
    stop.set()
    load_s = time.perf_counter() - t_start
    cpu1 = cpu_seconds(args.server_pid) if args.server_pid else 0.0
    own1 = time.process_time()
    gc.enable()
    peak_rss = rss_mb(args.server_pid) if args.server_pid else None
    await asyncio.gather(*phones, *office, return_exceptions=True)

    # A saturated server still works through its backlog: count once the table stops growing.
    rows, distinct = await asyncio.to_thread(stored_rows, state["company_id"], since)
    settle_until = time.perf_counter() + 60
    while time.perf_counter() < settle_until:
        await asyncio.sleep(2)
        again = await asyncio.to_thread(stored_rows, state["company_id"], since)
        if again == (rows, distinct):
            break
        rows, distinct = again
    report = {
        "drivers": len(drivers),
        "dispatchers": watching,
        "connected": stats.connected,
        "failed_connects": stats.failed,
        "closed_early": stats.closed_early,
        "ramp_s": round(ramp_s, 1),
        "duration_s": round(load_s, 1),
        "interval_s": args.interval,
        "batches_sent": stats.batches_sent,
        "batches_per_s": round(stats.batches_sent / load_s, 1),
        "positions_sent": stats.positions_sent,
        "positions_acked": stats.acked_positions,
        "rows_stored": rows,
        "rows_distinct": distinct,
        "rows_per_s": round(rows / load_s, 1),
        "lost": stats.positions_sent - rows,
        "doubled": rows - distinct,
        "errors": stats.errors,
        "fanout_msgs": len(stats.latency_ms),
        "unmatched": stats.unmatched,
        "latency_p50_ms": round(_pct(stats.latency_ms, 0.50), 1),
        "latency_p95_ms": round(_pct(stats.latency_ms, 0.95), 1),
        "latency_p99_ms": round(_pct(stats.latency_ms, 0.99), 1),
        "latency_max_ms": round(max(stats.latency_ms, default=float("nan")), 1),
        "ack_p50_ms": round(_pct(stats.ack_ms, 0.50), 1),
        "ack_p95_ms": round(_pct(stats.ack_ms, 0.95), 1),
        "loadgen_cpu_pct": round((own1 - own0) / load_s * 100, 1),
        "loadavg_1m": round(os.getloadavg()[0], 1),
    }
    if args.server_pid:
        report |= {
            "server_rss_idle_mb": round(base_rss or 0, 1),
            "server_rss_held_mb": round(held_rss or 0, 1),
            "server_rss_peak_mb": round(peak_rss or 0, 1),
            "server_mb_per_1000_conns": round(
                ((held_rss or 0) - (base_rss or 0)) / max(stats.connected, 1) * 1000, 1
            ),
            "server_cpu_pct": round((cpu1 - cpu0) / load_s * 100, 1),
        }
    print(json.dumps(report, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2))
    if report["lost"] > 0 and stats.closed_early == 0:
        sys.exit("positions were lost")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--drivers", type=int, default=1000)
    s.add_argument("--dispatchers", type=int, default=3)
    s.add_argument("--token-minutes", type=int, default=120)
    s.add_argument("--state", default=DEFAULT_STATE)
    c = sub.add_parser("cleanup")
    c.add_argument("--state", default=DEFAULT_STATE)
    r = sub.add_parser("run")
    r.add_argument("--state", default=DEFAULT_STATE)
    r.add_argument("--url", default="ws://127.0.0.1:8765")
    r.add_argument("--drivers", type=int, default=0, help="use the first N (default: all)")
    r.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    r.add_argument("--interval", type=float, default=15.0, help="seconds between a phone's batches")
    r.add_argument("--batch", type=int, default=3, help="positions per batch")
    r.add_argument("--drain", type=float, default=5.0, help="seconds to wait for last acks")
    r.add_argument("--connect-concurrency", type=int, default=200)
    r.add_argument("--server-pid", type=int, default=0, help="uvicorn master pid (RSS, CPU)")
    r.add_argument("--json-out", default="")
    args = parser.parse_args()
    if args.step == "setup":
        if not 1 <= args.drivers <= MAX_DRIVERS:
            sys.exit(f"--drivers must be 1..{MAX_DRIVERS}")
        setup(args)
    elif args.step == "cleanup":
        cleanup(args)
    else:
        if not 1 <= args.duration <= MAX_DURATION_S or args.interval <= 0:
            sys.exit(f"--duration must be 1..{MAX_DURATION_S} s and --interval positive")
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
