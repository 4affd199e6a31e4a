"""A standing order's trips on one day: the bookings' places, passengers and times.

Plain functions of the order and the company (its zone and usual window), shared by the
materialisation, the edit and the preview.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from atmr.accounts.models import Company
from bookings.models import Booking, StandingOrder
from bookings.services import booking_will_call_window, default_window
from dispatch.engine.geo import Location
from dispatch.engine.straight_line import estimate

OUTBOUND, RETURN = "outbound", "return"  # Booking.occurrence_leg
# With only an appointment time, the pick-up is the estimated drive before it plus this
# (boarding, a wheelchair's straps, finding the ward).
APPOINTMENT_MARGIN = timedelta(minutes=15)


def local_today(company: Company, now: datetime) -> date:
    """The company's calendar day at `now`."""
    return now.astimezone(company.tz).date()


def trip_day(trip: Booking) -> date:
    """The day a standing order's trip belongs to. Every trip of a series has one; only a
    withdrawn trip gives it back (and no longer counts as the series')."""
    assert trip.occurrence_date is not None, f"booking {trip.id} is not a series' trip"
    return trip.occurrence_date


def _local(day: date, clock: time, tz: Any) -> datetime:
    """`clock` on `day` in `tz`, as UTC. A time the clock skips (02:30 on the spring change)
    is the same number of minutes after the change (03:30)."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _drive(order: StandingOrder) -> timedelta:
    seconds, _ = estimate(
        Location(order.pickup_lat, order.pickup_lon), Location(order.dropoff_lat, order.dropoff_lon)
    )
    return timedelta(seconds=seconds)


def occurrence_times(order: StandingOrder, day: date, company: Company) -> dict[str, Any]:
    """The outbound booking's time fields on `day`."""
    tz = company.tz
    appointment = _local(day, order.appointment_time, tz) if order.appointment_time else None
    if order.pickup_time is not None:
        scheduled = _local(day, order.pickup_time, tz)
    else:
        assert appointment is not None
        scheduled = appointment - _drive(order) - APPOINTMENT_MARGIN
        scheduled -= timedelta(
            minutes=scheduled.minute % 5,
            seconds=scheduled.second,
            microseconds=scheduled.microsecond,
        )
    earliest, latest = default_window(company, scheduled)
    if appointment is not None:
        latest = max(scheduled, min(latest, appointment - _drive(order)))
    return {
        "scheduled_at": scheduled,
        "pickup_earliest": min(earliest, scheduled),
        "pickup_latest": latest,
        "appointment_at": appointment,
    }


def return_times(
    order: StandingOrder, day: date, company: Company, outbound_time: datetime
) -> dict[str, Any]:
    """The return booking's time fields on `day` (a will-call's placeholder window)."""
    if order.return_leg == StandingOrder.ReturnLeg.WILL_CALL:
        scheduled, earliest, latest = booking_will_call_window(company=company, after=outbound_time)
        return {
            "scheduled_at": scheduled,
            "pickup_earliest": earliest,
            "pickup_latest": latest,
            "appointment_at": None,
            "will_call": True,
        }
    # Not a will-call (and a return is asked for): a fixed time, which the model requires.
    assert order.return_time is not None, f"order {order.id}: a fixed return without a time"
    scheduled = _local(day, order.return_time, company.tz)
    earliest, latest = default_window(company, scheduled)
    return {
        "scheduled_at": scheduled,
        "pickup_earliest": max(earliest, outbound_time),
        "pickup_latest": latest,
        "appointment_at": None,
        "will_call": False,
    }


def outbound_end(times: dict[str, Any]) -> datetime:
    return times["appointment_at"] or times["scheduled_at"]


def trip_fields(order: StandingOrder, *, back: bool = False) -> dict[str, Any]:
    """The booking fields other than times; `back` swaps the places for the return."""
    start, end = ("dropoff", "pickup") if back else ("pickup", "dropoff")
    return {
        "pickup_address": getattr(order, f"{start}_address"),
        "pickup_lat": getattr(order, f"{start}_lat"),
        "pickup_lon": getattr(order, f"{start}_lon"),
        "dropoff_address": getattr(order, f"{end}_address"),
        "dropoff_lat": getattr(order, f"{end}_lat"),
        "dropoff_lon": getattr(order, f"{end}_lon"),
        "passengers": order.passengers,
        "urgent": order.urgent,
        "mobility": order.mobility,
        "notes": order.notes,
    }
