from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import BookingConflict, BookingInvalidTransition, BookingTimeOutOfRange
from bookings.models import Booking
from bookings.transitions import ALLOWED, FINAL
from realtime.groups import group_for_company_dispatch, group_for_driver
from tests.factories import BookingFactory, DriverFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr("realtime.publish.publish", lambda g, e: sent.append((g, dict(e))))
    return sent


def test_every_status_is_in_the_transition_table():
    assert set(ALLOWED) == set(Booking.Status.values)
    assert {"completed", "cancelled", "no_show"} == FINAL


def test_assign_publishes_on_commit_to_office_and_driver(
    company, published, django_capture_on_commit_callbacks
):
    booking = BookingFactory(company=company)
    driver = DriverFactory(company=company)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_assign(booking=booking, driver=driver)
    groups = [g for g, _ in published]
    assert groups == [group_for_company_dispatch(company.id), group_for_driver(driver.id)]
    assert published[1][1]["type"] == "assignment"
    assert published[1][1]["action"] == "assigned"


def test_reassign_withdraws_from_the_previous_driver(
    company, published, django_capture_on_commit_callbacks
):
    first, second = DriverFactory(company=company), DriverFactory(company=company)
    booking = BookingFactory(company=company, driver=first, status="assigned")
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_assign(booking=booking, driver=second)
    withdrawn = [e for g, e in published if g == group_for_driver(first.id)]
    assert withdrawn[0]["action"] == "withdrawn"


def test_nothing_is_published_when_the_transaction_rolls_back(
    company, published, django_capture_on_commit_callbacks
):
    booking = BookingFactory(company=company, status="completed")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BookingInvalidTransition):
        services.booking_cancel(booking=booking)
    assert published == []


def test_stale_copy_loses_the_race(company):
    booking = BookingFactory(company=company)
    stale = Booking.objects.get(pk=booking.pk)
    services.booking_cancel(booking=booking, reason="first")
    with pytest.raises(BookingConflict):
        services.booking_assign(booking=stale, driver=DriverFactory(company=company))
    booking.refresh_from_db()
    assert booking.status == "cancelled" and booking.driver_id is None


def test_driver_may_only_progress_its_own_booking(company):
    mine, other = DriverFactory(company=company), DriverFactory(company=company)
    soon = timezone.now() + timedelta(minutes=30)  # a driver starts only today's trips
    booking = BookingFactory(company=company, driver=mine, status="assigned", scheduled_at=soon)
    with pytest.raises(Exception, match="Unknown booking"):
        services.booking_set_status(booking=booking, status="en_route", driver=other)
    with pytest.raises(BookingInvalidTransition):
        services.booking_set_status(booking=booking, status="cancelled", driver=mine)
    for step in ("en_route", "on_board", "completed"):
        services.booking_set_status(booking=booking, status=step, driver=mine)
    booking.refresh_from_db()
    assert booking.status == "completed"


def test_default_window_near_the_end_of_time_is_a_field_error_not_an_overflow(company):
    end = datetime(9999, 12, 31, 23, 55, tzinfo=UTC)
    with pytest.raises(BookingTimeOutOfRange) as caught:
        services.default_window(company, end)
    assert caught.value.field == "scheduled_at"
    with pytest.raises(BookingTimeOutOfRange):
        services.default_window(company, datetime(1, 1, 1, 0, 5, tzinfo=UTC))


def test_assign_refuses_a_stored_booking_out_of_range(company):
    stored = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    booking = BookingFactory(
        company=company, scheduled_at=stored, pickup_earliest=stored, pickup_latest=stored
    )
    with pytest.raises(BookingTimeOutOfRange) as caught:
        services.booking_assign(booking=booking, driver=DriverFactory(company=company))
    assert caught.value.field == "scheduled_at"
