"""Dispatch runs leave unreleased will-call returns out (listed apart as waiting) and plan them
once the clinic has released them."""

from __future__ import annotations

from datetime import datetime

import pytest

from bookings import will_call
from bookings.models import Booking
from dispatch import execution, services
from dispatch.models import RunAssignment
from tests.factories import ZURICH, BookingFactory, DriverFactory, at

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=ZURICH)


pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOON, tick=True)]


@pytest.fixture
def day(company):
    """A driver, a fixed trip in the afternoon and a will-call return waiting for the clinic."""
    DriverFactory(company=company)
    fixed = BookingFactory(company=company, scheduled_at=at(14))
    outbound = BookingFactory(company=company, scheduled_at=at(8, 30), status="completed")
    back = BookingFactory(
        company=company,
        client=outbound.client,
        return_of=outbound,
        will_call=True,
        pickup_address=outbound.dropoff_address,
        pickup_lat=outbound.dropoff_lat,
        pickup_lon=outbound.dropoff_lon,
        dropoff_address=outbound.pickup_address,
        dropoff_lat=outbound.pickup_lat,
        dropoff_lon=outbound.pickup_lon,
        scheduled_at=at(8, 30),
        pickup_earliest=at(8, 30),
        pickup_latest=at(23, 59),
    )
    return fixed, back


def run_day(company, mode="suggest"):
    # Today, at noon: re-planned from now.
    run = services.run_start(
        company=company, service_date=NOON.date(), mode=mode, enqueue=False, from_now=True
    )
    return execution.run_execute(str(run.id))


def test_an_unreleased_return_is_waiting_and_a_released_one_is_planned(company, day):
    fixed, back = day
    first = run_day(company)
    assert first.status == "succeeded", first.error
    assert first.waiting == [{"booking": str(back.id)}]
    assert first.bookings_count == 1
    planned = set(RunAssignment.objects.filter(run=first).values_list("booking_id", flat=True))
    assert planned == {fixed.id}
    assert str(back.id) not in {u["booking"] for u in first.unassigned}

    # Ready in an hour: a driver at home in Lausanne at noon reaches Geneva by then.
    will_call.booking_release(booking=back, in_minutes=60)
    second = run_day(company, mode="auto")
    assert second.status == "succeeded", second.error
    assert second.waiting == []
    planned = set(RunAssignment.objects.filter(run=second).values_list("booking_id", flat=True))
    assert planned == {fixed.id, back.id}
    back.refresh_from_db()
    assert back.status == "assigned"
    row = RunAssignment.objects.get(run=second, booking=back)
    assert back.pickup_earliest <= row.pickup_eta <= back.pickup_latest


def test_the_run_page_lists_the_waiting_returns(company, day, dispatcher_client, staff_web):
    _fixed, back = day
    run = run_day(company)
    body = dispatcher_client.get(f"/api/dispatch/runs/{run.id}").json()
    assert body["waiting"] == [{"booking": str(back.id)}]
    # The admin's run page lists it too, with why it is not planned and a link to it.
    page = staff_web.get(f"/admin/dispatch/dispatchrun/{run.id}/change/").content.decode()
    assert "waiting for the clinic" in page
    assert f"/admin/bookings/booking/{back.id}/change/" in page


def test_a_cancelled_will_call_return_is_neither_planned_nor_waiting(company, day):
    _fixed, back = day
    Booking.objects.filter(id=back.id).update(status="cancelled")
    run = run_day(company)
    assert run.waiting == []
    assert not RunAssignment.objects.filter(run=run, booking=back).exists()
