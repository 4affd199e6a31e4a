"""Fixtures for socket tests: tokens and rows (helpers are in utils.py)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from django.db import connections
from django.utils import timezone

from atmr.accounts.tokens import refresh_token_for
from realtime.positions import LOCATION_WRITER_THREADS, _location_writers
from tests.factories import BookingFactory, UserFactory


@pytest_asyncio.fixture(autouse=True)
async def _close_consumer_connections(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Consumers query from their own threads, whose connections outlive the test and would
    keep PostgreSQL from dropping the test database."""
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    await database_sync_to_async(connections.close_all)()
    # One task per writer thread: the barrier keeps any thread from taking two.
    barrier = threading.Barrier(LOCATION_WRITER_THREADS)

    def close() -> None:
        barrier.wait(timeout=30)
        connections.close_all()

    for future in [_location_writers.submit(close) for _ in range(LOCATION_WRITER_THREADS)]:
        future.result(timeout=60)


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
        company=company,
        driver=driver,
        vehicle=driver.default_vehicle,
        status="assigned",
        scheduled_at=timezone.now() + timedelta(minutes=30),  # drivers start today's trips only
    )
