"""Pieces shared by the solver stages: up-front triage, forward scheduling, plan assembly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dispatch.engine.checker import route_totals
from dispatch.engine.plan import Plan, Route, StageTiming, Stop, StopKind, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import WHEELCHAIR, Problem, Request, Vehicle


@dataclass(frozen=True)
class Visit:
    """A stop before scheduling: what happens, for which request (None for a break)."""

    kind: StopKind
    request_id: str | None = None


def fits_kind(request: Request, vehicle: Vehicle) -> bool:
    """The vehicle has the equipment and the place kinds the request needs (any amount)."""
    needs = request.equipment | ({WHEELCHAIR} if request.wheelchairs else frozenset())
    return needs <= vehicle.kinds and (request.seats == 0 or vehicle.seats > 0)


def fits_size(request: Request, vehicle: Vehicle) -> bool:
    return request.seats <= vehicle.seats and request.wheelchairs <= vehicle.wheelchairs


def candidate_vehicles(problem: Problem, request: Request) -> list[Vehicle]:
    """Vehicles allowed to carry the request: its own vehicle if on board, else all fitting."""
    locked = problem.onboard_vehicle().get(request.id)
    pool = [locked] if locked is not None else list(problem.vehicles)
    return [v for v in pool if fits_kind(request, v) and fits_size(request, v)]


def triage(problem: Problem) -> dict[str, Reason]:
    """Requests no plan can serve, with the most fundamental reason; the rest go to search."""
    locked = problem.onboard_vehicle()
    out: dict[str, Reason] = {}
    for request in problem.requests:
        pool = [locked[request.id]] if request.id in locked else list(problem.vehicles)
        kind = [v for v in pool if fits_kind(request, v)]
        sized = [v for v in kind if fits_size(request, v)]
        if not kind:
            out[request.id] = Reason.NO_EQUIPMENT
        elif not sized:
            out[request.id] = Reason.NO_CAPACITY
        elif not any(_direct_trip_fits(problem, request, v, request.id in locked) for v in sized):
            out[request.id] = Reason.WINDOW_UNREACHABLE
    return out


def _direct_trip_fits(problem: Problem, r: Request, v: Vehicle, onboard: bool) -> bool:
    """Start -> pick-up -> drop-off -> end alone, pick-up as late as helps the ride time."""
    d = problem.matrix.durations
    drop_earliest, drop_latest = r.dropoff_window
    if onboard:
        drop_start = max(v.shift_start + d[v.start][r.dropoff], drop_earliest)
    else:
        ready = max(v.shift_start + d[v.start][r.pickup], r.pickup_earliest)
        ride = d[r.pickup][r.dropoff]
        pick = max(ready, min(r.pickup_latest, drop_earliest - r.pickup_service - ride))
        if pick > r.pickup_latest:
            return False
        drop_start = max(pick + r.pickup_service + ride, drop_earliest)
        if r.max_ride is not None and drop_start - pick - r.pickup_service > r.max_ride:
            return False
    if drop_latest is not None and drop_start > drop_latest:
        return False
    finish = drop_start + r.dropoff_service + (d[r.dropoff][v.end] if v.end is not None else 0)
    return finish <= v.shift_end


def service_of(problem: Problem, vehicle: Vehicle, visit: Visit) -> int:
    if visit.kind is StopKind.BREAK:
        return vehicle.shift_break.duration if vehicle.shift_break else 0
    if visit.request_id is None:
        return 0
    request = problem.request(visit.request_id)
    return request.pickup_service if visit.kind is StopKind.PICKUP else request.dropoff_service


def window_of(problem: Problem, vehicle: Vehicle, visit: Visit) -> int:
    """Earliest service start of a visit (waiting is allowed, early service is not)."""
    if visit.kind is StopKind.BREAK:
        return vehicle.shift_break.earliest if vehicle.shift_break else 0
    if visit.request_id is None:
        return 0
    request = problem.request(visit.request_id)
    if visit.kind is StopKind.PICKUP:
        return request.pickup_earliest
    return request.dropoff_window[0]


def onboard_load(problem: Problem, vehicle: Vehicle) -> tuple[int, int]:
    """(seats, wheelchair places) taken at the start by the patients already on board."""
    seats = sum(problem.request(rid).seats for rid in vehicle.onboard)
    chairs = sum(problem.request(rid).wheelchairs for rid in vehicle.onboard)
    return seats, chairs


def schedule(
    problem: Problem,
    vehicle: Vehicle,
    visits: Sequence[Visit],
    starts: Sequence[int] | None = None,
) -> Route:
    """Earliest-time schedule of the visits, between the vehicle's start and end stops.

    `starts` gives each visit's service start instead (a schedule worked out elsewhere, e.g.
    with pick-ups delayed to keep rides short). No feasibility is promised: the checker
    judges the result. A break is taken after the previous stop, at its location, before
    driving on.
    """
    d = problem.matrix.durations
    seats, chairs = onboard_load(problem, vehicle)
    t, here = vehicle.shift_start, vehicle.start
    stops = [Stop(StopKind.START, here, t, t, t, seats, chairs)]
    for k, visit in enumerate(visits):
        if visit.kind is StopKind.BREAK:
            begin = max(t, window_of(problem, vehicle, visit)) if starts is None else starts[k]
            t = begin + service_of(problem, vehicle, visit)
            stops.append(Stop(StopKind.BREAK, here, begin, begin, t, seats, chairs))
            continue
        request = problem.request(visit.request_id or "")
        where = request.pickup if visit.kind is StopKind.PICKUP else request.dropoff
        arrival = t + d[here][where]
        begin = max(arrival, window_of(problem, vehicle, visit)) if starts is None else starts[k]
        t, here = begin + service_of(problem, vehicle, visit), where
        sign = 1 if visit.kind is StopKind.PICKUP else -1
        seats, chairs = (
            seats + sign * request.seats,
            chairs + sign * request.wheelchairs,
        )
        stops.append(Stop(visit.kind, where, arrival, begin, t, seats, chairs, request.id))
    if vehicle.end is not None:
        t += d[here][vehicle.end]
        stops.append(Stop(StopKind.END, vehicle.end, t, t, t, seats, chairs))
    return Route(vehicle.id, tuple(stops))


def visits_of(route: Route) -> list[Visit]:
    return [
        Visit(s.kind, s.request_id)
        for s in route.stops
        if s.kind not in (StopKind.START, StopKind.END)
    ]


def has_work(route: Route) -> bool:
    return any(s.request_id for s in route.stops)


def make_plan(
    problem: Problem,
    routes: Iterable[Route],
    unassigned: Iterable[Unassigned],
    stages: Iterable[StageTiming],
) -> Plan:
    """Plan with empty routes left out and totals recomputed from the matrix."""
    kept = tuple(r for r in routes if has_work(r))
    drive, distance = route_totals(problem, kept)
    order = {r.id: i for i, r in enumerate(problem.requests)}
    missing = tuple(sorted(unassigned, key=lambda u: order.get(u.request_id, -1)))
    return Plan(kept, missing, drive, distance, tuple(stages), problem.matrix.fallback_share)
