"""Exact insertion of left-out requests honouring maximum ride times, with ejections.

OR-Tools sometimes ends with a request unperformed although a plan serving everyone exists
(Cordeau a3-36): its moves insert one node pair at a time into a tight schedule. Here every
(pick-up, drop-off) position pair of every route is tried, cheapest extra driving first,
and judged exactly by `earliest_times`. When no position fits, one request is taken out of
a route to make room and re-inserted elsewhere (the cheapest such pair of moves wins); when
that fails too, ruin and recreate takes out a few requests on board at about the same time
and re-inserts them with the left-out ones, until the deadline.

A route's feasibility is a set of difference constraints on the service starts: windows,
travel plus service between consecutive stops, and `drop-off - pick-up <= service + max
ride`. Its least solution (the earliest schedule, with pick-ups delayed just enough to keep
rides short) exists iff the route is feasible; `earliest_times` finds it by raising lower
bounds until nothing moves (Bellman-Ford: a route of n stops settles within n rounds).

Vehicles with a break are left alone, as in the OR-Tools stage.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from dispatch.engine.plan import Plan, Route, StageTiming, StopKind, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import (
    Visit,
    candidate_vehicles,
    make_plan,
    onboard_load,
    schedule,
    visits_of,
)

# Share of the solver's time left that a caller should give `insert_unassigned`.
INSERT_SHARE = 0.1
# Ruin and recreate: at most this many requests taken out per round, and how strongly
# the pick favours the requests closest in time to the left-out one (Shaw's removal).
MAX_REMOVED = 8
SHAW_SKEW = 3


@dataclass(frozen=True)
class _Move:
    """Visits of some routes replaced; `extra` is the added driving in seconds."""

    extra: int
    routes: dict[str, list[Visit]]


def earliest_times(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit]) -> list[int] | None:
    """Earliest service start of each visit on `vehicle`, or None when no schedule fits.

    Checks windows, the shift (vehicle leaves at `shift_start`, arrives or, with an open
    end, leaves the last stop by `shift_end`), seats and wheelchair places, and ride limits.
    Visits are pick-ups and drop-offs only (no break).
    """
    if not _fits_load(problem, vehicle, visits):
        return None
    d = problem.matrix.durations
    where, service, floor, latest, rides = _layout(problem, visits)
    times = [0] * len(visits)
    for _ in range(len(visits) + 1):
        t, here = vehicle.shift_start, vehicle.start
        for k, spot in enumerate(where):
            begin = max(floor[k], t + d[here][spot])
            if begin > latest[k]:
                return None
            times[k], t, here = begin, begin + service[k], spot
        moved = False
        for pick, drop, limit in rides:
            if times[drop] - times[pick] > limit:
                floor[pick], moved = times[drop] - limit, True
        if not moved:
            back = t + (d[here][vehicle.end] if vehicle.end is not None else 0)
            return times if back <= vehicle.shift_end else None
    return None  # still moving after n rounds: the ride limits contradict each other


def _layout(
    problem: Problem, visits: Sequence[Visit]
) -> tuple[list[int], list[int], list[int], list[int], list[tuple[int, int, int]]]:
    """Location, service, earliest and latest start of each visit; ride-limited pairs."""
    where, service, floor, latest = [], [], [], []
    rides: list[tuple[int, int, int]] = []
    picked: dict[str, int] = {}
    for k, visit in enumerate(visits):
        r = problem.request(visit.request_id or "")
        if visit.kind is StopKind.PICKUP:
            picked[r.id] = k
            where.append(r.pickup)
            service.append(r.pickup_service)
            floor.append(r.pickup_earliest)
            latest.append(r.pickup_latest)
            continue
        early, late = r.dropoff_window
        where.append(r.dropoff)
        service.append(r.dropoff_service)
        floor.append(early)
        latest.append(late if late is not None else 10**12)
        if r.max_ride is not None and r.id in picked:
            rides.append((picked[r.id], k, r.pickup_service + r.max_ride))
    return where, service, floor, latest, rides


def _fits_load(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit]) -> bool:
    seats, chairs = onboard_load(problem, vehicle)
    for visit in visits:
        r = problem.request(visit.request_id or "")
        sign = 1 if visit.kind is StopKind.PICKUP else -1
        seats, chairs = seats + sign * r.seats, chairs + sign * r.wheelchairs
        if seats > vehicle.seats or chairs > vehicle.wheelchairs:
            return False
    return True


def timed_route(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit]) -> Route | None:
    """The route of `visits` on their earliest feasible schedule, or None if none exists."""
    times = earliest_times(problem, vehicle, visits)
    return None if times is None else schedule(problem, vehicle, visits, times)


def cheapest_insertion(
    problem: Problem,
    vehicle: Vehicle,
    visits: Sequence[Visit],
    request: Request,
    fixed_cost: int = 0,
) -> tuple[int, list[Visit]] | None:
    """The feasible insertion of `request` into `visits` that adds the least cost.

    Cost is driving seconds, plus `fixed_cost` when the route was empty (a vehicle more).
    Returns the added cost and the new visits, or None when no position fits. Candidates
    are judged exactly, cheapest first, so the first one that fits is the answer; a quick
    window test (ride limits left out) skips most; with the triangle inequality it never
    rejects a feasible position.
    """
    path = [vehicle.start, *(_location(problem, v) for v in visits)]
    if vehicle.end is not None:
        path.append(vehicle.end)
    opening = 0 if visits else fixed_cost + _drive(problem, vehicle, [])
    frame = _Frame(problem, vehicle, visits, path)
    pick, drop = Visit(StopKind.PICKUP, request.id), Visit(StopKind.DROPOFF, request.id)
    for extra, i, j in _slots(problem.matrix.durations, path, request, len(visits)):
        if not frame.may_fit(request, i, j):
            continue
        candidate = [*visits[:i], pick, *visits[i:j], drop, *visits[j:]]
        if earliest_times(problem, vehicle, candidate) is not None:
            return extra + opening, candidate
    return None


class _Frame:
    """Time bounds of a route without its ride limits, to rule insertions out quickly.

    `leave[k]` is the earliest departure from `path[k]` (0 is the start) and `latest[k]`
    the latest service start at `path[k]` that still lets the rest of the route keep its
    windows and the shift; index `len(visits) + 1` is the end (for an open route, the
    moment the last stop is left). With the triangle inequality, inserting stops only
    delays the stops after them, so a position these bounds reject is infeasible.
    """

    def __init__(
        self, problem: Problem, vehicle: Vehicle, visits: Sequence[Visit], path: list[int]
    ) -> None:
        self.d, self.path = problem.matrix.durations, path
        where, service, floor, latest, _ = _layout(problem, visits)
        m, d = len(visits), self.d
        self.leave = [vehicle.shift_start] * (m + 1)
        for k in range(m):
            begin = max(floor[k], self.leave[k] + d[path[k]][where[k]])
            self.leave[k + 1] = begin + service[k]
        self.latest = [0] * (m + 2)
        self.latest[m + 1] = vehicle.shift_end
        for k in range(m, 0, -1):
            after = self.latest[k + 1] - service[k - 1] - self._leg(where[k - 1], k + 1)
            self.latest[k] = min(latest[k - 1], after)

    def _leg(self, node: int, k: int) -> int:
        return self.d[node][self.path[k]] if k < len(self.path) else 0

    def may_fit(self, r: Request, i: int, j: int) -> bool:
        d, p, q = self.d, r.pickup, r.dropoff
        early, late = r.dropoff_window
        late = late if late is not None else self.latest[-1]
        at_p = max(r.pickup_earliest, self.leave[i] + d[self.path[i]][p])
        if at_p > r.pickup_latest:
            return False
        if j == i:
            at_q = max(early, at_p + r.pickup_service + d[p][q])
        else:
            if at_p + r.pickup_service + self._leg(p, i + 1) > self.latest[i + 1]:
                return False
            at_q = max(early, self.leave[j] + d[self.path[j]][q])
        return at_q <= late and at_q + r.dropoff_service + self._leg(q, j + 1) <= self.latest[j + 1]


def _slots(
    d: list[list[int]], path: list[int], request: Request, m: int
) -> list[tuple[int, int, int]]:
    """(added driving, pick-up position, drop-off position) of every insertion, cheapest first.

    `path` is the route's locations from the start (and to the end, if it has one); the
    pick-up goes after `path[i]` and the drop-off after `path[j]` (right after the pick-up
    when j == i). An open route's last stop has no leg after it.
    """
    p, q = request.pickup, request.dropoff

    def detour(k: int, node: int) -> int:
        if k + 1 < len(path):
            return d[path[k]][node] + d[node][path[k + 1]] - d[path[k]][path[k + 1]]
        return d[path[k]][node]

    slots = []
    for i in range(m + 1):
        alone = detour(i, p)
        nxt = path[i + 1] if i + 1 < len(path) else None
        both = d[path[i]][p] + d[p][q] + (d[q][nxt] - d[path[i]][nxt] if nxt is not None else 0)
        slots.append((both, i, i))
        slots += [(alone + detour(j, q), i, j) for j in range(i + 1, m + 1)]
    slots.sort()
    return slots


def _location(problem: Problem, visit: Visit) -> int:
    r = problem.request(visit.request_id or "")
    return r.pickup if visit.kind is StopKind.PICKUP else r.dropoff


def _drive(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit]) -> int:
    """Driving seconds of the route, start to end (an empty route still drives to its end)."""
    d = problem.matrix.durations
    path = [vehicle.start, *(_location(problem, v) for v in visits)]
    if vehicle.end is not None:
        path.append(vehicle.end)
    return sum(d[a][b] for a, b in pairwise(path))


def _cost(problem: Problem, vehicle: Vehicle, visits: Sequence[Visit], fixed_cost: int) -> int:
    """What the route adds to a plan's cost: nothing when empty (it is left out)."""
    return fixed_cost + _drive(problem, vehicle, visits) if visits else 0


def _best_direct(
    problem: Problem, routes: dict[str, list[Visit]], request: Request, fixed_cost: int
) -> _Move | None:
    best: _Move | None = None
    for vehicle in _vehicles_for(problem, routes, request):
        found = cheapest_insertion(problem, vehicle, routes[vehicle.id], request, fixed_cost)
        if found is not None and (best is None or found[0] < best.extra):
            best = _Move(found[0], {vehicle.id: found[1]})
    return best


def _best_with_ejection(
    problem: Problem,
    routes: dict[str, list[Visit]],
    request: Request,
    fixed_cost: int,
    deadline: float,
) -> _Move | None:
    """Take one request out of a route, put `request` there and the other one anywhere."""
    locked = problem.onboard_vehicle()
    best: _Move | None = None
    for vehicle in _vehicles_for(problem, routes, request):
        visits = routes[vehicle.id]
        before = _cost(problem, vehicle, visits, fixed_cost)
        for out_id in dict.fromkeys(v.request_id for v in visits):
            if time.monotonic() > deadline:
                return best
            if out_id is None or out_id in locked:
                continue
            rest = [v for v in visits if v.request_id != out_id]
            found = cheapest_insertion(problem, vehicle, rest, request, fixed_cost)
            if found is None:
                continue
            base = _cost(problem, vehicle, rest, fixed_cost) - before + found[0]
            if best is not None and base >= best.extra:
                continue  # under the triangle inequality no re-insertion costs less than 0
            after = {**routes, vehicle.id: found[1]}
            again = _best_direct(problem, after, problem.request(out_id), fixed_cost)
            if again is not None and (best is None or base + again.extra < best.extra):
                best = _Move(base + again.extra, {vehicle.id: found[1], **again.routes})
    return best


def _vehicles_for(
    problem: Problem, routes: dict[str, list[Visit]], request: Request
) -> list[Vehicle]:
    return [v for v in candidate_vehicles(problem, request) if v.id in routes]


def insert_unassigned(
    problem: Problem, plan: Plan, *, deadline: float, fixed_cost: int, seed: int = 0
) -> Plan:
    """`plan` with as many left-out (no room) requests served as exact insertion can fit.

    Urgent requests go first. Each goes where it adds the least cost (`fixed_cost` per
    vehicle used, plus driving seconds), or where it does after one other request moves.
    Requests still left out then get ruin and recreate until `deadline`. Only routes of
    vehicles without a break change, each changed route gets its earliest schedule, and
    no served request is ever dropped, so a feasible `plan` stays feasible with at least
    as many requests served. Returns `plan` itself when nothing could be inserted.
    """
    started = time.monotonic()
    routes = {v.id: _visits(plan, v.id) for v in problem.vehicles if v.shift_break is None}
    locked = problem.onboard_vehicle()
    todo = sorted(
        (
            problem.request(u.request_id)
            for u in plan.unassigned
            if u.reason is Reason.NO_ROOM and u.request_id not in locked
        ),
        key=lambda r: -r.priority,
    )
    pending: list[Request] = []
    for request in todo:
        if time.monotonic() > deadline:
            pending.append(request)
            continue
        move = _best_direct(problem, routes, request, fixed_cost) or _best_with_ejection(
            problem, routes, request, fixed_cost, deadline
        )
        if move is None:
            pending.append(request)
        else:
            routes.update(move.routes)
    if pending:
        pending = _ruin_recreate(
            problem, routes, pending, fixed_cost, deadline, random.Random(seed)
        )
    placed = {r.id for r in todo} - {r.id for r in pending}
    if not placed:
        return plan
    stage = StageTiming("insert", time.monotonic() - started)
    return _rebuild(problem, plan, routes, placed, stage)


def _ruin_recreate(
    problem: Problem,
    routes: dict[str, list[Visit]],
    pending: list[Request],
    fixed_cost: int,
    deadline: float,
    rng: random.Random,
) -> list[Request]:
    """Requests of `pending` still left out after ruin and recreate until `deadline`.

    Each round takes out a few requests on board near the time a left-out one needs, then
    inserts the left-out ones and those, in random order, each at its cheapest place. A
    round is kept when every request taken out found a place again and no fewer left-out
    ones did (equal rounds are kept too: they move the search to new routes). `routes` is
    updated in place.
    """
    while pending and time.monotonic() < deadline:
        target = rng.choice(pending)
        out = _related(problem, routes, target, rng.randint(2, MAX_REMOVED), rng)
        trial = {
            vid: [v for v in visits if v.request_id not in out] for vid, visits in routes.items()
        }
        rest = [problem.request(rid) for rid in out] + [r for r in pending if r is not target]
        rng.shuffle(rest)
        left = []
        for request in [target, *rest]:
            move = _best_direct(problem, trial, request, fixed_cost)
            if move is None:
                left.append(request)
            else:
                trial.update(move.routes)
        kept = len(left) <= len(pending) and not {r.id for r in left} & out
        if kept and _all_feasible(problem, routes, trial):
            routes.update(trial)
            pending = left
    return pending


def _all_feasible(
    problem: Problem, routes: dict[str, list[Visit]], trial: dict[str, list[Visit]]
) -> bool:
    """Every changed route of `trial` that still has work has a schedule.

    Routes that only lost requests are not re-judged by insertion, and without the
    triangle inequality (road matrices) leaving a stop out can make a route late.
    """
    by_id = {v.id: v for v in problem.vehicles}
    return all(
        earliest_times(problem, by_id[vid], visits) is not None
        for vid, visits in trial.items()
        if visits and visits != routes[vid]
    )


def _related(
    problem: Problem,
    routes: dict[str, list[Visit]],
    target: Request,
    count: int,
    rng: random.Random,
) -> set[str]:
    """Up to `count` served requests, mostly those on board around `target`'s tightest window.

    Closeness is the gap between that window's middle and a request's time on board in
    its earliest schedule; the pick is skewed towards the closest (Shaw's removal).
    """
    mid = _middle(target)
    locked = problem.onboard_vehicle()
    gaps: list[tuple[int, str]] = []
    by_id = {v.id: v for v in problem.vehicles}
    for vid, visits in routes.items():
        times = earliest_times(problem, by_id[vid], visits) or [0] * len(visits)
        first: dict[str, int] = {}
        for visit, t in zip(visits, times, strict=True):
            rid = visit.request_id or ""
            if rid in locked:
                continue
            if rid not in first:
                first[rid] = t
            else:
                gaps.append((max(first[rid] - mid, mid - t, 0), rid))
    gaps.sort()
    chosen: set[str] = set()
    while gaps and len(chosen) < count:
        chosen.add(gaps.pop(int(rng.random() ** SHAW_SKEW * len(gaps)))[1])
    return chosen


def _middle(r: Request) -> int:
    """Middle of the narrower of the request's pick-up and drop-off windows."""
    early, late = r.dropoff_window
    if late is None or r.pickup_latest - r.pickup_earliest <= late - early:
        return (r.pickup_earliest + r.pickup_latest) // 2
    return (early + late) // 2


def _visits(plan: Plan, vehicle_id: str) -> list[Visit]:
    route = plan.route_of(vehicle_id)
    return visits_of(route) if route is not None else []


def _rebuild(
    problem: Problem,
    plan: Plan,
    routes: dict[str, list[Visit]],
    placed: set[str],
    stage: StageTiming,
) -> Plan:
    out: list[Route] = []
    for vehicle in problem.vehicles:
        old = plan.route_of(vehicle.id)
        visits = routes.get(vehicle.id)
        if visits is None or (old is not None and visits == visits_of(old)):
            if old is not None:
                out.append(old)
            continue
        if not visits:
            continue  # emptied: the vehicle stays home (its empty trip may not even fit)
        route = timed_route(problem, vehicle, visits)
        assert route is not None, "an inserted route is feasible by construction"
        out.append(route)
    unassigned: list[Unassigned] = [u for u in plan.unassigned if u.request_id not in placed]
    return make_plan(problem, out, unassigned, (*plan.stages, stage))
