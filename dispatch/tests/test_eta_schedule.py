"""When ETAs are recomputed: position batches at most once per 30 s per driver, off the
socket's path."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta

import pytest
import redis
from channels.db import database_sync_to_async
from django.core.cache import cache

from bookings.models import Booking
from dispatch.eta_schedule import _scheduler, etas_positions_due
from realtime.groups import group_for_company_dispatch
from realtime.publish import apublish
from realtime.tests import conftest as socket_fixtures
from realtime.tests.utils import open_socket, receive_type
from tests.factories import ZURICH, BookingFactory, DriverFactory, at

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZURICH)
_close_consumer_connections = socket_fixtures._close_consumer_connections
token_for = socket_fixtures.token_for


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_two_batches_within_30_s_give_one_recompute(company):
    driver, other = DriverFactory(company=company), DriverFactory(company=company)
    trip = BookingFactory(company=company, driver=driver, status="assigned", scheduled_at=at(9))
    pair = (str(company.id), str(driver.id))
    assert etas_positions_due([pair, pair]) == 1  # one flush holding two of its batches
    trip.refresh_from_db()
    assert trip.eta_computed_at == NOW
    Booking.objects.filter(id=trip.id).update(eta_computed_at=None)
    assert etas_positions_due([pair]) == 0  # the next batch, seconds later
    trip.refresh_from_db()
    assert trip.eta_computed_at is None
    assert etas_positions_due([(str(company.id), str(other.id)), pair]) == 1  # per driver
    cache.delete(f"eta:due:{driver.id}")  # what the key's 30 s expiry does
    assert etas_positions_due([pair]) == 1


def _batch(lat: float, minute: int) -> dict:
    ts = (NOW + timedelta(minutes=minute)).isoformat()
    return {"type": "location_batch", "positions": [{"lat": lat, "lon": 6.63, "ts": ts}]}


async def _drain_scheduler() -> None:
    """Wait until the ETA scheduler did what the batches so far asked (it is FIFO)."""
    await asyncio.get_running_loop().run_in_executor(None, _scheduler.submit(lambda: None).result)


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="the 30 s coalescing keys live in Redis; without it every batch is due (fail-open)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.clock(NOW, tick=True)
async def test_position_batches_recompute_etas_once_per_30_s(
    company, driver, dispatcher, token_for
):
    await database_sync_to_async(BookingFactory)(
        company=company, driver=driver, status="assigned", scheduled_at=at(9)
    )
    make = database_sync_to_async(token_for)
    office = await open_socket("/ws/company/", await make(dispatcher))
    phone = await open_socket("/ws/driver/", await make(driver.user))
    await phone.send_json_to(_batch(46.52, 0))
    assert (await receive_type(phone, "ack"))["accepted"] == 1
    etas = await receive_type(office, "eta_updated")
    assert etas["driver_id"] == str(driver.id) and etas["start"] == "position"
    assert [s["kind"] for s in etas["stops"]] == ["pickup", "dropoff"]
    # A second batch a few seconds later: stored and shown, but no new ETAs.
    await phone.send_json_to(_batch(46.53, 1))
    assert (await receive_type(phone, "ack"))["accepted"] == 1
    await _drain_scheduler()
    await apublish(group_for_company_dispatch(company.id), {"type": "test_marker"})
    seen = []
    while (frame := await office.receive_json_from(timeout=30))["type"] != "test_marker":
        seen.append(frame["type"])
    assert "eta_updated" not in seen and "driver_position" in seen
    await phone.disconnect()
    await office.disconnect()


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_the_beat_skips_drivers_a_position_just_refreshed(company):
    from dispatch.tasks import refresh_etas

    moving, silent = DriverFactory(company=company), DriverFactory(company=company)
    trips = [
        BookingFactory(company=company, driver=d, status="assigned", scheduled_at=at(9))
        for d in (moving, silent)
    ]
    assert etas_positions_due([(str(company.id), str(moving.id))]) == 1
    Booking.objects.update(eta_computed_at=None)
    assert refresh_etas() == 1
    computed = {
        b.driver_id: b.eta_computed_at for b in Booking.objects.filter(id__in=[t.id for t in trips])
    }
    assert computed == {moving.id: None, silent.id: NOW}


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test's own (port 8111, this worktree's range), to stop."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    url = "redis://127.0.0.1:8111/0"
    process = subprocess.Popen(
        [binary, "--port", "8111", "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client, deadline = redis.Redis.from_url(url, socket_timeout=1), time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        settings.CACHES = {
            "default": {
                "BACKEND": "atmr.redis_cache.ReusingRedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "eta-coalescing-test",
            }
        }
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_coalescing_fails_open_when_redis_is_down(company, own_redis):
    driver = DriverFactory(company=company)
    pair = (str(company.id), str(driver.id))
    assert etas_positions_due([pair]) == 1
    assert etas_positions_due([pair]) == 0
    own_redis.terminate()
    own_redis.wait(timeout=10)
    # Stale ETAs are worse than one refresh too many.
    assert etas_positions_due([pair]) == 1


def test_the_refresh_task_is_sent_by_its_registered_name():
    import dispatch.tasks  # noqa: F401  # registers the tasks
    from atmr.celery import app
    from dispatch.eta_schedule import REFRESH_TASK

    assert REFRESH_TASK in app.tasks
