"""`solve()`: triage, VROOM, OR-Tools when needed, then the checker's gate.

Ride limits: windows are first tightened exactly (`windows.tighten`). When the requests'
windows are wide enough to break a ride limit, VROOM (which has no ride rule) sees
ride-safe narrowed windows, so its plans keep the limits, and OR-Tools then searches the
exact problem from VROOM's best plan for the rest of the time. Product requests come with
drop-off bounds that are already ride-safe: for them this is VROOM alone, as before, and
OR-Tools only repairs a plan the checker rejects.

Without an OR-Tools polish to follow, trips VROOM left out for lack of room get one more
chance from its deepest local search over its own routes (`_recover`). When vehicles have a
price (`fixed_cost` > 0), a complete plan then goes through route elimination (`reduce.py`)
with the time left, each route at most REDUCE_PER_VROOM times VROOM's own time and all of
them REDUCE_TOTAL_PER_VROOM times: VROOM's plans often keep a route or two that the other
routes can absorb.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from vroom._vroom import VroomInputException

from dispatch.engine.checker import check_plan
from dispatch.engine.plan import Plan, Route, StageTiming, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Problem, Request
from dispatch.engine.solver.common import make_plan, schedule, triage, visits_of
from dispatch.engine.solver.fallback import enforce_feasible
from dispatch.engine.solver.ortools_stage import repair
from dispatch.engine.solver.reduce import POLISH_EXPLORATION, eliminate_routes
from dispatch.engine.solver.ride_insertion import INSERT_SHARE, insert_unassigned
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
# Without a repair to follow, VROOM gets this share and route elimination may run until
# REDUCE_UNTIL of the time limit (it stops much earlier when it cannot empty a route).
VROOM_SHARE_BEFORE_REDUCE = 0.5
REDUCE_UNTIL = 0.95
# Elimination is a polish: each route gets at most REDUCE_PER_VROOM times VROOM's time, the
# whole phase REDUCE_TOTAL_PER_VROOM times. A route that can go usually goes quickly; without
# a cap an attempt that fails held a 100-trip day up for 0.7-1 s.
REDUCE_PER_VROOM = 0.5
REDUCE_TOTAL_PER_VROOM = 1.0
# Rough seconds per squared request of one VROOM run on two threads, by exploration level
# (measured on the Li & Lim 200-task set). A run the time limit cuts short returns a much
# worse plan than a complete run one level shallower, so the level is capped to fit.
VROOM_SECONDS_PER_REQUEST_SQUARED = {1: 0.9e-5, 2: 1.8e-5, 3: 3.6e-5, 4: 7.3e-5, 5: 1.4e-4}

Score = tuple[int, int, int]  # broken rules, priority-weighted requests left out, cost


def solve(
    problem: Problem,
    *,
    time_limit_s: float,
    seed: int = 0,
    fixed_cost: int | None = None,
    exploration: int = 5,
) -> Plan:
    """A plan that passes `check_plan`, found within about `time_limit_s` seconds.

    `fixed_cost` is the price of using one more vehicle in seconds of driving; by default
    the longest shift, so a vehicle is only added when no existing route can take the work.
    `exploration` is VROOM's search depth (1..5): lower is faster, often better when the time
    limit binds; it is lowered to a level whose run should fit VROOM's share of the time.
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
    budget = time_limit_s * _vroom_share(todo, polish, fixed)
    variants = [narrowed]
    if polish:
        # Where the cut falls changes what VROOM can reach; its runs are short, so try a few.
        variants += [ride_safe(exact, share) for share in PICK_SHARES]
    depth = _affordable(exploration, len(todo), budget / len(variants))
    options = VroomOptions(budget, fixed, seed=seed, exploration=depth)
    plan, variant = _best_vroom(problem, variants, todo, rejected, options)
    stage = StageTiming("vroom", time.monotonic() - started)
    plan = make_plan(problem, plan.routes, plan.unassigned, [stage])
    if not polish:
        until = min(deadline, started + time_limit_s * REDUCE_UNTIL)
        plan = _recover(problem, variant, plan, todo, rejected, options, until)
        if fixed:
            plan = _reduce(problem, variant, plan, rejected, options, until)
    if polish or check_plan(problem, plan):
        plan = _polish(problem, exact, plan, todo, rejected, deadline, fixed)
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
) -> tuple[Plan, Problem]:
    """VROOM on each variant of the windows in turn (sharing the budget); the best plan
    and the variant it was found on.

    A plan that breaks a rule (VROOM knows no ride limit) ranks after every plan that
    does not: repair or fallback deal with it later.
    """
    deadline = time.monotonic() + options.time_limit_s
    best: tuple[Score, Plan, Problem] | None = None
    for i, variant in enumerate(variants):
        left = (deadline - time.monotonic()) / (len(variants) - i)
        if best is not None and left < 0.01:
            break
        run = replace(options, time_limit_s=max(left, 0.01))
        found = solve_vroom(variant, [variant.request(r.id) for r in todo], problem.vehicles, run)
        no_room = [Unassigned(rid, Reason.NO_ROOM) for rid in found.unassigned]
        plan = make_plan(problem, found.routes, rejected + no_room, ())
        score = (len(check_plan(problem, plan)), *_score(problem, plan, options.fixed_cost))
        if best is None or score < best[0]:
            best = (score, plan, variant)
    assert best is not None
    return best[1], best[2]


def _vroom_share(todo: Sequence[Request], polish: bool, fixed: int) -> float:
    if polish:
        return VROOM_SHARE_BEFORE_POLISH
    if _has_ride_limits(todo):
        return VROOM_SHARE_WITH_REPAIR
    return VROOM_SHARE_BEFORE_REDUCE if fixed else VROOM_SHARE_ALONE


def _recover(
    problem: Problem,
    variant: Problem,
    plan: Plan,
    todo: Sequence[Request],
    rejected: list[Unassigned],
    options: VroomOptions,
    until: float,
) -> Plan:
    """`plan` with trips it left out for lack of room served where VROOM's deepest local
    search from its routes finds them a place (tens of milliseconds: a patient left out is
    worth far more). Kept only when it is `_better`."""
    if len(plan.unassigned) == len(rejected) or time.monotonic() >= until:
        return plan
    started = time.monotonic()
    run = replace(options, time_limit_s=until - time.monotonic(), exploration=POLISH_EXPLORATION)
    try:
        found = solve_vroom(variant, todo, problem.vehicles, run, initial=plan.routes)
    except VroomInputException:
        return plan  # VROOM finds its own routes infeasible under a rule it reads differently
    stages = (*plan.stages, StageTiming("recover", time.monotonic() - started))
    no_room = [Unassigned(rid, Reason.NO_ROOM) for rid in found.unassigned]
    candidate = make_plan(problem, found.routes, rejected + no_room, stages)
    return _keep_better(problem, plan, candidate, options.fixed_cost)


def _reduce(
    problem: Problem,
    variant: Problem,
    plan: Plan,
    rejected: list[Unassigned],
    options: VroomOptions,
    until: float,
) -> Plan:
    """`plan` with fewer routes when route elimination finds some and the checker agrees.

    Only a complete, checker-clean plan is reduced: fewer vehicles never justify leaving
    a request out.
    """
    if len(plan.unassigned) > len(rejected) or check_plan(problem, plan):
        return plan
    started = time.monotonic()
    vroom_s = sum(s.seconds for s in plan.stages if s.name == "vroom")
    until = min(until, started + REDUCE_TOTAL_PER_VROOM * vroom_s)
    attempt = REDUCE_PER_VROOM * vroom_s
    routes = eliminate_routes(variant, plan.routes, options, until, attempt_s=attempt)
    if len(routes) == len(plan.routes):
        return plan
    stages = (*plan.stages, StageTiming("reduce", time.monotonic() - started))
    candidate = make_plan(problem, routes, plan.unassigned, stages)
    return _keep_better(problem, plan, candidate, options.fixed_cost)


def _keep_better(problem: Problem, plan: Plan, candidate: Plan, fixed: int) -> Plan:
    """`candidate` if it is `_better`, else `plan` with the candidate's stages (the
    attempt's time is still reported)."""
    if _better(problem, candidate, plan, fixed):
        return candidate
    return replace(plan, stages=candidate.stages)


def _affordable(exploration: int, requests: int, seconds: float) -> int:
    """The deepest level up to `exploration` whose run should end within `seconds`."""
    cost = VROOM_SECONDS_PER_REQUEST_SQUARED
    fits = [e for e in range(1, exploration + 1) if cost[e] * requests**2 <= seconds]
    return max(fits, default=1)


def default_fixed_cost(problem: Problem) -> int:
    return max((v.shift_end - v.shift_start for v in problem.vehicles), default=0) + 1


def _has_ride_limits(requests: Sequence[Request]) -> bool:
    return any(r.max_ride is not None for r in requests)


def _polish(
    problem: Problem,
    exact: Problem,
    plan: Plan,
    todo: list[Request],
    rejected: list[Unassigned],
    deadline: float,
    fixed: int,
) -> Plan:
    """OR-Tools from VROOM's plan until the deadline; the best plan (checker-clean if any).

    Requests VROOM left out are first inserted exactly (ride times included) where they
    fit. A start that still leaves requests out gets half the time: the search often cannot
    re-insert them from there, but can from its own first solution on the exact windows.
    Once a plan serves everyone, the rest of the time polishes it further. The plan's
    stages list every run, including those that found nothing better.
    """
    best = plan
    if len(best.unassigned) > len(rejected):
        # OR-Tools re-inserts one node pair at a time and can stay stuck with a request
        # out (Cordeau a3-36); exact insertion finds it room in a fraction of a second.
        until = time.monotonic() + INSERT_SHARE * (deadline - time.monotonic())
        best = insert_unassigned(problem, best, deadline=until, fixed_cost=fixed)
    ran = list(best.stages)
    starts = [best]
    if len(best.unassigned) > len(rejected):
        missing = [Unassigned(r.id, Reason.NO_ROOM) for r in todo]
        starts.append(make_plan(problem, (), rejected + missing, best.stages))
    while deadline - time.monotonic() > 0.05 and starts:
        start = starts.pop(0)
        complete = len(start.unassigned) == len(rejected)
        left = deadline - time.monotonic()
        until = deadline if complete or not starts else time.monotonic() + left / 2
        found = _repair(problem, exact, start, todo, rejected, until, fixed)
        ran.append(found.stages[-1])
        if _better(problem, found, best, fixed):
            best = found
        if len(best.unassigned) == len(rejected):
            starts = [best] if found is best and best is not start else []
    return replace(best, stages=tuple(ran))


def _better(problem: Problem, plan: Plan, than: Plan, fixed: int) -> bool:
    """Checker-clean beats broken; then fewer requests left out; then a lower cost."""
    clean, other = not check_plan(problem, plan), not check_plan(problem, than)
    if clean != other:
        return clean
    return _score(problem, plan, fixed) < _score(problem, than, fixed)


def _repair(
    problem: Problem,
    exact: Problem,
    plan: Plan,
    todo: list[Request],
    rejected: list[Unassigned],
    deadline: float,
    fixed: int,
) -> Plan:
    """Re-solve with OR-Tools from `plan`'s routes minus the requests that broke rules.

    `exact` is `problem` with exactly tightened windows. The result replaces `plan` only
    when it passes the checker and is better: fewer (priority-weighted) requests left out,
    then a lower cost. A plan with violations counts what the fallback would drop.
    """
    started = time.monotonic()
    violations = check_plan(problem, plan)
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
