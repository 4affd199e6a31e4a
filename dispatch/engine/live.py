"""The day after it started: re-planning from now, and fitting one more trip in.

A live day is a `Problem` seen from a moment. Each vehicle starts where it is and when it is
ready (`Vehicle.start`, `Vehicle.shift_start`, set by the caller: now plus a lead time), with
the patients it carries (`Vehicle.onboard`). Its `LiveVehicle.prefix` lists the stops it
must make first, in their order: the pick-ups it is driving to and the drop-offs of every
patient it carries or fetches; those requests stay with it. `LiveVehicle.planned` lists the
rest of its current work in order (free to move). Stops in the past are not in the problem.

`settle` turns that into a `LiveDay` whose rules the current routes keep: a window the
current route already misses is widened to the time it will be served (its promised end is
kept in `LiveDay.promised`, lateness is measured against it), a trip nobody can reach in time
any more gets `late_grace_s` past the earliest ready vehicle, and a prefix may run past the
shift. A break whose window has passed is dropped; one that overlaps the prefix starts after it.

`replan` solves the free part from where each prefix ends (a problem of its own whose
vehicles start there), with every trip pinned to the driver it has now (the strongest
preference: pinned, a trip only leaves its driver when it cannot stay). Then trips left out
get the cheapest place anywhere (moved because they must), and each kept trip moves to
another driver only when that saves at least `Thresholds` (lateness or driving). Prefixes
and solved tails are joined into routes of the live day, which `check_plan` judges.

`insertions` proposes where one more trip fits into the current routes (after the
prefixes), ride limits, breaks and every window included; each proposal's whole route
passes the checker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from dispatch.engine.checker import check_route
from dispatch.engine.plan import Plan, Route, StageTiming, StopKind, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Break, Problem, Request, Vehicle
from dispatch.engine.solver.common import (
    Visit,
    candidate_vehicles,
    make_plan,
    schedule,
    triage,
    visits_of,
)
from dispatch.engine.solver.ride_insertion import _Frame, _slots, earliest_times

# A trip whose window closed before anyone can get there is still to be served: this long
# past the earliest ready vehicle (its lateness is reported against the promised window).
LATE_GRACE_S = 3600
# Equipment tag pinning a free request to the vehicle that has it now (first solve).
PIN = "live-pin:"
# Share of the time limit the pinned solve may use; the moves get the rest.
SOLVE_SHARE = 0.7


@dataclass(frozen=True)
class LiveVehicle:
    """A vehicle's fixed stops (in order, kept) and its current free work (in order)."""

    id: str
    prefix: tuple[Visit, ...] = ()
    planned: tuple[Visit, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """A trip leaves its driver only to save this much lateness or driving (seconds)."""

    lateness_s: int = 600
    drive_s: int = 900


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


@dataclass(frozen=True)
class Move:
    request_id: str
    from_vehicle: str
    to_vehicle: str


@dataclass(frozen=True)
class Replan:
    """The live day's new plan, the trips it moved and those it could no longer place."""

    plan: Plan
    moves: tuple[Move, ...]
    dropped: tuple[str, ...]  # had a vehicle, left out now


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
    end, t = _prefix_end(problem, vehicle, route, fixed)
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


def _prefix_end(problem: Problem, vehicle: Vehicle, route: Route, fixed: int) -> tuple[int, int]:
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


# --- routes of one vehicle ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Tail:
    """A vehicle's free part: it starts where and when its prefix ends."""

    vehicle: Vehicle  # start, shift_start moved to the prefix's end; nobody on board
    anchored: bool  # it has a prefix: its route exists even without free work


def _tail(day: LiveDay, vehicle: Vehicle) -> _Tail:
    lv = day.live(vehicle.id)
    route = schedule(day.problem, replace(vehicle, shift_break=None), lv.prefix)
    where, t = _prefix_end(day.problem, vehicle, route, len(lv.prefix))
    tail = replace(
        vehicle,
        start=where,
        shift_start=t,
        shift_end=max(vehicle.shift_end, t),
        onboard=(),
        equipment=vehicle.equipment | {PIN + vehicle.id},
    )
    return _Tail(tail, bool(lv.prefix))


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


def _drive(problem: Problem, tail: _Tail, visits: Sequence[Visit]) -> int:
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


def _lateness(route: Route | None, promised: Mapping[str, int], skip: str = "") -> int:
    if route is None:
        return 0
    return sum(
        max(0, s.service_start - promised[s.request_id])
        for s in route.stops
        if s.kind is StopKind.PICKUP and s.request_id and s.request_id != skip
    )


def _pickups(route: Route | None) -> dict[str, int]:
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


# --- re-planning --------------------------------------------------------------------------------
def replan(
    day: LiveDay,
    *,
    time_limit_s: float,
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> Replan:
    """The live day planned again from its vehicles' positions (see the module docstring)."""
    from dispatch.engine.solver import solve  # VROOM and OR-Tools: loaded when planning

    started = time.monotonic()
    deadline = started + time_limit_s
    limits = thresholds or Thresholds()
    tails = {v.id: _tail(day, v) for v in day.problem.vehicles}
    fixed = day.fixed()
    current = day.current()
    free = [r for r in day.problem.requests if r.id not in fixed]
    tail_vehicles = tuple(t.vehicle for t in tails.values())
    pinned = Problem(
        tuple(_pinned(r, current.get(r.id)) for r in free), tail_vehicles, day.problem.matrix
    )
    loose = Problem(tuple(free), tail_vehicles, day.problem.matrix)
    first = solve(pinned, time_limit_s=time_limit_s * SOLVE_SHARE, seed=seed) if free else None
    state = _State(loose, tails, day.promised, first)
    cannot = triage(loose)
    state.place_left_out([r for r in free if r.id not in state.served and r.id not in cannot])
    state.improve(current, limits, deadline)
    routes = [
        r
        for v in day.problem.vehicles
        for r in [stitch(day, v, state.routes.get(v.id))]
        if r is not None
    ]
    left = [
        Unassigned(r.id, cannot.get(r.id, Reason.NO_ROOM)) for r in free if r.id not in state.served
    ]
    stages = (*(first.stages if first else ()), StageTiming("live", time.monotonic() - started))
    plan = make_plan(day.problem, routes, left, stages)
    served = {rid: r.vehicle_id for r in plan.routes for rid in r.request_ids}
    moves = tuple(
        Move(rid, was, served[rid])
        for rid, was in current.items()
        if rid in served and served[rid] != was
    )
    dropped = tuple(rid for rid in current if rid not in served)
    return Replan(plan, moves, dropped)


def _pinned(r: Request, vehicle_id: str | None) -> Request:
    if vehicle_id is None:
        return r
    return replace(r, equipment=r.equipment | {PIN + vehicle_id})


class _State:
    """The free part's routes while trips are placed and moved (tail vehicles)."""

    def __init__(
        self,
        problem: Problem,
        tails: dict[str, _Tail],
        promised: Mapping[str, int],
        plan: Plan | None,
    ) -> None:
        self.problem, self.tails, self.promised = problem, tails, promised
        self.routes: dict[str, Route] = {r.vehicle_id: r for r in plan.routes} if plan else {}
        self.visits: dict[str, list[Visit]] = {
            vid: [v for v in visits_of(r) if v.kind is not StopKind.BREAK]
            for vid, r in self.routes.items()
        }
        self.served = {rid: r.vehicle_id for r in self.routes.values() for rid in r.request_ids}

    def _set(self, vehicle_id: str, visits: list[Visit], route: Route | None) -> None:
        self.visits[vehicle_id] = visits
        if route is None:
            self.routes.pop(vehicle_id, None)
        else:
            self.routes[vehicle_id] = route
        self.served = {rid: r.vehicle_id for r in self.routes.values() for rid in r.request_ids}

    def place_left_out(self, requests: Sequence[Request]) -> None:
        """Each left-out trip (urgent first) at its cheapest place anywhere."""
        for r in sorted(requests, key=lambda r: -r.priority):
            best: tuple[int, str, list[Visit], Route] | None = None
            for vehicle in candidate_vehicles(self.problem, r):
                found = best_insertion(
                    self.problem, vehicle, self.visits.get(vehicle.id, []), r, self.tails
                )
                if found is not None and (best is None or found[0] < best[0]):
                    best = (found[0], vehicle.id, found[1], found[2])
            if best is not None:
                self._set(best[1], best[2], best[3])

    def improve(self, current: Mapping[str, str], limits: Thresholds, deadline: float) -> None:
        """Move kept trips to another vehicle where that saves the thresholds (greedy)."""
        for rid, vid in list(self.served.items()):
            if time.monotonic() > deadline:
                return
            if current.get(rid) != vid or self.served.get(rid) != vid:
                continue
            self._try_move(self.problem.request(rid), vid, limits, deadline)

    def _try_move(self, r: Request, vid: str, limits: Thresholds, deadline: float) -> None:
        tail = self.tails[vid]
        now_route = self.routes.get(vid)
        without = [v for v in self.visits[vid] if v.request_id != r.id]
        gone = fit_route(self.problem, tail.vehicle, without) if without else None
        if without and gone is None:
            return  # without it the route breaks a rule (road times): it stays
        drive_gain = _drive(self.problem, tail, self.visits[vid]) - _drive(
            self.problem, tail, without
        )
        late_gain = _lateness(now_route, self.promised) - _lateness(gone, self.promised)
        if late_gain < limits.lateness_s and drive_gain < limits.drive_s:
            return  # nothing another vehicle could do saves the threshold
        # Saving driving only: an insertion adding more than this cannot save the threshold.
        cap = None if late_gain >= limits.lateness_s else drive_gain - limits.drive_s
        best: tuple[tuple[int, int], str, list[Visit], Route] | None = None
        for vehicle in candidate_vehicles(self.problem, r):
            if vehicle.id == vid:
                continue
            if time.monotonic() > deadline:
                break
            other = self.visits.get(vehicle.id, [])
            found = best_insertion(self.problem, vehicle, other, r, self.tails, max_extra=cap)
            if found is None:
                continue
            t_other = self.tails[vehicle.id]
            drive = drive_gain - (
                _drive(self.problem, t_other, found[1]) - _drive(self.problem, t_other, other)
            )
            late = late_gain - (
                _lateness(found[2], self.promised)
                - _lateness(self.routes.get(vehicle.id), self.promised)
            )
            saves = late >= limits.lateness_s or (drive >= limits.drive_s and late >= 0)
            if saves and (best is None or (late, drive) > best[0]):
                best = ((late, drive), vehicle.id, found[1], found[2])
        if best is not None:
            self._set(vid, without, gone)
            self._set(best[1], best[2], best[3])


# --- insertion ----------------------------------------------------------------------------------
def best_insertion(
    problem: Problem,
    vehicle: Vehicle,
    visits: Sequence[Visit],
    request: Request,
    tails: Mapping[str, _Tail] | None = None,
    pickup_at: int | None = None,
    max_extra: int | None = None,
) -> tuple[int, list[Visit], Route] | None:
    """The cheapest feasible insertion of `request` into `visits` (no breaks) on `vehicle`:
    (added driving seconds, new visits, its route). `pickup_at` keeps only positions with
    the pick-up at that index of `visits`; `max_extra` gives up past that added driving."""
    tail = (tails or {}).get(vehicle.id, _Tail(vehicle, False))
    plain = replace(vehicle, shift_break=None)
    path = [vehicle.start, *(_where(problem, v) for v in visits)]
    if vehicle.end is not None:
        path.append(vehicle.end)
    frame = _Frame(problem, plain, visits, path)
    pick, drop = Visit(StopKind.PICKUP, request.id), Visit(StopKind.DROPOFF, request.id)
    base = _drive(problem, tail, visits)
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
            return _drive(problem, tail, candidate) - base, candidate, route
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
    tail = _tail(day, vehicle)
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
    before = _pickups(old) or {rid: t for rid, t in day.before.items() if rid in mine}
    after = _pickups(route)
    return Insertion(
        vehicle_id=vehicle.id,
        pickup_position=fixed + i,
        dropoff_position=fixed + j,
        extra_drive_seconds=extra,
        lateness_caused_seconds=max(
            0, _lateness(route, day.promised, request.id) - _lateness(old, day.promised)
        ),
        delay_caused_seconds=sum(max(0, after.get(rid, t) - t) for rid, t in before.items()),
        pickup_at=times[(StopKind.PICKUP, request.id)],
        dropoff_at=times[(StopKind.DROPOFF, request.id)],
        route=whole,
    )
