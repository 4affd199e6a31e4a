"""Opening sockets: who may connect where, and the close codes for everyone else."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from atmr.asgi import application
from realtime.auth import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from realtime.tests.utils import Communicator, open_socket
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _close_code(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int:
    communicator = Communicator(application, path, headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected  # accepted, so that the client can read the close code
    output = await communicator.receive_output()
    await communicator.disconnect()
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_driver_connects_and_is_greeted_with_its_claims(driver, driver_token):
    communicator = Communicator(application, f"/ws/driver/?token={driver_token}")
    assert (await communicator.connect())[0]
    hello = await communicator.receive_json_from()
    assert hello["type"] == "hello"
    assert hello["driver_id"] == str(driver.id)
    assert hello["company_id"] == str(driver.company_id)
    assert hello["role"] == "driver"
    await communicator.disconnect()


async def test_token_in_authorization_header_is_accepted(dispatcher, dispatcher_token):
    headers = [(b"authorization", f"Bearer {dispatcher_token}".encode())]
    communicator = Communicator(application, "/ws/company/", headers=headers)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["user_id"] == str(dispatcher.id)
    await communicator.disconnect()


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-jwt", "?token=a.b.c"])
async def test_missing_or_garbage_token_closes_4401(query):
    assert await _close_code(f"/ws/driver/{query}") == CLOSE_UNAUTHENTICATED


async def test_expired_token_closes_4401(driver_token):
    with time_machine.travel(timedelta(minutes=16)):
        assert await _close_code(f"/ws/driver/?token={driver_token}") == CLOSE_UNAUTHENTICATED


async def test_refresh_token_is_not_an_access_token(driver):
    from atmr.accounts.tokens import refresh_token_for

    refresh = await _sync(lambda: str(refresh_token_for(driver.user)))
    assert await _close_code(f"/ws/driver/?token={refresh}") == CLOSE_UNAUTHENTICATED


async def test_token_signed_with_another_key_closes_4401(driver_token):
    header, payload, _signature = driver_token.split(".")
    forged = f"{header}.{payload}.c2lnbmF0dXJl"
    assert await _close_code(f"/ws/driver/?token={forged}") == CLOSE_UNAUTHENTICATED


async def test_driver_token_cannot_open_the_company_socket(driver_token):
    assert await _close_code(f"/ws/company/?token={driver_token}") == CLOSE_FORBIDDEN


async def test_dispatcher_token_cannot_open_the_driver_socket(dispatcher_token):
    assert await _close_code(f"/ws/driver/?token={dispatcher_token}") == CLOSE_FORBIDDEN


async def test_driver_role_without_driver_record_is_refused(company, token_for):
    token = await _sync(lambda: token_for(UserFactory(company=company, role="driver")))
    assert await _close_code(f"/ws/driver/?token={token}") == CLOSE_FORBIDDEN


async def test_admin_may_open_the_company_socket(company, token_for):
    token = await _sync(lambda: token_for(UserFactory(company=company, role="admin")))
    communicator = await open_socket("/ws/company/", token)
    await communicator.disconnect()


async def test_socket_closes_4401_when_the_token_expires(driver, token_for):
    token = await _sync(lambda: token_for(driver.user, lifetime=timedelta(seconds=2)))
    communicator = await open_socket("/ws/driver/", token)
    output = await communicator.receive_output()  # at the token's expiry, 2 s from now
    assert output == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    await communicator.disconnect()


async def test_unknown_path_is_refused():
    communicator = Communicator(application, "/ws/elsewhere/")
    with pytest.raises(ValueError, match="No route"):
        await communicator.connect()


async def _sync(function):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(function)()


async def test_suspended_company_cannot_open_sockets(company, driver_token):
    def suspend() -> None:
        company.active = False
        company.save()

    await _sync(suspend)
    assert await _close_code(f"/ws/driver/?token={driver_token}") == CLOSE_FORBIDDEN


async def test_refreshed_token_carries_the_new_role_onto_sockets(company):
    from rest_framework.test import APIClient

    from atmr.accounts.tokens import refresh_token_for

    user = await _sync(lambda: UserFactory(company=company, role="admin"))
    refresh = await _sync(lambda: str(refresh_token_for(user)))

    def demote_and_refresh() -> str:
        user.role = "driver"
        user.save(update_fields=["role"])
        response = APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json")
        assert response.status_code == 200
        return response.json()["access"]

    access = await _sync(demote_and_refresh)
    assert await _close_code(f"/ws/company/?token={access}") == CLOSE_FORBIDDEN
