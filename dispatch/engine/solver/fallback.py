"""Last line of defence: make a plan pass the checker by dropping what breaks it.

Each round drops the requests a violation names (or the whole route when a violation
names only the vehicle), reschedules the changed routes and checks again. Every round
removes something, so it ends; an empty plan always passes.
"""

from __future__ import annotations

from dispatch.engine.checker import Violation, check_plan
from dispatch.engine.plan import Plan, Route, StopKind, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Problem
from dispatch.engine.solver.common import make_plan, schedule, visits_of


def enforce_feasible(problem: Problem, plan: Plan) -> tuple[Plan, int]:
    """`plan` if it passes the checker, else a feasible plan derived from it.

    Also returns how many rounds of dropping it took (0: the plan was already feasible).
    """
    rounds = 0
    violations = check_plan(problem, plan)
    while violations:
        plan = _drop(problem, plan, violations)
        violations = check_plan(problem, plan)
        rounds += 1
    return plan, rounds


def _drop(problem: Problem, plan: Plan, violations: list[Violation]) -> Plan:
    bad_requests = {v.request_id for v in violations if v.request_id}
    bad_routes = {v.vehicle_id for v in violations if v.vehicle_id and not v.request_id}
    if not bad_requests and not bad_routes:
        # Only the totals were wrong: recomputing them is the whole fix.
        return make_plan(problem, plan.routes, plan.unassigned, plan.stages)
    vehicles = {v.id: v for v in problem.vehicles}
    routes: list[Route] = []
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        served = {s.request_id for s in route.stops if s.request_id}
        if vehicle is None or route.vehicle_id in bad_routes:
            continue
        if not served & bad_requests:
            routes.append(route)
            continue
        visits = [v for v in visits_of(route) if v.request_id not in bad_requests]
        if not any(v.kind is not StopKind.BREAK for v in visits):
            visits = []
        routes.append(schedule(problem, vehicle, visits))
    unassigned = {u.request_id: u for u in plan.unassigned}
    served_now = {rid for r in routes for rid in r.request_ids}
    for request in problem.requests:
        if request.id not in served_now and request.id not in unassigned:
            unassigned[request.id] = Unassigned(request.id, Reason.NO_ROOM)
    return make_plan(problem, routes, unassigned.values(), plan.stages)
