"""A live day: each vehicle's fixed stops and current work, settled so its current
routes keep every rule (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from dispatch.engine.plan import Route, StopKind
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver.common import (
    Visit,
    schedule,
)

# A trip whose window closed before anyone can get there is still to be served: this long
# past the earliest ready vehicle (its lateness is reported against the promised window).
LATE_GRACE_S = 3600
# Equipment tag pinning a free request to the vehicle that has it now (first solve).
PIN = "live-pin:"


@dataclass(frozen=True)
class LiveVehicle:
    """A vehicle's fixed stops (in order, kept) and its current free work (in order)."""

    id: str
    prefix: tuple[Visit, ...] = ()
    planned: tuple[Visit, ...] = ()


@dataclass(frozen=True)
class LiveDay:
    """A settled live day (see `settle`): its current routes keep every rule of `problem`."""

    problem: Problem
    vehicles: tuple[LiveVehicle, ...]
    promised: Mapping[str, int]  # request id -> end of the pick-up window as promised
    before: Mapping[str, int]  # request id -> pick-up time in the current routes
    _live: dict[str, LiveVehicle] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_live", {v.id: v for v in self.vehicles})

    def live(self, vehicle_id: str) -> LiveVehicle:
        return self._live[vehicle_id]

    def vehicle(self, vehicle_id: str) -> Vehicle:
        return next(v for v in self.problem.vehicles if v.id == vehicle_id)

    def current(self) -> dict[str, str]:
        """Free request id -> the vehicle whose current route has it."""
        return {
            visit.request_id: v.id
            for v in self.vehicles
            for visit in v.planned
            if visit.request_id is not None
        }

    def fixed(self) -> dict[str, str]:
        """Request id -> the vehicle whose prefix holds it."""
        return {
            visit.request_id: v.id
            for v in self.vehicles
            for visit in v.prefix
            if visit.request_id is not None
        }


# --- settling ---------------------------------------------------------------------------------
def settle(
    problem: Problem, vehicles: Sequence[LiveVehicle], *, late_grace_s: int = LATE_GRACE_S
) -> LiveDay:
    """The live day whose rules the current routes keep (see the module docstring).

    Raises ValueError when a prefix is not closed (a patient on board or fetched whose
    drop-off is not in it), names an unknown request, or a request is in two routes.
    """
    live = {v.id: v for v in vehicles}
    live.update({v.id: LiveVehicle(v.id) for v in problem.vehicles if v.id not in live})
    _check_live(problem, live)
    requests = {r.id: r for r in problem.requests}
    promised = {r.id: r.pickup_latest for r in problem.requests}
    before: dict[str, int] = {}
    out_vehicles: list[Vehicle] = []
    for vehicle in problem.vehicles:
        lv = live[vehicle.id]
        route = schedule(problem, replace(vehicle, shift_break=None), [*lv.prefix, *lv.planned])
        picked: dict[str, int] = {}
        for stop in route.stops:
            rid = stop.request_id
            if rid is None:
                continue
            if stop.kind is StopKind.PICKUP:
                before[rid], picked[rid] = stop.service_start, stop.departure
            else:
                at = stop.service_start
                requests[rid] = _widen(requests[rid], before.get(rid), picked.get(rid), at)
        out_vehicles.append(_settle_vehicle(problem, vehicle, route, len(lv.prefix)))
    ready = min((v.shift_start for v in out_vehicles), default=0)
    for rid, r in requests.items():
        if rid not in before and r.pickup_latest < ready:
            requests[rid] = _postpone(problem, r, ready + late_grace_s)
    settled = Problem(
        tuple(requests[r.id] for r in problem.requests), tuple(out_vehicles), problem.matrix
    )
    return LiveDay(settled, tuple(live[v.id] for v in problem.vehicles), promised, before)


def _check_live(problem: Problem, live: Mapping[str, LiveVehicle]) -> None:
    seen: set[str] = set()
    by_id = {v.id: v for v in problem.vehicles}
    for lv in live.values():
        if lv.id not in by_id:
            raise ValueError(f"live vehicle {lv.id} is not in the problem")
        ids = [v.request_id for v in (*lv.prefix, *lv.planned)]
        if None in ids or any(problem.find_request(r or "") is None for r in ids):
            raise ValueError(f"vehicle {lv.id}: unknown request in its route")
        if seen & set(ids):
            raise ValueError(f"vehicle {lv.id}: a request is in two routes")
        seen |= {r for r in ids if r}
        dropped = {v.request_id for v in lv.prefix if v.kind is StopKind.DROPOFF}
        carried = set(by_id[lv.id].onboard) | {
            v.request_id for v in lv.prefix if v.kind is StopKind.PICKUP
        }
        if carried != dropped:
            raise ValueError(f"vehicle {lv.id}: the prefix must drop exactly who it carries")


def _widen(r: Request, pick: int | None, pick_departure: int | None, at: int) -> Request:
    """`r` with windows and ride limit widened to the times of its current route (`at`: the
    drop-off's service start)."""
    pickup_latest = max(r.pickup_latest, pick if pick is not None else r.pickup_latest)
    dropoff_latest = r.dropoff_latest
    if dropoff_latest is not None:
        dropoff_latest = max(dropoff_latest, at)
    max_ride = r.max_ride
    if pick_departure is not None and max_ride is not None:
        max_ride = max(max_ride, at - pick_departure)
    return replace(r, pickup_latest=pickup_latest, dropoff_latest=dropoff_latest, max_ride=max_ride)


def _postpone(problem: Problem, r: Request, latest: int) -> Request:
    """A trip already late: picked up by `latest`, its drop-off bound moved along."""
    drop = r.dropoff_latest
    if drop is not None:
        direct = problem.matrix.durations[r.pickup][r.dropoff]
        ride = r.max_ride if r.max_ride is not None else direct
        drop = max(drop, latest + r.pickup_service + max(ride, direct))
    earliest = min(r.pickup_earliest, latest)
    return replace(r, pickup_earliest=earliest, pickup_latest=latest, dropoff_latest=drop)


def _settle_vehicle(problem: Problem, vehicle: Vehicle, route: Route, fixed: int) -> Vehicle:
    """The vehicle with its shift stretched to cover its prefix (and a break right after it)
    and its break clipped to after the prefix; a break that no longer fits the shift goes."""
    end, t = prefix_end(problem, vehicle, route, fixed)
    rule = _clip(vehicle.shift_break, t)
    shift_end = vehicle.shift_end
    if fixed:
        pause = rule.duration if rule is not None else 0
        leave = max(t, rule.earliest if rule is not None else t) + pause
        back = leave + (
            problem.matrix.durations[end][vehicle.end] if vehicle.end is not None else 0
        )
        shift_end = max(shift_end, back)
    if rule is not None and rule.earliest + rule.duration > shift_end:
        rule = None
    return replace(vehicle, shift_end=shift_end, shift_break=rule)


def prefix_end(problem: Problem, vehicle: Vehicle, route: Route, fixed: int) -> tuple[int, int]:
    """(location, time) where and when the first `fixed` stops of `route` are done."""
    if not fixed:
        return vehicle.start, vehicle.shift_start
    stop = route.stops[fixed]
    return stop.location, stop.departure


def _clip(rule: Break | None, after: int) -> Break | None:
    if rule is None:
        return None
    earliest = max(rule.earliest, after)
    return replace(rule, earliest=earliest) if earliest <= rule.latest else None
