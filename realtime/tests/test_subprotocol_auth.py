"""The board's socket log-in: the token as the `atmr.bearer` subprotocol, never in the URL."""

from __future__ import annotations

import pytest

from atmr.asgi import application
from realtime.tests.utils import Communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_company_socket_takes_the_token_as_a_subprotocol(dispatcher_token, dispatcher):
    ws = Communicator(application, "/ws/company/", subprotocols=["atmr.bearer", dispatcher_token])
    connected, subprotocol = await ws.connect()
    assert connected
    assert subprotocol == "atmr.bearer"  # a browser drops the socket unless one is picked
    hello = await ws.receive_json_from()
    assert (hello["type"], hello["user_id"]) == ("hello", str(dispatcher.id))
    await ws.disconnect()


async def test_a_bad_subprotocol_token_is_closed_with_4401():
    ws = Communicator(application, "/ws/company/", subprotocols=["atmr.bearer", "not.a.token"])
    connected, subprotocol = await ws.connect()
    assert connected and subprotocol == "atmr.bearer"
    assert (await ws.receive_output())["code"] == 4401


async def test_a_driver_token_as_subprotocol_cannot_open_the_office_socket(driver_token):
    ws = Communicator(application, "/ws/company/", subprotocols=["atmr.bearer", driver_token])
    await ws.connect()
    assert (await ws.receive_output())["code"] == 4403
