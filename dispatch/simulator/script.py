"""What each simulated driver does and when, in simulated time: pure Python, no Django.

A driver's day (`DriverDay`: its stops in order, with the plan's times) and the injected delays
become a `Script`: the drives (`Move`: a path driven at constant speed between two moments)
and the phone's messages (`Step`: a booking status or a line for the log) in time order.
Everything here is deterministic: the same day, delays and router give the same script, so a
seed reproduces a whole simulation whatever the real clock does.

How a driver moves through its stops (the plan's order):
- it leaves a stop as late as it can and still start the next pick-up at the plan's time
  (waiting where it is rather than at the patient's door), or at once when it is late;
- a leg takes the plan's travel time when the two stops follow each other in the plan, else
  the router's (OSRM's, or the straight-line estimate's);
- at a pick-up: `en_route` when it leaves for it, `arrived` when there, `on_board` once the
  patient is loaded (the plan's service time, after the window opens); at a drop-off
  `completed` once unloaded. A no-show's drop-off is skipped.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.engine.geo import Location
from dispatch.engine.straight_line import estimate, haversine_m

TRAFFIC, NOT_READY, NO_SHOW = "traffic", "not_ready", "no_show"
DELAY_KINDS = (TRAFFIC, NOT_READY, NO_SHOW)
# How long a driver waits at the door before recording a no-show (the server's own wait, once
# it has one, counts in real time: see runner.py).
NO_SHOW_WAIT = timedelta(minutes=5)
# Status order: a step at or below a booking's current status is not sent again.
PROGRESS = {"pending": 0, "assigned": 1, "en_route": 2, "arrived": 3, "on_board": 4}
FINAL = frozenset({"completed", "cancelled", "no_show"})


@dataclass(frozen=True)
class Stop:
    """One stop of a driver's day. `seq` is its index in the plan (None for a trip added in
    time order); `planned_leg_s` the plan's travel time from the plan's previous stop."""

    kind: str  # start, pickup, dropoff, break, end
    booking: str | None
    location: Location
    service_start: datetime | None  # planned (a pick-up waits for it), None: no wait
    service_s: float
    seq: int | None = None
    planned_leg_s: float | None = None
    departure: datetime | None = None  # planned; the start stop's is when the day begins


@dataclass(frozen=True)
class DriverDay:
    driver_id: str
    email: str
    name: str
    stops: tuple[Stop, ...]  # the first is the start
    statuses: dict[str, str] = field(default_factory=dict)  # booking id -> current status
    labels: dict[str, str] = field(default_factory=dict)  # booking id -> "patient, address"


@dataclass(frozen=True)
class Delay:
    booking: str
    kind: str  # traffic (the drive to its pick-up), not_ready (at its pick-up), no_show
    minutes: int = 0  # traffic and not_ready


@dataclass(frozen=True)
class Leg:
    seconds: float
    path: tuple[Location, ...]  # from the first to the last point, at least two


Router = Callable[[Location, Location], Leg]


def straight_leg(a: Location, b: Location) -> Leg:
    """The straight-line estimate's time along the straight line (no OSRM)."""
    return Leg(float(estimate(a, b)[0]), (a, b))


@dataclass(frozen=True)
class Move:
    start: datetime
    end: datetime
    path: tuple[Location, ...]
    cumulative_m: tuple[float, ...]  # distance from the path's start at each point

    @classmethod
    def along(cls, start: datetime, end: datetime, path: Sequence[Location]) -> Move:
        cumulative = [0.0]
        for a, b in itertools.pairwise(path):
            cumulative.append(cumulative[-1] + haversine_m(a, b))
        return cls(start, end, tuple(path), tuple(cumulative))

    @property
    def metres(self) -> float:
        return self.cumulative_m[-1]

    def point_at(self, at: datetime) -> tuple[Location, float, float | None]:
        """(where, speed m/s, heading degrees or None) at `at` within the move."""
        seconds = (self.end - self.start).total_seconds()
        share = (
            1.0 if seconds <= 0 else min(1.0, max(0.0, (at - self.start).total_seconds() / seconds))
        )
        target = share * self.metres
        i = max(1, bisect.bisect_left(self.cumulative_m, target))
        if i >= len(self.path):
            return self.path[-1], 0.0, None
        a, b = self.path[i - 1], self.path[i]
        span = self.cumulative_m[i] - self.cumulative_m[i - 1]
        part = 0.0 if span <= 0 else (target - self.cumulative_m[i - 1]) / span
        where = Location(a.lat + (b.lat - a.lat) * part, a.lon + (b.lon - a.lon) * part)
        speed = self.metres / seconds if seconds > 0 and share < 1.0 else 0.0
        return where, speed, _bearing(a, b)


def _bearing(a: Location, b: Location) -> float | None:
    if a == b:
        return None
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlon = math.radians(b.lon - a.lon)
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


@dataclass(frozen=True)
class Step:
    """A booking status the phone sends at `at` (status set), or a log line (status None)."""

    at: datetime
    booking: str | None
    status: str | None
    text: str = ""
    delay: str | None = None  # the delay kind this step injects, for the summary


@dataclass(frozen=True)
class Script:
    day: DriverDay
    start: Location
    moves: tuple[Move, ...]
    steps: tuple[Step, ...]

    @property
    def begins(self) -> datetime | None:
        times = [m.start for m in self.moves] + [s.at for s in self.steps]
        return min(times) if times else None

    @property
    def ends(self) -> datetime | None:
        times = [m.end for m in self.moves] + [s.at for s in self.steps]
        return max(times) if times else None

    def position_at(self, at: datetime) -> tuple[Location, float, float | None]:
        """Where the driver is at `at`: on a move, or standing where the last one ended."""
        starts = [m.start for m in self.moves]
        i = bisect.bisect_right(starts, at) - 1
        if i < 0:
            return self.start, 0.0, None
        move = self.moves[i]
        if at <= move.end:
            return move.point_at(at)
        return move.path[-1], 0.0, None


def delays_choose(
    days: Sequence[DriverDay],
    *,
    count: int,
    seed: int,
    after: datetime | None = None,
    before: datetime | None = None,
) -> list[Delay]:
    """`count` delays on distinct pick-ups of trips not started yet, planned within
    `after`..`before`, drawn with `seed`: kinds in turn (traffic, not ready, no-show, in a
    seeded order), 10 to 25 minutes. Fewer when there are fewer such pick-ups."""
    rng = random.Random(seed)
    candidates = sorted(
        (stop.service_start, stop.booking)
        for day in days
        for stop in day.stops
        if stop.kind == "pickup"
        and stop.booking
        and stop.service_start is not None
        and (after is None or stop.service_start >= after)
        and (before is None or stop.service_start <= before)
        and day.statuses.get(stop.booking, "assigned") == "assigned"
    )
    chosen = rng.sample(candidates, min(count, len(candidates)))
    kinds = [DELAY_KINDS[i % len(DELAY_KINDS)] for i in range(len(chosen))]
    rng.shuffle(kinds)
    return [
        Delay(booking, kind, 0 if kind == NO_SHOW else rng.randint(10, 25))
        for (_, booking), kind in zip(chosen, kinds, strict=True)
    ]


def script_build(day: DriverDay, *, delays: Sequence[Delay], router: Router) -> Script:
    """The driver's drives and messages for its day (see the module's docstring)."""
    return _Builder(day, {d.booking: d for d in delays}, router).build()


class _Builder:
    def __init__(self, day: DriverDay, delays: dict[str, Delay], router: Router) -> None:
        self.day, self.delays, self.router = day, delays, router
        self.moves: list[Move] = []
        self.steps: list[Step] = []
        self.no_shows: set[str] = set()

    def build(self) -> Script:
        first = self.day.stops[0]
        here, prev_seq = first.location, first.seq
        now = first.departure or first.service_start
        if now is None:  # a day without a plan: leave in time for the first pick-up
            now = self._first_departure(first)
        for stop in self.day.stops[1:]:
            if stop.kind == "dropoff" and stop.booking in self.no_shows:
                continue  # prev_seq stays: the next leg is not the plan's
            status = self.day.statuses.get(stop.booking or "")
            if status in FINAL or (stop.kind == "pickup" and status == "on_board"):
                continue  # done, or the patient is aboard already
            now = self._visit(
                stop,
                here,
                now,
                planned=stop.seq is not None and prev_seq is not None and stop.seq == prev_seq + 1,
            )
            here, prev_seq = stop.location, stop.seq
        steps = tuple(sorted(self.steps, key=lambda s: s.at))  # stable: ties keep their order
        return Script(self.day, first.location, tuple(self.moves), steps)

    def _first_departure(self, first: Stop) -> datetime:
        pickup = next((s for s in self.day.stops[1:] if s.service_start), None)
        if pickup is None or pickup.service_start is None:
            raise ValueError(f"Driver {self.day.email} has no timed stop to start from.")
        leg = self.router(first.location, pickup.location)
        return pickup.service_start - timedelta(seconds=leg.seconds)

    def _visit(self, stop: Stop, here: Location, ready: datetime, *, planned: bool) -> datetime:
        leg = self.router(here, stop.location)
        seconds = stop.planned_leg_s if planned and stop.planned_leg_s is not None else leg.seconds
        delay = self.delays.get(stop.booking or "") if stop.kind == "pickup" else None
        leave = ready
        if stop.kind == "pickup" and stop.service_start is not None:
            leave = max(ready, stop.service_start - timedelta(seconds=seconds))
        if stop.kind == "pickup" and stop.booking:
            self._status(leave, stop.booking, "en_route")
        if delay and delay.kind == TRAFFIC:
            seconds += delay.minutes * 60
            self._note(leave, stop.booking, f"traffic: {delay.minutes} min slower to", TRAFFIC)
        arrive = leave + timedelta(seconds=seconds)
        if here != stop.location or seconds > 0:
            self.moves.append(Move.along(leave, arrive, leg.path))
        if stop.kind == "pickup" and stop.booking:
            return self._pickup(stop, stop.booking, arrive, delay)
        if stop.kind == "dropoff" and stop.booking:
            done = arrive + timedelta(seconds=stop.service_s)
            self._status(done, stop.booking, "completed")
            return done
        begin = (
            max(arrive, stop.service_start)
            if stop.kind == "break" and stop.service_start
            else arrive
        )
        if stop.kind == "break":
            self._note(
                begin, None, f"break until {(begin + timedelta(seconds=stop.service_s)):%H:%M}"
            )
        return begin + timedelta(seconds=stop.service_s if stop.kind != "end" else 0)

    def _pickup(self, stop: Stop, booking: str, arrive: datetime, delay: Delay | None) -> datetime:
        self._status(arrive, booking, "arrived")
        if delay and delay.kind == NO_SHOW:
            self._note(arrive, booking, "no-show: nobody at the door of", NO_SHOW)
            self.no_shows.add(booking)
            gone = arrive + NO_SHOW_WAIT
            self._status(gone, booking, "no_show")
            return gone
        begin = max(arrive, stop.service_start) if stop.service_start else arrive
        if delay and delay.kind == NOT_READY:
            self._note(begin, booking, f"not ready: {delay.minutes} min late,", NOT_READY)
            begin += timedelta(minutes=delay.minutes)
        loaded = begin + timedelta(seconds=stop.service_s)
        self._status(loaded, booking, "on_board")
        return loaded

    def _status(self, at: datetime, booking: str, status: str) -> None:
        current = self.day.statuses.get(booking, "assigned")
        if current in FINAL or PROGRESS.get(current, 0) >= PROGRESS.get(status, 99):
            return
        self.steps.append(Step(at, booking, status))

    def _note(self, at: datetime, booking: str | None, text: str, delay: str | None = None) -> None:
        if booking:
            text = f"{text} {self.day.labels.get(booking, booking[:8])}"
        self.steps.append(Step(at, None, None, text, delay))
