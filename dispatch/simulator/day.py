"""The day to simulate, read from the database: each driver's stops in the order it drives them.

The order is the day's applied dispatch run (its newest applied one): its routes, keeping the
trips that are still that driver's and still to do. A driver's trips outside that plan (no run
applied, or assigned by hand since) go in by their pick-up time.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from uuid import UUID

from atmr.accounts.models import Company
from bookings.models import Booking
from bookings.selectors import booking_list, day_bounds
from dispatch.adapters import _service_seconds
from dispatch.engine.geo import Location
from dispatch.models import DispatchRun, DispatchSettings, PlannedRoute, RouteStop
from dispatch.selectors import dispatch_settings_get
from dispatch.simulator.script import DriverDay, Stop
from drivers.models import Driver

# A driver's trips still to drive ("arrived" comes with the ETA work; harmless before).
ACTIVE = ("assigned", "en_route", "arrived", "on_board")


def run_applied(*, company_id: UUID | str, day: date) -> DispatchRun | None:
    """The day's newest applied run (an `auto` run applies itself), or None."""
    return (
        DispatchRun.objects.filter(company_id=company_id, service_date=day)
        .exclude(applied_at=None)
        .order_by("-applied_at")
        .first()
    )


def day_load(*, company: Company, day: date) -> tuple[list[DriverDay], DispatchRun | None]:
    """Every driver with trips still to drive on `day`, and the applied run they follow."""
    start, end = day_bounds(day, company.tz)
    trips = (
        booking_list(company_id=company.id)
        .filter(scheduled_at__gte=start, scheduled_at__lt=end, status__in=ACTIVE)
        .exclude(driver=None)
        .order_by("scheduled_at", "id")
    )
    by_driver: dict[str, list[Booking]] = defaultdict(list)
    for booking in trips:
        by_driver[str(booking.driver_id)].append(booking)
    run = run_applied(company_id=company.id, day=day)
    routes = {route["driver"]: route for route in (run.routes if run else [])}
    conf = dispatch_settings_get(company_id=company.id)
    days = []
    for driver_id, bookings in by_driver.items():
        driver = bookings[0].driver
        assert driver is not None  # excluded above
        days.append(_driver_day(driver, bookings, routes.get(driver_id), company, conf))
    days.sort(key=lambda d: d.email)
    return days, run


def _driver_day(
    driver: Driver,
    bookings: list[Booking],
    route: PlannedRoute | None,
    company: Company,
    conf: DispatchSettings,
) -> DriverDay:
    mine = {str(b.id) for b in bookings}
    stops = _route_stops(route, mine) if route else [_start(driver, company)]
    planned = {s.booking for s in stops}
    for booking in bookings:
        if str(booking.id) not in planned:
            _insert_by_time(stops, booking, conf)
    return DriverDay(
        driver_id=str(driver.id),
        email=driver.user.email,
        name=driver.user.full_name or driver.user.email,
        stops=tuple(stops),
        statuses={str(b.id): b.status for b in bookings},
        labels={str(b.id): f"{b.client.last_name} ({b.pickup_address})" for b in bookings},
    )


def _route_stops(route: PlannedRoute, mine: set[str]) -> list[Stop]:
    stops: list[Stop] = []
    previous: RouteStop | None = None
    for seq, raw in enumerate(route["stops"]):
        if raw["booking"] is None or raw["booking"] in mine:
            stops.append(_plan_stop(seq, raw, previous))
        previous = raw
    return stops


def _plan_stop(seq: int, raw: RouteStop, previous: RouteStop | None) -> Stop:
    arrival, begin = _at(raw["arrival"]), _at(raw["service_start"])
    departure = _at(raw["departure"])
    leg = None
    if previous is not None:
        leg = max(0.0, (arrival - _at(previous["departure"])).total_seconds())
    waits = raw["kind"] in ("pickup", "break")
    return Stop(
        kind=raw["kind"],
        booking=raw["booking"],
        location=Location(raw["lat"], raw["lon"]),
        service_start=begin if waits else None,
        service_s=max(0.0, (departure - begin).total_seconds()),
        seq=seq,
        planned_leg_s=leg,
        departure=departure if raw["kind"] == "start" else None,
    )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _start(driver: Driver, company: Company) -> Stop:
    """Where a driver without a plan begins: its last known position, its home, the office."""
    for lat, lon in (
        (driver.last_lat, driver.last_lon),
        (driver.home_lat, driver.home_lon),
        (company.lat, company.lon),
    ):
        if lat is not None and lon is not None:
            return Stop("start", None, Location(lat, lon), None, 0.0)
    raise ValueError(f"Driver {driver.user.email} has no position, home or office to start at.")


def _insert_by_time(stops: list[Stop], booking: Booking, conf: DispatchSettings) -> None:
    """The trip's pick-up and drop-off, together, before the first later pick-up (or the
    day's end)."""
    service = float(_service_seconds(booking.mobility, conf))
    pickup = Stop(
        "pickup",
        str(booking.id),
        Location(booking.pickup_lat, booking.pickup_lon),
        booking.scheduled_at,
        service,
    )
    dropoff = Stop(
        "dropoff",
        str(booking.id),
        Location(booking.dropoff_lat, booking.dropoff_lon),
        None,
        service,
    )
    at = next(
        (
            i
            for i, stop in enumerate(stops)
            if i > 0
            and (
                stop.kind == "end"
                or (
                    stop.kind == "pickup"
                    and stop.service_start
                    and stop.service_start > booking.scheduled_at
                )
            )
        ),
        len(stops),
    )
    stops[at:at] = [pickup, dropoff]
