"""Driver positions: storing the batches phones send, reading tracks, pruning old fixes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from atmr.exceptions import NotFound
from drivers.models import Driver, DriverLocation
from drivers.partitions import (
    DEFAULT_PARTITION,
    day_start,
    is_partitioned,
    location_partitions_drop,
)

PRUNE_BATCH_SIZE = 5_000


@dataclass(frozen=True, slots=True)
class Position:
    """One validated fix. Speed in m/s, heading in degrees, accuracy in metres."""

    lat: float
    lon: float
    recorded_at: datetime
    speed: float | None = None
    heading: float | None = None
    accuracy: float | None = None


@dataclass(frozen=True, slots=True)
class DriverBatch:
    """One phone's validated batch, as the socket received it (ids from the token)."""

    company_id: str
    driver_id: str
    positions: Sequence[Position]


# Per batch: the fix to broadcast, nothing to broadcast, or the error for that batch only.
StoreResult = Position | None | NotFound


def location_batch_store(
    *, company_id: UUID | str, driver_id: UUID | str, positions: Sequence[Position]
) -> Position | None:
    """Store one driver's batch; see location_batches_store. Raises NotFound for a gone driver."""
    batch = DriverBatch(str(company_id), str(driver_id), positions)
    result = location_batches_store(batches=[batch])[0]
    if isinstance(result, NotFound):
        raise result
    return result


def location_batches_store(*, batches: Sequence[DriverBatch]) -> list[StoreResult]:
    """Store many drivers' batches in one transaction and advance their last positions.

    Returns one result per batch, in order: the batch's newest fix when it moved its driver's
    last known position forward (the caller broadcasts it), else None; when several batches of
    one driver are in the call, only the one holding the driver's newest fix can get it.
    Idempotent: a fix already stored (same driver and `recorded_at`) is skipped, so a phone may
    re-send a batch it got no ack for. PostgreSQL: three statements whatever the number of
    batches (relax durability, one insert, one update of all the drivers); SQLite: one insert
    and one update per driver. A driver deleted meanwhile fails the shared transaction: the
    batches are then stored one transaction each, and that driver's batch gets a NotFound
    (returned, not raised, so the other batches still succeed).
    Other database errors (a lost connection, a deadlock) propagate: nothing was stored.
    """
    if not any(b.positions for b in batches):
        return [None] * len(batches)
    try:
        return list(_store_together(batches))
    except IntegrityError:
        return [_store_alone(batch) for batch in batches]


def _store_alone(batch: DriverBatch) -> StoreResult:
    try:
        return _store_together([batch])[0]
    except IntegrityError:
        # ignore_conflicts / ON CONFLICT cover duplicates only: this is a driver deleted.
        return NotFound("Unknown driver.", field="driver")


def _store_together(batches: Sequence[DriverBatch]) -> list[Position | None]:
    received_at = timezone.now()
    newest: dict[str, tuple[int, Position]] = {}  # driver id -> (batch index, its newest fix)
    for i, batch in enumerate(batches):
        if batch.positions:
            top = max(batch.positions, key=lambda p: p.recorded_at)
            seen = newest.get(batch.driver_id)
            if seen is None or seen[1].recorded_at < top.recorded_at:
                newest[batch.driver_id] = (i, top)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _relax_durability()
            _insert_postgresql(batches, received_at)
            moved = _advance_postgresql(batches, newest)
        else:
            _insert_orm(batches, received_at)
            moved = _advance_orm(batches, newest)
    results: list[Position | None] = [None] * len(batches)
    for driver_id in moved:
        i, position = newest[driver_id]
        results[i] = position
    return results


def _relax_durability() -> None:
    """Commit this transaction without waiting for the WAL flush (PostgreSQL only).

    Positions are telemetry sent every few seconds: after a database crash the last few
    hundred milliseconds of them may be gone, never corrupted. In exchange a commit costs no
    disk flush, which is what bounds batches per second otherwise.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


# One statement text whatever the number of rows (arrays, not a VALUES list per row): the ORM's
# bulk_create built a model instance and compiled SQL per row, most of the writer's CPU.
_INSERT_SQL = """
INSERT INTO drivers_driverlocation
    (driver_id, company_id, lat, lon, speed, heading, accuracy, recorded_at, received_at)
SELECT d, c, la, lo, s, h, a, r, %s
FROM unnest(%s::uuid[], %s::uuid[], %s::float8[], %s::float8[], %s::float8[], %s::float8[],
            %s::float8[], %s::timestamptz[]) AS t(d, c, la, lo, s, h, a, r)
ON CONFLICT (company_id, driver_id, recorded_at) DO NOTHING
"""

# Conditional so that a late re-sent batch never moves a driver back in time.
_ADVANCE_SQL = """
UPDATE drivers_driver AS d
SET last_lat = v.lat, last_lon = v.lon, last_seen_at = v.ts
FROM unnest(%s::uuid[], %s::uuid[], %s::float8[], %s::float8[], %s::timestamptz[])
    AS v(id, company_id, lat, lon, ts)
WHERE d.id = v.id AND d.company_id = v.company_id
    AND (d.last_seen_at IS NULL OR d.last_seen_at < v.ts)
RETURNING d.id
"""


def _insert_postgresql(batches: Sequence[DriverBatch], received_at: datetime) -> None:
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
    once: set[tuple[str, datetime]] = set()  # one row per (driver, fix) even across batches
    for b in batches:
        for p in b.positions:
            if (b.driver_id, p.recorded_at) in once:
                continue
            once.add((b.driver_id, p.recorded_at))
            row = (b.driver_id, b.company_id, p.lat, p.lon, p.speed, p.heading, p.accuracy)
            for column, value in zip(columns, (*row, p.recorded_at), strict=True):
                column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [received_at, *columns])


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _advance_postgresql(
    batches: Sequence[DriverBatch], newest: dict[str, tuple[int, Position]]
) -> set[str]:
    # Sorted by driver: two workers' flushes that touch the same drivers (one phone connected
    # twice) then lock their rows in the same order instead of deadlocking.
    rows = sorted(((d, batches[i].company_id, p) for d, (i, p) in newest.items()), key=_first)
    with connection.cursor() as cursor:
        cursor.execute(
            _ADVANCE_SQL,
            [
                [d for d, _, _ in rows],
                [c for _, c, _ in rows],
                [p.lat for _, _, p in rows],
                [p.lon for _, _, p in rows],
                [p.recorded_at for _, _, p in rows],
            ],
        )
        return {str(r[0]) for r in cursor.fetchall()}


def _insert_orm(batches: Sequence[DriverBatch], received_at: datetime) -> None:
    rows = [
        DriverLocation(
            driver_id=b.driver_id,
            company_id=b.company_id,
            lat=p.lat,
            lon=p.lon,
            speed=p.speed,
            heading=p.heading,
            accuracy=p.accuracy,
            recorded_at=p.recorded_at,
            received_at=received_at,
        )
        for b in batches
        for p in b.positions
    ]
    DriverLocation.objects.bulk_create(rows, ignore_conflicts=True)


def _advance_orm(
    batches: Sequence[DriverBatch], newest: dict[str, tuple[int, Position]]
) -> set[str]:
    # SQLite (development, tests): one conditional update per driver.
    moved = set()
    for driver_id, (i, p) in newest.items():
        updated = (
            Driver.objects.filter(id=driver_id, company_id=batches[i].company_id)
            .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=p.recorded_at))
            .update(last_lat=p.lat, last_lon=p.lon, last_seen_at=p.recorded_at)
        )
        if updated:
            moved.add(driver_id)
    return moved


def location_list(
    *,
    company_id: UUID | str,
    driver_id: UUID | str | None = None,
    recorded_from: datetime | None = None,
    recorded_before: datetime | None = None,
) -> QuerySet[DriverLocation]:
    """A company's stored fixes, oldest first; with `driver_id`, that driver's track only.

    `recorded_from` (inclusive) and `recorded_before` (exclusive) bound the track: on
    PostgreSQL only the partitions of those days are read.
    """
    qs = DriverLocation.objects.filter(company_id=company_id).order_by("recorded_at")
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    if recorded_from is not None:
        qs = qs.filter(recorded_at__gte=recorded_from)
    if recorded_before is not None:
        qs = qs.filter(recorded_at__lt=recorded_before)
    return qs


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention run removed: whole days dropped, and rows deleted one by one."""

    days: int
    rows: int


def location_prune(
    *, older_than: timedelta, batch_size: int = PRUNE_BATCH_SIZE, max_batches: int = 1_000
) -> Pruned:
    """Remove fixes recorded more than `older_than` ago; return what was removed.

    All companies at once (housekeeping, not a tenant's request). PostgreSQL (partitioned by
    day): every day partition that ends at or before the cutoff is detached and dropped whole
    (so up to a day more than `older_than` is kept), and the DEFAULT partition's fixes before
    the cutoff (wrong phone clocks) are deleted. SQLite: deleted in batches, each its own
    short statement; `max_batches` bounds one run, the next continues where it stopped.
    """
    cutoff = timezone.now() - older_than
    if is_partitioned():
        days = location_partitions_drop(before=cutoff.astimezone(UTC).date())
        with connection.cursor() as cursor:
            # The table name is our constant, not input.
            sql = f"DELETE FROM {DEFAULT_PARTITION} WHERE recorded_at < %s"  # noqa: S608
            cursor.execute(sql, [cutoff])
            rows = cursor.rowcount
        return Pruned(days=len(days), rows=rows)
    return Pruned(days=0, rows=_delete_in_batches(cutoff, batch_size, max_batches))


def _delete_in_batches(cutoff: datetime, batch_size: int, max_batches: int) -> int:
    deleted = 0
    for _ in range(max_batches):
        ids = list(
            DriverLocation.objects.filter(recorded_at__lt=cutoff)
            .order_by("recorded_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        deleted += DriverLocation.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch_size:
            break
    return deleted


def location_track_day(
    *, company_id: UUID | str, driver_id: UUID | str, day: date
) -> QuerySet[DriverLocation]:
    """One driver's fixes recorded on a UTC day, oldest first (reads that day's partition)."""
    return location_list(
        company_id=company_id,
        driver_id=driver_id,
        recorded_from=day_start(day),
        recorded_before=day_start(day + timedelta(days=1)),
    )


def location_track_json(
    *,
    company_id: UUID | str,
    driver_id: UUID | str,
    recorded_from: datetime,
    recorded_before: datetime,
) -> str:
    """One driver's fixes from `recorded_from` (inclusive) to `recorded_before` (exclusive),
    oldest first, as the JSON array `DriverLocationOutputSerializer` and orjson would write:
    the same bytes (drivers/tests/test_track.py), from `.values_list()` rows, without a model
    instance or a serializer per fix. At 2,880 fixes (a driver's full day) that is 9 ms warm,
    where instances through the serializer took 130 ms and the array written by PostgreSQL
    itself (atmr/json_sql.py's expressions: each float rewritten to orjson's form) 20 ms.
    """
    from drivers.serializers import LOCATION_TRACK  # serializers import the app's models

    qs = location_list(
        company_id=company_id,
        driver_id=driver_id,
        recorded_from=recorded_from,
        recorded_before=recorded_before,
    )
    return orjson.dumps(LOCATION_TRACK.data(qs)).decode()
