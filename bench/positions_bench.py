"""Positions on the day-partitioned table (PostgreSQL only): load, write path, track, retention.

    DATABASE_URL=postgres://…/atmr_positions_bench python bench/positions_bench.py \
        [--rows 2000000] [--drivers 10000] [--rate 667] [--write-seconds 20] \
        [--load partition|parent] [--nightly sort|none|cover] [--json FILE]

Creates its own company and drivers, then:
1. loads `--rows` fixes for one closed day (today - 2, UTC; a day the bench owns: it refuses
   one that holds fixes) with COPY, as 10,000 phones sending a fix every 15 s write them
   (time-ordered, drivers interleaved: one driver's fixes one per page); a full day at 10,000
   drivers is 28.8 M rows (a few minutes). `--load partition` (default) is a bulk load: COPY
   into the day's bare table, then its key, then ATTACH; `--load parent` sends the rows
   through the partitioned table;
2. reads one driver's track for that day as the phones wrote it: through the track
   endpoint's call (`location_track_json`: rows, no model instances, to JSON), 50 drivers at
   random, each once; one again, warm; the same driver as model instances through the output
   serializer (the way before) and as `values_list` tuples (no JSON); the plan of another
   with its buffers;
3. runs the websocket write path (`location_batches_store`, the coalescing writer's call) at
   `--rate` batches/s of 3 fixes for `--write-seconds`, flushing whatever is due every 2 ms as
   the server's writer does, and reports each batch's wait + store time; meanwhile, in a
   thread of its own, the nightly step runs on the loaded day (`--nightly sort`, the default:
   `location_partition_sort`, beat's job, timed step by step, its swap being the time the
   phones' inserts wait; `cover`: for comparison, a covering index on the day's key with the
   track's columns and a VACUUM, for index-only scans; `none`: nothing);
4. reads the track again as in 2 (other drivers), after the nightly step;
5. detaches and drops the loaded day.
Everything is bounded (rows, seconds); the company and its drivers are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.django_env import django_setup

if TYPE_CHECKING:
    from django.db.models import QuerySet

MAX_ROWS = 40_000_000
MAX_WRITE_SECONDS = 300
# The write path's flushes over 100 ms: (seconds since it started, ms), to set beside the
# nightly step's timeline.
_SLOW_FLUSHES: list[tuple[float, int]] = []
TABLE = "drivers_driverlocation"
COPY_COLUMNS = "company_id, driver_id, lat, lon, speed, recorded_at, received_at"


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


def _day_rounds(
    company_id: str, driver_ids: list[str], rows: int, day_start: datetime
) -> Iterator[str]:
    """COPY text for one day, a driver-round (one fix from every driver) per chunk.

    10,000 phones sending a fix every 12 h / (rows / drivers): time-ordered, drivers
    interleaved, from 06:00 to 18:00 UTC. Each driver's part of a line is built once; a round
    is one string (~1 MB at 10,000 drivers), so the client stays far from being the limit.
    """
    per_driver = max(1, rows // len(driver_ids))
    step = timedelta(seconds=43_200 / per_driver)  # spread over 12 hours
    start = day_start + timedelta(hours=6)
    received = datetime.now(UTC).isoformat()
    heads = [f"{company_id}\t{d}\t{46.2 + i * 1e-5:.6f}\t" for i, d in enumerate(driver_ids)]
    for n in range(per_driver):
        tail = f"{6.1 + n * 1e-5:.6f}\t8.0\t{(start + n * step).isoformat()}\t{received}\n"
        yield "".join([head + tail for head in heads])


def _copy_via_parent(
    company_id: str, driver_ids: list[str], rows: int, day_start: datetime
) -> dict[str, float]:
    """COPY through the partitioned parent into the day's attached partition: every row is
    routed, inserted into the key's index and queued for two deferred foreign-key checks."""
    from django.db import connection, transaction

    began = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {TABLE} ({COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        for chunk in _day_rounds(company_id, driver_ids, rows, day_start):
            copy.write(chunk)
    return {"copy": time.perf_counter() - began}


def _copy_into_partition(
    company_id: str, driver_ids: list[str], rows: int, day_start: datetime
) -> dict[str, float]:
    """Load a day the way a bulk load is done: into a bare table, then key it, then attach it.

    1. the (empty, bench-only) day partition is dropped and created again as a plain table
       with the parent's columns and checks but no index and no foreign key, and filled with
       COPY ... FREEZE in the transaction that created it (no routing, no per-row index
       insert, no per-row foreign-key trigger, no later freeze by vacuum);
    2. its key is built once over the sorted rows (`maintenance_work_mem` raised for that
       session only);
    3. ATTACH PARTITION adopts that index as the parent key's partition, checks the day bounds
       in one scan and the two foreign keys in one join each.
    """
    from django.db import connection, transaction

    from drivers.partitions import day_start as midnight
    from drivers.partitions import location_partition_drop, partition_name

    day = day_start.date()
    name = partition_name(day)  # ours (a date), never input
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name})")  # noqa: S608
            if cursor.fetchone()[0]:
                sys.exit(f"{name} already holds fixes: the bench loads an empty day only")
            location_partition_drop(day)
    timings = {}
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        copy_sql = f"COPY {name} ({COPY_COLUMNS}) FROM STDIN (FREEZE)"
        with cursor.cursor.copy(copy_sql) as copy:
            for chunk in _day_rounds(company_id, driver_ids, rows, day_start):
                copy.write(chunk)
    timings["copy"] = time.perf_counter() - began
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_key "
            "PRIMARY KEY (company_id, driver_id, recorded_at)"
        )
    timings["key"] = time.perf_counter() - began
    low, high = midnight(day), midnight(day + timedelta(days=1))
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
    timings["attach"] = time.perf_counter() - began
    return timings


def _track(
    company_id: str, driver_ids: list[str], day_start: datetime
) -> tuple[dict[str, float], list[str]]:
    """One driver's track for the day through the endpoint's call: 50 drivers at random, each
    read once (not in shared buffers: from the OS cache or the disk), then one of them again
    (warm), the same driver as instances through the serializer and as `values_list` rows,
    and the plan of another with its buffer counts."""
    from django.db import connection
    from drf_orjson_renderer.renderers import ORJSONRenderer

    from drivers.locations import location_track_day, location_track_json
    from drivers.serializers import LOCATION_TRACK, DriverLocationOutputSerializer

    low, high = day_start, day_start + timedelta(days=1)

    def as_json(driver_id: str) -> str:
        return location_track_json(
            company_id=company_id, driver_id=driver_id, recorded_from=low, recorded_before=high
        )

    def query(driver_id: str) -> QuerySet:
        return location_track_day(company_id=company_id, driver_id=driver_id, day=low.date())

    def warm_ms(read: object, driver_id: str) -> float:
        times = []
        for _ in range(5):
            began = time.perf_counter()
            read(driver_id)  # type: ignore[operator]
            times.append((time.perf_counter() - began) * 1000)
        return round(statistics.median(times), 1)

    sample = random.sample(driver_ids, min(51, len(driver_ids)))
    cold = []
    for driver_id in sample[:-1]:
        began = time.perf_counter()
        text = as_json(driver_id)
        cold.append((time.perf_counter() - began) * 1000)
        assert text != "[]", "every driver has a track"
    fixes = text.count('"recorded_at"')
    warm_json = warm_ms(as_json, sample[0])
    warm_instances = warm_ms(
        lambda d: ORJSONRenderer().render(DriverLocationOutputSerializer(query(d), many=True).data),
        sample[0],
    )
    warm_rows = warm_ms(
        lambda d: list(
            query(d).values_list("recorded_at", "lat", "lon", "speed", "heading", "accuracy")
        ),
        sample[0],
    )
    # The endpoint's own query (the columns LOCATION_TRACK reads).
    sql, params = query(sample[-1]).values_list(*LOCATION_TRACK.columns).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    figures = {
        "fixes": fixes,
        "drivers": len(cold),
        "p50": round(statistics.median(cold), 1),
        "p95": round(_pct(cold, 0.95), 1),
        "max": round(max(cold), 1),
        "warm_p50": warm_json,
        "warm_instances_p50": warm_instances,
        "warm_values_list_p50": warm_rows,
    }
    return figures, plan


def _track_print(when: str, track: dict[str, float], plan: list[str]) -> None:
    print(
        f"one driver's day ({track['fixes']} fixes) {when}, {track['drivers']} drivers read "
        f"once: p50 {track['p50']} ms, p95 {track['p95']} ms, max {track['max']} ms; the same "
        f"driver again p50 {track['warm_p50']} ms (as instances through the serializer "
        f"{track['warm_instances_p50']} ms, as values_list rows "
        f"{track['warm_values_list_p50']} ms); the plan of another:"
    )
    print("\n".join(f"    {line}" for line in plan))


def _nightly(name: str, day: datetime, how: str) -> dict[str, float]:
    """The nightly step on the loaded day, each step timed. Runs in its own thread (its own
    connection) while the write path runs."""
    from django.db import connection

    from drivers import partitions

    timings: dict[str, float] = {}
    began = time.perf_counter()
    try:
        if how == "sort":
            steps = (
                "_late_fixes_capture",
                "_sorted_copy_build",
                "_sorted_copy_swap",
                "_sort_leftovers_drop",  # its last call: the old day dropped
            )
            originals = {step: getattr(partitions, step) for step in steps}

            def timer(step: str) -> object:
                def timed(*args: object) -> None:
                    t0 = time.perf_counter()
                    originals[step](*args)
                    timings[step.strip("_")] = round(time.perf_counter() - t0, 2)
                    timings[f"{step.strip('_')}_ends_at"] = round(time.perf_counter() - began, 2)

                return timed

            class BuildSteps(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    for k, v in getattr(record, "steps", {}).items():
                        timings[f"build_{k}"] = v

            handler = BuildSteps()
            partitions.logger.addHandler(handler)
            partitions.logger.setLevel(logging.INFO)
            for step in steps:
                setattr(partitions, step, timer(step))
            try:
                assert partitions.location_partition_sort(day.date())
            finally:
                partitions.logger.removeHandler(handler)
                for step, original in originals.items():
                    setattr(partitions, step, original)
        elif how == "cover":
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '512MB'")
                cursor.execute(
                    f"CREATE INDEX CONCURRENTLY {name}_track ON {name} "
                    "(company_id, driver_id, recorded_at) "
                    "INCLUDE (lat, lon, speed, heading, accuracy)"
                )
                timings["index"] = round(time.perf_counter() - began, 2)
                t0 = time.perf_counter()
                cursor.execute(f"VACUUM (ANALYZE) {name}")
                timings["vacuum"] = round(time.perf_counter() - t0, 2)
        timings["total"] = round(time.perf_counter() - began, 2)
    finally:
        connection.close()
    return timings


def _write_path(
    company_id: str, driver_ids: list[str], rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    from drivers.locations import DriverBatch, Position, location_batches_store

    latencies: list[float] = []
    flushes: list[float] = []
    slow = _SLOW_FLUSHES
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
        if done - t0 > 0.1:
            slow.append((round(t0 - began, 2), round((done - t0) * 1000)))
        latencies.extend((done - d) * 1000 for d in due_at)
        sent += due
    return latencies, flushes, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=667.0)
    parser.add_argument("--write-seconds", type=float, default=20.0)
    parser.add_argument(
        "--load",
        choices=("partition", "parent"),
        default="partition",
        help="partition: COPY into the day's bare table, key it, attach it (default); "
        "parent: COPY through the partitioned table, as the phones' rows arrive",
    )
    parser.add_argument(
        "--nightly",
        choices=("sort", "none", "cover"),
        default="sort",
        help="the step on the closed day while the write path runs: sort (default, beat's "
        "location_partition_sort), cover (a covering index and VACUUM, for comparison), none",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if not 1 <= args.rows <= MAX_ROWS or not 0 < args.write_seconds <= MAX_WRITE_SECONDS:
        sys.exit(f"--rows 1..{MAX_ROWS}, --write-seconds up to {MAX_WRITE_SECONDS}")
    if not 1 <= args.drivers <= min(args.rows, 100_000):
        sys.exit("--drivers 1..min(rows, 100000)")
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

    # A closed day (the nightly step sorts only those), within what `ensure` keeps.
    location_partitions_ensure(days_ahead=7, days_back=2)
    day = day_start(datetime.now(UTC).date() - timedelta(days=2))
    name = partition_name(day.date())  # ours, not input
    company_id, driver_ids = _setup(args.drivers)
    results: dict[str, object] = {
        "drivers": args.drivers,
        "load_method": args.load,
        "nightly": args.nightly,
    }
    try:
        load = _copy_into_partition if args.load == "partition" else _copy_via_parent
        timings = load(company_id, driver_ids, args.rows, day)
        with connection.cursor() as cursor:
            began = time.perf_counter()
            cursor.execute(f"ANALYZE {name}")
            timings["analyze"] = time.perf_counter() - began
            cursor.execute(f"SELECT count(*), pg_total_relation_size(%s) FROM {name}", [name])  # noqa: S608
            loaded, size = cursor.fetchone()
        total = sum(timings.values())
        results |= {
            "rows": loaded,
            "load_s": {k: round(v, 2) for k, v in timings.items()},
            "load_total_s": round(total, 1),
            "copy_rows_per_s": round(loaded / timings["copy"]),
            "rows_per_s": round(loaded / total),
            "partition_mib": round(size / 2**20),
        }
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        print(
            f"load ({args.load}): {loaded:,} rows in {total:.1f} s ({steps}); COPY "
            f"{loaded / timings['copy']:,.0f} rows/s, all steps {loaded / total:,.0f} rows/s; "
            f"partition {size / 2**20:,.0f} MiB ({size / loaded:.0f} B a row with its key)"
        )
        track, plan = _track(company_id, driver_ids, day)
        results["track_as_written_ms"] = track
        results["track_as_written_plan"] = plan
        _track_print("as the phones wrote it", track, plan)
        nightly: dict[str, float] = {}
        worker = threading.Thread(
            target=lambda: nightly.update(_nightly(name, day, args.nightly)), daemon=True
        )
        worker.start()
        lat, flushes, sent = _write_path(company_id, driver_ids, args.rate, args.write_seconds)
        worker.join()
        if args.nightly != "none" and "total" not in nightly:
            sys.exit("the nightly step failed (see above)")
        results["nightly_s"] = nightly
        if nightly:
            steps = ", ".join(
                f"{k} {v} s" for k, v in nightly.items() if k != "total" and "_at" not in k
            )
            print(
                f"nightly step ({args.nightly}) on the day, during the write path: "
                f"{nightly['total']} s ({steps})"
            )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*), pg_total_relation_size(%s) FROM {name}", [name])  # noqa: S608
            kept, size_after = cursor.fetchone()
        assert kept == loaded, f"the nightly step kept {kept:,} of {loaded:,} rows"
        results["partition_mib_after"] = round(size_after / 2**20)
        results["slow_flushes"] = _SLOW_FLUSHES
        if _SLOW_FLUSHES:
            print(f"flushes over 100 ms (s from the start, ms): {_SLOW_FLUSHES[:20]}")
        results["write_path_ms"] = {
            "batches_per_s": round(sent / args.write_seconds),
            "seconds": args.write_seconds,
            "flushes": len(flushes),
            "p50": round(_pct(lat, 0.5), 1),
            "p95": round(_pct(lat, 0.95), 1),
            "p99": round(_pct(lat, 0.99), 1),
            "flush_p95": round(_pct(flushes, 0.95), 1),
            "max": round(max(lat), 1),
        }
        print(
            f"write path: {sent / args.write_seconds:.0f} batches/s of 3 fixes in {len(flushes)} "
            f"flushes; batch wait+store p50 {_pct(lat, 0.5):.1f} ms, p95 {_pct(lat, 0.95):.1f} "
            f"ms, p99 {_pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms; flush p95 "
            f"{_pct(flushes, 0.95):.1f} ms"
        )
        track, plan = _track(company_id, driver_ids, day)
        results["track_ms"] = track
        results["track_plan"] = plan
        _track_print(f"after the nightly step ({args.nightly})", track, plan)
        began = time.perf_counter()
        location_partition_drop(day.date())
        results["drop_s"] = round(time.perf_counter() - began, 2)
        print(f"drop the day ({loaded:,} rows): {results['drop_s']:.2f} s")
    finally:
        # The day is the bench's own (it was empty): whatever is left of it goes whole.
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if cursor.fetchone()[0]:
                location_partition_drop(day.date())
        location_partitions_ensure(days_ahead=7, days_back=2)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE company_id = %s", [company_id])  # noqa: S608
        Driver.objects.filter(company_id=company_id).delete()
        User.objects.filter(company_id=company_id).delete()
        Company.objects.filter(id=company_id).delete()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
