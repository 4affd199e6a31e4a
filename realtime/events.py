"""Builders for the messages in realtime/schemas.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeGuard, get_args

from realtime.schemas import (
    AckEvent,
    AssignmentAction,
    AssignmentEvent,
    BookingReadyEvent,
    BookingSummary,
    BookingUpdatedEvent,
    ChatMessageEvent,
    ChatMessageSummary,
    ChatSender,
    DispatchRunEvent,
    DriverPositionEvent,
    ErrorEvent,
    EtaStop,
    EtaUpdatedEvent,
    HelloEvent,
    InsertionProposedEvent,
    InsertionSummary,
    LateRiskEvent,
    RunStatus,
)

if TYPE_CHECKING:
    from atmr.chat.models import ChatMessage
    from bookings.models import Booking
    from drivers.locations import Position
    from realtime.auth import SocketUser

ClientId = str | int | None


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


def build_booking_ready(booking: Booking, via: Literal["office", "link"]) -> BookingReadyEvent:
    """`via`: released by the office (API, admin) or by the clinic's ready link."""
    assert booking.released_at is not None
    return {
        "type": "booking_ready",
        "booking": booking_summary(booking),
        "released_at": booking.released_at.isoformat(),
        "pickup_earliest": booking.pickup_earliest.isoformat(),
        "pickup_latest": booking.pickup_latest.isoformat(),
        "via": via,
    }


def build_assignment(booking: Booking, action: AssignmentAction) -> AssignmentEvent:
    return {"type": "assignment", "action": action, "booking": booking_summary(booking)}


def build_insertion_proposed(
    booking: Booking, proposals: list[InsertionSummary], *, applied: bool
) -> InsertionProposedEvent:
    """`booking` as it is now (assigned when `applied`)."""
    return {
        "type": "insertion_proposed",
        "booking": booking_summary(booking),
        "proposals": proposals,
        "applied": applied,
    }


def build_driver_position(driver_id: str, position: Position) -> DriverPositionEvent:
    return {
        "type": "driver_position",
        "driver_id": driver_id,
        "lat": position.lat,
        "lon": position.lon,
        "recorded_at": position.recorded_at.isoformat(),
        "speed": position.speed,
        "heading": position.heading,
        "accuracy": position.accuracy,
    }


def build_eta_updated(
    *, driver_id: str, computed_at: datetime, start: str, source: str, stops: list[EtaStop]
) -> EtaUpdatedEvent:
    return {
        "type": "eta_updated",
        "driver_id": driver_id,
        "computed_at": computed_at.isoformat(),
        "start": start,  # type: ignore[typeddict-item]  # dispatch.eta.Start, the same Literal
        "source": source,
        "stops": stops,
    }


def build_late_risk(
    booking: Booking,
    *,
    previous: str,
    reason: str | None,
    slack_seconds: int | None,
    eta_pickup: datetime | None,
    eta_dropoff: datetime | None,
) -> LateRiskEvent:
    """`booking` carries its new `lateness` and `ride_too_long`."""
    return {
        "type": "late_risk",
        "booking": booking_summary(booking),
        "lateness": booking.lateness,  # type: ignore[typeddict-item]  # Booking.Lateness values
        "previous": previous,  # type: ignore[typeddict-item]
        "reason": reason,  # type: ignore[typeddict-item]
        "slack_seconds": slack_seconds,
        "ride_too_long": booking.ride_too_long,
        "eta_pickup": eta_pickup.isoformat() if eta_pickup else None,
        "eta_dropoff": eta_dropoff.isoformat() if eta_dropoff else None,
    }


def chat_message_summary(message: ChatMessage, sender: ChatSender) -> ChatMessageSummary:
    return {
        "id": str(message.id),
        "sender": sender,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "to_driver": str(message.to_driver_id) if message.to_driver_id else None,
    }


def build_chat_message(message: ChatMessage, sender: ChatSender) -> ChatMessageEvent:
    return {"type": "chat_message", "message": chat_message_summary(message, sender)}


RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)


def is_run_status(value: str) -> TypeGuard[RunStatus]:
    """Narrows a stored run status (a plain str to the type checker) to the event's Literal."""
    return value in RUN_STATUSES


def build_dispatch_run(
    *,
    run_id: str,
    status: RunStatus,
    progress: float,
    detail: str = "",
) -> DispatchRunEvent:
    """`progress` runs from 0.0 to 1.0."""
    return {
        "type": "dispatch_run",
        "run_id": run_id,
        "status": status,
        "progress": max(0.0, min(1.0, progress)),
        "detail": detail,
    }


def build_hello(user: SocketUser, expires_at: datetime) -> HelloEvent:
    return {
        "type": "hello",
        "user_id": user.id,
        "role": user.role,
        "company_id": user.company_id,
        "driver_id": user.driver_id,
        "expires_at": expires_at.isoformat(),
    }


def build_ack(of: str, client_id: ClientId) -> AckEvent:
    return {"type": "ack", "id": client_id, "of": of}


def build_error(code: str, detail: str, *, field: str | None, client_id: ClientId) -> ErrorEvent:
    return {"type": "error", "id": client_id, "code": code, "field": field, "detail": detail}
