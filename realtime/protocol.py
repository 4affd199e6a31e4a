"""Parsing and validating what clients send (the "Client → server" part of PROTOCOL.md).

Hand-written rather than DRF serializers: it runs for every frame of every phone, and a batch
of 50 positions must cost microseconds. Every failure is a ProtocolError naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, overload
from uuid import UUID

import orjson

from atmr.localtime import moment_range_error
from drivers.locations import Position

MAX_FRAME_CHARS = 32_768
MAX_POSITIONS = 50
MAX_CHAT_CHARS = 2_000
MAX_CLIENT_ID_CHARS = 64
MAX_REASON_CODE_CHARS = 100
MAX_REASON_CHARS = 300
# Phones buffer fixes while offline, and their clocks drift a little.
MAX_POSITION_AGE = timedelta(days=7)
MAX_CLOCK_AHEAD = timedelta(minutes=5)

ClientId = str | int | None


class ProtocolError(Exception):
    def __init__(
        self, code: str, detail: str, *, field: str | None = None, client_id: ClientId = None
    ) -> None:
        super().__init__(detail)
        self.code, self.detail, self.field, self.client_id = code, detail, field, client_id


@dataclass(frozen=True, slots=True)
class LocationBatch:
    id: ClientId
    positions: tuple[Position, ...]
    type: str = "location_batch"


@dataclass(frozen=True, slots=True)
class BookingStatus:
    id: ClientId
    booking_id: UUID
    status: str
    reason_code: str | None = None  # a no-show's reason code (id or code)
    reason: str = ""
    type: str = "booking_status"


@dataclass(frozen=True, slots=True)
class ChatText:
    id: ClientId
    text: str
    type: str = "chat_message"
    to_driver: str | None = None  # the office writing to one driver (a UUID)


Inbound = LocationBatch | BookingStatus | ChatText


def parse_message(raw: str, *, allowed: frozenset[str], now: datetime) -> Inbound:
    """Decode one text frame; `allowed` are the types this endpoint accepts."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("invalid_json", "The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "A message is a JSON object.")
    client_id = _client_id(data)
    try:
        kind = data.get("type")
        if kind is None:
            raise ProtocolError("missing_field", "A message needs a type.", field="type")
        if not isinstance(kind, str) or kind not in _PARSERS:
            raise ProtocolError("unknown_type", f"Unknown message type {kind!r}.", field="type")
        if kind not in allowed:
            raise ProtocolError("type_not_allowed", f"{kind} is not for this socket.", field="type")
        return _PARSERS[kind](data, client_id, now)
    except ProtocolError as exc:
        exc.client_id = client_id
        raise


def _client_id(data: dict[str, Any]) -> ClientId:
    value = data.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProtocolError("invalid_field", "id must be a string or an integer.", field="id")
    if isinstance(value, str) and len(value) > MAX_CLIENT_ID_CHARS:
        raise ProtocolError("invalid_field", "id is too long (64 characters).", field="id")
    return value


def _parse_location_batch(data: dict[str, Any], client_id: ClientId, now: datetime) -> Inbound:
    items = data.get("positions")
    if items is None:
        raise ProtocolError("missing_field", "positions is required.", field="positions")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_POSITIONS:
        raise ProtocolError(
            "invalid_field",
            f"positions must be a list of 1 to {MAX_POSITIONS} items.",
            field="positions",
        )
    positions = [_position(item, f"positions[{i}]", now) for i, item in enumerate(items)]
    # One fix per timestamp: the table stores each (driver, recorded_at) once anyway.
    unique = {p.recorded_at: p for p in positions}
    return LocationBatch(id=client_id, positions=tuple(unique.values()))


def _position(item: Any, where: str, now: datetime) -> Position:
    if not isinstance(item, dict):
        raise ProtocolError("invalid_field", f"{where} must be an object.", field=where)
    return Position(
        lat=_number(item, "lat", where, -90.0, 90.0, required=True),
        lon=_number(item, "lon", where, -180.0, 180.0, required=True),
        recorded_at=_timestamp(item.get("ts"), f"{where}.ts", now),
        speed=_number(item, "speed", where, 0.0, 200.0, required=False),
        heading=_number(item, "heading", where, 0.0, 360.0, required=False),
        accuracy=_number(item, "accuracy", where, 0.0, 100_000.0, required=False),
    )


@overload
def _number(
    item: dict[str, Any], key: str, where: str, low: float, high: float, *, required: Literal[True]
) -> float: ...
@overload
def _number(
    item: dict[str, Any], key: str, where: str, low: float, high: float, *, required: bool
) -> float | None: ...
def _number(
    item: dict[str, Any], key: str, where: str, low: float, high: float, *, required: bool
) -> float | None:
    value = item.get(key)
    field = f"{where}.{key}"
    if value is None:
        if required:
            raise ProtocolError("missing_field", f"{field} is required.", field=field)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError("invalid_field", f"{field} must be a number.", field=field)
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise ProtocolError("invalid_field", f"{field} must be in [{low}, {high}].", field=field)
    return number


def _timestamp(value: Any, field: str, now: datetime) -> datetime:
    if value is None:
        raise ProtocolError("missing_field", f"{field} is required.", field=field)
    if isinstance(value, str):
        when = _iso(value, field, now)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            when = datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ProtocolError("invalid_field", f"{field} is out of range.", field=field) from None
    else:
        raise ProtocolError(
            "invalid_field", f"{field} must be ISO 8601 or epoch milliseconds.", field=field
        )
    if when > now + MAX_CLOCK_AHEAD:
        raise ProtocolError("invalid_field", f"{field} is in the future.", field=field)
    if when < now - MAX_POSITION_AGE:
        raise ProtocolError("invalid_field", f"{field} is older than 7 days.", field=field)
    return when


def _iso(value: str, field: str, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError("invalid_field", f"{field} is not ISO 8601.", field=field) from None
    if when.tzinfo is None:
        raise ProtocolError("invalid_field", f"{field} needs a UTC offset or Z.", field=field)
    # The shared range first: converting year 1 or 9999 with an offset to UTC overflows.
    reason = moment_range_error(when, now=now)
    if reason:
        raise ProtocolError("invalid_field", f"{field}: {reason}", field=field)
    return when.astimezone(UTC)


def _parse_booking_status(data: dict[str, Any], client_id: ClientId, now: datetime) -> Inbound:
    raw_id = _required_str(data, "booking_id")
    status = _required_str(data, "status")
    try:
        booking_id = UUID(raw_id)
    except ValueError:
        raise ProtocolError(
            "invalid_field", "booking_id is not a UUID.", field="booking_id"
        ) from None
    return BookingStatus(
        id=client_id,
        booking_id=booking_id,
        status=status,
        reason_code=_optional_text(data, "reason_code", MAX_REASON_CODE_CHARS) or None,
        reason=_optional_text(data, "reason", MAX_REASON_CHARS),
    )


def _optional_text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError("invalid_field", f"{name} must be a string.", field=name)
    value = value.strip()
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse it as the API does
        raise ProtocolError("invalid_field", f"{name} must not contain NUL characters.", field=name)
    if len(value) > limit:
        raise ProtocolError(
            "invalid_field", f"{name} must be at most {limit} characters.", field=name
        )
    return value


def _required_str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise ProtocolError("missing_field", f"{name} is required.", field=name)
    if not isinstance(value, str):
        raise ProtocolError("invalid_field", f"{name} must be a string.", field=name)
    return value


def _parse_chat(data: dict[str, Any], client_id: ClientId, now: datetime) -> Inbound:
    text = data.get("text")
    if text is None:
        raise ProtocolError("missing_field", "text is required.", field="text")
    if not isinstance(text, str):
        raise ProtocolError("invalid_field", "text must be a string.", field="text")
    text = text.strip()
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: refuse it as the API does
        raise ProtocolError("invalid_field", "text must not contain NUL characters.", field="text")
    if not 1 <= len(text) <= MAX_CHAT_CHARS:
        raise ProtocolError(
            "invalid_field", f"text must be 1 to {MAX_CHAT_CHARS} characters.", field="text"
        )
    to_driver = data.get("to_driver")
    if to_driver is not None:
        try:
            to_driver = str(UUID(to_driver))
        except (TypeError, ValueError, AttributeError):
            raise ProtocolError(
                "invalid_field", "to_driver must be a driver's id.", field="to_driver"
            ) from None
    return ChatText(id=client_id, text=text, to_driver=to_driver)


_PARSERS = {
    "location_batch": _parse_location_batch,
    "booking_status": _parse_booking_status,
    "chat_message": _parse_chat,
}
