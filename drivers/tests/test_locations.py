"""drivers/locations.py, the prune_locations command and its Celery task."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from atmr.celery import app as celery_app
from atmr.exceptions import NotFound
from drivers.locations import (
    DriverBatch,
    Position,
    Pruned,
    location_batch_store,
    location_batches_store,
    location_list,
    location_prune,
)
from drivers.models import DriverLocation
from drivers.partitions import location_partition_sort
from drivers.tasks import prune_locations, sort_location_partitions
from tests.factories import DriverFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _store(driver, *ages: timedelta) -> Position | None:
    positions = [Position(lat=46.5, lon=6.6, recorded_at=NOW - age) for age in ages]
    return location_batch_store(
        company_id=driver.company_id, driver_id=driver.id, positions=positions
    )


@time_machine.travel(NOW, tick=False)
def test_store_is_idempotent_and_returns_the_newest_only_when_it_moved(driver):
    newest = _store(driver, timedelta(seconds=10), timedelta(seconds=5))
    assert newest is not None and newest.recorded_at == NOW - timedelta(seconds=5)
    assert _store(driver, timedelta(seconds=10), timedelta(seconds=5)) is None
    assert location_list(company_id=driver.company_id, driver_id=driver.id).count() == 2
    driver.refresh_from_db()
    assert driver.last_seen_at == NOW - timedelta(seconds=5)


def _batch(driver, *ages: timedelta, lat: float = 46.5) -> DriverBatch:
    fixes = [Position(lat=lat, lon=6.6, recorded_at=NOW - age) for age in ages]
    return DriverBatch(str(driver.company_id), str(driver.id), fixes)


@time_machine.travel(NOW, tick=False)
def test_batches_of_many_drivers_are_stored_in_one_insert_and_one_update(driver):
    others = [DriverFactory(company=driver.company) for _ in range(3)]
    batches = [_batch(d, timedelta(seconds=9), timedelta(seconds=3)) for d in [driver, *others]]
    with CaptureQueriesContext(connection) as queries:
        results = location_batches_store(batches=batches)
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # PostgreSQL: one UPDATE ... FROM unnest(...) for all drivers; SQLite: one per driver.
    updates = 1 if connection.vendor == "postgresql" else 4
    assert [s for s in statements if s in ("INSERT", "UPDATE")] == ["INSERT"] + ["UPDATE"] * updates
    assert [r.recorded_at for r in results] == [NOW - timedelta(seconds=3)] * 4  # type: ignore[union-attr]
    assert DriverLocation.objects.count() == 8
    assert location_batches_store(batches=batches) == [None] * 4  # re-sent: nothing stored
    assert DriverLocation.objects.count() == 8


@time_machine.travel(NOW, tick=False)
def test_two_batches_of_one_driver_in_one_call_store_each_fix_once(driver):
    first = _batch(driver, timedelta(seconds=9), timedelta(seconds=6), lat=46.1)
    second = _batch(driver, timedelta(seconds=6), timedelta(seconds=2), lat=46.2)
    results = location_batches_store(batches=[first, second])
    assert results[0] is None and results[1] == second.positions[1]
    assert location_list(company_id=driver.company_id).count() == 3
    driver.refresh_from_db()
    assert (driver.last_lat, driver.last_seen_at) == (46.2, NOW - timedelta(seconds=2))


# Foreign keys are checked at commit (deferred), so this needs real commits.
@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_a_deleted_driver_fails_only_its_own_batch(driver):
    gone = DriverFactory(company=driver.company)
    batches = [_batch(driver, timedelta(seconds=1)), _batch(gone, timedelta(seconds=1))]
    gone.delete()
    results = location_batches_store(batches=batches)
    assert results[0] == batches[0].positions[0]
    assert isinstance(results[1], NotFound)
    assert list(DriverLocation.objects.values_list("driver_id", flat=True)) == [driver.id]
    with pytest.raises(NotFound):
        location_batch_store(
            company_id=gone.company_id,
            driver_id=batches[1].driver_id,
            positions=batches[1].positions,
        )


@time_machine.travel(NOW, tick=False)
def test_another_companys_driver_is_not_moved(driver, other_company):
    forged = DriverBatch(
        str(other_company.id), str(driver.id), _batch(driver, timedelta(0)).positions
    )
    assert location_batches_store(batches=[forged]) == [None]
    driver.refresh_from_db()
    assert driver.last_seen_at is None


@time_machine.travel(NOW, tick=False)
def test_location_list_is_company_scoped(driver, other_company):
    _store(driver, timedelta(seconds=1))
    assert location_list(company_id=other_company.id).count() == 0
    assert location_list(company_id=driver.company_id).count() == 1


sqlite_only = pytest.mark.skipif(
    "postgres" in os.environ.get("DATABASE_URL", ""),
    reason="batched deletes are SQLite's retention; PostgreSQL drops day partitions "
    "(drivers/tests/test_partitions.py)",
)


@sqlite_only
@time_machine.travel(NOW, tick=False)
def test_prune_deletes_only_old_positions_in_batches(driver, django_assert_max_num_queries):
    other = DriverFactory(company=driver.company)
    _store(driver, *(timedelta(days=31, minutes=m) for m in range(7)), timedelta(days=29))
    _store(other, timedelta(days=40), timedelta(hours=1))
    with django_assert_max_num_queries(2 * 3 + 1):  # (select ids, delete) per batch of 3
        assert location_prune(older_than=timedelta(days=30), batch_size=3) == Pruned(0, 8)
    assert DriverLocation.objects.count() == 2


@sqlite_only
@time_machine.travel(NOW, tick=False)
def test_prune_stops_after_max_batches(driver):
    _store(driver, *(timedelta(days=31, minutes=m) for m in range(5)))
    pruned = location_prune(older_than=timedelta(days=30), batch_size=2, max_batches=2)
    assert pruned == Pruned(0, 4)
    assert DriverLocation.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_prune_command(driver):
    # 12:00 UTC: 13 h ago is yesterday, whose partition ends before the cutoff (00:00).
    _store(driver, timedelta(hours=13), timedelta(hours=11))
    out = StringIO()
    call_command("prune_locations", "--older-than", "12h", stdout=out)
    assert "positions older than 12h." in out.getvalue()
    assert [f.recorded_at for f in DriverLocation.objects.all()] == [NOW - timedelta(hours=11)]


@pytest.mark.parametrize("value", ["30", "d", "30x", "-1d", "0h", "1.5d", "30 days", ""])
def test_prune_command_rejects_bad_ages(value):
    with pytest.raises(CommandError, match="older-than"):
        call_command("prune_locations", "--older-than", value)


@time_machine.travel(NOW, tick=False)
def test_prune_task_runs_and_is_scheduled(driver):
    _store(driver, timedelta(days=31), timedelta(days=1))
    prune_locations.delay().get()
    assert [f.recorded_at for f in DriverLocation.objects.all()] == [NOW - timedelta(days=1)]
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert {"drivers.prune_locations", "drivers.ensure_location_partitions"} <= scheduled


@pytest.mark.skipif(
    "postgres" in os.environ.get("DATABASE_URL", ""), reason="SQLite keeps a plain table"
)
def test_the_nightly_sort_does_nothing_on_sqlite(driver):
    yesterday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    location_batch_store(
        company_id=driver.company_id,
        driver_id=driver.id,
        positions=[Position(lat=46.5, lon=6.6, recorded_at=yesterday)],
    )
    assert sort_location_partitions() == 0
    assert location_partition_sort(yesterday.date()) is False
    assert DriverLocation.objects.count() == 1
