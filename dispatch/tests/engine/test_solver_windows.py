"""Ride-time window preprocessing: tightening cuts nothing feasible, narrowing is ride-safe."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.windows import ride_safe, tighten
from dispatch.tests.engine.helpers import line_matrix

MATRIX = line_matrix(3)  # pick-up at 1, drop-off at 2: 100 s apart
VAN = Vehicle("v", 0, 0, 100_000, 4, end=0)


def _one(request: Request) -> Problem:
    return Problem((request,), (VAN,), MATRIX)


def test_tighten_cuts_pickup_by_appointment_and_dropoff_by_pickup() -> None:
    r = Request("a", 1, 2, 0, 50_000, dropoff_earliest=9_000, dropoff_latest=10_000, max_ride=600)
    t = tighten(_one(r)).request("a")
    assert (t.pickup_earliest, t.pickup_latest) == (9_000 - 600, 50_000)
    assert (t.dropoff_earliest, t.dropoff_latest) == (9_000, 10_000)
    r = Request("b", 1, 2, 1_000, 1_500, pickup_service=60, max_ride=600)
    assert tighten(_one(r)).request("b").dropoff_latest == 1_500 + 60 + 600


def test_tighten_leaves_product_requests_alone() -> None:
    # The adapter already bounds the drop-off by earliest pick-up + service + max ride.
    r = Request("a", 1, 2, 1_000, 2_500, dropoff_latest=1_000 + 60 + 600, pickup_service=60)
    problem = _one(replace(r, max_ride=600))
    assert ride_safe(tighten(problem)) is tighten(problem) is problem


def test_tighten_leaves_problem_without_ride_limits_alone() -> None:
    problem = _one(Request("a", 1, 2, 0, 500))
    assert tighten(problem) is problem


def test_onboard_request_is_never_touched() -> None:
    r = Request("a", 1, 2, 0, 50_000, dropoff_latest=90_000, max_ride=600)
    problem = Problem((r,), (Vehicle("v", 1, 0, 100_000, 4, onboard=("a",)),), MATRIX)
    assert ride_safe(tighten(problem)).request("a") == r


windows = st.tuples(
    st.integers(0, 5_000),  # pick-up earliest
    st.integers(0, 3_000),  # pick-up window width
    st.integers(0, 8_000),  # drop-off earliest
    st.integers(0, 3_000),  # drop-off window width
    st.integers(0, 60),  # pick-up service
    st.integers(100, 2_000),  # max ride
)


def _request(w: tuple[int, int, int, int, int, int]) -> Request:
    pe, pw, de, dw, service, ride = w
    return Request("a", 1, 2, pe, pe + pw, de, de + dw, pickup_service=service, max_ride=ride)


def _feasible(r: Request, pick: int, drop: int) -> bool:
    d_early, d_late = r.dropoff_window
    ride = drop - pick - r.pickup_service
    return (
        r.pickup_earliest <= pick <= r.pickup_latest
        and d_early <= drop <= (d_late if d_late is not None else drop)
        and 100 <= ride <= (r.max_ride or 0)
    )


@given(windows, st.integers(0, 12_000), st.integers(0, 12_000))
def test_tightening_keeps_every_feasible_schedule(w: tuple, pick: int, drop: int) -> None:
    r = _request(w)
    t = tighten(_one(r)).request("a")
    assert _feasible(r, pick, drop) == _feasible(t, pick, drop)


@given(windows, st.sampled_from([None, 0.0, 0.5, 1.0]))
def test_narrowed_windows_keep_the_ride_limit(w: tuple, share: float | None) -> None:
    r = _request(w)
    t = tighten(_one(r)).request("a")
    n = ride_safe(_one(t), share).request("a")
    assert t.pickup_earliest <= n.pickup_earliest <= n.pickup_latest <= t.pickup_latest
    assert n.dropoff_latest is not None and t.dropoff_latest is not None
    assert t.dropoff_window[0] <= n.dropoff_window[0] <= n.dropoff_latest <= t.dropoff_latest
    if n != t:
        # Any pick-up and drop-off inside the narrowed windows keep the ride limit.
        assert n.dropoff_latest - n.pickup_earliest - n.pickup_service <= (n.max_ride or 0)
