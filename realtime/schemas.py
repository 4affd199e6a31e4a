"""Shapes of the events the server pushes to sockets (see realtime/PROTOCOL.md)."""

from __future__ import annotations

from typing import Literal, TypedDict


class BookingSummary(TypedDict):
    id: str
    status: str
    driver: str | None
    scheduled_at: str
    pickup_address: str
    dropoff_address: str


class BookingUpdatedEvent(TypedDict):
    type: Literal["booking_updated"]
    booking: BookingSummary


class AssignmentEvent(TypedDict):
    type: Literal["assignment"]
    action: Literal["assigned", "changed", "withdrawn"]
    booking: BookingSummary
