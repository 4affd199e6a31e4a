from __future__ import annotations

import copy
from typing import Any

import pytest

from dispatch.engine.checker import check_plan
from dispatch.engine.solver import solve
from dispatch.engine.vroom_format import FormatError, plan_to_vroom, problem_from_vroom

LINE = [[abs(i - j) * 100 for j in range(4)] for i in range(4)]
DATA: dict[str, Any] = {
    "vehicles": [
        {
            "id": 1, "start_index": 0, "end_index": 0, "capacity": [4, 1],
            "time_window": [0, 10_000], "skills": [7],
            "breaks": [{"id": 1, "time_windows": [[300, 900]], "service": 60, "max_load": [0, 0]}],
        }
    ],
    "shipments": [
        {
            "amount": [1, 0], "max_ride_time": 600, "skills": [7], "priority": 10,
            "pickup": {"id": 1, "location_index": 1, "service": 30, "time_windows": [[0, 500]]},
            "delivery": {"id": 101, "location_index": 2, "service": 20},
        },
        {
            "amount": [0, 1],
            "pickup": {"id": 2, "location_index": 2},
            "delivery": {"id": 102, "location_index": 3, "time_windows": [[0, 2000]]},
        },
    ],
    "matrices": {"car": {"durations": LINE, "distances": [[c * 10 for c in r] for r in LINE]}},
}  # fmt: skip


def test_reads_the_documented_fields() -> None:
    problem, deliveries = problem_from_vroom(DATA)
    first, second = problem.requests
    assert (first.id, first.pickup, first.dropoff, first.max_ride) == ("1", 1, 2, 600)
    assert (first.pickup_earliest, first.pickup_latest, first.pickup_service) == (0, 500, 30)
    assert first.equipment == frozenset({"skill:7"}) and first.priority == 10
    assert (second.seats, second.wheelchairs, second.dropoff_latest) == (0, 1, 2000)
    vehicle = problem.vehicles[0]
    assert (vehicle.seats, vehicle.wheelchairs, vehicle.shift_end) == (4, 1, 10_000)
    assert vehicle.shift_break is not None and vehicle.shift_break.duration == 60
    assert deliveries == {"1": 101, "2": 102}


def test_writes_the_documented_output() -> None:
    problem, deliveries = problem_from_vroom(DATA)
    plan = solve(problem, time_limit_s=1)
    assert check_plan(problem, plan) == []
    out = plan_to_vroom(problem, plan, deliveries)
    assert out["code"] == 0 and out["summary"]["unassigned"] == 0
    steps = out["routes"][0]["steps"]
    assert steps[0]["type"] == "start" and steps[-1]["type"] == "end"
    ids = {(s["type"], s.get("id")) for s in steps}
    assert {("pickup", 1), ("delivery", 101), ("pickup", 2), ("delivery", 102)} <= ids
    assert all({"arrival", "service", "load", "duration"} <= s.keys() for s in steps)
    assert out["summary"]["distance"] == plan.distance_metres


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("vehicles", 0, "start_index"), 9, "location index 9"),
        (("vehicles", 0, "capacity"), [1, 2, 3], "amounts"),
        (("shipments", 0, "pickup", "time_windows"), [[5, 1]], "start <= end"),
        (("shipments", 0, "pickup", "time_windows"), [[0, 1], [2, 3]], "one time window"),
        (("shipments", 0, "max_ride_time"), "long", "max_ride_time"),
        (("matrices",), {"car": {"durations": [[0, 1]]}}, "square"),
        (("shipments", 1, "pickup", "id"), 1, "duplicate"),
    ],
)
def test_bad_input_is_a_format_error(path: tuple, value: Any, message: str) -> None:
    data = copy.deepcopy(DATA)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(FormatError, match=message):
        problem_from_vroom(data)
