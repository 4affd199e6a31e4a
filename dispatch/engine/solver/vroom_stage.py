"""Main stage: VROOM (pyvroom) builds the routes.

VROOM knows shipments, multi-dimensional amounts, skills, shifts, breaks with a maximum
load and fixed vehicle costs, but not a maximum ride time: that is the repair stage's job.
Amounts are [seats, wheelchair places]; a patient already on board is a single delivery
job (loaded at the start) with a skill only its own vehicle has.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import vroom

from dispatch.engine.checker import check_route
from dispatch.engine.plan import Route, Stop, StopKind
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit, has_work, schedule, visits_of

# A patient on board cannot be left in the van: their drop-off outranks every new trip.
# VROOM's priority runs 0..100, higher first (test_priority_runs_higher_is_more_important).
ONBOARD_PRIORITY = 100

# VROOM runs its searches in parallel threads; the box has two cores.
MAX_THREADS = 2


@dataclass(frozen=True)
class VroomResult:
    routes: tuple[Route, ...]
    unassigned: tuple[str, ...]


@dataclass(frozen=True)
class VroomOptions:
    """`fixed_cost` is in cost units (= seconds of driving); exploration is VROOM's 1..5."""

    time_limit_s: float
    fixed_cost: int
    exploration: int = 5
    seed: int = 0
    threads: int = MAX_THREADS


def solve_vroom(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    options: VroomOptions,
    initial: Sequence[Route] = (),
) -> VroomResult:
    """Route `requests` on `vehicles`; times and loads are taken from VROOM's answer.

    `initial` routes (of these vehicles, over these requests, feasible) are the start of
    the search instead of VROOM's construction heuristics: it then runs its local search
    alone, which takes a small fraction of a full run.

    VROOM drops a trip it could serve when a break's window opens only after the trip's
    drop-off deadline (VROOM-Project/vroom#1345: it never defers the break to after the
    drop-off). When VROOM leaves trips out and some vehicle has a break, it also routes
    without breaks and each break is inserted afterwards where it fits (`_break_added`);
    the answer that leaves fewer trips out is kept.
    """
    found = _solve_once(problem, requests, vehicles, options, initial)
    if not found.unassigned or not any(v.shift_break for v in vehicles):
        return found
    bare = [replace(v, shift_break=None) for v in vehicles]
    # Half the time again at most: the stage's budget is planned for one VROOM run.
    alone = _solve_once(
        problem, requests, bare, replace(options, time_limit_s=options.time_limit_s / 2)
    )
    alone = _breaks_added(problem, vehicles, alone)
    return alone if len(alone.unassigned) < len(found.unassigned) else found


def _breaks_added(
    problem: Problem, vehicles: Sequence[Vehicle], result: VroomResult
) -> VroomResult:
    """`result` (routed without breaks) with each vehicle's break where it fits; the trips
    of a route that has no room for its break are left out."""
    by_id = {v.id: v for v in vehicles}
    routes, dropped = [], []
    for route in result.routes:
        vehicle = by_id[route.vehicle_id]
        if vehicle.shift_break is None or not has_work(route):
            routes.append(route)
            continue
        placed = _break_inserted(problem, vehicle, route)
        if placed is None:
            dropped += [s.request_id for s in route.stops if s.kind is StopKind.PICKUP]
        else:
            routes.append(placed)
    unassigned = tuple(dict.fromkeys((*result.unassigned, *(r for r in dropped if r))))
    return VroomResult(tuple(routes), unassigned)


def _break_inserted(problem: Problem, vehicle: Vehicle, route: Route) -> Route | None:
    """The route with the break where nobody is on board and every rule holds, finishing
    earliest; None when no place works."""
    visits = visits_of(route)
    best: Route | None = None
    for k in range(len(visits) + 1):
        candidate = schedule(problem, vehicle, [*visits[:k], Visit(StopKind.BREAK), *visits[k:]])
        if check_route(problem, vehicle, candidate):
            continue
        if best is None or candidate.stops[-1].departure < best.stops[-1].departure:
            best = candidate
    return best


def _solve_once(
    problem: Problem,
    requests: Sequence[Request],
    vehicles: Sequence[Vehicle],
    options: VroomOptions,
    initial: Sequence[Route] = (),
) -> VroomResult:
    if not requests or not vehicles:
        return VroomResult((), tuple(r.id for r in requests))
    skills = _skill_ids(problem)
    data = vroom.Input()
    data.set_durations_matrix("car", problem.matrix.durations)
    data.set_distances_matrix("car", problem.matrix.distances)
    locked = {rid: i for i, v in enumerate(vehicles) for rid in v.onboard}
    job_of = {r.id: i for i, r in enumerate(requests)}
    given = {route.vehicle_id: route for route in initial}
    for index, vehicle in enumerate(vehicles):
        route = given.get(vehicle.id)
        steps = _steps(index, route, job_of, locked) if route else []
        data.add_vehicle(_vehicle(index, vehicle, skills, options.fixed_cost, steps))
    order = list(range(len(requests)))
    if options.seed:
        # Insertion order breaks VROOM's ties, so a seed gives a different but repeatable run.
        random.Random(options.seed).shuffle(order)
    for i in order:
        data.add_job(_job(i, requests[i], skills, locked.get(requests[i].id)))
    solution = data.solve(
        exploration_level=options.exploration,
        nb_threads=min(options.threads, MAX_THREADS),
        timeout=timedelta(seconds=max(options.time_limit_s, 0.01)),
    )
    return _read(solution.to_dict(), requests, vehicles)


def _skill_ids(problem: Problem) -> dict[str, int]:
    names = sorted({e for r in problem.requests for e in r.equipment})
    return {name: i + 1 for i, name in enumerate(names)}


def _lock_skill(skills: dict[str, int], vehicle_index: int) -> int:
    return len(skills) + 1 + vehicle_index


def _steps(
    index: int, route: Route, job_of: dict[str, int], locked: dict[str, int]
) -> list[vroom.VehicleStep]:
    steps = [vroom.VehicleStep("start")]
    for stop in route.stops:
        if stop.kind is StopKind.BREAK:
            steps.append(vroom.VehicleStep("break", index))
        elif stop.request_id in job_of:
            job = job_of[stop.request_id]
            if stop.request_id in locked:
                steps.append(vroom.VehicleStep("single", job))
            else:
                kind = "pickup" if stop.kind is StopKind.PICKUP else "delivery"
                steps.append(vroom.VehicleStep(kind, job))
    if route.stops and route.stops[-1].kind is StopKind.END:
        steps.append(vroom.VehicleStep("end"))
    return steps


def _vehicle(
    index: int,
    v: Vehicle,
    skills: dict[str, int],
    fixed_cost: int,
    steps: Sequence[vroom.VehicleStep] = (),
) -> vroom.Vehicle:
    own = {skills[e] for e in v.equipment if e in skills} | {_lock_skill(skills, index)}
    breaks = []
    if v.shift_break is not None:
        b = v.shift_break
        window = vroom.TimeWindow(b.earliest, b.latest)
        breaks.append(vroom.Break(index, [window], service=b.duration, max_load=[0, 0]))
    return vroom.Vehicle(
        index,
        start=v.start,
        end=v.end,
        capacity=[v.seats, v.wheelchairs],
        skills=own,
        time_window=vroom.TimeWindow(v.shift_start, v.shift_end),
        breaks=breaks,
        costs=vroom.VehicleCosts(fixed=fixed_cost),
        steps=steps,
    )


def _job(
    i: int, r: Request, skills: dict[str, int], lock: int | None
) -> vroom.Job | vroom.Shipment:
    need = {skills[e] for e in r.equipment}
    drop_earliest, drop_latest = r.dropoff_window
    drop_windows = [vroom.TimeWindow(drop_earliest, drop_latest)] if drop_latest is not None else []
    if drop_latest is None and drop_earliest:
        drop_windows = [vroom.TimeWindow(drop_earliest, 2**31 - 1)]
    amount = [r.seats, r.wheelchairs]
    if lock is not None:
        need.add(_lock_skill(skills, lock))
        return vroom.Job(
            i,
            r.dropoff,
            default_service=r.dropoff_service,
            delivery=vroom.Amount(amount),
            skills=need,
            priority=ONBOARD_PRIORITY,
            time_windows=drop_windows,
        )
    pickup = vroom.ShipmentStep(
        i,
        r.pickup,
        default_service=r.pickup_service,
        time_windows=[vroom.TimeWindow(r.pickup_earliest, r.pickup_latest)],
    )
    dropoff = vroom.ShipmentStep(
        i, r.dropoff, default_service=r.dropoff_service, time_windows=drop_windows
    )
    priority = min(r.priority, ONBOARD_PRIORITY - 1)
    return vroom.Shipment(pickup, dropoff, amount=amount, skills=need, priority=priority)


_KINDS = {
    "start": StopKind.START,
    "end": StopKind.END,
    "pickup": StopKind.PICKUP,
    "delivery": StopKind.DROPOFF,
    "job": StopKind.DROPOFF,
    "break": StopKind.BREAK,
}


def _read(
    answer: dict[str, Any], requests: Sequence[Request], vehicles: Sequence[Vehicle]
) -> VroomResult:
    routes = []
    for r in answer["routes"]:
        vehicle = vehicles[r["vehicle"]]
        steps = r["steps"]
        if vehicle.end is None:
            # VROOM closes open routes with an "end" step at the last stop; we have none.
            steps = [s for s in steps if s["type"] != "end"]
        routes.append(Route(vehicle.id, _stops(steps, requests)))
    unassigned = tuple(dict.fromkeys(requests[u["id"]].id for u in answer["unassigned"]))
    return VroomResult(tuple(routes), unassigned)


def _stops(steps: list[dict[str, Any]], requests: Sequence[Request]) -> tuple[Stop, ...]:
    out: list[Stop] = []
    for step in steps:
        kind = _KINDS[step["type"]]
        # VROOM gives breaks no location: they happen on the way from the previous stop.
        where = step.get("location_index", out[-1].location if out else 0)
        begin = step["arrival"] + step.get("waiting_time", 0) + step.get("setup", 0)
        end = begin + step.get("service", 0)
        seats, chairs = ([*list(step.get("load", [])), 0, 0])[:2]
        rid = requests[step["id"]].id if kind in (StopKind.PICKUP, StopKind.DROPOFF) else None
        out.append(Stop(kind, where, step["arrival"], begin, end, seats, chairs, rid))
    return tuple(out)
