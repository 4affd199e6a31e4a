"""The solver's answer: ordered stops per vehicle, unassigned requests with a reason, totals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StopKind(StrEnum):
    START = "start"
    PICKUP = "pickup"
    DROPOFF = "dropoff"
    BREAK = "break"
    END = "end"


class UnassignedReason(StrEnum):
    """Why a request is not in the plan, from the most to the least fundamental."""

    NO_EQUIPMENT = "no_equipment"  # no vehicle has the equipment or the place kind at all
    NO_CAPACITY = "no_capacity"  # bigger than every vehicle that has the right kind
    WINDOW_UNREACHABLE = "window_unreachable"  # not even a direct trip fits a shift
    NO_ROOM = "no_room"  # feasible alone, but no room left in any route


@dataclass(frozen=True)
class Stop:
    """One stop of a route; times are seconds, load is what is on board after the stop.

    `service_start - arrival` is waiting. For START, arrival = service_start = departure
    is the moment the vehicle leaves; for END it is the moment it arrives. A BREAK is taken
    on the way from the previous stop, whose location it reports.
    """

    kind: StopKind
    location: int
    arrival: int
    service_start: int
    departure: int
    seats_load: int
    wheelchair_load: int
    request_id: str | None = None


@dataclass(frozen=True)
class Route:
    vehicle_id: str
    stops: tuple[Stop, ...]

    @property
    def request_ids(self) -> tuple[str, ...]:
        return tuple(
            s.request_id for s in self.stops if s.kind is StopKind.DROPOFF and s.request_id
        )


@dataclass(frozen=True)
class Unassigned:
    request_id: str
    reason: UnassignedReason


@dataclass(frozen=True)
class StageTiming:
    """A solver stage that ran (`vroom`, `ortools`, `fallback`) and its wall time."""

    name: str
    seconds: float


@dataclass(frozen=True)
class Plan:
    """Routes only for vehicles that do something; totals are over all routes.

    `drive_seconds` and `distance_metres` sum matrix cells along the routes.
    `fallback_share` is the matrix's share of straight-line estimated cells.
    """

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    drive_seconds: int
    distance_metres: int
    stages: tuple[StageTiming, ...] = ()
    fallback_share: float = 0.0

    @property
    def vehicles_used(self) -> int:
        return len(self.routes)

    def route_of(self, vehicle_id: str) -> Route | None:
        return next((r for r in self.routes if r.vehicle_id == vehicle_id), None)
