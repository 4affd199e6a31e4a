"""Where one more trip fits into a live day's current routes (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dispatch.engine.checker import check_route
from dispatch.engine.live.day import LiveDay
from dispatch.engine.live.routes import Tail, drive, fit_route, lateness, pickups, stitch, tail_of
from dispatch.engine.plan import Route, StopKind
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import (
    Visit,
    candidate_vehicles,
)
from dispatch.engine.solver.ride_insertion import _Frame, _slots


@dataclass(frozen=True)
class Insertion:
    """Where a trip fits: positions index the vehicle's remaining stops before insertion
    (prefix then planned); the drop-off position counts the pick-up already inserted."""

    vehicle_id: str
    pickup_position: int
    dropoff_position: int
    extra_drive_seconds: int
    lateness_caused_seconds: int
    delay_caused_seconds: int
    pickup_at: int
    dropoff_at: int
    route: Route


# --- insertion ----------------------------------------------------------------------------------
def best_insertion(
    problem: Problem,
    vehicle: Vehicle,
    visits: Sequence[Visit],
    request: Request,
    tails: Mapping[str, Tail] | None = None,
    pickup_at: int | None = None,
    max_extra: int | None = None,
) -> tuple[int, list[Visit], Route] | None:
    """The cheapest feasible insertion of `request` into `visits` (no breaks) on `vehicle`:
    (added driving seconds, new visits, its route). `pickup_at` keeps only positions with
    the pick-up at that index of `visits`; `max_extra` gives up past that added driving."""
    tail = (tails or {}).get(vehicle.id, Tail(vehicle, False))
    plain = replace(vehicle, shift_break=None)
    path = [vehicle.start, *(_where(problem, v) for v in visits)]
    if vehicle.end is not None:
        path.append(vehicle.end)
    frame = _Frame(problem, plain, visits, path)
    pick, drop = Visit(StopKind.PICKUP, request.id), Visit(StopKind.DROPOFF, request.id)
    base = drive(problem, tail, visits)
    for extra, i, j in _slots(problem.matrix.durations, path, request, len(visits)):
        if max_extra is not None and extra > max_extra:
            return None  # cheapest first: every later slot costs more
        if pickup_at is not None and i != pickup_at:
            continue
        if not frame.may_fit(request, i, j):
            continue
        candidate = [*visits[:i], pick, *visits[i:j], drop, *visits[j:]]
        route = fit_route(problem, vehicle, candidate)
        if route is not None:
            return drive(problem, tail, candidate) - base, candidate, route
    return None


def _where(problem: Problem, visit: Visit) -> int:
    r = problem.request(visit.request_id or "")
    return r.pickup if visit.kind is StopKind.PICKUP else r.dropoff


def insertions(
    days: Sequence[LiveDay],
    request_id: str,
    *,
    limit: int = 3,
    vehicle_id: str | None = None,
    position: int | None = None,
) -> list[Insertion]:
    """Up to `limit` places for the request, best first (least lateness caused, then least
    extra driving), at most one per vehicle; only `vehicle_id` when given, and with the
    pick-up at `position` of its remaining stops when given. Each proposal's whole route
    passes `check_route`. A request already in a route is not proposed again."""
    found: list[Insertion] = []
    for day in days:
        request = day.problem.find_request(request_id)
        placed = set(day.current()) | set(day.fixed())
        if request is None or request_id in placed:
            continue
        for vehicle in candidate_vehicles(day.problem, request):
            if vehicle_id is None or vehicle.id == vehicle_id:
                proposal = _insertion(day, vehicle, request, position)
                if proposal is not None:
                    found.append(proposal)
    found.sort(key=lambda p: (p.lateness_caused_seconds, p.extra_drive_seconds, p.vehicle_id))
    return found[:limit]


def _insertion(
    day: LiveDay, vehicle: Vehicle, request: Request, position: int | None
) -> Insertion | None:
    lv = day.live(vehicle.id)
    tail = tail_of(day, vehicle)
    fixed = len(lv.prefix)
    if position is not None and not fixed <= position <= fixed + len(lv.planned):
        return None  # only after the fixed stops, within the route
    problem = Problem(day.problem.requests, (tail.vehicle,), day.problem.matrix)
    planned = list(lv.planned)
    old = fit_route(problem, tail.vehicle, planned) if planned else None
    at = None if position is None else position - fixed
    found = best_insertion(problem, tail.vehicle, planned, request, {vehicle.id: tail}, at)
    if found is None:
        return None
    extra, visits, route = found
    whole = stitch(day, vehicle, route)
    if whole is None or check_route(day.problem, vehicle, whole):
        return None
    i = visits.index(Visit(StopKind.PICKUP, request.id))
    j = visits.index(Visit(StopKind.DROPOFF, request.id))
    times = {(s.kind, s.request_id): s.service_start for s in whole.stops}
    mine = {v.request_id for v in planned}
    before = pickups(old) or {rid: t for rid, t in day.before.items() if rid in mine}
    after = pickups(route)
    return Insertion(
        vehicle_id=vehicle.id,
        pickup_position=fixed + i,
        dropoff_position=fixed + j,
        extra_drive_seconds=extra,
        lateness_caused_seconds=max(
            0, lateness(route, day.promised, request.id) - lateness(old, day.promised)
        ),
        delay_caused_seconds=sum(max(0, after.get(rid, t) - t) for rid, t in before.items()),
        pickup_at=times[(StopKind.PICKUP, request.id)],
        dropoff_at=times[(StopKind.DROPOFF, request.id)],
        route=whole,
    )
