"""Read a problem in VROOM's JSON input format and write a Plan in VROOM's output format.

Supported input subset: `vehicles` (id, start_index, end_index, capacity, skills,
time_window, at most one break), `shipments` (pickup/delivery with id, location_index,
service, at most one time window; amount, skills, priority) and
`matrices: {"<profile>": {"durations": ..., "distances": ...}}` with one profile.
Our one extension: `max_ride_time` (seconds) on a shipment.

Amounts have one or two dimensions: [seats] or [seats, wheelchair places]. Skills become
equipment named `skill:<n>`. Output `cost` is driving seconds (VROOM's default cost);
unassigned entries carry our extension `reason`.
"""

from __future__ import annotations

from typing import Any, cast

from dispatch.engine.geo import TravelMatrix
from dispatch.engine.plan import Plan, Route, StopKind
from dispatch.engine.problem import Break, Problem, Request, Vehicle

# Open time windows end here (about three years of seconds): far beyond any shift.
HORIZON = 10**8


class FormatError(ValueError):
    """The input is not a problem we can read; the message says where and why."""


def problem_from_vroom(data: Any) -> tuple[Problem, dict[str, int]]:
    """Problem plus, per request id, the VROOM delivery id (the pickup id is the request id)."""
    _expect(isinstance(data, dict), "the top level must be a JSON object")
    if data.get("jobs"):
        raise FormatError("single `jobs` are not supported: give trips as `shipments`")
    matrix = _matrix(data.get("matrices"))
    vehicles = [_vehicle(v, i) for i, v in enumerate(_list(data, "vehicles"))]
    shipments = _list(data, "shipments")
    requests = [_request(s, i) for i, s in enumerate(shipments)]
    deliveries = {r.id: int(s["delivery"]["id"]) for r, s in zip(requests, shipments, strict=True)}
    try:
        return Problem(tuple(requests), tuple(vehicles), matrix), deliveries
    except ValueError as error:
        raise FormatError(str(error)) from error


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise FormatError(message)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    _expect(isinstance(value, list), f"`{key}` must be a list")
    return cast(list[Any], value)


def _matrix(matrices: Any) -> TravelMatrix:
    _expect(isinstance(matrices, dict) and len(matrices) == 1, "need `matrices` with one profile")
    profile = next(iter(matrices.values()))
    _expect(isinstance(profile, dict) and "durations" in profile, "matrix needs `durations`")
    durations = _square(profile["durations"], "durations")
    distances = _square(profile.get("distances", durations), "distances")
    _expect(len(distances) == len(durations), "durations and distances differ in size")
    return TravelMatrix(durations, distances)


def _square(rows: Any, name: str) -> list[list[int]]:
    ok = isinstance(rows, list) and all(isinstance(r, list) and len(r) == len(rows) for r in rows)
    _expect(ok, f"`{name}` must be a square list of lists")
    _expect(
        all(_is_int(c) and c >= 0 for r in rows for c in r), f"`{name}`: cells must be ints >= 0"
    )
    return [list(r) for r in rows]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(obj: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    _expect(_is_int(value), f"{where}: `{key}` must be an integer")
    return value  # type: ignore[return-value]


def _window(windows: Any, where: str) -> tuple[int, int]:
    if windows is None or windows == []:
        return 0, HORIZON
    _expect(isinstance(windows, list), f"{where}: time windows must be a list")
    if windows and isinstance(windows[0], list):
        _expect(len(windows) == 1, f"{where}: only one time window is supported")
        windows = windows[0]
    ok = len(windows) == 2 and all(_is_int(x) for x in windows) and windows[0] <= windows[1]
    _expect(ok, f"{where}: a time window is [start, end] with start <= end")
    return windows[0], windows[1]


def _amount(values: Any, where: str) -> tuple[int, int]:
    values = [] if values is None else values
    ok = isinstance(values, list) and len(values) <= 2 and all(_is_int(x) for x in values)
    _expect(ok, f"{where}: amounts are [seats] or [seats, wheelchair places]")
    padded = [*values, 0, 0]
    return padded[0], padded[1]


def _skills(obj: dict[str, Any], where: str) -> frozenset[str]:
    skills = obj.get("skills", [])
    _expect(isinstance(skills, list) and all(_is_int(s) for s in skills), f"{where}: bad skills")
    return frozenset(f"skill:{s}" for s in skills)


def _vehicle(v: Any, index: int) -> Vehicle:
    where = f"vehicles[{index}]"
    _expect(isinstance(v, dict), f"{where} must be an object")
    _expect("start_index" in v, f"{where}: `start_index` is required")
    seats, chairs = _amount(v.get("capacity"), where)
    start, end = _window(v.get("time_window"), where)
    breaks = v.get("breaks", [])
    _expect(isinstance(breaks, list) and len(breaks) <= 1, f"{where}: at most one break")
    shift_break = None
    if breaks:
        earliest, latest = _window(breaks[0].get("time_windows"), f"{where}.breaks[0]")
        shift_break = Break(earliest, latest, _int(breaks[0], "service", where, 0))
    end_index = v.get("end_index")
    _expect(end_index is None or _is_int(end_index), f"{where}: `end_index` must be an integer")
    return Vehicle(
        str(_int(v, "id", where)), _int(v, "start_index", where), start, end, seats,
        end=end_index, wheelchairs=chairs, equipment=_skills(v, where), shift_break=shift_break,
    )  # fmt: skip


def _request(s: Any, index: int) -> Request:
    where = f"shipments[{index}]"
    _expect(isinstance(s, dict), f"{where} must be an object")
    pickup, delivery = s.get("pickup"), s.get("delivery")
    ok = isinstance(pickup, dict) and isinstance(delivery, dict)
    _expect(ok, f"{where}: needs `pickup` and `delivery` objects")
    pick_from, pick_to = _window(pickup.get("time_windows"), f"{where}.pickup")
    drop_from, drop_to = _window(delivery.get("time_windows"), f"{where}.delivery")
    seats, chairs = _amount(s.get("amount"), where)
    max_ride = s.get("max_ride_time")
    _expect(max_ride is None or _is_int(max_ride), f"{where}: `max_ride_time` must be an integer")
    _int(delivery, "id", f"{where}.delivery")
    return Request(
        str(_int(pickup, "id", f"{where}.pickup")),
        _int(pickup, "location_index", f"{where}.pickup"),
        _int(delivery, "location_index", f"{where}.delivery"),
        pick_from, pick_to,
        dropoff_earliest=drop_from or None,
        dropoff_latest=None if drop_to == HORIZON else drop_to,
        pickup_service=_int(pickup, "service", where, 0),
        dropoff_service=_int(delivery, "service", where, 0),
        seats=seats, wheelchairs=chairs, equipment=_skills(s, where), max_ride=max_ride,
        priority=_int(s, "priority", where, 0),
    )  # fmt: skip


def plan_to_vroom(problem: Problem, plan: Plan, deliveries: dict[str, int]) -> dict[str, Any]:
    """VROOM's documented solution object for `plan` (code 0: solved)."""
    dims = 2 if any(r.wheelchairs for r in problem.requests) else 1
    routes = [_route(problem, r, deliveries, dims) for r in plan.routes]
    unassigned = []
    for u in plan.unassigned:
        request = problem.request(u.request_id)
        for kind, vid, where in (
            ("pickup", int(request.id), request.pickup),
            ("delivery", deliveries[request.id], request.dropoff),
        ):
            unassigned.append(
                {"id": vid, "type": kind, "location_index": where, "reason": u.reason.value}
            )
    keys = ("cost", "service", "duration", "waiting_time", "distance")
    summary = {k: sum(r[k] for r in routes) for k in keys}
    summary |= {"routes": len(routes), "unassigned": len(plan.unassigned)}
    summary["computing_times"] = {s.name: round(s.seconds * 1000) for s in plan.stages}
    return {"code": 0, "summary": summary, "unassigned": unassigned, "routes": routes}


def _route(problem: Problem, route: Route, deliveries: dict[str, int], dims: int) -> dict[str, Any]:
    d, m = problem.matrix.durations, problem.matrix.distances
    steps, duration, distance, previous = [], 0, 0, None
    for stop in route.stops:
        if stop.kind is not StopKind.BREAK and previous is not None:
            duration += d[previous][stop.location]
            distance += m[previous][stop.location]
        if stop.kind is not StopKind.BREAK:
            previous = stop.location
        step: dict[str, Any] = {"type": _STEP_TYPE[stop.kind]}
        if stop.kind in (StopKind.PICKUP, StopKind.DROPOFF) and stop.request_id:
            rid = stop.request_id
            step["id"] = int(rid) if stop.kind is StopKind.PICKUP else deliveries[rid]
        if stop.kind is StopKind.BREAK:
            step["id"] = int(route.vehicle_id)
        else:
            step["location_index"] = stop.location
        step |= {
            "arrival": stop.arrival,
            "duration": duration,
            "service": stop.departure - stop.service_start,
            "waiting_time": stop.service_start - stop.arrival,
            "load": [stop.seats_load, stop.wheelchair_load][:dims],
            "distance": distance,
        }
        steps.append(step)
    service = sum(s["service"] for s in steps)
    waiting = sum(s["waiting_time"] for s in steps)
    return {
        "vehicle": int(route.vehicle_id), "cost": duration, "service": service,
        "duration": duration, "waiting_time": waiting, "distance": distance, "steps": steps,
    }  # fmt: skip


_STEP_TYPE = {
    StopKind.START: "start",
    StopKind.PICKUP: "pickup",
    StopKind.DROPOFF: "delivery",
    StopKind.BREAK: "break",
    StopKind.END: "end",
}
