"""drivers/locations.py, the prune_locations command and its Celery task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from atmr.celery import app as celery_app
from drivers.locations import Position, location_batch_store, location_list, location_prune
from drivers.models import DriverLocation
from drivers.tasks import prune_locations
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


@time_machine.travel(NOW, tick=False)
def test_location_list_is_company_scoped(driver, other_company):
    _store(driver, timedelta(seconds=1))
    assert location_list(company_id=other_company.id).count() == 0
    assert location_list(company_id=driver.company_id).count() == 1


@time_machine.travel(NOW, tick=False)
def test_prune_deletes_only_old_positions_in_batches(driver, django_assert_max_num_queries):
    other = DriverFactory(company=driver.company)
    _store(driver, *(timedelta(days=31, minutes=m) for m in range(7)), timedelta(days=29))
    _store(other, timedelta(days=40), timedelta(hours=1))
    with django_assert_max_num_queries(2 * 3 + 1):  # (select ids, delete) per batch of 3
        assert location_prune(older_than=timedelta(days=30), batch_size=3) == 8
    assert DriverLocation.objects.count() == 2


@time_machine.travel(NOW, tick=False)
def test_prune_stops_after_max_batches(driver):
    _store(driver, *(timedelta(days=31, minutes=m) for m in range(5)))
    assert location_prune(older_than=timedelta(days=30), batch_size=2, max_batches=2) == 4
    assert DriverLocation.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_prune_command(driver):
    _store(driver, timedelta(hours=13), timedelta(hours=11))
    out = StringIO()
    call_command("prune_locations", "--older-than", "12h", stdout=out)
    assert "Deleted 1 positions older than 12h." in out.getvalue()


@pytest.mark.parametrize("value", ["30", "d", "30x", "-1d", "0h", "1.5d", "30 days", ""])
def test_prune_command_rejects_bad_ages(value):
    with pytest.raises(CommandError, match="older-than"):
        call_command("prune_locations", "--older-than", value)


@time_machine.travel(NOW, tick=False)
def test_prune_task_runs_and_is_scheduled(driver):
    _store(driver, timedelta(days=31), timedelta(days=1))
    assert prune_locations.delay().get() == 1
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "drivers.prune_locations" in scheduled
