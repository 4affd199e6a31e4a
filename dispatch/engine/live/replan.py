"""Re-planning a live day from where its vehicles are (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dispatch.engine.live.day import PIN, LiveDay
from dispatch.engine.live.insertion import best_insertion
from dispatch.engine.live.routes import Tail, drive, fit_route, lateness, stitch, tail_of
from dispatch.engine.plan import Plan, Route, StageTiming, StopKind, Unassigned
from dispatch.engine.plan import UnassignedReason as Reason
from dispatch.engine.problem import Problem, Request
from dispatch.engine.solver.common import (
    Visit,
    candidate_vehicles,
    make_plan,
    triage,
    visits_of,
)

# Share of the time limit the pinned solve may use; the moves get the rest.
SOLVE_SHARE = 0.7


@dataclass(frozen=True)
class Thresholds:
    """A trip leaves its driver only to save this much lateness or driving (seconds)."""

    lateness_s: int = 600
    drive_s: int = 900


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
    tails = {v.id: tail_of(day, v) for v in day.problem.vehicles}
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
        tails: dict[str, Tail],
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
        drive_gain = drive(self.problem, tail, self.visits[vid]) - drive(
            self.problem, tail, without
        )
        late_gain = lateness(now_route, self.promised) - lateness(gone, self.promised)
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
            saved = drive_gain - (
                drive(self.problem, t_other, found[1]) - drive(self.problem, t_other, other)
            )
            late = late_gain - (
                lateness(found[2], self.promised)
                - lateness(self.routes.get(vehicle.id), self.promised)
            )
            saves = late >= limits.lateness_s or (saved >= limits.drive_s and late >= 0)
            if saves and (best is None or (late, saved) > best[0]):
                best = ((late, saved), vehicle.id, found[1], found[2])
        if best is not None:
            self._set(vid, without, gone)
            self._set(best[1], best[2], best[3])
