"""Each rule of the checker fires on a hand-broken plan, and a good plan passes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatch.engine.checker import ViolationKind as K
from dispatch.engine.checker import check_plan
from dispatch.engine.plan import Plan, Route, StopKind, Unassigned, UnassignedReason
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit, make_plan, schedule
from dispatch.tests.engine.helpers import line_matrix

P, D, B = StopKind.PICKUP, StopKind.DROPOFF, StopKind.BREAK
VISITS = [Visit(D, "c"), Visit(P, "a"), Visit(P, "b"), Visit(D, "a"), Visit(D, "b"), Visit(B)]


def _problem(**changes: object) -> Problem:
    """v carries c (already on board), a (stretcher, ride <= 300) and b (wheelchair)."""
    requests = {
        "a": Request("a", 1, 3, 0, 500, max_ride=300, equipment=frozenset({"stretcher"})),
        "b": Request("b", 2, 4, 0, 1000, seats=0, wheelchairs=1),
        "c": Request("c", 0, 1, 0, 0),
    }
    vehicles = {
        "v": Vehicle(
            "v",
            0,
            0,
            2000,
            2,
            end=0,
            wheelchairs=1,
            equipment=frozenset({"stretcher"}),
            shift_break=Break(500, 900, 50),
            onboard=("c",),
        ),
        "w": Vehicle("w", 0, 0, 2000, 1, end=0),
    }
    for key, change in changes.items():
        if key in requests:
            requests[key] = replace(requests[key], **change)  # type: ignore[arg-type]
        else:
            vehicles[key] = replace(vehicles[key], **change)  # type: ignore[arg-type]
    return Problem(tuple(requests.values()), tuple(vehicles.values()), line_matrix(5))


def _plan(problem: Problem, visits: list[Visit] = VISITS) -> Plan:
    route = schedule(problem, problem.vehicles[0], visits)
    return make_plan(problem, [route], [], [])


def _kinds(problem: Problem, plan: Plan) -> set[K]:
    return {v.kind for v in check_plan(problem, plan)}


def _edit_stop(plan: Plan, index: int, **change: object) -> Plan:
    route = plan.routes[0]
    stops = list(route.stops)
    stops[index] = replace(stops[index], **change)  # type: ignore[arg-type]
    return replace(plan, routes=(replace(route, stops=tuple(stops)),))


def test_good_plan_passes() -> None:
    problem = _problem()
    plan = _plan(problem)
    assert check_plan(problem, plan) == []
    assert [s.kind for s in plan.routes[0].stops][-2:] == [B, StopKind.END]


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"a": {"seats": 3}}, K.CAPACITY),
        ({"v": {"wheelchairs": 0}}, K.CAPACITY),  # a wheelchair never takes a seat
        ({"v": {"equipment": frozenset()}}, K.EQUIPMENT),
        ({"a": {"max_ride": 100}}, K.RIDE_TIME),
        ({"a": {"pickup_earliest": 150, "pickup_latest": 160}}, K.PICKUP_WINDOW),
        ({"a": {"dropoff_latest": 200}}, K.DROPOFF_WINDOW),
        ({"a": {"dropoff_earliest": 400}}, K.DROPOFF_WINDOW),
        ({"v": {"shift_end": 900}}, K.SHIFT),
        ({"v": {"shift_start": 10}}, K.SHIFT),
        ({"v": {"shift_break": Break(600, 700, 50)}}, K.BREAK),
        ({"v": {"shift_break": None}}, K.BREAK),
    ],
)
def test_problem_rule_detected(changes: dict, kind: K) -> None:
    plan = _plan(_problem())
    assert kind in _kinds(_problem(**changes), plan)


def test_onboard_patient_must_stay_with_its_vehicle() -> None:
    problem = _problem(v={"onboard": ()}, w={"onboard": ("c",)})
    assert K.ONBOARD in _kinds(problem, _plan(_problem()))


def test_onboard_patient_is_not_picked_up_again() -> None:
    problem = _problem()
    plan = _plan(problem, [Visit(P, "c"), *VISITS])
    assert K.ONBOARD in _kinds(problem, plan)


def test_served_twice_and_also_unassigned() -> None:
    problem = _problem()
    plan = _plan(problem)
    twice = replace(plan, routes=(*plan.routes, replace(plan.routes[0], vehicle_id="w")))
    assert K.DUPLICATE in _kinds(problem, twice)
    also = replace(plan, unassigned=(Unassigned("a", UnassignedReason.NO_ROOM),))
    assert K.DUPLICATE in _kinds(problem, also)


def test_missing_request() -> None:
    problem = _problem()
    plan = _plan(problem, [v for v in VISITS if v.request_id != "a"])
    assert K.MISSING in _kinds(problem, plan)


def test_dropoff_before_pickup_and_unpaired_pickup() -> None:
    problem = _problem()
    swapped = [Visit(D, "c"), Visit(D, "a"), Visit(P, "a"), Visit(P, "b"), Visit(D, "b"), Visit(B)]
    assert K.PAIRING in _kinds(problem, _plan(problem, swapped))
    unpaired = [v for v in VISITS if v != Visit(D, "a")]
    assert K.PAIRING in _kinds(problem, _plan(problem, unpaired))


def test_break_with_patient_on_board() -> None:
    problem = _problem(v={"shift_break": Break(0, 900, 50)})
    visits = [Visit(D, "c"), Visit(P, "a"), Visit(B), Visit(P, "b"), Visit(D, "a"), Visit(D, "b")]
    assert K.BREAK in _kinds(problem, _plan(problem, visits))


def test_times_must_follow_travel_and_service() -> None:
    problem = _problem()
    plan = _plan(problem)
    assert K.TIMING in _kinds(
        problem, _edit_stop(plan, 3, arrival=10, service_start=10, departure=10)
    )
    assert K.TIMING in _kinds(
        problem, _edit_stop(plan, 3, departure=plan.routes[0].stops[3].departure + 5)
    )
    assert K.TIMING in _kinds(problem, _edit_stop(plan, 3, service_start=0))


def test_reported_load_and_totals_must_match() -> None:
    problem = _problem()
    plan = _plan(problem)
    assert K.LOAD in _kinds(problem, _edit_stop(plan, 2, seats_load=0))
    assert K.TOTALS in _kinds(problem, replace(plan, distance_metres=1))


def test_structure_unknown_vehicle_and_missing_end() -> None:
    problem = _problem()
    plan = _plan(problem)
    assert K.STRUCTURE in _kinds(
        problem, replace(plan, routes=(replace(plan.routes[0], vehicle_id="x"),))
    )
    cut = replace(plan, routes=(Route("v", plan.routes[0].stops[:-1]),))
    assert K.STRUCTURE in _kinds(problem, cut)
