"""The engine with a driver's break (pure: no database)."""

from __future__ import annotations

import pytest

from dispatch.engine.checker import ViolationKind, check_plan
from dispatch.engine.geo import TravelMatrix
from dispatch.engine.plan import StopKind
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver import solve

TEN_MINUTES = [[0, 600, 600], [600, 0, 600], [600, 600, 0]]


def _problem(dropoff_latest: int | None) -> Problem:
    """06:30-15:00 with a 30-minute break between 10:30 and 13:30; one trip at 08:00."""
    trip = Request(
        id="trip",
        pickup=0,
        dropoff=1,
        pickup_earliest=28_200,
        pickup_latest=29_700,
        dropoff_latest=dropoff_latest,
        pickup_service=120,
        dropoff_service=120,
        max_ride=3_000,
    )
    van = Vehicle(
        id="van",
        start=2,
        end=2,
        shift_start=23_400,
        shift_end=54_000,
        seats=3,
        shift_break=Break(37_800, 46_800, 1_800),
    )
    return Problem((trip,), (van,), TravelMatrix(TEN_MINUTES, TEN_MINUTES))


@pytest.mark.parametrize("dropoff_latest", [31_737, None])
def test_a_trip_due_before_the_break_opens_is_served_and_the_break_follows(dropoff_latest):
    # VROOM alone leaves this trip out when its drop-off deadline comes before the break
    # window opens (VROOM-Project/vroom#1345); the stage inserts the break itself then.
    problem = _problem(dropoff_latest)
    plan = solve(problem, time_limit_s=2, seed=0)
    assert plan.unassigned == ()
    assert check_plan(problem, plan) == []
    kinds = [s.kind for s in plan.routes[0].stops]
    assert kinds == [
        StopKind.START,
        StopKind.PICKUP,
        StopKind.DROPOFF,
        StopKind.BREAK,
        StopKind.END,
    ]
    assert plan.routes[0].stops[3].service_start >= 37_800


def test_the_checker_insists_on_the_break():
    problem = _problem(None)
    plan = solve(problem, time_limit_s=2, seed=0)
    route = plan.routes[0]
    skipped = type(route)(route.vehicle_id, tuple(s for s in route.stops if s.kind != "break"))
    broken = type(plan)((skipped,), (), plan.drive_seconds, plan.distance_metres)
    assert [v.kind for v in check_plan(problem, broken)] == [ViolationKind.BREAK]
