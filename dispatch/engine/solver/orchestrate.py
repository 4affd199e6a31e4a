"""`solve()`: triage, VROOM, OR-Tools repair when needed, then the checker's gate."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dispatch.engine.checker import Violation, check_plan
from dispatch.engine.plan import Plan, Route, StageTiming, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Problem, Request
from dispatch.engine.solver.common import make_plan, schedule, triage, visits_of
from dispatch.engine.solver.fallback import enforce_feasible
from dispatch.engine.solver.ortools_stage import repair
from dispatch.engine.solver.vroom_stage import VroomOptions, solve_vroom

# Share of the time limit VROOM may use when a repair may follow (it rarely needs it all).
VROOM_SHARE_WITH_REPAIR = 0.4
VROOM_SHARE_ALONE = 0.9


def solve(
    problem: Problem,
    *,
    time_limit_s: float,
    seed: int = 0,
    fixed_cost: int | None = None,
) -> Plan:
    """A plan that passes `check_plan`, found within about `time_limit_s` seconds.

    `fixed_cost` is the price of using one more vehicle in seconds of driving; by default
    the longest shift, so a vehicle is only added when no existing route can take the work.
    The same problem, seed and (non-binding) time limit give the same plan.
    """
    if time_limit_s <= 0:
        raise ValueError("time_limit_s must be positive")
    deadline = time.monotonic() + time_limit_s
    fixed = default_fixed_cost(problem) if fixed_cost is None else fixed_cost
    reasons = triage(problem)
    rejected = [Unassigned(rid, reason) for rid, reason in reasons.items()]
    todo = [r for r in problem.requests if r.id not in reasons]
    share = VROOM_SHARE_WITH_REPAIR if _has_ride_limits(todo) else VROOM_SHARE_ALONE
    started = time.monotonic()
    options = VroomOptions(time_limit_s * share, fixed, seed=seed)
    found = solve_vroom(problem, todo, problem.vehicles, options)
    stages = [StageTiming("vroom", time.monotonic() - started)]
    no_room = [Unassigned(rid, Reason.NO_ROOM) for rid in found.unassigned]
    plan = make_plan(problem, found.routes, rejected + no_room, stages)
    violations = check_plan(problem, plan)
    if violations and deadline - time.monotonic() > 0.05:
        plan = _repair(problem, plan, violations, todo, rejected, deadline, fixed)
    started = time.monotonic()
    plan, rounds = enforce_feasible(problem, plan)
    if rounds:
        stage = StageTiming("fallback", time.monotonic() - started)
        plan = make_plan(problem, plan.routes, plan.unassigned, (*plan.stages, stage))
    return plan


def default_fixed_cost(problem: Problem) -> int:
    return max((v.shift_end - v.shift_start for v in problem.vehicles), default=0) + 1


def _has_ride_limits(requests: Sequence[Request]) -> bool:
    return any(r.max_ride is not None for r in requests)


def _repair(
    problem: Problem,
    plan: Plan,
    violations: list[Violation],
    todo: list[Request],
    rejected: list[Unassigned],
    deadline: float,
    fixed: int,
) -> Plan:
    """Re-solve with OR-Tools from VROOM's routes minus the requests that broke rules."""
    started = time.monotonic()
    bad = {v.request_id for v in violations if v.request_id}
    by_id = {v.id: v for v in problem.vehicles}
    kept: list[Route] = []  # routes of vehicles with a break stay VROOM's (see ortools_stage)
    for route in plan.routes:
        vehicle = by_id[route.vehicle_id]
        if vehicle.shift_break is not None:
            visits = [v for v in visits_of(route) if v.request_id not in bad]
            kept.append(
                route
                if len(visits) == len(visits_of(route))
                else schedule(problem, vehicle, visits)
            )
    fixed_ids = {rid for r in kept for rid in r.request_ids}
    free = [v for v in problem.vehicles if v.shift_break is None]
    requests = [r for r in todo if r.id not in fixed_ids]
    seeds = {
        r.vehicle_id: [v for v in visits_of(r) if v.request_id not in bad] for r in plan.routes
    }
    result = repair(
        problem,
        requests,
        free,
        seeds,
        time_limit_s=deadline - time.monotonic(),
        fixed_cost=fixed,
    )
    stages = (*plan.stages, StageTiming("ortools", time.monotonic() - started))
    if result is None:
        return make_plan(problem, plan.routes, plan.unassigned, stages)
    no_room = [Unassigned(rid, Reason.NO_ROOM) for rid in result.unassigned]
    return make_plan(problem, kept + list(result.routes), rejected + no_room, stages)
