"""The phone's `booking_status` keeps the one-step rule and the trip's day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from bookings.models import Booking
from realtime.tests.utils import open_socket
from tests.factories import BookingFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_socket_refuses_assigned_to_completed_for_tomorrows_trip(
    company, driver, driver_token
):
    @database_sync_to_async
    def tomorrows() -> Booking:
        return BookingFactory(
            company=company,
            driver=driver,
            status="assigned",
            scheduled_at=timezone.now() + timedelta(days=1),
        )

    booking = await tomorrows()
    phone = await open_socket("/ws/driver/", driver_token)
    message = {"type": "booking_status", "booking_id": str(booking.id)}
    await phone.send_json_to({**message, "id": 1, "status": "completed"})
    error = await phone.receive_json_from()
    assert (error["type"], error["code"], error["field"]) == (
        "error",
        "invalid_transition",
        "status",
    )
    await phone.send_json_to({**message, "id": 2, "status": "en_route"})
    error = await phone.receive_json_from()
    assert (error["code"], error["id"]) == ("invalid_transition", 2)
    assert "start it on its day" in error["detail"]
    stored = await database_sync_to_async(Booking.objects.get)(id=booking.id)
    assert stored.status == "assigned"
    await phone.disconnect()


async def test_socket_chat_with_nul_is_a_field_error(driver_token):
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_json_to({"type": "chat_message", "id": "c1", "text": "late\u0000"})
    error = await phone.receive_json_from()
    assert (error["type"], error["code"], error["field"]) == ("error", "invalid_field", "text")
    await phone.send_json_to({"type": "chat_message", "id": "c2", "text": "late"})
    assert (await phone.receive_json_from())["type"] == "ack"
    await phone.disconnect()


@pytest.mark.parametrize("depth", [1000, 16_000])
async def test_socket_deeply_nested_frame_is_an_error_frame(driver_token, depth):
    phone = await open_socket("/ws/driver/", driver_token)
    await phone.send_to(text_data="[" * depth + "]" * depth)
    error = await phone.receive_json_from()
    assert error["type"] == "error" and error["code"] in ("invalid_json", "invalid_message")
    await phone.send_json_to({"type": "chat_message", "id": "c2", "text": "still here"})
    assert (await phone.receive_json_from())["type"] == "ack"
    await phone.disconnect()
