"""A driver moves a trip one step at a time, and only on the trip's day; the office more."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from bookings import services
from bookings.errors import BookingInvalidTransition
from bookings.transitions import ALLOWED, DRIVER_STEPS, driver_step_refusal
from tests.factories import BookingFactory, DriverFactory

pytestmark = pytest.mark.django_db
ZURICH = ZoneInfo("Europe/Zurich")


def _trip(company, driver, status="assigned", at=None):
    at = at or timezone.now() + timedelta(minutes=30)
    return BookingFactory(company=company, driver=driver, status=status, scheduled_at=at)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("assigned", "completed"),
        ("assigned", "on_board"),
        ("assigned", "no_show"),
        ("en_route", "completed"),
        ("en_route", "no_show"),  # a no-show is reported at the pick-up, after the wait
        ("on_board", "no_show"),
        ("arrived", "completed"),
        ("assigned", "cancelled"),
        ("assigned", "pending"),
    ],
)
def test_driver_cannot_skip_steps(company, current, target):
    driver = DriverFactory(company=company)
    booking = _trip(company, driver, status=current)
    with pytest.raises(BookingInvalidTransition, match="next step"):
        services.booking_set_status(booking=booking, status=target, driver=driver)
    booking.refresh_from_db()
    assert booking.status == current


def test_driver_walks_the_steps_and_may_report_a_no_show(company):
    company.no_show_wait_minutes = 0  # the wait has its own tests (test_arrival.py)
    company.save()
    driver = DriverFactory(company=company)
    trip = _trip(company, driver)
    for step in ("en_route", "arrived", "on_board", "completed"):
        services.booking_set_status(booking=trip, status=step, driver=driver)
    no_show = _trip(company, driver)
    services.booking_set_status(booking=no_show, status="en_route", driver=driver)
    services.booking_set_status(booking=no_show, status="arrived", driver=driver)
    services.booking_set_status(booking=no_show, status="no_show", driver=driver)
    trip.refresh_from_db(), no_show.refresh_from_db()
    assert (trip.status, no_show.status) == ("completed", "no_show")


def test_office_keeps_its_wider_transitions(company):
    booking = _trip(company, DriverFactory(company=company))
    services.booking_set_status(booking=booking, status="completed")  # no driver: the office
    booking.refresh_from_db()
    assert booking.status == "completed"
    assert DRIVER_STEPS["assigned"] < ALLOWED["assigned"]


def test_driver_cannot_start_tomorrows_trip_today(company):
    driver = DriverFactory(company=company)
    tomorrow = timezone.now() + timedelta(days=1)
    booking = _trip(company, driver, at=tomorrow)
    with pytest.raises(BookingInvalidTransition) as refused:
        services.booking_set_status(booking=booking, status="en_route", driver=driver)
    local = tomorrow.astimezone(ZURICH).strftime("%Y-%m-%d %H:%M")
    assert refused.value.detail == f"This trip is planned for {local}; start it on its day."
    booking.refresh_from_db()
    assert booking.status == "assigned"


def test_day_is_the_companys_and_a_trip_just_after_midnight_may_start_before_it():
    pickup = datetime(2026, 12, 2, 0, 15, tzinfo=ZURICH)
    kwargs = {"current": "assigned", "target": "en_route", "scheduled_at": pickup, "tz": ZURICH}
    assert driver_step_refusal(**kwargs, now=pickup - timedelta(minutes=25)) is None
    assert driver_step_refusal(**kwargs, now=pickup - timedelta(hours=5)) is not None
    # 23:30 UTC on the 1st is already the 2nd in Zurich: the trip's own day.
    late = datetime(2026, 12, 2, 9, 0, tzinfo=ZURICH)
    utc_evening = datetime(2026, 12, 1, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert driver_step_refusal(**{**kwargs, "scheduled_at": late}, now=utc_evening) is None


def test_a_trip_started_yesterday_evening_may_finish_after_midnight(company):
    driver = DriverFactory(company=company)
    start = datetime(2026, 12, 1, 23, 40, tzinfo=ZURICH)
    with time_machine.travel(start - timedelta(minutes=20), tick=False):
        booking = _trip(company, driver, at=start)
        services.booking_set_status(booking=booking, status="en_route", driver=driver)
    with time_machine.travel(start + timedelta(minutes=40), tick=False):
        services.booking_set_status(booking=booking, status="on_board", driver=driver)
        services.booking_set_status(booking=booking, status="completed", driver=driver)
