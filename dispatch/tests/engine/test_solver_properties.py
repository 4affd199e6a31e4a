"""Properties over random small problems: every plan is feasible, no request served twice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine.checker import check_plan
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver import solve
from dispatch.tests.engine.helpers import euclid_matrix

EQUIPMENT = ("stretcher", "oxygen")


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    n_points = draw(st.integers(3, 8))
    coord = st.integers(0, 600)
    points = [(draw(coord), draw(coord)) for _ in range(n_points)]
    matrix = euclid_matrix(points)
    location = st.integers(0, n_points - 1)
    requests = []
    for i in range(draw(st.integers(1, 7))):
        earliest = draw(st.integers(0, 1500))
        chair = draw(st.booleans())
        drop_latest = draw(st.none() | st.integers(earliest, earliest + 2500))
        requests.append(
            Request(
                f"r{i}",
                draw(location),
                draw(location),
                earliest,
                earliest + draw(st.integers(0, 900)),
                dropoff_latest=drop_latest,
                pickup_service=draw(st.integers(0, 60)),
                dropoff_service=draw(st.integers(0, 60)),
                seats=0 if chair else draw(st.integers(1, 2)),
                wheelchairs=1 if chair else 0,
                equipment=frozenset(draw(st.sets(st.sampled_from(EQUIPMENT), max_size=1))),
                max_ride=draw(st.none() | st.integers(0, 900)),
                priority=draw(st.sampled_from((0, 0, 50, 100))),
            )
        )
    # Only a walking single-seat patient can already be on board of any generated vehicle.
    onboard_pool = [r.id for r in requests if r.seats == 1 and not r.equipment]
    vehicles = []
    for k in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, 500))
        onboard = tuple(rid for rid in onboard_pool[:1] if k == 0 and draw(st.booleans()))
        with_break = draw(st.booleans())
        vehicles.append(
            Vehicle(
                f"v{k}",
                draw(location),
                start,
                start + draw(st.integers(500, 4000)),
                draw(st.integers(1, 3)),
                end=draw(st.none() | location),
                wheelchairs=draw(st.integers(0, 1)),
                equipment=frozenset(draw(st.sets(st.sampled_from(EQUIPMENT)))),
                shift_break=Break(start + 200, start + 900, 60) if with_break else None,
                onboard=onboard,
            )
        )
    return Problem(tuple(requests), tuple(vehicles), matrix)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 3))
def test_every_plan_passes_the_checker(problem: Problem, seed: int) -> None:
    plan = solve(problem, time_limit_s=0.3, seed=seed)
    assert check_plan(problem, plan) == []
    served = [rid for route in plan.routes for rid in route.request_ids]
    assert len(served) == len(set(served))
    unassigned = [u.request_id for u in plan.unassigned]
    assert sorted(served + unassigned) == sorted(r.id for r in problem.requests)
