"""Positions on the day-partitioned table (PostgreSQL only): load, write path, track, retention.

    DATABASE_URL=postgres://…/atmr_positions_bench python bench/positions_bench.py \
        [--rows 2000000] [--drivers 10000] [--rate 667] [--write-seconds 20]

Creates its own company and drivers, then:
1. loads `--rows` fixes for one day (today + 3, UTC) with COPY, as 10,000 phones sending a fix
   every 15 s would produce them (time-ordered, drivers interleaved); a full day at 10,000
   drivers is 29 M rows: scale `--rows` to what the machine can take and extrapolate;
2. reads one driver's track for that day (the selector, 20 drivers at random);
3. runs the websocket write path (`location_batches_store`, the coalescing writer's call) at
   `--rate` batches/s of 3 fixes for `--write-seconds`, flushing whatever is due every 2 ms as
   the server's writer does, and reports each batch's wait + store time;
4. detaches and drops the loaded day.
Everything is bounded (rows, seconds); the company and its drivers are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.django_env import django_setup

MAX_ROWS = 40_000_000
MAX_WRITE_SECONDS = 300


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _setup(drivers: int) -> tuple[str, list[str]]:
    from django.contrib.auth.hashers import make_password

    from atmr.accounts.models import Company, User
    from drivers.models import Driver

    company = Company.objects.create(name=f"positions-bench-{os.getpid()}")
    unusable = make_password(None)
    users = User.objects.bulk_create(
        User(
            email=f"pb-{os.getpid()}-{i}@positions-bench.test",
            company=company,
            role=User.Role.DRIVER,
            password=unusable,
        )
        for i in range(drivers)
    )
    rows = Driver.objects.bulk_create(Driver(company=company, user=u) for u in users)
    return str(company.id), [str(d.id) for d in rows]


def _copy_day(company_id: str, driver_ids: list[str], rows: int, day_start: datetime) -> float:
    from django.db import connection, transaction

    per_driver = max(1, rows // len(driver_ids))
    step = timedelta(seconds=max(1, 43_200 // per_driver))  # spread over 12 hours
    start = day_start + timedelta(hours=6)
    received = datetime.now(UTC)
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        copy_sql = (
            "COPY drivers_driverlocation "
            "(company_id, driver_id, lat, lon, speed, recorded_at, received_at) FROM STDIN"
        )
        # Text lines a driver-round at a time: write_row per row made the client the limit.
        with cursor.cursor.copy(copy_sql) as copy:
            for n in range(per_driver):
                tail = (
                    f"\t{6.1 + n * 1e-5:.6f}\t8.0\t{(start + n * step).isoformat()}\t{received}\n"
                )
                copy.write(
                    "".join(
                        f"{company_id}\t{d}\t{46.2 + i * 1e-5:.6f}{tail}"
                        for i, d in enumerate(driver_ids)
                    )
                )
    return time.perf_counter() - began


def _track(company_id: str, driver_ids: list[str], day_start: datetime) -> list[float]:
    from drivers.locations import location_track_day

    timings = []
    for driver_id in random.sample(driver_ids, min(20, len(driver_ids))):
        began = time.perf_counter()
        qs = location_track_day(company_id=company_id, driver_id=driver_id, day=day_start.date())
        fixes = list(qs.values_list("recorded_at", "lat", "lon"))
        timings.append((time.perf_counter() - began) * 1000)
        assert fixes, "every driver has a track"
    return timings


def _write_path(
    company_id: str, driver_ids: list[str], rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    from drivers.locations import DriverBatch, Position, location_batches_store

    latencies: list[float] = []
    flushes: list[float] = []
    began = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) - began < seconds:
        due = int((now - began) * rate) - sent
        if due <= 0:
            time.sleep(0.002)
            continue
        at = datetime.now(UTC)
        batches = [
            DriverBatch(
                company_id,
                random.choice(driver_ids),
                [
                    Position(lat=46.5, lon=6.6, recorded_at=at - timedelta(seconds=5 * k))
                    for k in range(3)
                ],
            )
            for _ in range(due)
        ]
        # Each batch became due at an even spacing over the last interval: its wait counts.
        due_at = [began + (sent + k + 1) / rate for k in range(due)]
        t0 = time.perf_counter()
        location_batches_store(batches=batches)
        done = time.perf_counter()
        flushes.append((done - t0) * 1000)
        latencies.extend((done - d) * 1000 for d in due_at)
        sent += due
    return latencies, flushes, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=667.0)
    parser.add_argument("--write-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not 1 <= args.rows <= MAX_ROWS or not 0 < args.write_seconds <= MAX_WRITE_SECONDS:
        sys.exit(f"--rows 1..{MAX_ROWS}, --write-seconds up to {MAX_WRITE_SECONDS}")
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("positions_bench needs DATABASE_URL on PostgreSQL (partitions)")
    django_setup("positions_bench.sqlite3")
    from django.db import connection

    from atmr.accounts.models import Company, User
    from drivers.models import Driver
    from drivers.partitions import (
        day_start,
        location_partition_drop,
        location_partitions_ensure,
        partition_name,
    )

    location_partitions_ensure(days_ahead=7)
    day = day_start(datetime.now(UTC).date() + timedelta(days=3))
    company_id, driver_ids = _setup(args.drivers)
    try:
        copy_s = _copy_day(company_id, driver_ids, args.rows, day)
        name = partition_name(day.date())  # ours, not input
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {name}")
            cursor.execute(f"SELECT count(*), pg_total_relation_size(%s) FROM {name}", [name])  # noqa: S608
            loaded, size = cursor.fetchone()
        print(
            f"COPY: {loaded:,} rows in {copy_s:.1f} s ({loaded / copy_s:,.0f} rows/s), "
            f"partition {size / 2**20:,.0f} MiB; 29 M rows at that rate: "
            f"{29e6 / (loaded / copy_s) / 60:.1f} min"
        )
        track = _track(company_id, driver_ids, day)
        print(
            f"one driver's day ({loaded // len(driver_ids)} fixes): p50 "
            f"{statistics.median(track):.1f} ms, max {max(track):.1f} ms over {len(track)} drivers"
        )
        lat, flushes, sent = _write_path(company_id, driver_ids, args.rate, args.write_seconds)
        print(
            f"write path: {sent / args.write_seconds:.0f} batches/s of 3 fixes in {len(flushes)} "
            f"flushes; batch wait+store p50 {_pct(lat, 0.5):.1f} ms, p95 {_pct(lat, 0.95):.1f} "
            f"ms, p99 {_pct(lat, 0.99):.1f} ms; flush p95 {_pct(flushes, 0.95):.1f} ms"
        )
        began = time.perf_counter()
        location_partition_drop(day.date())
        print(f"drop the day ({loaded:,} rows): {time.perf_counter() - began:.2f} s")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM drivers_driverlocation WHERE company_id = %s", [company_id])
        Driver.objects.filter(company_id=company_id).delete()
        User.objects.filter(company_id=company_id).delete()
        Company.objects.filter(id=company_id).delete()


if __name__ == "__main__":
    main()
