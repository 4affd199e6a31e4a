"""Driver positions: storing the batches phones send, reading tracks, pruning old fixes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from atmr.exceptions import NotFound
from drivers.models import Driver, DriverLocation

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


def location_batch_store(
    *, company_id: UUID | str, driver_id: UUID | str, positions: Sequence[Position]
) -> Position | None:
    """Store a driver's batch with one bulk insert and advance its last known position.

    Idempotent: a fix already stored (same driver and `recorded_at`) is skipped, so a phone
    may re-send a batch it got no ack for. Returns the newest fix when it moved the driver's
    last known position forward (the caller broadcasts it), None when it was not newer.
    Runs two statements in one transaction: the insert and a conditional driver update.
    """
    if not positions:
        return None
    received_at = timezone.now()
    rows = [
        DriverLocation(
            driver_id=driver_id,
            company_id=company_id,
            lat=p.lat,
            lon=p.lon,
            speed=p.speed,
            heading=p.heading,
            accuracy=p.accuracy,
            recorded_at=p.recorded_at,
            received_at=received_at,
        )
        for p in positions
    ]
    newest = max(positions, key=lambda p: p.recorded_at)
    try:
        with transaction.atomic():
            _relax_durability()
            DriverLocation.objects.bulk_create(rows, ignore_conflicts=True)
            moved = _advance_last_position(company_id, driver_id, newest)
    except IntegrityError as exc:
        # ignore_conflicts covers duplicates only; this is a driver deleted meanwhile.
        raise NotFound("Unknown driver.", field="driver") from exc
    return newest if moved else None


def _relax_durability() -> None:
    """Commit this transaction without waiting for the WAL flush (PostgreSQL only).

    Positions are telemetry sent every few seconds: after a database crash the last few
    hundred milliseconds of them may be gone, never corrupted. In exchange a commit costs no
    disk flush, which is what bounds batches per second otherwise.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _advance_last_position(company_id: UUID | str, driver_id: UUID | str, p: Position) -> bool:
    # Conditional so that a late re-sent batch never moves the driver back in time.
    return bool(
        Driver.objects.filter(id=driver_id, company_id=company_id)
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=p.recorded_at))
        .update(last_lat=p.lat, last_lon=p.lon, last_seen_at=p.recorded_at)
    )


def location_list(
    *, company_id: UUID | str, driver_id: UUID | str | None = None
) -> QuerySet[DriverLocation]:
    """A company's stored fixes, oldest first; with `driver_id`, that driver's track only."""
    qs = DriverLocation.objects.filter(company_id=company_id).order_by("recorded_at")
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    return qs


def location_prune(
    *, older_than: timedelta, batch_size: int = PRUNE_BATCH_SIZE, max_batches: int = 1_000
) -> int:
    """Delete fixes recorded more than `older_than` ago, in batches; return how many.

    All companies at once (housekeeping, not a tenant's request). Each batch is its own
    short statement so the table is never locked for long; `max_batches` bounds one run,
    the next run continues where it stopped.
    """
    cutoff = timezone.now() - older_than
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
