"""Exact insertion with ride times: earliest schedules, cheapest positions, ejection, R&R."""

from __future__ import annotations

import time
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine.checker import check_plan
from dispatch.engine.plan import Plan, StopKind, Unassigned, UnassignedReason
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit, make_plan
from dispatch.engine.solver.ride_insertion import (
    _best_with_ejection,
    cheapest_insertion,
    earliest_times,
    insert_unassigned,
    timed_route,
)
from dispatch.tests.engine.helpers import line_matrix
from dispatch.tests.engine.test_solver_properties import problems

MATRIX = line_matrix(6)  # locations 0..5 on a line, 100 s apart
VAN = Vehicle("van", 0, 0, 100_000, 1, end=0)
OXYGEN = frozenset({"oxygen"})


def _pick(rid: str) -> Visit:
    return Visit(StopKind.PICKUP, rid)


def _drop(rid: str) -> Visit:
    return Visit(StopKind.DROPOFF, rid)


def test_pickup_is_delayed_to_keep_the_ride_short() -> None:
    late = Request("a", 1, 2, 0, 10_000, 5_000, 6_000, max_ride=300)
    problem = Problem((late,), (VAN,), MATRIX)
    # Earliest arrival is 100, but then the ride would last 4_900 s waiting for 5_000.
    assert earliest_times(problem, VAN, [_pick("a"), _drop("a")]) == [4_700, 5_000]
    route = timed_route(problem, VAN, [_pick("a"), _drop("a")])
    assert route is not None
    assert not check_plan(problem, make_plan(problem, [route], [], ()))


def test_a_detour_that_breaks_the_ride_limit_is_infeasible() -> None:
    a = Request("a", 1, 2, 0, 10_000, max_ride=150)
    b = Request("b", 3, 3, 0, 10_000)
    problem = Problem((a, b), (VAN,), MATRIX)
    wide = Vehicle("wide", 0, 0, 100_000, 2, end=0)
    assert earliest_times(problem, wide, [_pick("a"), _pick("b"), _drop("a"), _drop("b")]) is None
    assert earliest_times(problem, wide, [_pick("a"), _drop("a"), _pick("b"), _drop("b")])


def test_cheapest_insertion_goes_on_the_way() -> None:
    a = Request("a", 1, 4, 0, 10_000)
    b = Request("b", 2, 3, 0, 10_000)
    problem = Problem((a, b), (Vehicle("bus", 0, 0, 100_000, 2, end=0),), MATRIX)
    found = cheapest_insertion(problem, problem.vehicles[0], [_pick("a"), _drop("a")], b)
    assert found == (0, [_pick("a"), _pick("b"), _drop("b"), _drop("a")])


def _two_vans(*requests: Request) -> Problem:
    vans = (Vehicle("A", 0, 0, 100_000, 1, end=0, equipment=OXYGEN), VAN)
    return Problem(requests, vans, MATRIX)


def _plan_with(problem: Problem, visits: list[Visit], left_out: str) -> Plan:
    route = timed_route(problem, problem.vehicles[0], visits)
    assert route is not None
    return make_plan(problem, [route], [Unassigned(left_out, UnassignedReason.NO_ROOM)], ())


def test_ejection_moves_a_request_to_make_room() -> None:
    # Only A carries oxygen, and A cannot carry x and y: x moves to the van.
    x = Request("x", 1, 2, 1_000, 1_100, max_ride=500)
    y = Request("y", 3, 4, 1_000, 1_100, equipment=OXYGEN, max_ride=500)
    problem = _two_vans(x, y)
    plan = _plan_with(problem, [_pick("x"), _drop("x")], "y")
    found = insert_unassigned(problem, plan, deadline=time.monotonic() + 5, fixed_cost=0)
    assert not check_plan(problem, found)
    assert not found.unassigned
    assert found.route_of("A").request_ids == ("y",)  # type: ignore[union-attr]
    assert found.route_of("van").request_ids == ("x",)  # type: ignore[union-attr]
    assert found.stages[-1].name == "insert"
    # One ejection does it alone, before ruin and recreate gets a turn.
    routes = {"A": [_pick("x"), _drop("x")], "van": []}
    move = _best_with_ejection(problem, routes, y, 0, time.monotonic() + 5)
    assert move is not None
    assert move.routes == {"A": [_pick("y"), _drop("y")], "van": [_pick("x"), _drop("x")]}


def test_ruin_and_recreate_moves_two_requests_when_one_is_not_enough() -> None:
    # y clashes with x1 (same time, elsewhere) and with x2 (too far to reach it): both move.
    x1 = Request("x1", 1, 2, 1_000, 1_000, max_ride=500)
    x2 = Request("x2", 1, 2, 1_200, 1_200, max_ride=500)
    y = Request("y", 5, 4, 1_000, 1_000, equipment=OXYGEN, max_ride=500)
    problem = _two_vans(x1, x2, y)
    plan = _plan_with(problem, [_pick("x1"), _drop("x1"), _pick("x2"), _drop("x2")], "y")
    found = insert_unassigned(problem, plan, deadline=time.monotonic() + 5, fixed_cost=0)
    assert not check_plan(problem, found)
    assert not found.unassigned
    assert found.route_of("A").request_ids == ("y",)  # type: ignore[union-attr]
    assert found.route_of("van").request_ids == ("x1", "x2")  # type: ignore[union-attr]


def test_nothing_to_insert_returns_the_plan_itself() -> None:
    x = Request("x", 1, 2, 1_000, 1_000)
    y = Request("y", 5, 4, 1_000, 1_000)
    problem = Problem((x, y), (VAN,), MATRIX)  # one van, two trips at the same moment
    plan = _plan_with(problem, [_pick("x"), _drop("x")], "y")
    assert insert_unassigned(problem, plan, deadline=time.monotonic() + 0.2, fixed_cost=0) is plan


@st.composite
def insertions(draw: st.DrawFn) -> tuple[Problem, list[Visit], Request]:
    """A route over up to three requests (any order, maybe infeasible) and one more request."""
    requests = []
    for i in range(draw(st.integers(1, 4))):
        earliest = draw(st.integers(0, 1_500))
        requests.append(
            Request(
                f"r{i}",
                draw(st.integers(0, 5)),
                draw(st.integers(0, 5)),
                earliest,
                earliest + draw(st.integers(0, 600)),
                dropoff_latest=draw(st.none() | st.integers(earliest, earliest + 1_500)),
                pickup_service=draw(st.integers(0, 30)),
                max_ride=draw(st.none() | st.integers(0, 600)),
            )
        )
    van = Vehicle("v", 0, 0, draw(st.integers(1_000, 4_000)), 2, end=draw(st.none() | st.just(0)))
    problem = Problem(tuple(requests), (van,), MATRIX)
    *served, new = requests
    visits: list[Visit] = []
    for r in served:
        i = draw(st.integers(0, len(visits)))
        j = draw(st.integers(i, len(visits)))
        visits = [*visits[:i], _pick(r.id), *visits[i:j], _drop(r.id), *visits[j:]]
    return problem, visits, new


def _drive(problem: Problem, vehicle: Vehicle, visits: list[Visit]) -> int:
    route = timed_route(problem, vehicle, visits)
    assert route is not None
    path = [s.location for s in route.stops]
    return sum(problem.matrix.durations[a][b] for a, b in pairwise(path))


@settings(max_examples=300, deadline=None)
@given(insertions())
def test_cheapest_insertion_is_the_cheapest_feasible_position(
    case: tuple[Problem, list[Visit], Request],
) -> None:
    problem, visits, new = case
    van = problem.vehicles[0]
    best = None
    for i in range(len(visits) + 1):
        for j in range(i, len(visits) + 1):
            candidate = [*visits[:i], _pick(new.id), *visits[i:j], _drop(new.id), *visits[j:]]
            if earliest_times(problem, van, candidate) is not None:
                cost = _drive(problem, van, candidate)
                best = cost if best is None else min(best, cost)
    found = cheapest_insertion(problem, van, visits, new)
    if best is None:
        assert found is None
        return
    assert found is not None
    before = _drive(problem, van, visits) if visits else 0
    assert found[0] == best - before
    assert _drive(problem, van, found[1]) == best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_insertion_from_nothing_gives_a_feasible_plan(problem: Problem) -> None:
    nobody = [Unassigned(r.id, UnassignedReason.NO_ROOM) for r in problem.requests]
    plan = make_plan(problem, [], nobody, ())
    found = insert_unassigned(problem, plan, deadline=time.monotonic() + 0.05, fixed_cost=500)
    assert not check_plan(problem, found)
    served = [rid for route in found.routes for rid in route.request_ids]
    assert len(served) == len(set(served)) == len(problem.requests) - len(found.unassigned)


def test_a_vehicle_whose_empty_trip_overruns_its_shift_is_left_home() -> None:
    # Found by the property test: "far" cannot even drive from its start to its end within
    # its shift, so it gets no route, and the plan must not try to schedule one for it.
    trip = Request("a", 1, 2, 0, 10_000)
    far = Vehicle("far", 0, 0, 400, 1, end=5)
    problem = Problem((trip,), (VAN, far), MATRIX)
    plan = make_plan(problem, [], [Unassigned("a", UnassignedReason.NO_ROOM)], ())
    found = insert_unassigned(problem, plan, deadline=time.monotonic() + 1, fixed_cost=500)
    assert [r.vehicle_id for r in found.routes] == ["van"]
    assert found.unassigned == ()
    assert not check_plan(problem, found)
