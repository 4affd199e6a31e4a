"""Fixtures for socket tests: tokens and rows (helpers are in utils.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from django.db import connections

from atmr.accounts.tokens import refresh_token_for
from tests.factories import BookingFactory, UserFactory


@pytest_asyncio.fixture(autouse=True)
async def _close_consumer_connections() -> AsyncIterator[None]:
    """Consumers query from database_sync_to_async's own thread, whose connection outlives
    the test and would keep PostgreSQL from dropping the test database."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def token_for() -> Callable[..., str]:
    def make(user: Any, lifetime: timedelta | None = None) -> str:
        token = refresh_token_for(user).access_token
        if lifetime is not None:
            token.set_exp(lifetime=lifetime)
        return str(token)

    return make


@pytest.fixture
def driver_token(driver, token_for) -> str:
    return token_for(driver.user)


@pytest.fixture
def dispatcher_token(dispatcher, token_for) -> str:
    return token_for(dispatcher)


@pytest.fixture
def other_dispatcher_token(other_company, token_for) -> str:
    return token_for(UserFactory(company=other_company, role="dispatcher"))


@pytest.fixture
def assigned_booking(company, driver):
    return BookingFactory(
        company=company, driver=driver, vehicle=driver.default_vehicle, status="assigned"
    )
