"""`chat_message` with `to_driver`: the office writes to one driver over the socket."""

from __future__ import annotations

import pytest

from realtime.tests.utils import open_socket, receive_type
from tests.factories import DriverFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_the_office_writes_to_one_driver_and_no_other(
    company, driver, driver_token, dispatcher_token, token_for
):
    from channels.db import database_sync_to_async

    other_token = await database_sync_to_async(
        lambda: token_for(DriverFactory(company=company).user)
    )()
    office = await open_socket("/ws/company/", dispatcher_token)
    phone = await open_socket("/ws/driver/", driver_token)
    bystander = await open_socket("/ws/driver/", other_token)
    await office.send_json_to(
        {"type": "chat_message", "id": "d1", "text": "Gate B", "to_driver": str(driver.id)}
    )
    seen = await receive_type(phone, "chat_message")
    assert (seen["message"]["text"], seen["message"]["to_driver"]) == ("Gate B", str(driver.id))
    ack = await receive_type(office, "ack")
    assert ack["message"]["to_driver"] == str(driver.id)
    assert await bystander.receive_nothing(timeout=0.3)
    for socket in (office, phone, bystander):
        await socket.disconnect()


@pytest.mark.parametrize("to_driver", ["nope", 42, "00000000-0000-0000-0000-000000000000"])
async def test_a_bad_or_unknown_driver_is_an_error_naming_to_driver(dispatcher_token, to_driver):
    office = await open_socket("/ws/company/", dispatcher_token)
    await office.send_json_to({"type": "chat_message", "text": "x", "to_driver": to_driver})
    error = await receive_type(office, "error")
    assert error["field"] == "to_driver"
    await office.disconnect()
