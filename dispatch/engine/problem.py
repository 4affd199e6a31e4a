"""The dispatch problem the solver takes: requests, vehicles and a travel matrix.

Units: every time is integer seconds on one clock chosen by the caller (the adapter uses
seconds since local midnight of the service day); every location is an index into
`Problem.matrix`. Nothing here knows about Django.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from dispatch.engine.geo import TravelMatrix

WHEELCHAIR = "wheelchair"


@dataclass(frozen=True)
class Request:
    """One patient trip: a pick-up and a drop-off served by the same vehicle.

    Windows bound the *start of service* (seconds). `dropoff_latest` is the appointment:
    the patient must be handed over by then. `max_ride` bounds the time on board, measured
    from the end of pick-up service to the start of drop-off service. A walking patient
    uses `seats`; a patient in their own wheelchair uses `wheelchairs` places (and no seat).
    `priority` is 0..100, higher is more urgent: urgent trips are the last to be dropped.
    """

    id: str
    pickup: int
    dropoff: int
    pickup_earliest: int
    pickup_latest: int
    dropoff_earliest: int | None = None
    dropoff_latest: int | None = None
    pickup_service: int = 0
    dropoff_service: int = 0
    seats: int = 1
    wheelchairs: int = 0
    equipment: frozenset[str] = frozenset()
    max_ride: int | None = None
    priority: int = 0

    def __post_init__(self) -> None:
        _check(bool(self.id), "request id must not be empty")
        _check(
            self.pickup_earliest <= self.pickup_latest,
            f"request {self.id}: pickup window {self.pickup_earliest}..{self.pickup_latest}"
            " is not ordered",
        )
        if self.dropoff_earliest is not None and self.dropoff_latest is not None:
            _check(
                self.dropoff_earliest <= self.dropoff_latest,
                f"request {self.id}: drop-off window is not ordered",
            )
        for name in ("pickup_service", "dropoff_service", "seats", "wheelchairs"):
            _check(getattr(self, name) >= 0, f"request {self.id}: {name} must be >= 0")
        _check(
            self.max_ride is None or self.max_ride >= 0,
            f"request {self.id}: max_ride must be >= 0",
        )
        _check(0 <= self.priority <= 100, f"request {self.id}: priority must be 0..100")

    @property
    def dropoff_window(self) -> tuple[int, int | None]:
        """Earliest and latest drop-off service start (earliest defaults to 0)."""
        return (self.dropoff_earliest or 0, self.dropoff_latest)


@dataclass(frozen=True)
class Break:
    """A driver break: starts within earliest..latest, lasts `duration` seconds.

    It is only taken with nobody on board. Like VROOM, the driver may take it on the way
    between two stops; the plan reports it at the location of the stop before it.
    """

    earliest: int
    latest: int
    duration: int

    def __post_init__(self) -> None:
        _check(self.earliest <= self.latest, "break window is not ordered")
        _check(self.duration >= 0, "break duration must be >= 0")


@dataclass(frozen=True)
class Vehicle:
    """A vehicle and its driver for one shift.

    `end=None` is an open end: the shift finishes at the last drop-off (the driver goes
    home off the clock), and `shift_end` then bounds the last departure. `onboard` lists
    ids of requests already picked up by this vehicle: only their drop-off remains and it
    must be done by this vehicle; `start` is then the vehicle's current position.
    """

    id: str
    start: int
    shift_start: int
    shift_end: int
    seats: int
    end: int | None = None
    wheelchairs: int = 0
    equipment: frozenset[str] = frozenset()
    shift_break: Break | None = None
    onboard: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(bool(self.id), "vehicle id must not be empty")
        _check(
            self.shift_start <= self.shift_end,
            f"vehicle {self.id}: shift {self.shift_start}..{self.shift_end} is not ordered",
        )
        _check(self.seats >= 0, f"vehicle {self.id}: seats must be >= 0")
        _check(self.wheelchairs >= 0, f"vehicle {self.id}: wheelchairs must be >= 0")
        _check(
            len(set(self.onboard)) == len(self.onboard),
            f"vehicle {self.id}: duplicate onboard request",
        )

    @property
    def kinds(self) -> frozenset[str]:
        """Equipment plus the wheelchair kind when it has wheelchair places."""
        return self.equipment | ({WHEELCHAIR} if self.wheelchairs > 0 else frozenset())


@dataclass(frozen=True)
class Problem:
    """Requests and vehicles over one travel matrix (validated on construction)."""

    requests: tuple[Request, ...]
    vehicles: tuple[Vehicle, ...]
    matrix: TravelMatrix
    _by_id: dict[str, Request] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests", tuple(self.requests))
        object.__setattr__(self, "vehicles", tuple(self.vehicles))
        _check_matrix(self.matrix)
        by_id = _unique({r.id: r for r in self.requests}, self.requests, "request")
        _unique({v.id: v for v in self.vehicles}, self.vehicles, "vehicle")
        size = self.matrix.size
        for r in self.requests:
            _check_index(r.pickup, size, f"request {r.id} pickup")
            _check_index(r.dropoff, size, f"request {r.id} dropoff")
        for v in self.vehicles:
            _check_index(v.start, size, f"vehicle {v.id} start")
            if v.end is not None:
                _check_index(v.end, size, f"vehicle {v.id} end")
        _check_onboard(self.vehicles, by_id)
        object.__setattr__(self, "_by_id", by_id)

    def request(self, request_id: str) -> Request:
        return self._by_id[request_id]

    def find_request(self, request_id: str) -> Request | None:
        return self._by_id.get(request_id)

    def onboard_vehicle(self) -> dict[str, Vehicle]:
        """Request id -> the vehicle it is locked to because the patient is on board."""
        return {rid: v for v in self.vehicles for rid in v.onboard}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_index(index: int, size: int, what: str) -> None:
    _check(0 <= index < size, f"{what}: location index {index} not in 0..{size - 1}")


def _check_matrix(matrix: TravelMatrix) -> None:
    n = matrix.size
    _check(len(matrix.distances) == n, "matrix: durations and distances differ in size")
    for rows, name in (
        (matrix.durations, "durations"),
        (matrix.distances, "distances"),
    ):
        for row in rows:
            _check(len(row) == n, f"matrix: {name} is not square")
            _check(all(cell >= 0 for cell in row), f"matrix: negative {name} cell")


V = TypeVar("V")


def _unique(mapping: dict[str, V], items: Iterable[object], what: str) -> dict[str, V]:
    _check(len(mapping) == len(tuple(items)), f"duplicate {what} id")
    return mapping


def _check_onboard(vehicles: tuple[Vehicle, ...], by_id: dict[str, Request]) -> None:
    seen: set[str] = set()
    for v in vehicles:
        for rid in v.onboard:
            _check(rid in by_id, f"vehicle {v.id}: onboard request {rid} is unknown")
            _check(rid not in seen, f"request {rid} is on board two vehicles")
            seen.add(rid)
        aboard = [by_id[rid] for rid in v.onboard]
        _check(
            sum(r.seats for r in aboard) <= v.seats
            and sum(r.wheelchairs for r in aboard) <= v.wheelchairs,
            f"vehicle {v.id}: the patients on board exceed its seats or wheelchair places",
        )
