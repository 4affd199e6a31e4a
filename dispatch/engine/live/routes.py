"""One vehicle's route in a live day: its free part (tail), the break, joining the prefix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from dispatch.engine.checker import check_route
from dispatch.engine.live.day import PIN, LiveDay, prefix_end
from dispatch.engine.plan import Route, StopKind
from dispatch.engine.problem import Problem, Vehicle
from dispatch.engine.solver.common import (
    Visit,
    schedule,
)
from dispatch.engine.solver.ride_insertion import earliest_times


# --- routes of one vehicle ----------------------------------------------------------------------
@dataclass(frozen=True)
class Tail:
    """A vehicle's free part: it starts where and when its prefix ends."""

    vehicle: Vehicle  # start, shift_start moved to the prefix's end; nobody on board
    anchored: bool  # it has a prefix: its route exists even without free work


def tail_of(day: LiveDay, vehicle: Vehicle) -> Tail:
    lv = day.live(vehicle.id)
    route = schedule(day.problem, replace(vehicle, shift_break=None), lv.prefix)
    where, t = prefix_end(day.problem, vehicle, route, len(lv.prefix))
    tail = replace(
        vehicle,
        start=where,
        shift_start=t,
        shift_end=max(vehicle.shift_end, t),
        onboard=(),
        equipment=vehicle.equipment | {PIN + vehicle.id},
    )
    return Tail(tail, bool(lv.prefix))


def fit_route(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit]) -> Route | None:
    """The route of `visits` (no break among them) on `vehicle` passing `check_route`, with
    the break where it first fits (nobody on board); None when none is found. Without a break
    the schedule is the exact earliest one (ride limits kept by delaying pick-ups)."""
    plain = [v for v in visits if v.kind is not StopKind.BREAK]
    if vehicle.shift_break is None:
        times = earliest_times(problem, vehicle, plain)
        return None if times is None else schedule(problem, vehicle, plain, times)
    if not plain:
        return None
    free = replace(vehicle, shift_break=None)
    times = earliest_times(problem, free, plain)
    if times is None:
        return None
    for k in _empty_moments(problem, vehicle, plain):
        visits_k = [*plain[:k], Visit(StopKind.BREAK), *plain[k:]]
        route = schedule(problem, vehicle, visits_k)
        if not check_route(problem, vehicle, route):
            return route
    return None


def _empty_moments(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit]) -> list[int]:
    """Positions where nobody is on board (a break may go there)."""
    load = len(vehicle.onboard)
    out = [0] if not load else []
    for k, visit in enumerate(visits, start=1):
        load += 1 if visit.kind is StopKind.PICKUP else -1
        if not load:
            out.append(k)
    return out


def drive(problem: Problem, tail: Tail, visits: Sequence[Visit]) -> int:
    """Driving seconds of the free part, to the vehicle's end."""
    v = tail.vehicle
    if not visits and not tail.anchored:
        return 0
    path = [v.start]
    for visit in visits:
        r = problem.request(visit.request_id or "")
        path.append(r.pickup if visit.kind is StopKind.PICKUP else r.dropoff)
    if v.end is not None:
        path.append(v.end)
    d = problem.matrix.durations
    return sum(d[a][b] for a, b in pairwise(path))


def lateness(route: Route | None, promised: Mapping[str, int], skip: str = "") -> int:
    if route is None:
        return 0
    return sum(
        max(0, s.service_start - promised[s.request_id])
        for s in route.stops
        if s.kind is StopKind.PICKUP and s.request_id and s.request_id != skip
    )


def pickups(route: Route | None) -> dict[str, int]:
    if route is None:
        return {}
    return {
        s.request_id: s.service_start
        for s in route.stops
        if s.kind is StopKind.PICKUP and s.request_id
    }


def stitch(day: LiveDay, vehicle: Vehicle, tail: Route | None) -> Route | None:
    """The vehicle's whole route: its prefix at the earliest, then the tail's stops as they
    are (the tail starts where and when the prefix ends, empty); a vehicle with only a
    prefix takes its break right after it."""
    lv = day.live(vehicle.id)
    bare = replace(vehicle, shift_break=None, end=None)
    head = schedule(day.problem, bare, lv.prefix).stops
    if tail is not None and any(s.request_id for s in tail.stops):
        return Route(vehicle.id, (*head, *tail.stops[1:]))
    if not lv.prefix:
        return None
    rest: list[Visit] = []
    starts = [s.service_start for s in head[1:]]
    if vehicle.shift_break is not None:
        rest = [Visit(StopKind.BREAK)]
        starts.append(max(head[-1].departure, vehicle.shift_break.earliest))
    return schedule(day.problem, vehicle, [*lv.prefix, *rest], starts)
