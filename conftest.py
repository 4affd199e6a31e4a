"""Shared fixtures: two companies, users of every role, and API clients logged in as them."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from atmr.accounts.tokens import refresh_token_for
from tests.admin_helpers import use_admin_zone, web_for
from tests.factories import SUITE_NOW, CompanyFactory, DriverFactory, UserFactory


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "clock(moment, tick=False): the test runs with the clock pinned at moment"
    )
    config.addinivalue_line(
        "markers",
        "real_clock: the test runs on the machine's clock (it talks to other processes, which do)",
    )


@pytest.fixture(autouse=True)
def _pinned_clock(request):
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    marker = request.node.get_closest_marker("clock")
    if marker is None:
        # The suite's trips are on fixed dates (tests.factories): "now" starts at SUITE_NOW
        # and runs on, so the suite means the same on any day it is run.
        with time_machine.travel(SUITE_NOW, tick=True):
            yield
        return
    with time_machine.travel(*marker.args, **{"tick": False, **marker.kwargs}):
        yield


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttle counters and cached companies must not leak from one test into the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def company(db):
    return CompanyFactory(name="Alpha Transports")


@pytest.fixture
def other_company(db):
    return CompanyFactory(name="Beta Ambulances")


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh_token_for(user).access_token}")
    client.user = user
    return client


@pytest.fixture
def dispatcher(company):
    return UserFactory(company=company, role="dispatcher")


@pytest.fixture
def dispatcher_client(dispatcher):
    return _client_for(dispatcher)


@pytest.fixture
def admin_client_api(company):
    return _client_for(UserFactory(company=company, role="admin"))


@pytest.fixture
def driver(company):
    return DriverFactory(company=company)


@pytest.fixture
def driver_client(driver):
    return _client_for(driver.user)


@pytest.fixture
def other_dispatcher_client(other_company):
    return _client_for(UserFactory(company=other_company, role="dispatcher"))


@pytest.fixture
def client_for():
    return _client_for


# Back-office (admin site): the zone it reads and shows times in, and clients logged in by session.
@pytest.fixture
def admin_zone(settings):
    use_admin_zone(settings)


@pytest.fixture
def staff_web(company):
    return web_for(UserFactory(company=company, role="dispatcher", is_staff=True))


@pytest.fixture
def admin_web(company):
    return web_for(UserFactory(company=company, role="admin", is_staff=True))


@pytest.fixture
def superuser_web(db):
    return web_for(UserFactory(company=None, is_superuser=True, is_staff=True))
