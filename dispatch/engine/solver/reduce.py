"""Route elimination: empty the smallest route of a complete plan into the others.

VROOM's construction heuristics open a new route whenever the open ones are full at that
moment, so its plans often have a route or two more than needed, and its local search
seldom empties a route again (that takes a chain of moves that each cost more). This phase
takes a plan that serves every request and repeatedly tries to remove its smallest route:

- the route's requests go to an ejection pool; each in turn is inserted where it fits best;
- one that fits nowhere is inserted anyway in place of a single request of some route,
  the one ejected least often so far (penalty counters, as in Nagata and Braysy's route
  minimisation), which goes back to the pool;
- every few steps VROOM's local search runs from the current routes (a run from initial
  routes costs a few per cent of a full run): it shortens the routes, which frees time in
  them, and inserts what it can from the pool.

It gives up on a route after STEPS_PER_REQUEST steps per request of the plan, and stops at
the first route it cannot empty or at the deadline. Only routes of vehicles without a
break or patients on board take part, and only when every request's windows keep its ride
limit by themselves (the insertion check here knows windows, shifts and places, not
breaks or ride times).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TypeVar, cast

from vroom._vroom import VroomInputException

from dispatch.engine.plan import Route, StopKind
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit, fits_kind, fits_size, schedule
from dispatch.engine.solver.vroom_stage import VroomOptions, solve_vroom

T = TypeVar("T")

# Pool steps per route before giving up on it (per request of the plan: a step costs a
# few milliseconds), and VROOM's local search every so many.
STEPS_PER_REQUEST = 2
SQUEEZE_EVERY = 10
# Routes (the closest to the request) where an ejection is tried.
EJECT_ROUTES = 4
# Random moves after each ejection.
PERTURB_MOVES = 10
POLISH_EXPLORATION = 5
# Routes tried in turn, smallest first, before the phase gives up.
TARGETS = 1

Call = tuple[bool, Request]  # (is pick-up, request): a stop before scheduling


def eliminate_routes(
    problem: Problem,
    routes: Sequence[Route],
    options: VroomOptions,
    deadline: float,
    attempt_s: float | None = None,
) -> tuple[Route, ...]:
    """`routes` with as many routes emptied as time allows (same requests served).

    `problem` is the one VROOM saw (its windows); `deadline` is a `time.monotonic()` value
    and `options.time_limit_s` is ignored. Each route gets at most `attempt_s` seconds:
    a route that can go usually goes quickly, and one that cannot would otherwise take the
    whole time to give up on.
    """
    if not _eligible_problem(problem):
        return tuple(routes)
    by_id = {v.id: v for v in problem.vehicles}
    fixed = [r for r in routes if not _eligible_vehicle(by_id[r.vehicle_id])]
    current = tuple(r for r in routes if _eligible_vehicle(by_id[r.vehicle_id]))
    failed = 0
    while len(current) > 1 and failed < TARGETS and time.monotonic() < deadline:
        ranked = sorted(current, key=lambda r: (len(r.request_ids), len(r.stops)))
        until = deadline if attempt_s is None else min(deadline, time.monotonic() + attempt_s)
        search = _Search(problem, options, until, polish_by=deadline)
        smaller = search.empty(current, ranked[failed])
        if smaller is None:
            failed += 1
        else:
            current, failed = smaller, 0
    return (*fixed, *current)


def _eligible_problem(problem: Problem) -> bool:
    return all(_ride_safe(r) for r in problem.requests)


def _ride_safe(r: Request) -> bool:
    if r.max_ride is None:
        return True
    return r.dropoff_latest is not None and (
        r.dropoff_latest - r.pickup_earliest <= r.pickup_service + r.max_ride
    )


def _eligible_vehicle(v: Vehicle) -> bool:
    return v.shift_break is None and not v.onboard


@dataclass
class _Lane:
    """One route under search: its visits and, derived from them, the arrays that make an
    insertion check O(1) per position (index 0 is the start, the last one the end)."""

    vehicle: Vehicle
    visits: list[Call]
    loc: list[int | None]
    early: list[int]
    late: list[int]
    serv: list[int]
    dep: list[int]  # departure after the earliest schedule
    seats: list[int]  # load after the stop
    chairs: list[int]
    latest: list[int]  # latest service start keeping the rest of the route feasible
    legs: list[int]  # driving from each stop to the next


class _Search:
    def __init__(
        self, problem: Problem, options: VroomOptions, deadline: float, polish_by: float
    ) -> None:
        # The search stops at `deadline`; the final polish of an emptied plan may run until
        # `polish_by` (the ejections leave routes far longer than they need to be).
        self.problem, self.options, self.deadline = problem, options, deadline
        self.polish_by = polish_by
        self.d = problem.matrix.durations
        self.by_id = {v.id: v for v in problem.vehicles}
        self.penalty: Counter[str] = Counter()
        self.rng = random.Random(options.seed)

    def empty(self, routes: tuple[Route, ...], target: Route) -> tuple[Route, ...] | None:
        lanes = [self.lane_of(r) for r in routes if r is not target]
        pool = [self.problem.request(rid) for rid in target.request_ids]
        served = sum(len(r.request_ids) for r in routes)
        return self.absorb(lanes, pool, STEPS_PER_REQUEST * served)

    def absorb(
        self, lanes: list[_Lane], pool: list[Request], steps: int
    ) -> tuple[Route, ...] | None:
        """Routes from `lanes` that also serve `pool`, None if `steps` are not enough."""
        for step in range(steps):
            if time.monotonic() >= self.deadline:
                return None
            if step and step % SQUEEZE_EVERY == 0:
                squeezed = self._squeeze(lanes, pool)
                if squeezed is None:
                    return None
                lanes, pool = squeezed
            if not pool:
                break
            request = pool.pop()
            if self._insert(lanes, request):
                continue
            self.penalty[request.id] += 1
            ejected = self._insert_ejecting(lanes, request)
            if ejected is None:
                pool.insert(0, request)
            else:
                pool.append(ejected)
            self._perturb(lanes)
        if pool:
            return None
        # The last run polishes the routes for distance: a deeper search is cheap from here.
        final = self._squeeze(lanes, [], POLISH_EXPLORATION, until=self.polish_by)
        return None if final is None or final[1] else tuple(self._routes(final[0]))

    # --- lanes -----------------------------------------------------------------------

    def lane_of(self, route: Route) -> _Lane:
        visits = [
            (s.kind is StopKind.PICKUP, self.problem.request(s.request_id))
            for s in route.stops
            if s.request_id is not None and s.kind in (StopKind.PICKUP, StopKind.DROPOFF)
        ]
        return self.lane(self.by_id[route.vehicle_id], visits)

    def lane(self, v: Vehicle, visits: list[Call]) -> _Lane:
        loc: list[int | None] = [v.start]
        early, late, serv = [v.shift_start], [v.shift_end], [0]
        seats, chairs = [0], [0]
        for pick, r in visits:
            if pick:
                loc.append(r.pickup)
                early.append(r.pickup_earliest)
                late.append(r.pickup_latest)
                serv.append(r.pickup_service)
                seats.append(seats[-1] + r.seats)
                chairs.append(chairs[-1] + r.wheelchairs)
            else:
                drop_early, drop_late = r.dropoff_window
                loc.append(r.dropoff)
                early.append(drop_early)
                late.append(v.shift_end if drop_late is None else drop_late)
                serv.append(r.dropoff_service)
                seats.append(seats[-1] - r.seats)
                chairs.append(chairs[-1] - r.wheelchairs)
        loc.append(v.end)
        early.append(v.shift_start)
        late.append(v.shift_end)
        serv.append(0)
        seats.append(seats[-1])
        chairs.append(chairs[-1])
        lane = _Lane(v, visits, loc, early, late, serv, [], seats, chairs, [], [])
        self._times(lane)
        return lane

    def _without(self, lane: _Lane, r: Request) -> _Lane:
        """`lane` without r's stops (cheaper than building it again from the visits)."""
        a, b = (k + 1 for k, (_, q) in enumerate(lane.visits) if q.id == r.id)

        def cut(xs: list[T]) -> list[T]:
            return xs[:a] + xs[a + 1 : b] + xs[b + 1 :]

        seats = lane.seats[:a] + [x - r.seats for x in lane.seats[a + 1 : b]] + lane.seats[b + 1 :]
        chairs = (
            lane.chairs[:a]
            + [x - r.wheelchairs for x in lane.chairs[a + 1 : b]]
            + lane.chairs[b + 1 :]
        )
        visits = lane.visits[: a - 1] + lane.visits[a : b - 1] + lane.visits[b:]
        out = _Lane(
            lane.vehicle,
            visits,
            cut(lane.loc),
            cut(lane.early),
            cut(lane.late),
            cut(lane.serv),
            [],
            seats,
            chairs,
            [],
            [],
        )
        self._times(out)
        return out

    def _leg(self, a: int | None, b: int | None) -> int:
        return 0 if a is None or b is None else self.d[a][b]

    def _times(self, lane: _Lane) -> None:
        loc, early, late, serv = lane.loc, lane.early, lane.late, lane.serv
        legs = [self._leg(a, b) for a, b in pairwise(loc)]
        n = len(loc)
        dep = [early[0]]
        t = early[0]
        for k in range(1, n):
            arrive = t + legs[k - 1]
            t = (arrive if arrive > early[k] else early[k]) + serv[k]
            dep.append(t)
        latest = [0] * n
        bound = latest[-1] = late[-1]
        for k in range(n - 2, -1, -1):
            back = bound - legs[k] - serv[k]
            bound = latest[k] = back if back < late[k] else late[k]
        lane.dep, lane.latest, lane.legs = dep, latest, legs

    # --- insertion -------------------------------------------------------------------

    def _insert(self, lanes: list[_Lane], r: Request) -> bool:
        best: tuple[int, int, int, int] | None = None
        for index, lane in enumerate(lanes):
            found = self._best_position(lane, r)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], index, found[1], found[2])
        if best is None:
            return False
        _, index, i, j = best
        lanes[index] = self._with(lanes[index], r, i, j)
        return True

    def _with(self, lane: _Lane, r: Request, i: int, j: int) -> _Lane:
        """`lane` with r's pick-up after stop i and its drop-off after stop j (old indices)."""
        visits = list(lane.visits)
        visits.insert(j, (False, r))
        visits.insert(i, (True, r))
        return self.lane(lane.vehicle, visits)

    def _best_position(self, lane: _Lane, r: Request) -> tuple[int, int, int] | None:
        """(added driving, i, j) of the cheapest feasible insertion, None if there is none:
        the pick-up goes after stop i, the drop-off after stop j (j >= i)."""
        v = lane.vehicle
        if not (fits_kind(r, v) and fits_size(r, v)):
            return None
        d, loc, n = self.d, lane.loc, len(lane.loc)
        early, late, serv, legs = lane.early, lane.late, lane.serv, lane.legs
        seat_room = [v.seats - x - r.seats for x in lane.seats]
        chair_room = [v.wheelchairs - x - r.wheelchairs for x in lane.chairs]
        p, q = r.pickup, r.dropoff
        # Only a route's end may be open (None); every earlier stop is a place.
        inner = cast(list[int], loc[:-1])
        to_p = [d[x][p] for x in inner]
        to_q = [d[x][q] for x in inner]
        from_p = [0 if x is None else d[p][x] for x in loc]
        from_q = [0 if x is None else d[q][x] for x in loc]
        direct = d[p][q]
        drop_early, drop_late = r.dropoff_window
        drop_late = v.shift_end if drop_late is None else drop_late
        best: tuple[int, int, int] | None = None
        for i in range(n - 1):
            if seat_room[i] < 0 or chair_room[i] < 0:
                continue
            start_p = max(lane.dep[i] + to_p[i], r.pickup_earliest)
            if start_p > r.pickup_latest:
                continue
            t = start_p + r.pickup_service
            base = to_p[i] - legs[i]
            # j == i: the drop-off right after the pick-up.
            start_d = max(t + direct, drop_early)
            if start_d > drop_late:
                continue
            if max(start_d + r.dropoff_service + from_q[i + 1], early[i + 1]) <= lane.latest[i + 1]:
                cost = base + direct + from_q[i + 1]
                if best is None or cost < best[0]:
                    best = (cost, i, i)
            arrive = t + from_p[i + 1]
            pick_cost = base + from_p[i + 1]
            for k in range(i + 1, n - 1):
                start_k = arrive if arrive > early[k] else early[k]
                if start_k > late[k] or seat_room[k] < 0 or chair_room[k] < 0:
                    break
                t = start_k + serv[k]
                start_d = max(t + to_q[k], drop_early)
                if start_d > drop_late:
                    break
                arrive = t + legs[k]
                after = start_d + r.dropoff_service + from_q[k + 1]
                if max(after, early[k + 1]) > lane.latest[k + 1]:
                    continue
                cost = pick_cost + to_q[k] + from_q[k + 1] - legs[k]
                if best is None or cost < best[0]:
                    best = (cost, i, k)
        return best

    def _insert_ejecting(self, lanes: list[_Lane], r: Request) -> Request | None:
        """Insert r in place of the least-penalised request it can replace; that request."""
        best: tuple[tuple[int, int], int, _Lane, Request] | None = None
        for index in self._nearest(lanes, r):
            lane = lanes[index]
            for out in {q.id: q for _, q in lane.visits}.values():
                if best is not None and self.penalty[out.id] > best[0][0]:
                    continue
                smaller = self._without(lane, out)
                found = self._best_position(smaller, r)
                if found is None:
                    continue
                key = (self.penalty[out.id], found[0])
                if best is None or key < best[0]:
                    best = (key, index, self._with(smaller, r, found[1], found[2]), out)
        if best is None:
            return None
        _, index, lane, out = best
        lanes[index] = lane
        return out

    def _nearest(self, lanes: list[_Lane], r: Request) -> list[int]:
        """Indices of the EJECT_ROUTES lanes that pass closest to r's pick-up and drop-off."""
        d = self.d

        def gap(lane: _Lane) -> int:
            stops = [x for x in lane.loc if x is not None]
            return min(d[x][r.pickup] for x in stops) + min(d[r.dropoff][x] for x in stops)

        ranked = sorted(range(len(lanes)), key=lambda i: gap(lanes[i]))
        return ranked[:EJECT_ROUTES]

    def _perturb(self, lanes: list[_Lane]) -> None:
        """Random feasible moves of single requests between routes: they change where the
        free time is, so the next insertion may find room (the search's diversification)."""
        rng = self.rng
        for _ in range(PERTURB_MOVES):
            source, dest = rng.randrange(len(lanes)), rng.randrange(len(lanes))
            if source == dest or not lanes[source].visits:
                continue
            _, moved = rng.choice(lanes[source].visits)
            found = self._best_position(lanes[dest], moved)
            if found is None:
                continue
            lanes[dest] = self._with(lanes[dest], moved, found[1], found[2])
            lanes[source] = self._without(lanes[source], moved)

    # --- VROOM -----------------------------------------------------------------------

    def _routes(self, lanes: list[_Lane]) -> list[Route]:
        out = []
        for lane in lanes:
            kinds = [
                (StopKind.PICKUP if pick else StopKind.DROPOFF, r.id) for pick, r in lane.visits
            ]
            out.append(schedule(self.problem, lane.vehicle, [Visit(*k) for k in kinds]))
        return out

    def _squeeze(
        self,
        lanes: list[_Lane],
        pool: list[Request],
        exploration: int | None = None,
        until: float | None = None,
    ) -> tuple[list[_Lane], list[Request]] | None:
        """VROOM's local search from the lanes, with the pool as unassigned requests."""
        left = (self.deadline if until is None else until) - time.monotonic()
        if left <= 0:
            return None
        requests = [r for lane in lanes for pick, r in lane.visits if pick] + pool
        flat = [replace(r, priority=0) for r in requests]
        vehicles = [lane.vehicle for lane in lanes]
        depth = self.options.exploration if exploration is None else exploration
        run = replace(self.options, time_limit_s=left, exploration=depth)
        try:
            found = solve_vroom(self.problem, flat, vehicles, run, initial=self._routes(lanes))
        except VroomInputException:
            # VROOM rejects initial routes it finds infeasible (a rule this search does not
            # model): give up on this route rather than fail the whole solve.
            return None
        served = {rid for route in found.routes for rid in route.request_ids}
        routes = {route.vehicle_id: route for route in found.routes}
        new_lanes = [
            self.lane_of(routes[v.id]) if v.id in routes else self.lane(v, []) for v in vehicles
        ]
        unserved = [r for r in requests if r.id not in served]
        # Keep the pool's order (the most recently ejected last): it is the search's memory.
        return new_lanes, [self.problem.request(r.id) for r in unserved]
