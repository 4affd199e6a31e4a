"""End-to-end dispatch benchmark: a synthetic day around Lausanne–Geneva, run through the
product's own run service (load, matrix, solve + check, save), on the real OSRM over the
synthetic map and on the straight-line fall-back, plus OSRM down.

    .venv/bin/python bench/dispatch_bench.py [--sizes 50,100,200,400] [--days 3] [--repeat 2]
        [--providers osrm,osrm_ch,fallback,osrm_down] [--max-table-size 1000]

Uses DATABASE_URL when set (PostgreSQL), otherwise a throw-away SQLite file under bench/.
Prints p50/p95 per phase (ms) and the failed-run count per size and provider.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ would come first on the path and its packages shadow the stdlib's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.django_env import django_setup  # noqa: E402

django_setup(".dispatch_bench.sqlite3")

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402

from atmr.accounts.models import Company, User  # noqa: E402
from bookings.models import Booking, Client, Mobility  # noqa: E402
from dispatch import execution, services  # noqa: E402
from dispatch.local_osrm.server import free_port, start_osrm  # noqa: E402
from dispatch.local_osrm.synthetic_map import land_points  # noqa: E402
from dispatch.models import DispatchRun, DispatchSettings  # noqa: E402
from drivers.models import Driver, Vehicle  # noqa: E402
from drivers.rosters import roster_seed  # noqa: E402

TZ = ZoneInfo("Europe/Zurich")
DAY = date(2027, 3, 2)
PHASES = ("load_ms", "matrix_ms", "solve_ms", "save_ms")
DRIVERS_PER_100 = 15


def build_company(size: int, variant: int = 0) -> Company:
    """A company with `size` trips on DAY and 15 drivers per 100 trips (a third are vans).

    Each `variant` is another day drawn the same way (other homes, times and needs).
    """
    name = f"Bench Transports {size}" + (f" #{variant}" if variant else "")
    for old in Company.objects.filter(name=name):
        # Clients and users are protected from a cascade on purpose; the bench clears them.
        Booking.objects.filter(company=old).delete()
        Client.objects.filter(company=old).delete()
        User.objects.filter(company=old).delete()
        old.delete()
    company = Company.objects.create(name=name, lat=46.52, lon=6.63)
    DispatchSettings.objects.create(company=company)
    seed = size if not variant else size * 1000 + variant
    rng = random.Random(seed)
    homes = land_points(size, seed=seed)
    care = land_points(12, seed=9999)
    for n in range(max(2, math.ceil(size * DRIVERS_PER_100 / 100))):
        van = n % 3 == 0
        vehicle = Vehicle.objects.create(
            company=company,
            plate=f"B{size}-{n}",
            seats=3 if van else 6,
            wheelchair_places=2 if van else 0,
        )
        user = User.objects.create(
            email=f"bench{size}-{variant}-{n}@bench.test", company=company, role="driver"
        )
        home = homes[rng.randrange(len(homes))]
        start = [datetime.min.time().replace(hour=h) for h in (6, 7, 8)][n % 3]
        driver = Driver.objects.create(
            company=company,
            user=user,
            default_vehicle=vehicle,
            home_lat=home.lat,
            home_lon=home.lon,
            shift_start=start,
            shift_end=start.replace(hour=start.hour + 10),
        )
        roster_seed(driver=driver)  # dispatch plans the roster's shifts
    clients, trips = [], []
    for i, home in enumerate(homes):
        mobility = Mobility.WHEELCHAIR if rng.random() < 0.25 else Mobility.WALKS
        clients.append(
            Client(
                company=company,
                first_name="P",
                last_name=str(i),
                lat=home.lat,
                lon=home.lon,
                mobility=mobility,
            )
        )
    Client.objects.bulk_create(clients)
    for client, home in zip(clients, homes, strict=True):
        dest = care[rng.randrange(len(care))]
        local = datetime.combine(DAY, datetime.min.time(), tzinfo=TZ) + timedelta(
            minutes=rng.randrange(7 * 60, 16 * 60, 5)
        )
        trips.append(
            Booking(
                company=company,
                client=client,
                mobility=client.mobility,
                pickup_address="home",
                pickup_lat=home.lat,
                pickup_lon=home.lon,
                dropoff_address="care",
                dropoff_lat=dest.lat,
                dropoff_lon=dest.lon,
                scheduled_at=local,
                pickup_earliest=local - timedelta(minutes=10),
                pickup_latest=local + timedelta(minutes=15),
                appointment_at=local + timedelta(minutes=90) if rng.random() < 0.5 else None,
            )
        )
    Booking.objects.bulk_create(trips)
    return company


def reset_day(company: Company) -> None:
    DispatchRun.objects.filter(company=company).delete()
    Booking.objects.filter(company=company).update(
        status=Booking.Status.PENDING, driver=None, vehicle=None
    )
    cache.clear()  # cold travel-time cache: every run fetches its matrix


def one_run(company: Company) -> tuple[DispatchRun, float]:
    reset_day(company)
    started = time.perf_counter()
    run = services.run_start(company=company, service_date=DAY, mode="auto", enqueue=False)
    run = execution.run_execute(str(run.id))
    run.refresh_from_db()
    return run, (time.perf_counter() - started) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def measure(companies: list[Company], repeat: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {p: [] for p in (*PHASES, "total_ms")}
    failed, assigned, unassigned, fallback = 0, [], [], []
    for company in [c for c in companies for _ in range(repeat)]:
        run, total = one_run(company)
        failed += run.status != DispatchRun.Status.SUCCEEDED
        for phase in PHASES:
            samples[phase].append(float(getattr(run, phase) or 0))
        samples["total_ms"].append(total)
        assigned.append(run.assigned_count)
        unassigned.append(run.unassigned_count)
        fallback.append(run.fallback_share)
    row: dict[str, Any] = {
        "failed": failed,
        "assigned": statistics.median(assigned),
        "unassigned": statistics.median(unassigned),
        "fallback": statistics.median(fallback),
    }
    for name, values in samples.items():
        row[name] = (statistics.median(values), pct(values, 0.95))
    return row


def print_table(rows: list[tuple[str, int, dict[str, Any]]]) -> None:
    head = (
        "| travel times | trips | drivers | assigned | unassigned | estimated | "
        + " | ".join(f"{p[:-3]} p50/p95 ms" for p in (*PHASES, "total_ms"))
        + " | failed runs |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for provider, size, row in rows:
        cells = [f"{row[p][0]:.0f} / {row[p][1]:.0f}" for p in (*PHASES, "total_ms")]
        drivers = max(2, math.ceil(size * DRIVERS_PER_100 / 100))
        print(
            f"| {provider} | {size} | {drivers} | {row['assigned']:.0f} | "
            f"{row['unassigned']:.0f} | {row['fallback']:.0%} | "
            + " | ".join(cells)
            + f" | {row['failed']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,100,200,400")
    parser.add_argument("--days", type=int, default=3, help="different days per size")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each day")
    parser.add_argument("--providers", default="osrm,osrm_ch,fallback,osrm_down")
    parser.add_argument("--max-table-size", type=int, default=1000)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    providers = args.providers.split(",")
    call_command("migrate", verbosity=0)
    companies = {size: [build_company(size, v) for v in range(args.days)] for size in sizes}
    rows = []
    # Workers load the solver libraries when they start (atmr/celery.py): one untimed run
    # here does the same, so the first timed run does not pay for imports.
    settings.OSRM_URL = ""
    one_run(companies[sizes[0]][0])
    servers = {
        name: start_osrm(max_table_size=args.max_table_size, algorithm=algorithm)
        for name, algorithm in (("osrm", "mld"), ("osrm_ch", "ch"))
        if name in providers
    }
    try:
        for provider in providers:
            settings.OSRM_URL = {
                **{name: server.url for name, server in servers.items()},
                "fallback": "",
                "osrm_down": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            }[provider]
            settings.OSRM_MAX_TABLE_SIZE = args.max_table_size
            settings.OSRM_TIMEOUT_S = 2.0
            for size in sizes:
                rows.append((provider, size, measure(companies[size], args.repeat)))
                print(f"done: {provider} {size}", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
