"""The one module that speaks both ORM and engine: bookings and drivers in, plans out.

Engine times are integer seconds since local midnight of the service day (company time zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bookings.models import Booking, Mobility
from dispatch.engine.geo import Location, TravelMatrix
from dispatch.engine.plan import Plan, StopKind, UnassignedReason
from dispatch.engine.problem import WHEELCHAIR, Break, Problem, Request, Vehicle
from dispatch.models import DispatchSettings, PlannedRoute, RouteStop
from drivers.models import Driver, Shift
from places.models import Place

STRETCHER = "stretcher"
# Prefix of the per-driver "skill" that pins an already started trip to its driver.
PINNED = "driver:"


@dataclass(frozen=True)
class DayClock:
    """Converts between aware datetimes and engine seconds for one local day."""

    day: date
    tz: ZoneInfo

    @property
    def midnight(self) -> datetime:
        return datetime.combine(self.day, time.min, tzinfo=self.tz)

    def seconds(self, moment: datetime) -> int:
        return int((moment - self.midnight).total_seconds())

    def at(self, seconds: int) -> datetime:
        return self.midnight + timedelta(seconds=seconds)

    def local(self, clock_time: time | None, default: time) -> int:
        chosen = clock_time or default
        return self.seconds(datetime.combine(self.day, chosen, tzinfo=self.tz))


@dataclass(frozen=True)
class DayInput:
    """What a run plans: the bookings, the day's shifts (one per driver, each with its driver
    and vehicle) and their places in the location list."""

    bookings: list[Booking]
    shifts: list[Shift]
    locations: list[Location]


def day_locations(bookings: list[Booking], shifts: list[Shift], depot: Location) -> DayInput:
    """Location list: each booking's pick-up and drop-off, then each shift's driver's start."""
    locations: list[Location] = []
    for b in bookings:
        locations += [Location(b.pickup_lat, b.pickup_lon), Location(b.dropoff_lat, b.dropoff_lon)]
    for shift in shifts:
        locations.append(driver_home(shift.driver, depot))
    return DayInput(bookings, shifts, locations)


def driver_home(driver: Driver, depot: Location) -> Location:
    if driver.home_lat is not None and driver.home_lon is not None:
        return Location(driver.home_lat, driver.home_lon)
    return depot


def _service_seconds(mobility: str, conf: DispatchSettings) -> int:
    by_mobility: dict[str, int] = {
        Mobility.WHEELCHAIR: conf.service_wheelchair_s,
        Mobility.STRETCHER: conf.service_stretcher_s,
    }
    return by_mobility.get(mobility, conf.service_walks_s)


def stop_service_seconds(
    booking: Booking, kind: str, conf: DispatchSettings, extra: dict[object, int]
) -> int:
    """Seconds at a trip's `pickup` or `dropoff` as a run plans them: by mobility, plus the
    place's extra time (`place_extra_seconds`)."""
    place = booking.pickup_place_id if kind == "pickup" else booking.dropoff_place_id
    return _service_seconds(booking.mobility, conf) + extra.get(place, 0)


def _places(booking: Booking) -> tuple[int, int]:
    """(seats, wheelchair places) the trip occupies; the patient in a wheelchair needs no seat."""
    if booking.mobility == Mobility.WHEELCHAIR:
        return booking.passengers - 1, 1
    if booking.mobility == Mobility.STRETCHER:
        return booking.passengers - 1, 0
    return booking.passengers, 0


def place_extra_seconds(bookings: list[Booking]) -> dict[object, int]:
    """Place id -> the extra service seconds of each stop there (`Place.extra_service_minutes`:
    long corridors, a reception desk), for the places these bookings name. One query."""
    ids = {b.pickup_place_id for b in bookings} | {b.dropoff_place_id for b in bookings}
    ids.discard(None)
    if not ids:
        return {}
    rows = Place.objects.filter(id__in=ids, extra_service_minutes__gt=0)
    return {pk: minutes * 60 for pk, minutes in rows.values_list("id", "extra_service_minutes")}


def build_request(
    index: int,
    booking: Booking,
    clock: DayClock,
    matrix: TravelMatrix,
    conf: DispatchSettings,
    extra: dict[object, int] | None = None,
) -> Request:
    pickup, dropoff = 2 * index, 2 * index + 1
    seats, wheelchairs = _places(booking)
    service = _service_seconds(booking.mobility, conf)
    extra = extra or {}
    pickup_service = service + extra.get(booking.pickup_place_id, 0)
    dropoff_service = service + extra.get(booking.dropoff_place_id, 0)
    direct = matrix.durations[pickup][dropoff]
    equipment = {STRETCHER} if booking.mobility == Mobility.STRETCHER else set()
    if booking.status != Booking.Status.PENDING and booking.driver_id:
        equipment.add(f"{PINNED}{booking.driver_id}")
    earliest = max(0, clock.seconds(booking.pickup_earliest))
    max_ride = int(direct * conf.max_ride_factor + conf.max_ride_extra_minutes * 60)
    # Pick-up windows are short, so bounding the drop-off by "earliest pick-up + ride limit"
    # costs little and makes every plan VROOM finds keep the ride limit by construction;
    # the OR-Tools repair stays for the rare case it does not.
    dropoff_latest = earliest + pickup_service + max_ride
    if booking.appointment_at:
        dropoff_latest = min(dropoff_latest, clock.seconds(booking.appointment_at))
    return Request(
        id=str(booking.id),
        pickup=pickup,
        dropoff=dropoff,
        pickup_earliest=earliest,
        pickup_latest=max(earliest, clock.seconds(booking.pickup_latest)),
        dropoff_latest=dropoff_latest,
        pickup_service=pickup_service,
        dropoff_service=dropoff_service,
        seats=seats,
        wheelchairs=wheelchairs,
        equipment=frozenset(equipment),
        max_ride=max_ride,
        priority=URGENT_PRIORITY if booking.urgent else 0,
    )


# The engine's priority (0..100) for an urgent trip: when not every trip fits, the others are
# left out first.
URGENT_PRIORITY = 50

# VROOM's search depth by day size, measured with bench/dispatch_bench.py over several days.
# Up to 100 trips the plan must be out within a second end to end: depth 3 plans such a day in
# about 0.35 s, depth 4 in 0.6 s (over seven 100-trip days depth 4 used one driver fewer on
# three and left one trip fewer out on one; depth 3 drove 1.5 % less). From 100 to 150 trips
# depth 4 leaves fewer trips out than 3 and there is time for it. From about 150 trips the
# time limit binds first, and a shallower search finishes more of its work.
EXPLORATION_BY_SIZE = ((60, 5), (100, 3), (150, 4))
DEEP_DAY_EXPLORATION = 3


def exploration_for(requests: int) -> int:
    return next(
        (level for upto, level in EXPLORATION_BY_SIZE if requests <= upto), DEEP_DAY_EXPLORATION
    )


def solve_day(problem: Problem, *, time_limit_s: float) -> Plan:
    """The engine's solver, imported on first use: it brings VROOM, OR-Tools and pandas
    (about 100 MB), which web workers that never plan should not carry."""
    from dispatch.engine.solver import solve

    exploration = exploration_for(len(problem.requests))
    return solve(problem, time_limit_s=time_limit_s, seed=0, exploration=exploration)


def build_vehicle(index: int, shift: Shift, clock: DayClock) -> Vehicle:
    """The engine's vehicle for a driver's shift: its window, that day's vehicle, its break.

    A night shift that began the day before starts at the day's midnight (second 0).
    """
    vehicle = shift.vehicle
    assert vehicle is not None  # the loader keeps only shifts with a vehicle
    equipment = {f"{PINNED}{shift.driver_id}"} | ({STRETCHER} if vehicle.stretcher else set())
    start = max(0, clock.seconds(shift.start))
    return Vehicle(
        id=str(shift.driver_id),
        start=index,
        end=index,
        shift_start=start,
        shift_end=max(start, clock.seconds(shift.end)),
        seats=vehicle.seats,
        wheelchairs=vehicle.wheelchair_places,
        equipment=frozenset(equipment),
        shift_break=_break(shift, clock),
    )


def _break(shift: Shift, clock: DayClock) -> Break | None:
    """The shift's break window as the engine's: the break must *start* by latest - minutes."""
    if not (shift.break_minutes and shift.break_earliest and shift.break_latest):
        return None
    duration = shift.break_minutes * 60
    earliest = max(0, clock.seconds(shift.break_earliest))
    latest = clock.seconds(shift.break_latest) - duration
    if latest < earliest:  # an absence or midnight left too little of it: no break to plan
        return None
    return Break(earliest=earliest, latest=latest, duration=duration)


def build_problem(
    day: DayInput, matrix: TravelMatrix, clock: DayClock, conf: DispatchSettings
) -> Problem:
    first_driver = 2 * len(day.bookings)
    extra = place_extra_seconds(day.bookings)
    return Problem(
        requests=tuple(
            build_request(i, b, clock, matrix, conf, extra) for i, b in enumerate(day.bookings)
        ),
        vehicles=tuple(
            build_vehicle(first_driver + i, shift, clock) for i, shift in enumerate(day.shifts)
        ),
        matrix=matrix,
    )


def plan_routes(plan: Plan, clock: DayClock, day: DayInput) -> list[PlannedRoute]:
    """Routes as stored on the run and shown by the API: stops with ETAs as ISO datetimes."""
    shifts = {str(s.driver_id): s for s in day.shifts}
    routes: list[PlannedRoute] = []
    for route in plan.routes:
        shift = shifts[route.vehicle_id]
        stops: list[RouteStop] = [
            {
                "kind": str(stop.kind),
                "booking": stop.request_id,
                "arrival": clock.at(stop.arrival).isoformat(),
                "service_start": clock.at(stop.service_start).isoformat(),
                "departure": clock.at(stop.departure).isoformat(),
                "seats_load": stop.seats_load,
                "wheelchair_load": stop.wheelchair_load,
                "lat": day.locations[stop.location].lat,
                "lon": day.locations[stop.location].lon,
            }
            for stop in route.stops
        ]
        routes.append(
            {
                "driver": route.vehicle_id,
                "driver_name": shift.driver.user.full_name,
                "vehicle": str(shift.vehicle_id),
                "stops": stops,
            }
        )
    return routes


def planned_times(plan: Plan, clock: DayClock) -> dict[str, tuple[str, datetime, datetime]]:
    """Booking id -> (driver id, pick-up service start, drop-off service start)."""
    found: dict[str, tuple[str, datetime, datetime]] = {}
    for route in plan.routes:
        pickups = {}
        for stop in route.stops:
            if stop.kind is StopKind.PICKUP and stop.request_id:
                pickups[stop.request_id] = clock.at(stop.service_start)
            elif stop.kind is StopKind.DROPOFF and stop.request_id:
                found[stop.request_id] = (
                    route.vehicle_id,
                    pickups.get(stop.request_id, clock.at(stop.service_start)),
                    clock.at(stop.service_start),
                )
    return found


# --- why a trip was left out, as the office needs to know it ---------------------------------
def unassigned_cause(problem: Problem, request_id: str, reason: UnassignedReason) -> str:
    """The true cause of an engine's unassigned request, most fundamental first:

    `no_driver_on_shift` (no shift is on long enough around the pick-up window to do the
    trip), `no_vehicle_for_mobility` (no vehicle on shift then has a wheelchair place or
    stretcher it needs), `no_capacity` (none of those has enough places), `ride_time` (even
    picked up at once and driven straight, the appointment or the ride limit is missed),
    `window_unreachable` (travel from or back to the drivers' starts does not fit), and the
    engine's `no_room` (it fits alone, but every driver who could take it is busy).
    """
    if reason is UnassignedReason.NO_ROOM:
        return str(reason)
    request = problem.request(request_id)
    on_shift = [v for v in problem.vehicles if _covers(v, request, problem)]
    pinned = {e for e in request.equipment if e.startswith(PINNED)}
    if pinned:
        on_shift = [v for v in on_shift if pinned <= v.equipment]
    if not on_shift:
        return "no_driver_on_shift"
    needs = (request.equipment - pinned) | ({WHEELCHAIR} if request.wheelchairs else set())
    kinds = [v for v in on_shift if needs <= v.kinds and (request.seats == 0 or v.seats > 0)]
    if not kinds:
        return "no_vehicle_for_mobility"
    if not any(request.seats <= v.seats and request.wheelchairs <= v.wheelchairs for v in kinds):
        return "no_capacity"
    if _ride_impossible(request, problem):
        return "ride_time"
    return "window_unreachable"


def _trip_seconds(request: Request, problem: Problem) -> int:
    direct = problem.matrix.durations[request.pickup][request.dropoff]
    return request.pickup_service + direct + request.dropoff_service


def _covers(vehicle: Vehicle, request: Request, problem: Problem) -> bool:
    """The shift is on at some moment of the pick-up window and lasts the trip itself."""
    return (
        vehicle.shift_start <= request.pickup_latest
        and vehicle.shift_end >= request.pickup_earliest + _trip_seconds(request, problem)
    )


def _ride_impossible(request: Request, problem: Problem) -> bool:
    direct = problem.matrix.durations[request.pickup][request.dropoff]
    if request.max_ride is not None and direct > request.max_ride:
        return True
    earliest_dropoff = request.pickup_earliest + request.pickup_service + direct
    return request.dropoff_latest is not None and earliest_dropoff > request.dropoff_latest
