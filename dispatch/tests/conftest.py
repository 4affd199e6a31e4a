"""Fixtures for tests that talk to a real osrm-routed on loopback over the synthetic map.

`osrm_server` installs the OSRM binaries on first use (cached under `.osrm/`), prepares the
small test map of the Lausanne-Geneva area (`TEST_MAP`: seconds, cached under `.osrm/maps/`
for later runs) and runs osrm-routed once per session; its value is the URL.
If that is impossible the fixture FAILS with the reason: a silently skipped OSRM suite would
let a broken travel layer through CI.

`fault_proxy` is a FaultProxy in front of that server, shared by the session and reset to
pass-through with an empty request log before and after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import time_machine

from dispatch.engine.geo import Location
from dispatch.local_osrm.fault_proxy import FaultProxy
from dispatch.local_osrm.server import start_osrm
from dispatch.local_osrm.synthetic_map import TEST_MAP, land_points
from tests.factories import ZURICH

# The server enforces the same limit the providers use by default, so a chunking bug shows
# up as a TooBig error instead of passing silently.
OSRM_TEST_MAX_TABLE_SIZE = 100


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tag every test that needs osrm-routed (directly or via fault_proxy) with the `osrm`
    # marker declared in pyproject.toml, so `-m "not osrm"` gives a quick run without it.
    for item in items:
        if "osrm_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.osrm)


@pytest.fixture(scope="session")
def osrm_server() -> Iterator[str]:
    try:
        server = start_osrm(max_table_size=OSRM_TEST_MAX_TABLE_SIZE, map_spec=TEST_MAP)
    except Exception as exc:  # any failure here must fail the tests, not skip them
        pytest.fail(f"cannot run the local osrm-routed: {type(exc).__name__}: {exc}", False)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def _fault_proxy_session(osrm_server: str) -> Iterator[FaultProxy]:
    with FaultProxy(osrm_server) as proxy:
        yield proxy


@pytest.fixture
def fault_proxy(_fault_proxy_session: FaultProxy) -> Iterator[FaultProxy]:
    _fault_proxy_session.reset()
    yield _fault_proxy_session
    _fault_proxy_session.reset()


@pytest.fixture
def make_points() -> Callable[..., list[Location]]:
    return land_points


@pytest.fixture
def eve_of_test_day() -> Iterator[None]:
    """Afternoon of 2026-11-30 in Zurich, whatever today is: the factories plan trips on
    2026-12-01, and a run for a past day is refused. The clock keeps ticking."""
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, tzinfo=ZURICH), tick=True):
        yield
