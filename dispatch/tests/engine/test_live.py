"""The live day: re-planning from now keeps what is fixed, moves only for a real saving, and
insertion proposals pass the checker."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine.checker import check_plan, check_route
from dispatch.engine.live import (
    LiveVehicle,
    Thresholds,
    insertions,
    replan,
    settle,
)
from dispatch.engine.plan import StopKind
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit, fits_kind, fits_size
from dispatch.tests.engine.helpers import euclid_matrix, line_matrix

P, D = StopKind.PICKUP, StopKind.DROPOFF


def trip(rid: str) -> tuple[Visit, Visit]:
    return Visit(P, rid), Visit(D, rid)


@st.composite
def live_days(draw: st.DrawFn) -> tuple[Problem, list[LiveVehicle]]:
    """A small day seen at second 1000: some trips on board or fetched (fixed, in order),
    some with a driver (free), some new; vehicles ready from 1000."""
    n_points = draw(st.integers(3, 8))
    coord = st.integers(0, 600)
    matrix = euclid_matrix([(draw(coord), draw(coord)) for _ in range(n_points)])
    location = st.integers(0, n_points - 1)
    requests = []
    for i in range(draw(st.integers(1, 7))):
        earliest = draw(st.integers(0, 2500))
        chair = draw(st.booleans())
        requests.append(
            Request(
                f"r{i}",
                draw(location),
                draw(location),
                earliest,
                earliest + draw(st.integers(0, 900)),
                dropoff_latest=draw(st.none() | st.integers(earliest, earliest + 2500)),
                pickup_service=draw(st.integers(0, 60)),
                dropoff_service=draw(st.integers(0, 60)),
                seats=0 if chair else 1,
                wheelchairs=1 if chair else 0,
                max_ride=draw(st.none() | st.integers(0, 900)),
                priority=draw(st.sampled_from((0, 50))),
            )
        )
    vehicles = []
    for k in range(draw(st.integers(1, 3))):
        ready = 1000 + draw(st.integers(0, 300))
        vehicles.append(
            Vehicle(
                f"v{k}",
                draw(location),
                ready,
                ready + draw(st.integers(500, 4000)),
                draw(st.integers(1, 3)),
                end=draw(st.none() | location),
                wheelchairs=draw(st.integers(0, 1)),
                shift_break=Break(ready + 200, ready + 900, 60) if draw(st.booleans()) else None,
            )
        )
    live: dict[str, dict[str, list[Visit]]] = {
        v.id: {"prefix": [], "planned": []} for v in vehicles
    }
    onboard: dict[str, list[str]] = {v.id: [] for v in vehicles}
    for r in requests:
        fitting = [v for v in vehicles if fits_kind(r, v) and fits_size(r, v)]
        state = draw(st.sampled_from(("new", "assigned", "en_route", "on_board")))
        if not fitting or state == "new":
            continue
        v = draw(st.sampled_from(fitting))
        slot = live[v.id]
        if state == "assigned":
            slot["planned"] += trip(r.id)
        elif not slot["prefix"]:  # one fixed trip per vehicle keeps within its places
            slot["prefix"] = list(trip(r.id)) if state == "en_route" else [Visit(D, r.id)]
            if state == "on_board":
                onboard[v.id].append(r.id)
    vehicles = [
        Vehicle(**{**v.__dict__, "onboard": tuple(onboard[v.id])})  # type: ignore[arg-type]
        for v in vehicles
    ]
    problem = Problem(tuple(requests), tuple(vehicles), matrix)
    return problem, [
        LiveVehicle(vid, tuple(s["prefix"]), tuple(s["planned"])) for vid, s in live.items()
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live_days(), st.integers(0, 2))
def test_a_replan_never_moves_a_fixed_trip_or_plans_before_the_vehicle_is_ready(
    case: tuple[Problem, list[LiveVehicle]], seed: int
) -> None:
    problem, vehicles = case
    day = settle(problem, vehicles)
    result = replan(day, time_limit_s=0.3, seed=seed)
    assert check_plan(day.problem, result.plan) == []
    for lv in vehicles:
        route = result.plan.route_of(lv.id)
        if not lv.prefix:
            continue
        assert route is not None
        head = [Visit(s.kind, s.request_id) for s in route.stops[1 : 1 + len(lv.prefix)]]
        assert head == list(lv.prefix)  # first, in their order, on their vehicle
    ready = {v.id: v.shift_start for v in problem.vehicles}
    for route in result.plan.routes:
        assert all(s.arrival >= ready[route.vehicle_id] for s in route.stops)
    moved = {m.request_id for m in result.moves}
    assert not moved & set(day.fixed())
    for proposal in insertions([day], problem.requests[0].id):
        assert check_route(day.problem, day.vehicle(proposal.vehicle_id), proposal.route) == []


def _lane(far: int) -> tuple[Problem, list[LiveVehicle]]:
    """A trip at 10 -> 12 on a line (100 s a step) that v_far has now; v_near waits at 10,
    v_far at `far`; both go home to where they are."""
    matrix = line_matrix(40)
    r = Request("r", 10, 12, 1000, 9000, pickup_service=0, dropoff_service=0)
    near = Vehicle("near", 10, 1000, 20000, 2, end=10)
    away = Vehicle("far", far, 1000, 20000, 2, end=far)
    return Problem((r,), (near, away), matrix), [LiveVehicle("far", (), trip("r"))]


def test_a_small_saving_leaves_the_trip_with_its_driver() -> None:
    # far at 14 drives 14 -> 10 -> 12 -> 14 (800 s), near 10 -> 10 -> 12 -> 10 (400 s): the
    # move saves 400 s, under 15 min.
    day = settle(*_lane(14))
    result = replan(day, time_limit_s=0.5)
    assert result.moves == ()
    assert result.plan.route_of("far") is not None


def test_a_big_saving_moves_the_trip_and_says_from_where() -> None:
    # far at 30 drives 4000 s, near 400 s: 3600 s saved.
    day = settle(*_lane(30))
    result = replan(day, time_limit_s=0.5)
    assert [(m.request_id, m.from_vehicle, m.to_vehicle) for m in result.moves] == [
        ("r", "far", "near")
    ]
    assert check_plan(day.problem, result.plan) == []


def test_the_threshold_is_the_companys() -> None:
    day = settle(*_lane(14))
    result = replan(day, time_limit_s=0.5, thresholds=Thresholds(lateness_s=600, drive_s=400))
    assert len(result.moves) == 1  # 400 s saved: exactly this company's threshold


def test_lateness_saved_moves_a_trip() -> None:
    # far at 30 reaches the pick-up at 1000 + 2000 s, 1500 s after its window closed.
    matrix = line_matrix(40)
    r = Request("r", 10, 12, 1000, 1500)
    near = Vehicle("near", 10, 1000, 20000, 2)
    away = Vehicle("far", 30, 1000, 20000, 2)
    day = settle(Problem((r,), (near, away), matrix), [LiveVehicle("far", (), trip("r"))])
    assert day.problem.request("r").pickup_latest == 3000  # widened: the current route's time
    assert day.promised["r"] == 1500
    result = replan(day, time_limit_s=0.5, thresholds=Thresholds(lateness_s=600, drive_s=10**6))
    assert [m.to_vehicle for m in result.moves] == ["near"]


def test_a_trip_no_longer_fitting_its_driver_is_dropped_and_reported() -> None:
    matrix = line_matrix(40)
    r = Request("r", 10, 12, 1000, 1500)
    # The only vehicle's shift is over before it could get there: nobody can take it.
    only = Vehicle("v", 10, 1000, 1100, 2, end=10)
    day = settle(Problem((r,), (only,), matrix), [LiveVehicle("v", (), trip("r"))])
    result = replan(day, time_limit_s=0.3)
    assert result.dropped == ("r",)
    assert [u.request_id for u in result.plan.unassigned] == ["r"]


def test_an_unclosed_prefix_is_refused() -> None:
    matrix = line_matrix(5)
    r = Request("r", 1, 2, 0, 100)
    v = Vehicle("v", 0, 0, 1000, 2, onboard=("r",))
    with pytest.raises(ValueError, match="prefix"):
        settle(Problem((r,), (v,), matrix), [LiveVehicle("v", (), ())])


def test_insertions_best_first_with_positions_and_costs() -> None:
    matrix = line_matrix(40)
    a = Request("a", 10, 14, 1000, 5000)
    new = Request("n", 11, 13, 1000, 5000)
    near = Vehicle("near", 10, 1000, 20000, 2, end=10)
    away = Vehicle("far", 30, 1000, 20000, 2, end=30)
    day = settle(Problem((a, new), (near, away), matrix), [LiveVehicle("near", (), trip("a"))])
    found = insertions([day], "n")
    assert [p.vehicle_id for p in found] == ["near", "far"]
    best = found[0]
    assert (best.pickup_position, best.extra_drive_seconds) == (1, 0)  # on the way: free
    assert best.lateness_caused_seconds == 0
    assert found[1].extra_drive_seconds == 2 * 19 * 100 - 0  # 30 -> 11 -> 13 -> 30
    only_far = insertions([day], "n", vehicle_id="far")
    assert [p.vehicle_id for p in only_far] == ["far"]
    assert insertions([day], "n", vehicle_id="near", position=5) == []
    assert insertions([day], "a") == []  # already in a route
