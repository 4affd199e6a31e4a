"""Route elimination and VROOM from initial routes, on problems with obvious answers."""

from __future__ import annotations

import time

from dispatch.engine.checker import check_plan
from dispatch.engine.plan import Route, StopKind, Unassigned, UnassignedReason
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver import solve
from dispatch.engine.solver.common import Visit, make_plan, schedule
from dispatch.engine.solver.orchestrate import _affordable, _recover
from dispatch.engine.solver.reduce import eliminate_routes
from dispatch.engine.solver.vroom_stage import VroomOptions, solve_vroom
from dispatch.tests.engine.helpers import line_matrix

OPTIONS = VroomOptions(time_limit_s=1.0, fixed_cost=100_000)


def _van(vid: str, **kw: object) -> Vehicle:
    base: dict[str, object] = dict(id=vid, start=0, end=0, shift_start=0, shift_end=10_000, seats=1)
    return Vehicle(**(base | kw))  # type: ignore[arg-type]


def _route(problem: Problem, vehicle: Vehicle, *request_ids: str) -> Route:
    visits = [
        Visit(kind, rid) for rid in request_ids for kind in (StopKind.PICKUP, StopKind.DROPOFF)
    ]
    return schedule(problem, vehicle, visits)


def _eliminate(problem: Problem, routes: list[Route]) -> tuple[Route, ...]:
    return eliminate_routes(problem, routes, OPTIONS, time.monotonic() + 5.0)


def _served(routes: tuple[Route, ...]) -> list[str]:
    return sorted(rid for r in routes for rid in r.request_ids)


def test_elimination_moves_a_lone_request_into_the_other_route() -> None:
    # Two trips one after the other on a line: one van does both, the second is spare.
    requests = (Request("a", 1, 2, 0, 1000), Request("b", 3, 4, 2000, 3000))
    vans = (_van("v"), _van("w"))
    problem = Problem(requests, vans, line_matrix(5))
    start = [_route(problem, vans[0], "a"), _route(problem, vans[1], "b")]
    routes = _eliminate(problem, start)
    plan = make_plan(problem, routes, (), ())
    assert plan.vehicles_used == 1 and _served(routes) == ["a", "b"]
    assert check_plan(problem, plan) == []


def test_each_route_gets_at_most_its_attempt_time() -> None:
    # The same two trips: with no time per attempt the spare route stays, with time it goes.
    requests = (Request("a", 1, 2, 0, 1000), Request("b", 3, 4, 2000, 3000))
    vans = (_van("v"), _van("w"))
    problem = Problem(requests, vans, line_matrix(5))
    start = [_route(problem, vans[0], "a"), _route(problem, vans[1], "b")]
    deadline = time.monotonic() + 5.0
    assert eliminate_routes(problem, start, OPTIONS, deadline, attempt_s=0.0) == tuple(start)
    assert len(eliminate_routes(problem, start, OPTIONS, deadline, attempt_s=2.0)) == 1


def test_elimination_repeats_while_routes_can_go() -> None:
    # c must come first (fixed at 100), a and b fit around it: three routes become one.
    requests = (
        Request("a", 1, 2, 0, 3000),
        Request("b", 1, 2, 5000, 5000),
        Request("c", 1, 2, 100, 100),
    )
    vans = (_van("v"), _van("w"), _van("x"))
    problem = Problem(requests, vans, line_matrix(5))
    start = [_route(problem, van, rid) for van, rid in zip(vans, "abc", strict=True)]
    routes = _eliminate(problem, start)
    plan = make_plan(problem, routes, (), ())
    assert plan.vehicles_used == 1 and _served(routes) == ["a", "b", "c"]
    assert check_plan(problem, plan) == []
    assert [rid for rid in (s.request_id for s in routes[0].stops) if rid][:2] == ["c", "c"]


def test_elimination_keeps_routes_that_cannot_merge() -> None:
    # Both trips at the same moment with one seat per van: two routes are needed.
    requests = (Request("a", 1, 2, 100, 100), Request("b", 1, 2, 100, 100))
    vans = (_van("v"), _van("w"))
    problem = Problem(requests, vans, line_matrix(3))
    start = [_route(problem, vans[0], "a"), _route(problem, vans[1], "b")]
    assert len(_eliminate(problem, start)) == 2


def test_elimination_leaves_vehicles_with_a_break_alone() -> None:
    requests = (Request("a", 1, 2, 0, 1000), Request("b", 3, 4, 2000, 3000))
    vans = (_van("v", shift_break=Break(4000, 5000, 300)), _van("w", shift_break=Break(0, 9000, 1)))
    problem = Problem(requests, vans, line_matrix(5))
    start = [_route(problem, vans[0], "a"), _route(problem, vans[1], "b")]
    assert _eliminate(problem, start) == tuple(start)


def test_elimination_is_deterministic() -> None:
    requests = tuple(Request(f"r{i}", 1 + i % 3, 4, 100 * i, 100 * i + 2000) for i in range(8))
    vans = tuple(_van(f"v{i}", seats=2) for i in range(8))
    problem = Problem(requests, vans, line_matrix(5))
    start = [_route(problem, van, r.id) for van, r in zip(vans, requests, strict=True)]
    first = _eliminate(problem, start)
    assert first == _eliminate(problem, start)
    assert len(first) < len(start)
    assert check_plan(problem, make_plan(problem, first, (), ())) == []


def test_vroom_starts_from_initial_routes() -> None:
    requests = (Request("a", 1, 2, 0, 1000), Request("b", 3, 4, 2000, 3000))
    vans = (_van("v"),)
    problem = Problem(requests, vans, line_matrix(5))
    start = [_route(problem, vans[0], "a", "b")]
    found = solve_vroom(problem, requests, vans, OPTIONS, initial=start)
    assert not found.unassigned
    assert [s.request_id for s in found.routes[0].stops] == [s.request_id for s in start[0].stops]


def test_solve_serves_everyone_on_one_van_when_it_can() -> None:
    requests = tuple(Request(f"r{i}", 1, 2, 1000 * i, 1000 * i + 500) for i in range(6))
    vans = tuple(_van(f"v{i}") for i in range(6))
    problem = Problem(requests, vans, line_matrix(3))
    plan = solve(problem, time_limit_s=1.0)
    assert check_plan(problem, plan) == [] and not plan.unassigned
    assert plan.vehicles_used == 1


def test_exploration_is_capped_to_what_the_time_allows() -> None:
    assert _affordable(5, 50, 1.0) == 5
    assert _affordable(5, 105, 0.5) == 3
    assert _affordable(4, 1000, 0.01) == 1


def test_trips_left_out_are_recovered_from_the_routes() -> None:
    # A plan that served "a" but left "b" out although the van has time for it afterwards.
    requests = (Request("a", 1, 2, 0, 1000), Request("b", 3, 4, 2000, 3000))
    van = _van("v")
    problem = Problem(requests, (van,), line_matrix(5))
    plan = make_plan(
        problem, [_route(problem, van, "a")], [Unassigned("b", UnassignedReason.NO_ROOM)], ()
    )
    found = _recover(problem, problem, plan, requests, [], OPTIONS, time.monotonic() + 5.0)
    assert found.unassigned == ()
    assert _served(found.routes) == ["a", "b"]
    assert check_plan(problem, found) == []
    assert [s.name for s in found.stages] == ["recover"]


def test_a_complete_plan_is_not_recovered() -> None:
    requests = (Request("a", 1, 2, 0, 1000),)
    van = _van("v")
    problem = Problem(requests, (van,), line_matrix(5))
    plan = make_plan(problem, [_route(problem, van, "a")], [], ())
    assert _recover(problem, problem, plan, requests, [], OPTIONS, time.monotonic() + 5.0) is plan
