"""`solve()`: triage, VROOM, OR-Tools repair when needed, then the checker's gate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from dispatch.engine.checker import Violation, check_plan, route_totals
from dispatch.engine.plan import Plan, Route, StageTiming, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import make_plan, schedule, triage, visits_of
from dispatch.engine.solver.fallback import enforce_feasible
from dispatch.engine.solver.ortools_stage import repair
from dispatch.engine.solver.vroom_stage import VroomOptions, solve_vroom
from dispatch.engine.solver.windows import ride_safe, tighten

# Share of the time limit VROOM may use when a repair may follow (it rarely needs it all).
VROOM_SHARE_WITH_REPAIR = 0.4
VROOM_SHARE_ALONE = 0.9
# When VROOM only sees ride-safe (narrowed) windows, OR-Tools searches the exact problem
# from its plan and gets most of the time: that is where the distance is won.
VROOM_SHARE_BEFORE_POLISH = 0.25
# Pick-up shares of the ride-safe window cut tried besides the proportional one.
PICK_SHARES = (0.5, 0.0, 1.0)
# A vehicle-reduction run with less time than this would only waste it.
MIN_REDUCTION_S = 0.1

Score = tuple[int, int, int]  # broken rules, priority-weighted requests left out, cost


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
    exact = tighten(problem)
    todo = [exact.request(r.id) for r in problem.requests if r.id not in reasons]
    narrowed = ride_safe(exact) if _has_ride_limits(todo) else exact
    polish = narrowed is not exact
    started = time.monotonic()
    budget = time_limit_s * _vroom_share(todo, polish)
    variants = [narrowed]
    if polish:
        # Where the cut falls changes what VROOM can reach; its runs are short, so try a few.
        variants += [ride_safe(exact, share) for share in PICK_SHARES]
    plan = _best_vroom(problem, variants, todo, rejected, VroomOptions(budget, fixed, seed=seed))
    plan = make_plan(
        problem, plan.routes, plan.unassigned, [StageTiming("vroom", time.monotonic() - started)]
    )
    violations = check_plan(problem, plan)
    if (violations or polish) and deadline - time.monotonic() > 0.05:
        plan = _repair(problem, exact, plan, violations, todo, rejected, deadline, fixed)
    started = time.monotonic()
    plan, rounds = enforce_feasible(problem, plan)
    if rounds:
        stage = StageTiming("fallback", time.monotonic() - started)
        plan = make_plan(problem, plan.routes, plan.unassigned, (*plan.stages, stage))
    return plan


def _best_vroom(
    problem: Problem,
    variants: Sequence[Problem],
    todo: Sequence[Request],
    rejected: list[Unassigned],
    options: VroomOptions,
) -> Plan:
    """VROOM on each variant of the windows in turn (sharing the budget); the best plan.

    A plan that breaks a rule (VROOM knows no ride limit) only wins when nothing else is
    found: it is scored as it stands, and repair or fallback deal with it later. When
    every request is served and time is left, it then tries to do with fewer vehicles.
    """
    deadline = time.monotonic() + options.time_limit_s
    best: tuple[Score, Plan] | None = None
    for i, variant in enumerate(variants):
        left = (deadline - time.monotonic()) / (len(variants) - i)
        if best is not None and left < 0.01:
            break
        run = replace(options, time_limit_s=max(left, 0.01))
        found = _run_vroom(problem, variant, todo, rejected, problem.vehicles, run)
        if best is None or found[0] < best[0]:
            best = (found[0], found[1])
    assert best is not None
    if len(variants) > 1 or options.fixed_cost <= 0:
        return best[1]
    return _fewer_vehicles(problem, variants[0], todo, rejected, best, options, deadline)


def _run_vroom(
    problem: Problem,
    variant: Problem,
    todo: Sequence[Request],
    rejected: list[Unassigned],
    vehicles: Sequence[Vehicle],
    options: VroomOptions,
) -> tuple[Score, Plan]:
    found = solve_vroom(variant, [variant.request(r.id) for r in todo], vehicles, options)
    no_room = [Unassigned(rid, Reason.NO_ROOM) for rid in found.unassigned]
    plan = make_plan(problem, found.routes, rejected + no_room, ())
    return (len(check_plan(problem, plan)), *_score(problem, plan, options.fixed_cost)), plan


def _fewer_vehicles(
    problem: Problem,
    variant: Problem,
    todo: Sequence[Request],
    rejected: list[Unassigned],
    best: tuple[Score, Plan],
    options: VroomOptions,
    deadline: float,
) -> Plan:
    """Vehicle reduction: re-solve on the used vehicles minus the one doing least.

    VROOM's search rarely empties a whole route on its own, and its run often ends well
    before the budget. Kept only when it is better (every request still served).
    """
    score, plan = best
    while len(plan.unassigned) == len(rejected) and len(plan.routes) > 1:
        left = deadline - time.monotonic()
        if left < MIN_REDUCTION_S:
            break
        onboard = {v.id for v in problem.vehicles if v.onboard}
        spare = [r for r in plan.routes if r.vehicle_id not in onboard]
        if not spare:
            break
        least = min(spare, key=lambda r: (len(r.request_ids), route_totals(problem, (r,))))
        used = {r.vehicle_id for r in plan.routes} - {least.vehicle_id}
        fleet = [v for v in problem.vehicles if v.id in used]
        run = replace(options, time_limit_s=left)
        tried = _run_vroom(problem, variant, todo, rejected, fleet, run)
        if tried[0] >= score:
            break
        score, plan = tried
    return plan


def _vroom_share(todo: Sequence[Request], polish: bool) -> float:
    if polish:
        return VROOM_SHARE_BEFORE_POLISH
    return VROOM_SHARE_WITH_REPAIR if _has_ride_limits(todo) else VROOM_SHARE_ALONE


def default_fixed_cost(problem: Problem) -> int:
    return max((v.shift_end - v.shift_start for v in problem.vehicles), default=0) + 1


def _has_ride_limits(requests: Sequence[Request]) -> bool:
    return any(r.max_ride is not None for r in requests)


def _repair(
    problem: Problem,
    exact: Problem,
    plan: Plan,
    violations: list[Violation],
    todo: list[Request],
    rejected: list[Unassigned],
    deadline: float,
    fixed: int,
) -> Plan:
    """Re-solve with OR-Tools from VROOM's routes minus the requests that broke rules.

    `exact` is `problem` with exactly tightened windows. The result replaces `plan` only
    when it passes the checker and is better: fewer (priority-weighted) requests left out,
    then a lower cost. A plan with violations counts what the fallback would drop.
    """
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
        exact,
        requests,
        free,
        seeds,
        time_limit_s=deadline - time.monotonic(),
        fixed_cost=fixed,
    )
    stages = (*plan.stages, StageTiming("ortools", time.monotonic() - started))
    current = make_plan(problem, plan.routes, plan.unassigned, stages)
    if result is None:
        return current
    no_room = [Unassigned(rid, Reason.NO_ROOM) for rid in result.unassigned]
    candidate = make_plan(problem, kept + list(result.routes), rejected + no_room, stages)
    if check_plan(problem, candidate):
        return current
    if violations:
        current, _ = enforce_feasible(problem, current)
    return (
        candidate
        if _score(problem, candidate, fixed) <= _score(problem, current, fixed)
        else current
    )


def _score(problem: Problem, plan: Plan, fixed: int) -> tuple[int, int]:
    missing = sum(1 + problem.request(u.request_id).priority for u in plan.unassigned)
    return missing, fixed * plan.vehicles_used + plan.drive_seconds
