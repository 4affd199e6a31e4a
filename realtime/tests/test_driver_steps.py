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
