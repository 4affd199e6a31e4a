"""OsrmMatrixProvider against the real osrm-routed, with failures from the fault proxy.

Also covers the pieces it is built from: block planning, the KV-backed circuit breaker and
the in-memory KeyValueStore.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.engine import straight_line
from dispatch.engine.geo import Location, TravelMatrix
from dispatch.engine.kvstore import InMemoryStore
from dispatch.engine.osrm import OsrmClient
from dispatch.engine.travel import (
    BreakerState,
    CircuitBreaker,
    OsrmMatrixProvider,
    StraightLineProvider,
)
from dispatch.engine.travel.blocks import one_to_many, plan_blocks
from dispatch.local_osrm.fault_proxy import Fault, FaultProxy, Mode, ProxiedRequest
from dispatch.local_osrm.synthetic_map import land_points

Points = Callable[..., list[Location]]
POINTS_150 = land_points(150, seed=7)
# Behaviour tests wait as long as a loaded 2-core machine may need; a short timeout appears
# only where a test delays answers on purpose.
GENEROUS_TIMEOUT_S = 30.0


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def provider(url: str, **kwargs: object) -> OsrmMatrixProvider:
    options: dict[str, object] = {
        "timeout_s": GENEROUS_TIMEOUT_S,
        "retries": 1,
        "backoff_s": 0.01,
        "breaker_failures": 1000,  # tests that want the breaker lower it explicitly
        "store": InMemoryStore(),
    }
    return OsrmMatrixProvider(url, **(options | kwargs))  # type: ignore[arg-type]


def asked_pairs(requests: list[ProxiedRequest]) -> Counter[tuple[tuple[float, float], ...]]:
    """How often each directed (source, destination) coordinate pair was requested."""
    return Counter(
        (s, d)
        for r in requests
        for s in r.source_coordinates
        for d in r.destination_coordinates
        if s != d
    )


def lonlat(p: Location) -> tuple[float, float]:
    return (p.lon, p.lat)


def first_source_in(points: list[Location]) -> Callable[[ProxiedRequest], bool]:
    wanted = {lonlat(p) for p in points}
    return lambda r: r.service == "table" and r.source_coordinates[0] in wanted


@pytest.fixture(scope="module")
def reference_150(osrm_server: str) -> TravelMatrix:
    with provider(osrm_server) as p:
        m = p.matrix(POINTS_150)
    assert m.fallback_cells == 0
    return m


def assert_cells(
    m: TravelMatrix, ref: TravelMatrix, points: list[Location], fallback_rows: set[int]
) -> None:
    for i in range(len(points)):
        for j in range(len(points)):
            expected = (ref.durations[i][j], ref.distances[i][j])
            if i in fallback_rows and i != j:
                expected = straight_line.estimate(points[i], points[j])
            assert (m.durations[i][j], m.distances[i][j]) == expected, (i, j)


# --- chunking ---------------------------------------------------------------------------------


def test_chunks_respect_the_limit_and_cover_every_cell_once(
    fault_proxy: FaultProxy, reference_150: TravelMatrix
) -> None:
    with provider(fault_proxy.url, max_table_size=100) as p:
        m = p.matrix(POINTS_150)
    requests = fault_proxy.requests
    assert m == reference_150
    assert all(len(r.coordinates) <= 100 for r in requests)
    assert all(len(r.sources) + len(r.destinations) <= 100 for r in requests)
    pairs = asked_pairs(requests)
    assert set(pairs.values()) == {1}
    assert len(pairs) == 150 * 149
    assert len(requests) == 9  # 3 x 3 blocks of 50 x 50


def test_chunked_result_equals_one_unchunked_request(osrm_server: str, make_points: Points) -> None:
    points = make_points(90, seed=5)
    with OsrmClient(osrm_server) as client:
        whole = client.table(points)
    with provider(osrm_server, max_table_size=40) as p:
        m = p.matrix(points)
    assert m.durations == [[round(v or 0) for v in row] for row in whole.durations]
    assert m.distances == [[round(v or 0) for v in row] for row in whole.distances]


def test_matrix_agrees_with_single_routes(osrm_server: str, reference_150: TravelMatrix) -> None:
    with provider(osrm_server) as p:
        for i, j in [(0, 1), (7, 3), (149, 0), (60, 120), (99, 100)]:
            seconds, metres = p.route(POINTS_150[i], POINTS_150[j])
            assert reference_150.durations[i][j] == pytest.approx(seconds, abs=1)
            assert reference_150.distances[i][j] == pytest.approx(metres, abs=2)


def test_duplicate_locations_are_asked_once_and_cost_nothing(
    fault_proxy: FaultProxy, make_points: Points
) -> None:
    a, b = make_points(2, seed=9)
    near_a = Location(a.lat + 2e-6, a.lon - 2e-6)  # same point after rounding to ~1 m
    with provider(fault_proxy.url) as p:
        m = p.matrix([a, b, near_a, a])
    assert len(fault_proxy.requests) == 1
    assert len(fault_proxy.requests[0].coordinates) == 2
    assert m.durations[0][2] == m.durations[2][3] == m.durations[0][3] == 0
    assert m.durations[2][1] == m.durations[0][1] > 0
    assert m.fallback_cells == 0


def test_tiny_inputs(osrm_server: str) -> None:
    with provider(osrm_server) as p:
        assert p.matrix([]) == TravelMatrix([], [], 0)
        assert p.matrix([POINTS_150[0]]) == TravelMatrix([[0]], [[0]], 0)


# --- cache ------------------------------------------------------------------------------------


def test_second_call_is_served_from_the_cache(fault_proxy: FaultProxy) -> None:
    points = POINTS_150[:30]
    with provider(fault_proxy.url) as p:
        first = p.matrix(points)
        fault_proxy.clear_log()
        second = p.matrix(points)
    assert fault_proxy.requests == []
    assert second == first


def test_cache_is_shared_through_the_store(fault_proxy: FaultProxy) -> None:
    store = InMemoryStore()
    with provider(fault_proxy.url, store=store) as p:
        p.matrix(POINTS_150[:20])
    fault_proxy.clear_log()
    with provider(fault_proxy.url, store=store) as other_process:
        other_process.matrix(POINTS_150[:20])
    assert fault_proxy.requests == []


def test_partial_overlap_fetches_only_missing_cells(
    fault_proxy: FaultProxy, reference_150: TravelMatrix
) -> None:
    known, new = POINTS_150[:40], POINTS_150[40:50]
    with provider(fault_proxy.url) as p:
        p.matrix(known)
        fault_proxy.clear_log()
        m = p.matrix(known + new)
    pairs = asked_pairs(fault_proxy.requests)
    new_coords = {lonlat(q) for q in new}
    assert all(s in new_coords or d in new_coords for s, d in pairs)
    assert len(pairs) == 50 * 49 - 40 * 39
    assert set(pairs.values()) == {1}
    assert len(fault_proxy.requests) == 2  # new rows x everything, known rows x new columns
    assert_cells(m, _sub(reference_150, 50), POINTS_150[:50], set())


def test_cache_entries_expire_after_the_ttl(fault_proxy: FaultProxy) -> None:
    clock = FakeClock()
    store = InMemoryStore(clock=clock)
    with provider(fault_proxy.url, store=store, cache_ttl_s=60) as p:
        p.matrix(POINTS_150[:5])
        clock.now += 61
        fault_proxy.clear_log()
        p.matrix(POINTS_150[:5])
    assert len(fault_proxy.requests) == 1


def _sub(m: TravelMatrix, n: int) -> TravelMatrix:
    return TravelMatrix([r[:n] for r in m.durations[:n]], [r[:n] for r in m.distances[:n]])


# --- several small matrices at once (insertion proposals) -------------------------------------


class CountingStore(InMemoryStore):
    """Counts the travel-time cache's reads (one `get_many` is one Redis MGET)."""

    def __init__(self) -> None:
        super().__init__()
        self.cell_reads = 0

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        self.cell_reads += any(">" in k for k in keys)  # cells, not the breaker's keys
        return super().get_many(keys)


def drivers_and_a_new_trip(drivers: int, own: int = 6) -> tuple[list[int], list[list[int]]]:
    """Indices into POINTS_150: a new trip's two points, and per driver those two then its
    own `own` points (as each candidate driver's small day lists them)."""
    new = [0, 1]
    return new, [new + list(range(2 + own * k, 2 + own * (k + 1))) for k in range(drivers)]


def expected_cells(m: TravelMatrix, ref: TravelMatrix, group: list[int]) -> None:
    for a, i in enumerate(group):
        for b, j in enumerate(group):
            assert (m.durations[a][b], m.distances[a][b]) == (
                ref.durations[i][j],
                ref.distances[i][j],
            ), (i, j)


@pytest.mark.parametrize("drivers", [3, 8])
def test_matrices_ask_a_new_trips_cells_for_every_driver_at_once(
    fault_proxy: FaultProxy, reference_150: TravelMatrix, drivers: int
) -> None:
    """The drivers' own cells are cached; the trip's are asked in one cache read and two
    tables (its points to every driver's points, and back), however many drivers: asked
    driver by driver it was a read and two tables each."""
    new, groups = drivers_and_a_new_trip(drivers)
    store = CountingStore()
    with provider(fault_proxy.url, store=store) as p:
        for group in groups:
            p.matrix([POINTS_150[i] for i in group[2:]])
        fault_proxy.clear_log()
        store.cell_reads = 0
        found = p.matrices([[POINTS_150[i] for i in group] for group in groups])
    assert store.cell_reads == 1
    assert len(fault_proxy.requests) == 2
    new_coords = {lonlat(POINTS_150[i]) for i in new}
    assert all(
        set(r.source_coordinates) <= new_coords or set(r.destination_coordinates) <= new_coords
        for r in fault_proxy.requests
    )
    # Each missing cell asked once, and nothing else: the trip's points to and from every
    # driver's points (and each other).
    everyone = {i for group in groups for i in group}
    wanted = {(a, b) for a in new for b in everyone if a != b}
    wanted |= {(b, a) for a, b in wanted}
    coords = {lonlat(POINTS_150[i]): i for i in everyone}
    pairs = asked_pairs(fault_proxy.requests)
    assert {(coords[s], coords[d]) for s, d in pairs} == wanted
    assert set(pairs.values()) == {1}
    for m, group in zip(found, groups, strict=True):
        assert m.fallback_cells == 0
        expected_cells(m, reference_150, group)


def test_matrices_over_mld_ask_one_point_per_table(
    fault_proxy: FaultProxy, reference_150: TravelMatrix
) -> None:
    """Over MLD a table of one source (destination) is one search, of two a search per
    coordinate: the trip's two points go as four tables, one point each."""
    _, groups = drivers_and_a_new_trip(8)
    with provider(fault_proxy.url, one_to_many=True) as p:
        for group in groups:
            p.matrix([POINTS_150[i] for i in group[2:]])
        fault_proxy.clear_log()
        found = p.matrices([[POINTS_150[i] for i in group] for group in groups])
    assert len(fault_proxy.requests) == 4
    assert all(len(r.sources) == 1 or len(r.destinations) == 1 for r in fault_proxy.requests)
    assert set(asked_pairs(fault_proxy.requests).values()) == {1}
    for m, group in zip(found, groups, strict=True):
        expected_cells(m, reference_150, group)


def test_matrices_cold_are_each_groups_matrix(
    fault_proxy: FaultProxy, reference_150: TravelMatrix
) -> None:
    """Nothing cached: every group's cells in one fetch (these 26 points: one table; group
    by group, seven)."""
    _, groups = drivers_and_a_new_trip(4)
    with provider(fault_proxy.url) as p:
        found = p.matrices([[POINTS_150[i] for i in group] for group in groups])
    for m, group in zip(found, groups, strict=True):
        assert m.fallback_cells == 0
        expected_cells(m, reference_150, group)
    assert len(fault_proxy.requests) == 1


def test_matrices_fall_back_when_osrm_fails(fault_proxy: FaultProxy) -> None:
    _, groups = drivers_and_a_new_trip(3)
    points = [[POINTS_150[i] for i in group] for group in groups]
    fault_proxy.set_fault(Fault(Mode.STATUS, status=500))
    with provider(fault_proxy.url, retries=0) as p:
        found = p.matrices(points)
    estimates = StraightLineProvider().matrices(points)
    for m, estimate, group in zip(found, estimates, points, strict=True):
        assert m.fallback_cells == len(group) * (len(group) - 1)
        assert (m.durations, m.distances) == (estimate.durations, estimate.distances)


def test_matrices_of_nothing() -> None:
    with provider("http://127.0.0.1:9") as p:  # never asked
        assert p.matrices([]) == []
        assert p.matrices([[], [POINTS_150[0]]]) == [
            TravelMatrix([], [], 0),
            TravelMatrix([[0]], [[0]], 0),
        ]


# --- per-block fallback -----------------------------------------------------------------------


# The timeout case is the one place a short timeout is the point: delayed blocks (a minute)
# must time out, while the same timeout leaves healthy 50 x 50 blocks (~50 ms of OSRM time
# each) a wide margin on a loaded 2-core machine. The failure is 2 x 3 s, blocks in parallel.
@pytest.mark.parametrize(
    ("fault", "timeout_s"),
    [
        (Fault(Mode.DELAY, delay_s=60.0), 3.0),
        (Fault(Mode.STATUS, status=503), GENEROUS_TIMEOUT_S),
        (Fault(Mode.MALFORMED), GENEROUS_TIMEOUT_S),
        (Fault(Mode.DROP), GENEROUS_TIMEOUT_S),
        (
            Fault(Mode.STATUS, status=400, body=b'{"code":"NoSegment","message":"coordinate 3"}'),
            GENEROUS_TIMEOUT_S,
        ),
    ],
    ids=["timeout", "5xx", "malformed", "dropped", "nosegment"],
)
def test_failing_blocks_fall_back_cell_by_cell(
    fault_proxy: FaultProxy, reference_150: TravelMatrix, fault: Fault, timeout_s: float
) -> None:
    # Blocks whose sources are the first 50 points fail (3 of 9); the other 6 succeed.
    fault_proxy.set_fault(Fault(**{**fault.__dict__, "when": first_source_in(POINTS_150[:50])}))
    with provider(fault_proxy.url, timeout_s=timeout_s, retries=1) as p:
        m = p.matrix(POINTS_150)
    assert m.fallback_cells == 50 * 149
    assert_cells(m, reference_150, POINTS_150, fallback_rows=set(range(50)))


def test_fallback_cells_are_not_cached(fault_proxy: FaultProxy) -> None:
    points = POINTS_150[:10]
    fault_proxy.set_fault(Fault(Mode.STATUS, status=500))
    with provider(fault_proxy.url, retries=0) as p:
        assert p.matrix(points).fallback_cells == 90
        fault_proxy.set_fault(Fault())
        assert p.matrix(points).fallback_cells == 0


def test_too_big_falls_back_without_retry(fault_proxy: FaultProxy) -> None:
    # Misconfigured: the provider thinks the server takes 300 coordinates, it takes 100.
    with provider(fault_proxy.url, max_table_size=300, retries=3) as p:
        m = p.matrix(POINTS_150)
    assert len(fault_proxy.requests) == 1
    assert m.fallback_cells == 150 * 149


def test_5xx_retried_then_succeeds_without_fallback(
    fault_proxy: FaultProxy, reference_150: TravelMatrix
) -> None:
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503, times=3))
    with provider(fault_proxy.url, retries=2) as p:
        m = p.matrix(POINTS_150)
    assert m == reference_150
    assert len(fault_proxy.requests) == 9 + 3


def test_unreachable_cells_fall_back(fault_proxy: FaultProxy) -> None:
    a, b = POINTS_150[:2]
    body = b'{"code":"Ok","durations":[[0,null],[70.2,0]],"distances":[[0,null],[900.4,0]]}'
    fault_proxy.set_fault(Fault(Mode.STATUS, status=200, body=body))
    with provider(fault_proxy.url) as p:
        m = p.matrix([a, b])
        assert m.fallback_cells == 1
        assert (m.durations[0][1], m.distances[0][1]) == straight_line.estimate(a, b)
        assert (m.durations[1][0], m.distances[1][0]) == (70, 900)
        fault_proxy.set_fault(Fault())
        assert p.matrix([a, b]).fallback_cells == 1  # "no route" is cached like any answer


# --- circuit breaker --------------------------------------------------------------------------


def test_breaker_opens_half_opens_and_closes(fault_proxy: FaultProxy) -> None:
    clock = FakeClock()
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
    with provider(
        fault_proxy.url,
        retries=10,
        breaker_failures=3,
        breaker_cooldown_s=30,
        clock=clock,
        max_table_size=10,
    ) as p:
        points = POINTS_150[:5]  # one block
        assert p.matrix(points).fallback_cells == 20
        assert len(fault_proxy.requests) == 3  # opened after 3 failures despite 10 retries
        assert p.breaker.state() is BreakerState.OPEN

        fault_proxy.clear_log()
        assert p.matrix(POINTS_150[:20]).fallback_cells == 380
        assert fault_proxy.requests == []  # open: nothing is sent

        clock.now += 31
        fault_proxy.set_fault(Fault())
        assert p.breaker.state() is BreakerState.HALF_OPEN
        m = p.matrix(POINTS_150[:20])  # 4 x 4 blocks of 5 x 5
        assert m.fallback_cells == 0
        assert p.breaker.state() is BreakerState.CLOSED
        assert len(fault_proxy.requests) == 16  # fallback cells were not cached


def test_failed_probe_reopens_the_breaker(fault_proxy: FaultProxy) -> None:
    clock = FakeClock()
    fault_proxy.set_fault(Fault(Mode.STATUS, status=503))
    with provider(
        fault_proxy.url, retries=5, breaker_failures=2, breaker_cooldown_s=30, clock=clock
    ) as p:
        p.matrix(POINTS_150[:5])
        clock.now += 31
        fault_proxy.clear_log()
        assert p.matrix(POINTS_150[:60]).fallback_cells == 60 * 59
        assert len(fault_proxy.requests) == 1  # one probe, no retries, no fan-out
        assert p.breaker.state() is BreakerState.OPEN


def test_breaker_state_is_shared_between_processes(fault_proxy: FaultProxy) -> None:
    store, clock = InMemoryStore(), FakeClock()
    options = {"store": store, "breaker_failures": 2, "clock": clock, "retries": 3}
    fault_proxy.set_fault(Fault(Mode.DROP))
    with provider(fault_proxy.url, **options) as worker_a:
        worker_a.matrix(POINTS_150[:5])
    fault_proxy.clear_log()
    with provider(fault_proxy.url, **options) as worker_b:
        assert worker_b.matrix(POINTS_150[:5]).fallback_cells == 20
    assert fault_proxy.requests == []


def test_breaker_unit_window_and_success_reset() -> None:
    clock = FakeClock()
    store = InMemoryStore(clock=clock)
    b = CircuitBreaker(store, failure_threshold=3, window_s=10, cooldown_s=5, clock=clock)
    b.record_failure()
    b.record_failure()
    b.record_success()  # consecutive failures only
    b.record_failure()
    b.record_failure()
    assert b.state() is BreakerState.CLOSED
    clock.now += 11  # the window expired: the count starts again
    b.record_failure()
    b.record_failure()
    assert b.state() is BreakerState.CLOSED
    b.record_failure()
    assert b.state() is BreakerState.OPEN and not b.allows_request()
    clock.now += 5
    assert b.try_acquire_probe()
    assert not b.try_acquire_probe()  # only one prober
    b.record_success()
    assert b.state() is BreakerState.CLOSED


# --- block planning and the store -------------------------------------------------------------


def _draw_missing(n: int, data: st.DataObject) -> tuple[set[tuple[int, int]], dict[int, set[int]]]:
    """Some off-diagonal cells of an n x n matrix, and the same as rows' missing columns."""
    cells = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = data.draw(st.sets(st.sampled_from(cells), max_size=len(cells)))
    missing: dict[int, set[int]] = {}
    for i, j in chosen:
        missing.setdefault(i, set()).add(j)
    return chosen, missing


@given(
    n=st.integers(2, 70),
    limit=st.integers(2, 40),
    data=st.data(),
)
def test_plan_covers_every_missing_cell_once_within_limit(
    n: int, limit: int, data: st.DataObject
) -> None:
    chosen, missing = _draw_missing(n, data)
    blocks = plan_blocks(missing, n, limit)
    covered = Counter(cell for block in blocks for cell in block.cells())
    assert set(covered) >= chosen
    assert all(count == 1 for count in covered.values())
    assert all(len(b.sources) + len(b.destinations) <= limit for b in blocks)


@given(
    n=st.integers(2, 70),
    limit=st.integers(2, 40),
    data=st.data(),
)
def test_one_to_many_covers_the_same_cells_one_point_a_table(
    n: int, limit: int, data: st.DataObject
) -> None:
    _, missing = _draw_missing(n, data)
    planned = plan_blocks(missing, n, limit)
    blocks = one_to_many(planned)
    assert Counter(c for b in blocks for c in b.cells()) == Counter(
        c for b in planned for c in b.cells()
    )
    assert all(len(b.sources) + len(b.destinations) <= limit for b in blocks)
    for block in blocks:
        short = min(len(block.sources), len(block.destinations))
        long = max(len(block.sources), len(block.destinations))
        assert short == 1 or short > 2 or long < 16


def test_one_to_many_cuts_a_new_trips_rows_and_columns() -> None:
    rows, known = plan_blocks({0: set(range(1, 40)), 1: {0, *range(2, 40)}}, 40, 100), None
    assert [(b.sources, len(b.destinations)) for b in one_to_many(rows)] == [((0,), 40), ((1,), 40)]
    known = one_to_many(plan_blocks({i: {0, 1} for i in range(2, 40)}, 40, 100))
    assert [(len(b.sources), b.destinations) for b in known] == [(38, (0,)), (38, (1,))]
    small = plan_blocks({0: {1, 2}, 1: {0, 2}}, 3, 100)
    assert one_to_many(small) == small


def test_in_memory_store_follows_django_semantics() -> None:
    clock = FakeClock()
    store = InMemoryStore(clock=clock)
    store.set("a", 1, timeout=10)
    assert store.add("a", 2, timeout=10) is False
    assert store.incr("a") == 2
    with pytest.raises(ValueError):
        store.incr("missing")
    store.set("gone", 1, timeout=0)  # 0 = do not keep
    store.set_many({"b": 1, "c": 2}, timeout=None)  # None = forever
    assert store.get_many(["a", "b", "c", "gone", "x"]) == {"a": 2, "b": 1, "c": 2}
    clock.now += 11
    assert store.get("a", "default") == "default"
    assert store.get("b") == 1
    assert store.delete("b") is True and store.delete("b") is False
