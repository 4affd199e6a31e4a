"""drivers/partitions.py: the positions' day partitions on PostgreSQL (routing, retention)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from drivers.locations import Position, location_batch_store, location_prune, location_track_day
from drivers.models import DriverLocation
from drivers.partitions import (
    DEFAULT_PARTITION,
    is_partitioned,
    location_partition_days,
    location_partitions_ensure,
    partition_name,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="partitions exist on PostgreSQL only",
    ),
]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _store(driver, *at: datetime) -> None:
    positions = [Position(lat=46.5, lon=6.6, recorded_at=t) for t in at]
    location_batch_store(company_id=driver.company_id, driver_id=driver.id, positions=positions)


def _where(at: datetime) -> str:
    """The partition a stored fix lives in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM drivers_driverlocation WHERE recorded_at = %s",
            [at],
        )
        return cursor.fetchone()[0]


@time_machine.travel(NOW, tick=False)
def test_beat_creates_the_coming_week_once():
    assert is_partitioned()
    location_partitions_ensure(days_ahead=7)
    days = location_partition_days()
    assert {TODAY + timedelta(days=n) for n in range(-1, 8)} <= set(days)
    assert location_partitions_ensure(days_ahead=7) == []  # idempotent


@time_machine.travel(NOW, tick=False)
def test_fixes_go_to_their_days_partition_or_the_default_one(driver):
    location_partitions_ensure(days_ahead=2)
    far_past, far_future = datetime(2001, 1, 1, tzinfo=UTC), NOW + timedelta(days=200)
    _store(driver, NOW, NOW - timedelta(days=1), far_past, far_future)
    assert _where(NOW) == partition_name(TODAY)
    assert _where(NOW - timedelta(days=1)) == partition_name(TODAY - timedelta(days=1))
    assert _where(far_past) == _where(far_future) == DEFAULT_PARTITION
    assert DriverLocation.objects.count() == 4  # none lost


@time_machine.travel(NOW, tick=False)
def test_creating_a_day_moves_its_fixes_out_of_the_default_partition(driver):
    later = NOW + timedelta(days=20)
    assert partition_name(later.date()) not in {
        partition_name(d) for d in location_partition_days()
    }
    _store(driver, later, later + timedelta(days=1))
    assert _where(later) == DEFAULT_PARTITION
    created = location_partitions_ensure(days_ahead=20)
    assert later.date() in created
    assert _where(later) == partition_name(later.date())
    assert _where(later + timedelta(days=1)) == DEFAULT_PARTITION
    assert DriverLocation.objects.count() == 2


@time_machine.travel(NOW, tick=False)
def test_retention_drops_whole_old_days_and_nothing_else(driver, other_company):
    location_partitions_ensure(days_ahead=1, days_back=32)
    old_day = NOW - timedelta(days=31)  # 31 Oct: its whole day is older than 30 days
    edge = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # older than 30 days, but its day is not
    _store(driver, old_day, edge, NOW - timedelta(days=29), NOW, datetime(2001, 1, 1, tzinfo=UTC))
    before = location_partition_days()

    pruned = location_prune(older_than=timedelta(days=30))

    after = location_partition_days()
    assert date(2026, 10, 31) in before and date(2026, 10, 31) not in after
    assert after == [d for d in before if d >= date(2026, 11, 1)]
    assert pruned.days == len(before) - len(after) and pruned.rows == 1  # the 2001 fix
    kept = sorted(DriverLocation.objects.values_list("recorded_at", flat=True))
    assert kept == [edge, NOW - timedelta(days=29), NOW]


@time_machine.travel(NOW, tick=False)
def test_a_drivers_day_reads_only_that_days_partition(driver):
    location_partitions_ensure(days_ahead=1)
    _store(driver, NOW, NOW - timedelta(days=1))
    track = location_track_day(company_id=driver.company_id, driver_id=driver.id, day=TODAY)
    assert [f.recorded_at for f in track] == [NOW]
    plan = track.explain()
    assert partition_name(TODAY) in plan
    assert partition_name(TODAY - timedelta(days=1)) not in plan
    assert DEFAULT_PARTITION not in plan
