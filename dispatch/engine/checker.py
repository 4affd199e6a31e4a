"""Independent feasibility check of a Plan against its Problem.

Written from the problem's rules, not from the solver's code, so a solver bug shows up
here instead of in a driver's day. The solver never returns a plan that fails it.

Rules worth stating: a wheelchair patient uses wheelchair places only and a walking
patient seats only (no swapping); ride time is drop-off service start minus the end of
pick-up service; a break needs nobody on board and may be taken on the way between two
stops, so the travel between them is stretched by the break.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from dispatch.engine.plan import Plan, Route, Stop, StopKind
from dispatch.engine.problem import Problem, Request, Vehicle


class ViolationKind(StrEnum):
    STRUCTURE = "structure"  # unknown vehicle, misplaced start/end, unknown request
    DUPLICATE = "duplicate"  # a request served twice, or served and unassigned
    MISSING = "missing"  # neither served nor unassigned
    PAIRING = "pairing"  # pick-up and drop-off not on one route in that order
    ONBOARD = "onboard"  # a locked request picked up again or dropped by another vehicle
    TIMING = "timing"  # times inconsistent with service or travel
    PICKUP_WINDOW = "pickup_window"
    DROPOFF_WINDOW = "dropoff_window"
    SHIFT = "shift"
    CAPACITY = "capacity"
    LOAD = "load"  # reported load differs from the recomputed one
    EQUIPMENT = "equipment"
    RIDE_TIME = "ride_time"
    BREAK = "break"
    TOTALS = "totals"


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    message: str
    vehicle_id: str | None = None
    request_id: str | None = None


def check_plan(problem: Problem, plan: Plan) -> list[Violation]:
    """Every rule the plan breaks; an empty list means the plan is feasible."""
    out: list[Violation] = []
    vehicles = {v.id: v for v in problem.vehicles}
    seen_vehicles: set[str] = set()
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None or route.vehicle_id in seen_vehicles:
            out.append(_v(ViolationKind.STRUCTURE, "unknown or repeated vehicle", route))
            continue
        seen_vehicles.add(vehicle.id)
        out += _check_route(problem, vehicle, route)
    out += _check_coverage(problem, plan)
    out += _check_totals(problem, plan)
    return out


def check_route(problem: Problem, vehicle: Vehicle, route: Route) -> list[Violation]:
    """Every rule one route breaks on its own (coverage and totals are the plan's)."""
    return _check_route(problem, vehicle, route)


def _v(kind: ViolationKind, msg: str, route: Route, rid: str | None = None) -> Violation:
    return Violation(kind, f"vehicle {route.vehicle_id}: {msg}", route.vehicle_id, rid)


def _check_route(problem: Problem, vehicle: Vehicle, route: Route) -> list[Violation]:
    if not route.stops:
        return []
    out = _check_structure(problem, vehicle, route)
    if out:
        return out  # later rules assume known requests and a sane start/end
    out += _check_timing(problem, vehicle, route)
    out += _check_requests(problem, vehicle, route)
    out += _check_load(problem, vehicle, route)
    out += _check_breaks(vehicle, route)
    return out


def _check_structure(problem: Problem, vehicle: Vehicle, route: Route) -> list[Violation]:
    stops = route.stops
    out = []
    if stops[0].kind is not StopKind.START or stops[0].location != vehicle.start:
        out.append(_v(ViolationKind.STRUCTURE, "route must begin at the vehicle start", route))
    if vehicle.end is not None and (
        stops[-1].kind is not StopKind.END or stops[-1].location != vehicle.end
    ):
        out.append(_v(ViolationKind.STRUCTURE, "route must finish at the vehicle end", route))
    for i, stop in enumerate(stops):
        edge = i == 0 or (i == len(stops) - 1 and vehicle.end is not None)
        if (stop.kind in (StopKind.START, StopKind.END)) != edge:
            out.append(
                _v(
                    ViolationKind.STRUCTURE,
                    f"stop {i} is a misplaced {stop.kind}",
                    route,
                )
            )
        if stop.kind in (StopKind.PICKUP, StopKind.DROPOFF):
            if stop.request_id is None or problem.find_request(stop.request_id) is None:
                out.append(_v(ViolationKind.STRUCTURE, f"stop {i}: unknown request", route))
            elif stop.location != _expected_location(problem.request(stop.request_id), stop):
                out.append(
                    _v(
                        ViolationKind.STRUCTURE,
                        f"stop {i}: wrong location",
                        route,
                        stop.request_id,
                    )
                )
    return out


def _expected_location(request: Request, stop: Stop) -> int:
    return request.pickup if stop.kind is StopKind.PICKUP else request.dropoff


def _service(problem: Problem, vehicle: Vehicle, stop: Stop) -> int:
    if stop.kind is StopKind.PICKUP:
        return problem.request(stop.request_id or "").pickup_service
    if stop.kind is StopKind.DROPOFF:
        return problem.request(stop.request_id or "").dropoff_service
    if stop.kind is StopKind.BREAK and vehicle.shift_break is not None:
        return vehicle.shift_break.duration
    return 0


def _check_timing(problem: Problem, vehicle: Vehicle, route: Route) -> list[Violation]:
    out = []
    durations = problem.matrix.durations
    for i, stop in enumerate(route.stops):
        if not stop.arrival <= stop.service_start:
            out.append(_v(ViolationKind.TIMING, f"stop {i} starts before arrival", route))
        if stop.departure != stop.service_start + _service(problem, vehicle, stop):
            out.append(
                _v(
                    ViolationKind.TIMING,
                    f"stop {i} departure != start + service",
                    route,
                )
            )
    previous: Stop | None = None
    pause = 0
    for stop in route.stops:
        if stop.kind is StopKind.BREAK:
            pause += stop.departure - stop.service_start
            continue
        if previous is not None:
            need = previous.departure + durations[previous.location][stop.location] + pause
            if stop.arrival < need:
                out.append(
                    _v(
                        ViolationKind.TIMING,
                        f"arrives at {stop.arrival} < {need}",
                        route,
                        stop.request_id,
                    )
                )
        previous, pause = stop, 0
    first, last = route.stops[0], route.stops[-1]
    if first.departure < vehicle.shift_start or last.departure > vehicle.shift_end:
        out.append(_v(ViolationKind.SHIFT, "route outside the shift window", route))
    return out


def _check_requests(problem: Problem, vehicle: Vehicle, route: Route) -> list[Violation]:
    out = []
    picked: dict[str, Stop] = {}
    for stop in route.stops:
        if stop.kind not in (StopKind.PICKUP, StopKind.DROPOFF) or stop.request_id is None:
            continue
        request = problem.request(stop.request_id)
        rid = request.id
        if not request.equipment <= vehicle.equipment:
            out.append(_v(ViolationKind.EQUIPMENT, f"lacks equipment for {rid}", route, rid))
        if stop.kind is StopKind.PICKUP:
            if rid in vehicle.onboard:
                out.append(_v(ViolationKind.ONBOARD, f"{rid} is already on board", route, rid))
            if not request.pickup_earliest <= stop.service_start <= request.pickup_latest:
                out.append(_v(ViolationKind.PICKUP_WINDOW, f"pick-up of {rid}", route, rid))
            if rid in picked:
                out.append(_v(ViolationKind.DUPLICATE, f"{rid} picked up twice", route, rid))
            picked[rid] = stop
            continue
        out += _check_dropoff(vehicle, route, request, stop, picked.get(rid))
    for rid in picked.keys() - set(route.request_ids):
        out.append(_v(ViolationKind.PAIRING, f"{rid} picked up but not dropped", route, rid))
    return out


def _check_dropoff(
    vehicle: Vehicle, route: Route, request: Request, stop: Stop, pickup: Stop | None
) -> list[Violation]:
    rid = request.id
    out = []
    if pickup is None and rid not in vehicle.onboard:
        out.append(_v(ViolationKind.PAIRING, f"{rid} dropped before pick-up", route, rid))
    earliest, latest = request.dropoff_window
    if stop.service_start < earliest or (latest is not None and stop.service_start > latest):
        out.append(_v(ViolationKind.DROPOFF_WINDOW, f"drop-off of {rid}", route, rid))
    if pickup is not None and request.max_ride is not None:
        ride = stop.service_start - pickup.departure
        if ride > request.max_ride:
            msg = f"{rid} rides {ride}s > {request.max_ride}s"
            out.append(_v(ViolationKind.RIDE_TIME, msg, route, rid))
    return out


def _check_load(problem: Problem, vehicle: Vehicle, route: Route) -> list[Violation]:
    out = []
    seats = sum(problem.request(rid).seats for rid in vehicle.onboard)
    chairs = sum(problem.request(rid).wheelchairs for rid in vehicle.onboard)
    for i, stop in enumerate(route.stops):
        if stop.kind in (StopKind.PICKUP, StopKind.DROPOFF) and stop.request_id:
            request = problem.request(stop.request_id)
            sign = 1 if stop.kind is StopKind.PICKUP else -1
            seats += sign * request.seats
            chairs += sign * request.wheelchairs
        if seats > vehicle.seats or chairs > vehicle.wheelchairs:
            out.append(
                _v(
                    ViolationKind.CAPACITY,
                    f"over capacity after stop {i}",
                    route,
                    stop.request_id,
                )
            )
        if (seats, chairs) != (stop.seats_load, stop.wheelchair_load):
            out.append(_v(ViolationKind.LOAD, f"stop {i} reports a wrong load", route))
    return out


def _check_breaks(vehicle: Vehicle, route: Route) -> list[Violation]:
    breaks = [i for i, s in enumerate(route.stops) if s.kind is StopKind.BREAK]
    rule = vehicle.shift_break
    has_work = any(s.request_id for s in route.stops)
    if rule is None:
        return [_v(ViolationKind.BREAK, "break without a break rule", route)] if breaks else []
    if (has_work and len(breaks) != 1) or len(breaks) > 1:
        return [_v(ViolationKind.BREAK, "the break must be taken exactly once", route)]
    out = []
    for i in breaks:
        stop, before = route.stops[i], route.stops[i - 1]
        if not rule.earliest <= stop.service_start <= rule.latest:
            out.append(_v(ViolationKind.BREAK, "break outside its window", route))
        if stop.service_start < before.departure:
            out.append(
                _v(
                    ViolationKind.BREAK,
                    "break starts before the previous stop ends",
                    route,
                )
            )
        if before.seats_load or before.wheelchair_load:
            out.append(_v(ViolationKind.BREAK, "break with a patient on board", route))
    return out


def _check_coverage(problem: Problem, plan: Plan) -> list[Violation]:
    out = []
    served: dict[str, str] = {}
    locked = problem.onboard_vehicle()
    for route in plan.routes:
        for rid in route.request_ids:
            if rid in served:
                out.append(_v(ViolationKind.DUPLICATE, f"{rid} served twice", route, rid))
            served[rid] = route.vehicle_id
            if rid in locked and locked[rid].id != route.vehicle_id:
                out.append(
                    _v(
                        ViolationKind.ONBOARD,
                        f"{rid} is on another vehicle",
                        route,
                        rid,
                    )
                )
    unassigned = [u.request_id for u in plan.unassigned]
    for rid in unassigned:
        if rid in served or unassigned.count(rid) > 1:
            out.append(Violation(ViolationKind.DUPLICATE, f"{rid} also unassigned", None, rid))
    for request in problem.requests:
        if request.id not in served and request.id not in unassigned:
            out.append(
                Violation(ViolationKind.MISSING, f"{request.id} is missing", None, request.id)
            )
    return out


def _check_totals(problem: Problem, plan: Plan) -> list[Violation]:
    drive, distance = route_totals(problem, plan.routes)
    if (drive, distance) == (plan.drive_seconds, plan.distance_metres):
        return []
    msg = f"totals {plan.drive_seconds}s/{plan.distance_metres}m, routes give {drive}s/{distance}m"
    return [Violation(ViolationKind.TOTALS, msg)]


def route_totals(problem: Problem, routes: tuple[Route, ...]) -> tuple[int, int]:
    """Drive seconds and metres summed over consecutive non-break stops of all routes."""
    drive = distance = 0
    for route in routes:
        path = [s.location for s in route.stops if s.kind is not StopKind.BREAK]
        for a, b in pairwise(path):
            drive += problem.matrix.durations[a][b]
            distance += problem.matrix.distances[a][b]
    return drive, distance
