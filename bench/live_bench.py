"""The live day's benchmark: re-planning from now and fitting a new trip in, through the
product's own services, on a synthetic day around Lausanne-Geneva (bench/dispatch_bench.py's
days: 15 drivers per 100 trips).

    .venv/bin/python bench/live_bench.py [--sizes 100,400] [--repeat 3] [--inserts 30]
        [--providers fallback,osrm] [--osrm-port 5100] [--osrm-timeout 2]

For each size: the day is planned at 06:00 (a run from now, applied), then at 10:00 the trips
picked up before 09:40 are done, those up to 10:00 on board, those up to 10:10 en route, and
half the drivers report a fresh position. Then:

- re-plan time: `POST /api/dispatch/run {"from": "now"}`'s work (run_start + run_execute,
  suggest), `--repeat` times: total and solve phase, p50/p95 in ms;
- insertion: `--inserts` new pending trips for the afternoon, each asked for its proposals
  (`dispatch.insertion.booking_insertions`, what `GET /api/bookings/{id}/insertions` and the
  task that sends `insertion_proposed` run), p50/p95 in ms.

Uses DATABASE_URL when set (PostgreSQL), otherwise a throw-away SQLite file under bench/.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ would come first on the path and its packages shadow the stdlib's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.django_env import django_setup  # noqa: E402

django_setup(".live_bench.sqlite3")

import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402

from atmr.accounts.models import Company  # noqa: E402
from bench.dispatch_bench import DAY, TZ, build_company  # noqa: E402
from bookings.models import Booking, Client  # noqa: E402
from dispatch import execution, insertion, services  # noqa: E402
from dispatch.local_osrm.server import start_osrm  # noqa: E402
from dispatch.local_osrm.synthetic_map import land_points  # noqa: E402
from dispatch.models import DispatchRun, RunAssignment  # noqa: E402
from drivers.models import Driver  # noqa: E402

MORNING = datetime.combine(DAY, datetime.min.time(), tzinfo=TZ).replace(hour=6)
TEN = MORNING.replace(hour=10)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def replan(company: Company, mode: str) -> DispatchRun:
    run = services.run_start(
        company=company, service_date=DAY, mode=mode, enqueue=False, from_now=True
    )
    run = execution.run_execute(str(run.id))
    run.refresh_from_db()
    if run.status != DispatchRun.Status.SUCCEEDED:
        raise RuntimeError(f"run failed: {run.error}")
    return run


def travel_cache_clear() -> None:
    """Empty the cache for a cold run. Through Redis itself when the cache is Redis: the
    cache's own `clear` gives up after its 100 ms socket timeout on a large database, and the
    run after it would then read a warm travel-time cache."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        cache.clear()
        return
    import redis

    redis.Redis.from_url(url, socket_timeout=60).flushdb(asynchronous=True)


def live_morning(company: Company) -> None:
    """Plan at 06:00 and apply; at 10:00 the morning's trips are under way or done."""
    with time_machine.travel(MORNING, tick=True):
        run = replan(company, "auto")
    rows = RunAssignment.objects.filter(run=run).values_list("booking_id", "pickup_eta")
    for booking_id, pickup in rows:
        if pickup < TEN - timedelta(minutes=20):
            status = Booking.Status.COMPLETED
        elif pickup < TEN:
            status = Booking.Status.ON_BOARD
        elif pickup < TEN + timedelta(minutes=10):
            status = Booking.Status.EN_ROUTE
        else:
            continue
        Booking.objects.filter(id=booking_id).update(status=status)
    rng = random.Random(7)
    for driver in Driver.objects.filter(company=company):
        if rng.random() < 0.5:
            point = land_points(1, seed=rng.randrange(10**6))[0]
            Driver.objects.filter(id=driver.id).update(
                last_lat=point.lat, last_lon=point.lon, last_seen_at=TEN - timedelta(minutes=1)
            )


def new_trips(company: Company, count: int) -> list[Booking]:
    rng = random.Random(count)
    client = Client.objects.filter(company=company).first()
    points = land_points(2 * count, seed=4242)
    trips = []
    for i in range(count):
        at = TEN + timedelta(minutes=rng.randrange(60, 5 * 60, 5))
        a, b = points[2 * i], points[2 * i + 1]
        trips.append(
            Booking(
                company=company,
                client=client,
                pickup_address="here",
                pickup_lat=a.lat,
                pickup_lon=a.lon,
                dropoff_address="there",
                dropoff_lat=b.lat,
                dropoff_lon=b.lon,
                scheduled_at=at,
                pickup_earliest=at - timedelta(minutes=10),
                pickup_latest=at + timedelta(minutes=15),
            )
        )
    return Booking.objects.bulk_create(trips)


def measure(size: int, repeat: int, inserts: int) -> dict[str, object]:
    company = build_company(size)
    live_morning(company)
    totals, solves, moved, estimated = [], [], [], []
    with time_machine.travel(TEN, tick=True):
        for _ in range(repeat):
            travel_cache_clear()  # cold travel-time cache: each run fetches its matrix
            started = time.perf_counter()
            run = replan(company, "suggest")
            totals.append((time.perf_counter() - started) * 1000)
            solves.append(float(run.solve_ms or 0))
            moved.append(len(run.diff["moved"]))
            estimated.append(run.fallback_share)
        extra = new_trips(company, inserts)
        insertion.booking_insertions(booking=extra[0])  # warm: imports, cached company
        timings, found = [], []
        for booking in extra:
            started = time.perf_counter()
            proposals = insertion.booking_insertions(booking=booking)
            timings.append((time.perf_counter() - started) * 1000)
            found.append(len(proposals))
    drivers = Driver.objects.filter(company=company).count()
    return {
        "trips": size,
        "drivers": drivers,
        "replan": (statistics.median(totals), pct(totals, 0.95)),
        "solve": (statistics.median(solves), pct(solves, 0.95)),
        "moved": statistics.median(moved),
        "estimated": max(estimated),
        "insert": (statistics.median(timings), pct(timings, 0.95)),
        "proposals": statistics.mean(found),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,400")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--inserts", type=int, default=30)
    parser.add_argument("--providers", default="fallback")
    parser.add_argument("--osrm-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--osrm-timeout", type=float, default=2.0, help="seconds (production's)")
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    # As a worker does (atmr/celery.py): runs fork their solve from a process that has it.
    import dispatch.engine.solver.orchestrate  # noqa: F401

    print(
        "| travel times | trips | drivers | re-plan p50/p95 ms | its solve p50/p95 ms | "
        "estimated (max) | moved (median) | insertion p50/p95 ms | proposals (mean) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for provider in args.providers.split(","):
        server = start_osrm(args.osrm_port, max_table_size=1000) if provider == "osrm" else None
        settings.OSRM_URL = server.url if server else ""
        settings.OSRM_MAX_TABLE_SIZE = 1000
        settings.OSRM_ALGORITHM = "mld"  # start_osrm's
        settings.OSRM_TIMEOUT_S = args.osrm_timeout
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                row = measure(size, args.repeat, args.inserts)
                r, s, i = row["replan"], row["solve"], row["insert"]
                assert isinstance(r, tuple) and isinstance(s, tuple) and isinstance(i, tuple)
                print(
                    f"| {provider} | {row['trips']} | {row['drivers']} | {r[0]:.0f} / {r[1]:.0f}"
                    f" | {s[0]:.0f} / {s[1]:.0f} | {row['estimated']:.0%} | {row['moved']}"
                    f" | {i[0]:.0f} / {i[1]:.0f}"
                    f" | {row['proposals']:.1f} |",
                    flush=True,
                )
        finally:
            if server:
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
