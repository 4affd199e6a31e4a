"""The solver on tiny problems with known answers; every plan also passes the checker."""

from __future__ import annotations

from dispatch.engine.checker import ViolationKind, check_plan
from dispatch.engine.plan import Plan, StopKind, UnassignedReason
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver import solve
from dispatch.engine.solver.common import triage
from dispatch.engine.solver.vroom_stage import VroomOptions, solve_vroom
from dispatch.tests.engine.helpers import euclid_matrix, line_matrix

LIMIT = 1.0


def _solve(problem: Problem) -> Plan:
    plan = solve(problem, time_limit_s=LIMIT)
    assert check_plan(problem, plan) == []
    return plan


def _sequence(plan: Plan, vehicle_id: str) -> list[tuple[str, str | None]]:
    route = plan.route_of(vehicle_id)
    assert route is not None
    return [(s.kind.value, s.request_id) for s in route.stops if s.request_id]


def _reasons(plan: Plan) -> dict[str, UnassignedReason]:
    return {u.request_id: u.reason for u in plan.unassigned}


def _van(vid: str = "v", **kw: object) -> Vehicle:
    base: dict[str, object] = dict(id=vid, start=0, end=0, shift_start=0, shift_end=10_000, seats=4)
    return Vehicle(**(base | kw))  # type: ignore[arg-type]


def test_two_requests_one_vehicle_in_window_order() -> None:
    # b must be picked up first (early window) though a lies nearer the depot.
    requests = (Request("a", 1, 2, 700, 900), Request("b", 3, 4, 0, 400))
    plan = _solve(Problem(requests, (_van(seats=1),), line_matrix(5)))
    assert _sequence(plan, "v") == [
        ("pickup", "b"),
        ("dropoff", "b"),
        ("pickup", "a"),
        ("dropoff", "a"),
    ]


def test_capacity_forces_a_second_vehicle() -> None:
    # Both trips at the same time from the same place: two seats needed, one per van.
    requests = (Request("a", 1, 2, 100, 100), Request("b", 1, 2, 100, 100))
    vans = (_van("v", seats=1), _van("w", seats=1))
    plan = _solve(Problem(requests, vans, line_matrix(3)))
    assert plan.vehicles_used == 2 and not plan.unassigned


def test_fewer_vehicles_preferred_when_one_is_enough() -> None:
    requests = tuple(Request(f"r{i}", 1, 2, 0, 5000) for i in range(3))
    vans = tuple(_van(f"v{i}", seats=4) for i in range(3))
    plan = _solve(Problem(requests, vans, line_matrix(3)))
    assert plan.vehicles_used == 1


def test_wheelchair_never_on_a_vehicle_without_wheelchair_place() -> None:
    requests = (Request("chair", 1, 2, 0, 5000, seats=0, wheelchairs=1),)
    vans = (_van("seats_only", seats=8), _van("adapted", seats=1, wheelchairs=1, shift_end=20_000))
    plan = _solve(Problem(requests, vans, line_matrix(3)))
    assert plan.route_of("seats_only") is None
    assert _sequence(plan, "adapted") == [("pickup", "chair"), ("dropoff", "chair")]


def test_shift_respected() -> None:
    # The early van's shift ends before the trip can finish, so the late van takes it.
    requests = (Request("a", 1, 2, 0, 5000),)
    vans = (_van("early", shift_end=250), _van("late", shift_start=1000, shift_end=2000))
    plan = _solve(Problem(requests, vans, line_matrix(3)))
    route = plan.route_of("late")
    assert route is not None and plan.route_of("early") is None
    assert route.stops[0].departure >= 1000 and route.stops[-1].arrival <= 2000


def test_unreachable_window_and_missing_equipment_and_size() -> None:
    requests = (
        Request("late", 2, 1, 0, 100),  # 200 s away from the depot: cannot start by 100
        Request("stretcher", 1, 2, 0, 5000, equipment=frozenset({"stretcher"})),
        Request("chair", 1, 2, 0, 5000, seats=0, wheelchairs=1),
        Request("group", 1, 2, 0, 5000, seats=9),
        Request("ok", 1, 2, 0, 5000),
    )
    plan = _solve(Problem(requests, (_van(),), line_matrix(3)))
    assert _reasons(plan) == {
        "late": UnassignedReason.WINDOW_UNREACHABLE,
        "stretcher": UnassignedReason.NO_EQUIPMENT,
        "chair": UnassignedReason.NO_EQUIPMENT,
        "group": UnassignedReason.NO_CAPACITY,
    }


def test_no_room_when_feasible_alone_but_not_together() -> None:
    requests = (Request("a", 1, 2, 100, 100), Request("b", 1, 2, 100, 100))
    plan = _solve(Problem(requests, (_van(seats=1),), line_matrix(3)))
    assert list(_reasons(plan).values()) == [UnassignedReason.NO_ROOM]


def test_equipment_goes_to_the_equipped_vehicle() -> None:
    requests = (Request("s", 1, 2, 0, 5000, equipment=frozenset({"stretcher"})),)
    vans = (_van("plain"), _van("equipped", equipment=frozenset({"stretcher"})))
    plan = _solve(Problem(requests, vans, line_matrix(3)))
    assert plan.route_of("equipped") is not None and plan.route_of("plain") is None


def test_onboard_patient_dropped_by_its_vehicle() -> None:
    # "far" is on board the van that is far away; the near van must not take the drop-off.
    requests = (Request("on", 0, 1, 0, 0, dropoff_latest=5000), Request("new", 1, 2, 0, 5000))
    vans = (_van("near", start=1, end=1), _van("far", start=4, end=4, onboard=("on",)))
    plan = _solve(Problem(requests, vans, line_matrix(5)))
    assert ("dropoff", "on") in _sequence(plan, "far")
    assert ("pickup", "on") not in _sequence(plan, "far")
    assert plan.route_of("far").stops[0].seats_load == 1  # type: ignore[union-attr]


def test_break_taken_with_nobody_on_board() -> None:
    requests = (Request("a", 1, 2, 0, 300), Request("b", 1, 2, 600, 900))
    van = _van(shift_break=Break(300, 700, 120))
    plan = _solve(Problem(requests, (van,), line_matrix(3)))
    stops = plan.routes[0].stops
    kinds = [s.kind for s in stops]
    assert kinds.count(StopKind.BREAK) == 1
    before = stops[kinds.index(StopKind.BREAK) - 1]
    assert (before.seats_load, before.wheelchair_load) == (0, 0)


def test_priority_runs_higher_is_more_important() -> None:
    # Proves the direction pyvroom's docstrings disagree on: only one of two clashing trips
    # fits, and the one with the *higher* priority number is the one served.
    for urgent in ("a", "b"):
        requests = tuple(
            Request(rid, 1, 2, 100, 100, priority=100 if rid == urgent else 0) for rid in "ab"
        )
        plan = _solve(Problem(requests, (_van(seats=1),), line_matrix(3)))
        assert plan.routes[0].request_ids == (urgent,)


def _ride_problem() -> Problem:
    # Two trips side by side: VROOM interleaves them (cheapest), which makes each ride too long.
    points = [(0, 0), (1000, 0), (2000, 0), (1000, 300), (2000, 300)]
    requests = (
        Request("a", 1, 2, 0, 10_000, max_ride=1100),
        Request("b", 3, 4, 0, 10_000, max_ride=1100),
    )
    return Problem(requests, (_van(shift_end=100_000),), euclid_matrix(points))


def test_vroom_alone_breaks_the_ride_limit() -> None:
    problem = _ride_problem()
    found = solve_vroom(problem, problem.requests, problem.vehicles, VroomOptions(LIMIT, 1))
    from dispatch.engine.solver.common import make_plan

    plan = make_plan(problem, found.routes, [], [])
    assert ViolationKind.RIDE_TIME in {v.kind for v in check_plan(problem, plan)}


def test_repair_meets_the_ride_limit_and_keeps_both() -> None:
    plan = _solve(_ride_problem())
    assert not plan.unassigned
    assert "ortools" in [s.name for s in plan.stages]


def test_triage_needs_no_solver() -> None:
    problem = Problem(
        (Request("x", 1, 2, 0, 5000, seats=0, wheelchairs=2),),
        (_van(wheelchairs=1),),
        line_matrix(3),
    )
    assert triage(problem) == {"x": UnassignedReason.NO_CAPACITY}


def test_same_seed_same_plan() -> None:
    problem = _ride_problem()
    assert (
        solve(problem, time_limit_s=LIMIT, seed=3).routes
        == solve(problem, time_limit_s=LIMIT, seed=3).routes
    )


def test_repair_reports_a_request_beyond_its_vehicles_shifts_instead_of_failing() -> None:
    # Found by the property test: only a vehicle with a break (which OR-Tools leaves out)
    # could serve "late"; its window opens after the other vehicle's shift has ended.
    from dispatch.engine.solver.ortools_stage import repair

    late = Request("late", 1, 2, 531, 540)
    early = Request("early", 1, 2, 0, 100)
    short = Vehicle("short", 0, 0, 530, 1)
    problem = Problem((late, early), (short,), line_matrix(3))
    result = repair(problem, [late, early], [short], {}, time_limit_s=0.2, fixed_cost=1000)
    assert result is not None
    assert result.unassigned == ("late",)
    assert [r.request_ids for r in result.routes] == [("early",)]
