"""Standing-order benchmark: materialising N orders over the company's horizon.

    .venv/bin/python bench/standing_orders_bench.py [--orders 500] [--repeat 3]

Builds a company with N standing orders (mixed weekdays, every week or every second week,
pick-up or appointment times, no / fixed / will-call returns, holidays skipped, some skipped
days and pauses), then times `standing_orders_materialise` over the 14-day horizon from empty
(every trip booked) and again (nothing new: the idempotent nightly run). Each repeat starts
from no bookings. Uses DATABASE_URL when set (PostgreSQL), otherwise a throw-away SQLite file
under bench/. The target is < 5 s for 500 orders.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ would come first on the path and its packages shadow the stdlib's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.django_env import django_setup  # noqa: E402

django_setup(".orders_bench.sqlite3")

from django.core.management import call_command  # noqa: E402

from atmr.accounts.models import Company  # noqa: E402
from bookings.models import (  # noqa: E402
    Booking,
    Client,
    StandingOrder,
    StandingOrderException,
)
from bookings.orders.services import standing_orders_materialise  # noqa: E402

TZ = ZoneInfo("Europe/Zurich")
# A Thursday: the 14-day horizon holds Christmas and Boxing Day.
NOW = datetime(2026, 12, 17, 1, 0, tzinfo=TZ)
NAME = "Standing orders bench"
PATTERNS = ([1, 3, 5], [2, 4], [1, 2, 3, 4, 5], [1], [3], [1, 3, 5, 6])


def build(orders: int, seed: int = 7) -> Company:
    old = Company.objects.filter(name=NAME).first()
    if old is not None:
        Booking.objects.filter(company=old).delete()
        StandingOrder.objects.filter(company=old).delete()
        Client.objects.filter(company=old).delete()
        old.delete()
    company = Company.objects.create(name=NAME, lat=46.52, lon=6.63)
    rng = random.Random(seed)
    homes = [(46.5 + rng.random() * 0.1, 6.55 + rng.random() * 0.15) for _ in range(orders)]
    clients = Client.objects.bulk_create(
        Client(
            company=company,
            first_name=f"P{i}",
            last_name="Bench",
            address=f"Rue {i}, Lausanne",
            lat=lat,
            lon=lon,
        )
        for i, (lat, lon) in enumerate(homes)
    )
    rows = []
    for i, (client, (lat, lon)) in enumerate(zip(clients, homes, strict=True)):
        leg = ("none", "fixed", "will_call")[i % 3]
        with_pickup = i % 4 != 0
        rows.append(
            StandingOrder(
                company=company,
                client=client,
                pickup_address=client.address,
                pickup_lat=lat,
                pickup_lon=lon,
                dropoff_address="HUG, Genève" if i % 2 else "CHUV, Lausanne",
                dropoff_lat=46.19 if i % 2 else 46.525,
                dropoff_lon=6.15 if i % 2 else 6.642,
                weekdays=PATTERNS[i % len(PATTERNS)],
                every_weeks=2 if i % 7 == 0 else 1,
                pickup_time=clock(6 + i % 10, 15 * (i % 4)) if with_pickup else None,
                appointment_time=None if with_pickup else clock(8 + i % 8, 30),
                return_leg=leg,
                return_time=clock(17, 0) if leg == "fixed" else None,
                start_date=date(2026, 11, 2) + timedelta(days=i % 60),
                end_date=None if i % 5 == 0 else date(2027, 6, 30),
                occurrences=200 if i % 5 == 0 else None,
                holidays="keep" if i % 9 == 0 else "skip",
            )
        )
    StandingOrder.objects.bulk_create(rows)
    exceptions = []
    for order in rows[::10]:
        exceptions.append(
            StandingOrderException(
                company=company,
                order=order,
                kind="pause",
                first_day=date(2026, 12, 21),
                last_day=date(2026, 12, 23),
            )
        )
    StandingOrderException.objects.bulk_create(exceptions)
    return company


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    company = build(args.orders)
    first, again, created = [], [], 0
    for _ in range(args.repeat):
        Booking.objects.filter(company=company).delete()
        start = time.perf_counter()
        created = len(standing_orders_materialise(company=company, now=NOW))
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert standing_orders_materialise(company=company, now=NOW) == []
        again.append(time.perf_counter() - start)
    db = os.environ["DATABASE_URL"].split(":", 1)[0]
    print(f"{args.orders} orders, {created} bookings over {company.order_horizon_days} days ({db})")
    print(
        f"  materialise from empty: median {statistics.median(first):.2f} s, max {max(first):.2f} s"
    )
    print(
        f"  materialise again:      median {statistics.median(again):.2f} s, max {max(again):.2f} s"
    )
    ok = max(first) < 5.0
    print("  target < 5 s:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
