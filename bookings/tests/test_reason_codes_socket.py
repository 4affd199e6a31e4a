"""A driver's no-show over the socket carries a reason code (`reason_code`, PROTOCOL.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import orjson
import pytest
from channels.db import database_sync_to_async

from bookings.models import Booking
from realtime.protocol import BookingStatus, ProtocolError, parse_message
from realtime.tests import conftest as socket_fixtures
from realtime.tests.utils import open_socket

# The socket tests' fixtures: tokens, an assigned trip, closing the consumers' connections.
_close_consumer_connections = socket_fixtures._close_consumer_connections
assigned_booking = socket_fixtures.assigned_booking
driver_token = socket_fixtures.driver_token
token_for = socket_fixtures.token_for

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@database_sync_to_async
def _no_wait(booking: Booking) -> None:
    """The company's no-show wait off: these tests are about the codes (the wait: test_arrival)."""
    company = booking.company
    company.no_show_wait_minutes = 0
    company.save()


def _parse(message: dict) -> BookingStatus:
    parsed = parse_message(
        orjson.dumps(message).decode(), allowed=frozenset({"booking_status"}), now=NOW
    )
    assert isinstance(parsed, BookingStatus)
    return parsed


def test_protocol_reads_reason_code_and_text():
    booking_id = uuid4()
    base = {"type": "booking_status", "booking_id": str(booking_id), "status": "no_show"}
    parsed = _parse({**base, "reason_code": " patient_hospitalised ", "reason": "ward 4"})
    assert (parsed.reason_code, parsed.reason) == ("patient_hospitalised", "ward 4")
    assert (_parse(base).reason_code, _parse(base).reason) == (None, "")
    assert _parse({**base, "reason_code": ""}).reason_code is None


async def _reply(phone):
    """The next answer to the phone's message: its own `eta_updated` may come first (a status
    change refreshes the driver's ETAs; in-process without a worker, before the ack)."""
    while True:
        message = await phone.receive_json_from()
        if message["type"] != "eta_updated":
            return message


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"reason_code": 3}, "reason_code"),
        ({"reason_code": "x" * 101}, "reason_code"),
        ({"reason": ["ill"]}, "reason"),
        ({"reason": "x" * 301}, "reason"),
        ({"reason": "ill\u0000"}, "reason"),
    ],
)
def test_protocol_refuses_a_bad_reason_naming_it(extra, field):
    message = {"type": "booking_status", "booking_id": str(uuid4()), "status": "no_show"}
    with pytest.raises(ProtocolError) as refused:
        _parse({**message, **extra})
    assert (refused.value.code, refused.value.field) == ("invalid_field", field)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_driver_reports_a_no_show_with_a_code(assigned_booking, driver_token):
    await _no_wait(assigned_booking)
    phone = await open_socket("/ws/driver/", driver_token)
    message = {"type": "booking_status", "booking_id": str(assigned_booking.id)}
    for step in ("en_route", "arrived"):
        await phone.send_json_to({**message, "id": 1, "status": step})
        assert (await _reply(phone))["type"] == "ack"
    await phone.send_json_to(
        {**message, "id": 2, "status": "no_show", "reason_code": "weather"}  # not a no-show's
    )
    error = await _reply(phone)
    assert (error["type"], error["code"], error["field"], error["id"]) == (
        "error",
        "invalid_reason_code",
        "reason_code",
        2,
    )
    await phone.send_json_to(
        {**message, "id": 3, "status": "no_show", "reason_code": "patient_hospitalised"}
    )
    ack = await _reply(phone)
    assert (ack["type"], ack["id"], ack["booking"]["status"]) == ("ack", 3, "no_show")
    stored = await database_sync_to_async(Booking.objects.select_related("cancel_code").get)(
        id=assigned_booking.id
    )
    assert (stored.status, stored.cancel_code.code) == ("no_show", "patient_hospitalised")
    assert stored.cancelled_at is not None
    await phone.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_driver_no_show_without_a_code_is_a_no_show(assigned_booking, driver_token):
    await _no_wait(assigned_booking)
    phone = await open_socket("/ws/driver/", driver_token)
    message = {"type": "booking_status", "booking_id": str(assigned_booking.id)}
    for step in ("en_route", "arrived"):
        await phone.send_json_to({**message, "id": 1, "status": step})
        assert (await _reply(phone))["type"] == "ack"
    await phone.send_json_to(
        {**message, "id": 2, "status": "no_show", "reason_code": "series_ended"}
    )
    error = await _reply(phone)
    assert (error["code"], error["field"]) == ("invalid_reason_code", "reason_code")
    await phone.send_json_to({**message, "id": 3, "status": "no_show"})
    assert (await _reply(phone))["type"] == "ack"
    stored = await database_sync_to_async(Booking.objects.select_related("cancel_code").get)(
        id=assigned_booking.id
    )
    assert (stored.status, stored.cancel_code.code) == ("no_show", "no_show")
    await phone.disconnect()
