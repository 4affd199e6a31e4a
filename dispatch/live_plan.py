"""The live plan: each driver's stops still to do today, in the order it will drive them.

From the day's applied dispatch run (the newest applied one), keeping only the stops of trips
still with that driver and not done; trips given to the driver since (by hand, an insertion)
are fitted in by their pick-up time. Without an applied run, the driver's trips in time
order. A pick-up is done once the patient is on board; an on-board trip has only its
drop-off left; completed, cancelled and no-show trips have none. The ETAs (dispatch/eta.py)
read the day through here; re-planning from now and insertions (dispatch/live.py, which
also needs the pending trips, shifts and positions) take each driver's order from here
(`live_plans_of`) over the trips they read, so both see the same order and statuses.

Reads are company-scoped and cost a constant number of queries whatever the number of drivers
(`live_plans`: the applied run, the trips).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.db import connection
from django.utils import timezone

from atmr.accounts.selectors import company_get
from bookings.models import Booking
from bookings.selectors import day_bounds
from dispatch.models import DispatchRun, PlannedRoute, RouteStop

S = Booking.Status
# Trips a driver still has work on; before ON_BOARD both stops are left.
LIVE_STATUSES = (S.ASSIGNED, S.EN_ROUTE, S.ARRIVED, S.ON_BOARD)
PICKUP_DONE = frozenset({S.ON_BOARD})

StopKind = Literal["pickup", "dropoff", "break"]


@dataclass(frozen=True, slots=True)
class LiveStop:
    """A stop still to do. `booking` is None for a break; planned times come from the
    applied run (None for a trip the run did not plan)."""

    kind: StopKind
    booking: Booking | None
    lat: float
    lon: float
    planned_arrival: datetime | None = None
    planned_departure: datetime | None = None

    @property
    def booking_id(self) -> str | None:
        return str(self.booking.id) if self.booking is not None else None


@dataclass(frozen=True, slots=True)
class LivePlan:
    """One driver's rest of the day. `source`: `plan` (the applied run) or `assigned` (no
    applied run: its trips in time order). `previous` is the plan's stop before the first one
    left (the route's start, or the last stop done), None without a plan."""

    driver_id: str
    source: Literal["plan", "assigned"]
    stops: tuple[LiveStop, ...]
    previous: RouteStop | None = None

    @property
    def bookings(self) -> list[Booking]:
        """The trips of the stops, each once, in stop order."""
        seen: dict[str, Booking] = {}
        for stop in self.stops:
            if stop.booking is not None:
                seen.setdefault(str(stop.booking.id), stop.booking)
        return list(seen.values())


def live_companies(*, now: datetime | None = None) -> list[str]:
    """Ids of the active companies with trips under way or to do around now (a day either
    side, whatever their zones): the minute's ETA refresh visits them. All companies at once
    (housekeeping, not a tenant's request)."""
    now = now or timezone.now()
    rows = (
        Booking.objects.filter(
            status__in=LIVE_STATUSES,
            driver__isnull=False,
            company__active=True,
            scheduled_at__gte=now - timedelta(days=1),
            scheduled_at__lt=now + timedelta(days=1),
        )
        .order_by()
        .values_list("company_id", flat=True)
        .distinct()
    )
    return [str(pk) for pk in rows]


def live_driver_ids(*, company_id: UUID | str, now: datetime | None = None) -> list[str]:
    """Ids of the company's drivers with trips left today (its zone), in a stable order."""
    tz = company_get(company_id=company_id).tz
    start, end = day_bounds((now or timezone.now()).astimezone(tz).date(), tz)
    rows = (
        Booking.objects.filter(
            company_id=company_id,
            driver__isnull=False,
            status__in=LIVE_STATUSES,
            scheduled_at__gte=start,
            scheduled_at__lt=end,
        )
        .order_by("driver_id")
        .values_list("driver_id", flat=True)
        .distinct()
    )
    return [str(pk) for pk in rows]


def live_day(*, company_id: UUID | str, now: datetime | None = None) -> date:
    """Today in the company's zone."""
    tz = company_get(company_id=company_id).tz
    return (now or timezone.now()).astimezone(tz).date()


def live_plans(
    *,
    company_id: UUID | str,
    driver_ids: Iterable[UUID | str] | None = None,
    now: datetime | None = None,
) -> dict[str, LivePlan]:
    """Driver id -> its live plan, for every driver with trips left today (or only those of
    `driver_ids`). Two queries: the day's applied run and the live trips."""
    tz = company_get(company_id=company_id).tz
    day = (now or timezone.now()).astimezone(tz).date()
    wanted = None if driver_ids is None else {str(d) for d in driver_ids}
    trips = _live_trips(company_id, day, tz, wanted)
    routes = _applied_routes(company_id, day, wanted)
    by_driver: dict[str, list[Booking]] = defaultdict(list)
    for booking in trips:
        by_driver[str(booking.driver_id)].append(booking)
    return {
        driver_id: _plan(driver_id, bookings, routes.get(driver_id))
        for driver_id, bookings in by_driver.items()
    }


def live_plans_of(
    *, company_id: UUID | str, day: date, trips: dict[str, list[Booking]]
) -> dict[str, LivePlan]:
    """Driver id -> its live plan from trips already read (driver id -> its live trips in
    pick-up time order, as `live_plans` reads them): one query, the applied run's routes.
    The re-plan and insertion loader (dispatch/live.py) orders each driver's work by it."""
    routes = _applied_routes(company_id, day, set(trips)) if trips else {}
    return {d: _plan(d, bookings, routes.get(d)) for d, bookings in trips.items()}


def live_plan(
    *, company_id: UUID | str, driver_id: UUID | str, now: datetime | None = None
) -> LivePlan:
    """One driver's live plan (no stops when it has nothing left today)."""
    plans = live_plans(company_id=company_id, driver_ids=[driver_id], now=now)
    return plans.get(str(driver_id)) or LivePlan(str(driver_id), "assigned", ())


def _live_trips(
    company_id: UUID | str, day: date, tz: object, wanted: set[str] | None
) -> list[Booking]:
    start, end = day_bounds(day, tz)  # type: ignore[arg-type]  # a company's ZoneInfo
    qs = Booking.objects.filter(
        company_id=company_id,
        driver__isnull=False,
        status__in=LIVE_STATUSES,
        scheduled_at__gte=start,
        scheduled_at__lt=end,
    )
    if wanted is not None:
        qs = qs.filter(driver_id__in=list(wanted))
    return list(qs.order_by("scheduled_at", "id"))


# The wanted drivers' routes only: a day's routes weigh megabytes at 2,000 drivers, and a
# position-triggered refresh wants a few of them.
_ROUTES_SQL = """
SELECT route.value FROM (
    SELECT routes FROM dispatch_dispatchrun
    WHERE company_id = %s AND service_date = %s AND applied_at IS NOT NULL
    ORDER BY applied_at DESC LIMIT 1
) AS run, jsonb_array_elements(run.routes) AS route
WHERE route.value->>'driver' = ANY(%s)
"""


def _applied_routes(
    company_id: UUID | str, day: date, wanted: set[str] | None
) -> dict[str, PlannedRoute]:
    """The newest applied run's routes of the day, by driver (of `wanted` only)."""
    if wanted is not None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_ROUTES_SQL, [company_id, day, sorted(wanted)])
            found: list[PlannedRoute] = [_json(row[0]) for row in cursor.fetchall()]
        return {r["driver"]: r for r in found}
    run = (
        DispatchRun.objects.filter(
            company_id=company_id, service_date=day, applied_at__isnull=False
        )
        .order_by("-applied_at")
        .only("routes")
        .first()
    )
    if run is None:
        return {}
    routes: list[PlannedRoute] = run.routes or []
    return {r["driver"]: r for r in routes if wanted is None or r["driver"] in wanted}


def _json(value: Any) -> Any:
    """A jsonb value as the driver gives it: decoded already (psycopg 3), or text."""
    return json.loads(value) if isinstance(value, str) else value


def _pickup_left(booking: Booking) -> bool:
    return booking.status not in PICKUP_DONE


def _trip_stops(booking: Booking) -> list[LiveStop]:
    stops = []
    if _pickup_left(booking):
        stops.append(LiveStop("pickup", booking, booking.pickup_lat, booking.pickup_lon))
    stops.append(LiveStop("dropoff", booking, booking.dropoff_lat, booking.dropoff_lon))
    return stops


def _plan(driver_id: str, bookings: list[Booking], route: PlannedRoute | None) -> LivePlan:
    if route is None:
        return LivePlan(driver_id, "assigned", tuple(_in_time_order(bookings)))
    return _from_route(driver_id, bookings, route)


def _in_time_order(bookings: list[Booking]) -> list[LiveStop]:
    """Patients on board are dropped off first; then each trip's pick-up and drop-off by
    pick-up time (`bookings` is in that order), except a trip an insertion placed, where it
    placed it (as in `_fit_in`)."""
    on_board = [b for b in bookings if not _pickup_left(b)]
    waiting = [b for b in bookings if _pickup_left(b)]
    plain = [b for b in waiting if not b.insert_before]
    stops = [stop for b in [*on_board, *plain] for stop in _trip_stops(b)]
    for booking in (b for b in waiting if b.insert_before):
        if not _placed(stops, booking):
            at = next(
                (
                    i
                    for i, s in enumerate(stops)
                    if s.kind == "pickup"
                    and s.booking is not None
                    and s.booking.scheduled_at > booking.scheduled_at
                ),
                len(stops),
            )
            stops[at:at] = _trip_stops(booking)
    return stops


def _from_route(driver_id: str, bookings: list[Booking], route: PlannedRoute) -> LivePlan:
    mine = {str(b.id): b for b in bookings}
    planned: list[LiveStop] = []
    previous: RouteStop | None = None
    in_route: set[str] = set()
    for stop in route["stops"]:
        booking = mine.get(stop["booking"] or "")
        kind = stop["kind"]
        if booking is not None:
            in_route.add(str(booking.id))
        if kind == "break" and planned:
            planned.append(_route_stop(stop, "break", None))
        elif kind in ("pickup", "dropoff") and booking is not None:
            if kind == "pickup" and not _pickup_left(booking):
                previous = previous if planned else stop
                continue
            planned.append(_route_stop(stop, kind, booking))  # type: ignore[arg-type]
        elif not planned and kind != "end":
            previous = stop  # the start, a break or a stop done (or no longer this driver's)
    extra = [b for b in bookings if str(b.id) not in in_route]
    return LivePlan(driver_id, "plan", tuple(_fit_in(planned, extra)), previous)


def _route_stop(stop: RouteStop, kind: StopKind, booking: Booking | None) -> LiveStop:
    return LiveStop(
        kind,
        booking,
        stop["lat"],
        stop["lon"],
        datetime.fromisoformat(stop["arrival"]),
        datetime.fromisoformat(stop["departure"]),
    )


def _fit_in(planned: list[LiveStop], extra: list[Booking]) -> list[LiveStop]:
    """Trips the run did not plan: patients on board first; a trip an insertion placed
    where it put it (`insert_before`: before the stops then after its pick-up and drop-off,
    while those are still this driver's); the others before the first planned stop due after
    their pick-up time."""
    stops = [s for b in extra if not _pickup_left(b) for s in _trip_stops(b)] + planned
    waiting = [b for b in extra if _pickup_left(b)]
    placed = {b.id for b in waiting if b.insert_before and _placed(stops, b)}
    for booking in (b for b in waiting if b.id not in placed):
        at = next(
            (
                i
                for i, s in enumerate(stops)
                if s.planned_arrival is not None and s.planned_arrival > booking.scheduled_at
            ),
            len(stops),
        )
        stops[at:at] = _trip_stops(booking)
    return stops


def _placed(stops: list[LiveStop], booking: Booking) -> bool:
    """Put `booking`'s stops where an insertion chose (in place); False, `stops` untouched,
    when a stop it was placed before is not among `stops` any more (or not in order)."""
    keys = [[s.kind, s.booking_id] for s in stops]
    wanted = booking.insert_before or {}

    def index(kind: str) -> int | None:
        anchor = wanted.get(kind)
        if anchor is None:
            return len(stops)
        return keys.index(anchor) if anchor in keys else None

    pickup, dropoff = index("pickup"), index("dropoff")
    if pickup is None or dropoff is None or dropoff < pickup:
        return False
    pick, drop = _trip_stops(booking)
    stops[dropoff:dropoff] = [drop]
    stops[pickup:pickup] = [pick]
    return True
