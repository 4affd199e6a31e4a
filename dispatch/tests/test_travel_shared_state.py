"""The travel layer on Django's cache (Redis in CI): the cell cache and the circuit breaker
are shared by every process, here two providers standing for two workers."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from dispatch.engine.geo import Location
from dispatch.engine.travel import BreakerState, OsrmMatrixProvider
from dispatch.local_osrm.fault_proxy import Fault, Mode
from dispatch.local_osrm.synthetic_map import land_points

POINTS: list[Location] = land_points(12, seed=7)


def _provider(url: str) -> OsrmMatrixProvider:
    return OsrmMatrixProvider(
        url, store=cache, timeout_s=30.0, retries=0, breaker_failures=2, breaker_cooldown_s=60
    )


def test_second_worker_reads_the_first_workers_travel_times(fault_proxy):
    first, second = _provider(fault_proxy.url), _provider(fault_proxy.url)
    try:
        fetched = first.matrix(POINTS)
        assert fetched.fallback_cells == 0 and fault_proxy.requests
        fault_proxy.clear_log()
        cached = second.matrix(POINTS)
        assert fault_proxy.requests == []  # every cell came from the shared cache
        assert cached.durations == fetched.durations
    finally:
        first.close()
        second.close()


def test_breaker_opened_by_one_worker_stops_the_other(fault_proxy):
    first, second = _provider(fault_proxy.url), _provider(fault_proxy.url)
    try:
        fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
        first.matrix(POINTS[:4])
        first.matrix(POINTS[4:8])
        assert first.breaker.state() is BreakerState.OPEN
        assert second.breaker.state() is BreakerState.OPEN
        fault_proxy.clear_log()
        estimated = second.matrix(POINTS[8:])
        assert fault_proxy.requests == []  # the open breaker sends nothing
        assert estimated.fallback_cells == 4 * 3
    finally:
        first.close()
        second.close()


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()
