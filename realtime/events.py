"""Builders for the events in realtime/schemas.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from realtime.schemas import AssignmentEvent, BookingSummary, BookingUpdatedEvent

if TYPE_CHECKING:
    from bookings.models import Booking


def booking_summary(booking: Booking) -> BookingSummary:
    return {
        "id": str(booking.id),
        "status": booking.status,
        "driver": str(booking.driver_id) if booking.driver_id else None,
        "scheduled_at": booking.scheduled_at.isoformat(),
        "pickup_address": booking.pickup_address,
        "dropoff_address": booking.dropoff_address,
    }


def build_booking_updated(booking: Booking) -> BookingUpdatedEvent:
    return {"type": "booking_updated", "booking": booking_summary(booking)}


def build_assignment(
    booking: Booking, action: Literal["assigned", "changed", "withdrawn"]
) -> AssignmentEvent:
    return {"type": "assignment", "action": action, "booking": booking_summary(booking)}
