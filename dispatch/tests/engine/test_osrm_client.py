"""OsrmClient against the real osrm-routed (through the fault proxy where failures are needed)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from dispatch.engine.geo import Location
from dispatch.engine.kvstore import InMemoryStore
from dispatch.engine.osrm import CIRCUIT_OPEN, OsrmClient, OsrmError
from dispatch.engine.travel import CircuitBreaker
from dispatch.local_osrm.fault_proxy import Fault, FaultProxy, Mode
from dispatch.local_osrm.synthetic_map import TEST_MAP

LAUSANNE = Location(46.5197, 6.6323)
GENEVA = Location(46.2044, 6.1432)
Points = Callable[..., list[Location]]
# Behaviour tests wait as long as a loaded 2-core machine may need; only the test that
# injects a delay on purpose uses a short timeout.
GENEROUS_TIMEOUT_S = 30.0


def client(url: str, **kwargs: object) -> OsrmClient:
    options: dict[str, object] = {"timeout_s": GENEROUS_TIMEOUT_S, "retries": 2, "backoff_s": 0.01}
    return OsrmClient(url, **(options | kwargs))  # type: ignore[arg-type]


def test_table_uses_lon_lat_order_and_gives_realistic_times(osrm_server: str) -> None:
    with client(osrm_server) as osrm:
        result = osrm.table([LAUSANNE, GENEVA])
    assert result.durations[0][0] == 0
    assert 35 * 60 < result.durations[0][1] < 70 * 60  # type: ignore[operator]
    assert 55_000 < result.distances[0][1] < 75_000  # type: ignore[operator]


def test_table_agrees_with_route(osrm_server: str, make_points: Points) -> None:
    points = make_points(6, seed=11)
    with client(osrm_server) as osrm:
        table = osrm.table(points)
        for i, j in [(0, 1), (1, 0), (2, 5), (4, 3)]:
            seconds, metres = osrm.route(points[i], points[j])
            assert table.durations[i][j] == pytest.approx(seconds, abs=1.0)
            assert table.distances[i][j] == pytest.approx(metres, abs=2.0)


def test_contraction_hierarchies_give_the_same_table(osrm_server: str, make_points: Points) -> None:
    """The map is also prepared for CH (faster tables): both algorithms find shortest paths."""
    from dispatch.local_osrm.server import start_osrm

    points = make_points(12, seed=5)
    ch_server = start_osrm(max_table_size=100, algorithm="ch", map_spec=TEST_MAP)
    with ch_server as server, client(server.url) as osrm:
        ch = osrm.table(points)
    with client(osrm_server) as osrm:
        mld = osrm.table(points)
    for i in range(len(points)):
        for j in range(len(points)):
            assert ch.durations[i][j] == pytest.approx(mld.durations[i][j], abs=1.0)
            # Paths of equal duration may differ in length: ties break differently.
            assert ch.distances[i][j] == pytest.approx(mld.distances[i][j], rel=0.002, abs=2.0)


def test_unknown_algorithm_is_refused() -> None:
    from dispatch.local_osrm.server import start_osrm

    with pytest.raises(ValueError, match="algorithm"):
        start_osrm(algorithm="dijkstra")


def test_sources_and_destinations_select_rows_and_columns(osrm_server: str) -> None:
    points = [LAUSANNE, GENEVA, Location(46.3833, 6.2390)]
    with client(osrm_server) as osrm:
        full = osrm.table(points)
        part = osrm.table(points, sources=[2], destinations=[0, 1])
    assert part.durations == [[full.durations[2][0], full.durations[2][1]]]
    # OSRM sums distances along the unpacked path, so another query may differ by a rounding
    # step (0.1 m); a wrong row or column would be kilometres off.
    expected = [full.distances[2][0], full.distances[2][1]]
    assert part.distances[0] == pytest.approx(expected, abs=1.0)


def test_5xx_is_retried_then_succeeds(fault_proxy: FaultProxy) -> None:
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503, times=2))
    with client(fault_proxy.url, retries=2) as osrm:
        result = osrm.table([LAUSANNE, GENEVA])
    assert result.durations[0][1]
    assert [r.mode for r in fault_proxy.requests] == [Mode.STATUS, Mode.STATUS, Mode.PASS]


def test_5xx_beyond_retries_raises_transient(fault_proxy: FaultProxy) -> None:
    fault_proxy.set_fault(Fault(Mode.STATUS, status=502))
    with client(fault_proxy.url, retries=1) as osrm, pytest.raises(OsrmError) as caught:
        osrm.table([LAUSANNE, GENEVA])
    assert caught.value.transient
    assert len(fault_proxy.requests) == 2


def test_timeout_is_transient_and_bounded(fault_proxy: FaultProxy) -> None:
    # The proxy would answer after a minute; two 0.5 s attempts give up long before that.
    # The bound is far from both numbers so a loaded machine cannot make it flaky.
    fault_proxy.set_fault(Fault(Mode.DELAY, delay_s=60.0))
    started = time.monotonic()
    with client(fault_proxy.url, timeout_s=0.5, retries=1) as osrm, pytest.raises(OsrmError) as e:
        osrm.route(LAUSANNE, GENEVA)
    assert e.value.transient
    assert time.monotonic() - started < 20
    assert len(fault_proxy.requests) == 2


@pytest.mark.parametrize("mode", [Mode.MALFORMED, Mode.DROP])
def test_malformed_json_and_dropped_connection_are_transient(
    fault_proxy: FaultProxy, mode: Mode
) -> None:
    fault_proxy.set_fault(Fault(mode))
    with client(fault_proxy.url, retries=1) as osrm, pytest.raises(OsrmError) as caught:
        osrm.table([LAUSANNE, GENEVA])
    assert caught.value.transient
    assert caught.value.code is None
    assert len(fault_proxy.requests) == 2


def test_too_big_is_an_error_and_not_retried(fault_proxy: FaultProxy, make_points: Points) -> None:
    with client(fault_proxy.url, retries=3) as osrm, pytest.raises(OsrmError) as caught:
        osrm.table(make_points(101, seed=3))  # 101 x 101 > 100^2, the server's limit
    assert (caught.value.code, caught.value.transient) == ("TooBig", False)
    assert len(fault_proxy.requests) == 1


def test_no_segment_is_an_error_and_not_retried(fault_proxy: FaultProxy) -> None:
    body = b'{"code":"NoSegment","message":"Could not find a matching segment for coordinate 0"}'
    fault_proxy.set_fault(Fault(Mode.STATUS, status=400, body=body))
    with client(fault_proxy.url, retries=3) as osrm, pytest.raises(OsrmError) as caught:
        osrm.table([LAUSANNE, GENEVA])
    assert (caught.value.code, caught.value.transient) == ("NoSegment", False)
    assert len(fault_proxy.requests) == 1


def test_unreachable_cells_come_back_as_none(fault_proxy: FaultProxy) -> None:
    answer = {"code": "Ok", "durations": [[0, None], [12.5, 0]], "distances": [[0, None], [99, 0]]}
    fault_proxy.set_fault(Fault(Mode.STATUS, status=200, body=json.dumps(answer).encode()))
    with client(fault_proxy.url) as osrm:
        result = osrm.table([LAUSANNE, GENEVA])
    assert result.durations == [[0.0, None], [12.5, 0.0]]
    assert result.distances == [[0.0, None], [99.0, 0.0]]


def test_wrong_shape_is_treated_as_malformed(fault_proxy: FaultProxy) -> None:
    answer = {"code": "Ok", "durations": [[0, 1]], "distances": [[0, 1]]}
    fault_proxy.set_fault(Fault(Mode.STATUS, status=200, body=json.dumps(answer).encode()))
    with client(fault_proxy.url, retries=0) as osrm, pytest.raises(OsrmError) as caught:
        osrm.table([LAUSANNE, GENEVA])
    assert caught.value.transient


def test_open_breaker_stops_requests_and_failures_open_it(fault_proxy: FaultProxy) -> None:
    breaker = CircuitBreaker(InMemoryStore(), failure_threshold=2, cooldown_s=60)
    fault_proxy.set_fault(Fault(Mode.STATUS, status=500))
    with client(fault_proxy.url, retries=5, breaker=breaker) as osrm:
        with pytest.raises(OsrmError) as first:
            osrm.table([LAUSANNE, GENEVA])
        with pytest.raises(OsrmError) as second:
            osrm.table([LAUSANNE, GENEVA])
    assert len(fault_proxy.requests) == 2  # the breaker opened after 2 failures of 6 attempts
    assert first.value.code == second.value.code == CIRCUIT_OPEN
