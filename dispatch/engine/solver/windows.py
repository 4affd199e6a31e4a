"""Time-window preprocessing for requests with a maximum ride time.

Two transformations, both returning a new Problem over the same requests (same ids):

- `tighten`: exact. A drop-off starts at most `max_ride` after the end of pick-up service,
  so the pick-up cannot start before `drop-off earliest - pick-up service - max_ride` and the
  drop-off cannot start after `pick-up latest + pick-up service + max_ride`. Nothing
  feasible is cut, and it needs no travel times (so no triangle inequality).
- `ride_safe`: a restriction. It shrinks the windows until `drop-off latest - pick-up
  earliest <= pick-up service + max_ride`, so *any* schedule that keeps the windows keeps
  the ride limit too. VROOM has no ride-time rule; on these windows its plans are feasible
  as they come, and the OR-Tools stage can then search the exact (wider) problem from them.

A request already on board has no pick-up left, so neither touches it.
"""

from __future__ import annotations

from dataclasses import replace

from dispatch.engine.problem import Problem, Request


def tighten(problem: Problem) -> Problem:
    """`problem` with windows cut by the ride limits alone (exact: every plan stays feasible)."""
    onboard = problem.onboard_vehicle()
    requests = tuple(
        r if r.id in onboard or r.max_ride is None else _tighten(r) for r in problem.requests
    )
    return _with(problem, requests)


def ride_safe(problem: Problem, pick_share: float | None = None) -> Problem:
    """`problem` with windows narrowed so no schedule inside them breaks a ride limit.

    Call it on a tightened problem. `pick_share` of the cut comes off the pick-up window
    and the rest off the drop-off window; None cuts each in proportion to its width.
    A request whose windows cannot be narrowed that far without emptying one keeps its
    windows (the checker still judges the plan).
    """
    onboard = problem.onboard_vehicle()
    d = problem.matrix.durations
    requests = tuple(
        r if r.id in onboard or r.max_ride is None else _safe(r, d[r.pickup][r.dropoff], pick_share)
        for r in problem.requests
    )
    return _with(problem, requests)


def _with(problem: Problem, requests: tuple[Request, ...]) -> Problem:
    if requests == problem.requests:
        return problem
    return Problem(requests, problem.vehicles, problem.matrix)


def _tighten(r: Request) -> Request:
    assert r.max_ride is not None
    drop_earliest, drop_latest = r.dropoff_window
    bound = r.pickup_service + r.max_ride
    pick_earliest = max(r.pickup_earliest, drop_earliest - bound)
    last = r.pickup_latest + bound
    drop_last = last if drop_latest is None else min(drop_latest, last)
    if pick_earliest > r.pickup_latest or drop_last < drop_earliest:
        return r  # infeasible either way: leave it to triage with its own windows
    # Bounds a solver derives by itself (drop-off after pick-up) are left out on purpose:
    # VROOM ran markedly slower on product days with them spelled out.
    return replace(r, pickup_earliest=pick_earliest, dropoff_latest=drop_last)


def _safe(r: Request, direct: int, pick_share: float | None) -> Request:
    """Cut the excess `drop latest - pick earliest - bound` off the two windows."""
    if r.max_ride is None or r.dropoff_latest is None:
        return r  # tightening gave up on it (an empty window): nothing safe to narrow to
    bound = r.pickup_service + r.max_ride
    excess = r.dropoff_latest - r.pickup_earliest - bound
    if excess <= 0:
        return r
    # The rooms count only reachable times: a pick-up after the last drop-off is none.
    pick_latest = min(r.pickup_latest, r.dropoff_latest - r.pickup_service - direct)
    drop_floor = max(r.dropoff_window[0], r.pickup_earliest + r.pickup_service + direct)
    room_pick = pick_latest - r.pickup_earliest
    room_drop = r.dropoff_latest - drop_floor
    if room_pick < 0 or room_drop < 0 or room_pick + room_drop < excess:
        return r
    share = room_pick / max(1, room_pick + room_drop) if pick_share is None else pick_share
    from_pick = min(room_pick, round(excess * share))
    from_drop = excess - from_pick
    if from_drop > room_drop:
        from_pick, from_drop = excess - room_drop, room_drop
    return replace(
        r,
        pickup_earliest=r.pickup_earliest + from_pick,
        pickup_latest=pick_latest,
        dropoff_earliest=drop_floor,
        dropoff_latest=r.dropoff_latest - from_drop,
    )
