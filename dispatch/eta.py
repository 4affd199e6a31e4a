"""ETAs of the live day: when each driver reaches each stop it has left, and which trips that
makes late.

A driver's ETAs start from its last position when that is fresher than `FRESH_POSITION`;
otherwise from the plan's previous stop at its planned departure, or from the shift's start
(at the driver's home, else the company's address), never before now. Each leg's time comes
from the travel provider (OSRM with its cache, breaker and straight-line fall-back; the
source is recorded); a pick-up waits for its window and each stop takes the service time a
dispatch run plans with. A driver `arrived` at a pick-up whose patient is not on board yet
picks up no earlier than now: the wait moves that pick-up's ETA (late once now passes the
window's end) and every later stop. The stops come from `dispatch.live_plan`.

Per trip: `eta_pickup`, `eta_dropoff`, `lateness` (`late` when the pick-up ETA is after the
window's end or the drop-off ETA after the appointment, `at_risk` when the slack is under the
company's margin, else `on_time`) and `ride_too_long` (the ride at these ETAs exceeds the
maximum ride time). Stored in one statement per refresh, without touching `updated_at` (a
dispatch run compares it to spot edited trips). Then `eta_updated` (one per driver, all its
stops) to the office and that driver, and `late_risk` to the office per trip whose state
changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_get
from atmr.list_cache import etas_written
from bookings.models import Booking
from bookings.serializers import booking_eta_fragment
from dispatch.adapters import place_extra_seconds, stop_service_seconds
from dispatch.engine.geo import Location
from dispatch.engine.travel.providers import PairTimes
from dispatch.eta_coalesce import recently_refreshed
from dispatch.live_plan import LIVE_STATUSES, LivePlan, LiveStop, live_plans
from dispatch.models import DispatchSettings
from dispatch.selectors import dispatch_settings_get
from dispatch.travel import travel_pairs_provider, travel_source
from drivers.models import Driver, Shift
from drivers.rosters import shifts_on_day
from realtime.events import build_eta_updated, build_late_risk
from realtime.groups import group_for_company_dispatch, group_for_driver
from realtime.publish import publish_many_on_commit
from realtime.schemas import EtaStop

FRESH_POSITION = timedelta(minutes=3)
L = Booking.Lateness
Start = Literal["position", "plan", "shift", "now"]
Why = Literal["change", "position", "beat"]
Reason = Literal["pickup_window", "appointment", "ride_time"]


@dataclass(slots=True)
class TripEta:
    """A trip's new ETAs and state; `previous` is the lateness stored before."""

    booking: Booking
    eta_pickup: datetime | None
    eta_dropoff: datetime | None = None
    pickup_departure: datetime | None = None
    direct_s: int | None = None
    lateness: str = L.ON_TIME
    ride_too_long: bool = False
    reason: Reason | None = None
    slack_s: int | None = None
    previous: str = ""


@dataclass(slots=True)
class DriverEtas:
    driver_id: str
    start: Start
    source: str
    stops: list[tuple[LiveStop, datetime, datetime]] = field(default_factory=list)
    trips: dict[str, TripEta] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Context:
    """What every driver's computation of one company refresh shares."""

    company: Company
    conf: DispatchSettings
    extra: dict[object, int]
    now: datetime


# --- entry points ---------------------------------------------------------------------------
def company_etas_refresh(
    *,
    company_id: UUID | str,
    driver_ids: Iterable[UUID | str] | None = None,
    why: Why = "change",
) -> list[DriverEtas]:
    """Recompute, store and announce the ETAs of the company's drivers with trips left today
    (or only of `driver_ids`). A constant number of queries whatever the number of drivers
    (company and settings, the applied run, the trips, the drivers, the shifts, the places'
    extra times, one update). Idempotent; safe to run concurrently (the last write wins, and
    a trip that left the live statuses meanwhile is not written).

    `why`: after a `change` (a trip's status or driver, a run applied), a driver of
    `driver_ids` with nothing left today hears so (an `eta_updated` without stops); after a
    `position` batch an idle driver is left alone; the minute's `beat` skips the drivers a
    position refreshed within the last 30 s (`eta_coalesce.recently_refreshed`)."""
    wanted = None if driver_ids is None else [str(d) for d in driver_ids]
    if wanted is not None and not wanted:
        return []
    now = timezone.now()
    plans = live_plans(company_id=company_id, driver_ids=wanted, now=now)
    if why == "beat":
        for driver_id in recently_refreshed(list(plans)):
            del plans[driver_id]
    if wanted is not None and why == "change":
        for driver_id in wanted:
            plans.setdefault(driver_id, LivePlan(driver_id, "assigned", ()))
    return etas_store(company_id=company_id, plans=plans, now=now)


def driver_etas_compute(*, company_id: UUID | str, driver_id: UUID | str) -> DriverEtas:
    """One driver's ETAs, recomputed, stored and announced (see company_etas_refresh)."""
    found = company_etas_refresh(company_id=company_id, driver_ids=[driver_id])
    return found[0]


@transaction.atomic
def etas_store(
    *, company_id: UUID | str, plans: dict[str, LivePlan], now: datetime
) -> list[DriverEtas]:
    """Compute the ETAs of `plans` (one company's), store them and queue the events."""
    if not plans:
        return []
    company = company_get(company_id=company_id)
    bookings = [b for plan in plans.values() for b in plan.bookings]
    context = _Context(
        company, dispatch_settings_get(company_id=company_id), place_extra_seconds(bookings), now
    )
    drivers = _drivers(company_id, plans)
    shifts = _shifts(company_id, plans, now, company.tz)
    results = drivers_etas(
        [(plan, drivers.get(d), shifts.get(d)) for d, plan in plans.items()], context
    )
    _write(company_id, results, now)
    _announce(company_id, results, now.astimezone(company.tz))
    return results


# --- computing --------------------------------------------------------------------------------
Visit = tuple[LivePlan, dict[str, Any] | None, Shift | None]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one driver's points sit in the shared point list."""

    plan: LivePlan
    clock: datetime
    start: Start
    base: int
    directs: dict[str, tuple[int, int]]


def drivers_etas(visits: Sequence[Visit], context: _Context) -> list[DriverEtas]:
    """The ETAs of several drivers' live plans (no queries). One travel request for all of
    them: one cache read and, for the legs not cached (mostly each driver's position to its
    next stop), a few OSRM tables, instead of as many as drivers."""
    points: list[Location] = []
    pairs: list[tuple[int, int]] = []
    layouts = []
    for plan, driver, shift in visits:
        origin, clock, start = _start(plan, driver, shift, context)
        base = len(points)
        local = [origin, *(Location(s.lat, s.lon) for s in plan.stops)]
        directs = _direct_pairs(plan.stops, local)
        points += local
        pairs += [(base + i, base + i + 1) for i in range(len(plan.stops))]
        shifted = {k: (base + a, base + b) for k, (a, b) in directs.items()}
        pairs += shifted.values()
        layouts.append(_Layout(plan, clock, start, base, shifted))
    times = travel_pairs_provider().pairs(points, pairs) if pairs else None
    return [_timed(layout, times, context) for layout in layouts]


def driver_etas(
    plan: LivePlan, driver: dict[str, Any] | None, shift: Shift | None, context: _Context
) -> DriverEtas:
    """The ETAs of one driver's live plan (no queries: the travel provider only)."""
    return drivers_etas([(plan, driver, shift)], context)[0]


def _timed(layout: _Layout, times: PairTimes | None, context: _Context) -> DriverEtas:
    plan, clock, base = layout.plan, layout.clock, layout.base
    mine = {(base + i, base + i + 1) for i in range(len(plan.stops))} | set(layout.directs.values())
    estimated = times is None or travel_source() != "osrm" or bool(mine & times.fallback)
    result = DriverEtas(plan.driver_id, layout.start, "straight_line" if estimated else "osrm")
    for i, stop in enumerate(plan.stops):
        assert times is not None  # a plan with stops has legs
        leg = timedelta(seconds=times.seconds[base + i, base + i + 1])
        arrival, departure = _visit(stop, clock + leg, context)
        result.stops.append((stop, arrival, departure))
        clock = departure
        _note(result, stop, arrival, departure)
    for booking_id, pair in layout.directs.items():
        if booking_id in result.trips and times is not None:
            result.trips[booking_id].direct_s = times.seconds[pair]
    for trip in result.trips.values():
        _judge(trip, context)
    return result


def _start(
    plan: LivePlan, driver: dict[str, Any] | None, shift: Shift | None, context: _Context
) -> tuple[Location, datetime, Start]:
    now = context.now
    seen = driver.get("last_seen_at") if driver else None
    if driver and seen is not None and now - seen <= FRESH_POSITION:
        return Location(driver["last_lat"], driver["last_lon"]), now, "position"
    if plan.previous is not None:
        departure = datetime.fromisoformat(plan.previous["departure"])
        return Location(plan.previous["lat"], plan.previous["lon"]), max(now, departure), "plan"
    home = _home(driver, context.company)
    if shift is not None and home is not None:
        return home, max(now, shift.start), "shift"
    first = plan.stops[0] if plan.stops else None
    if home is None and first is not None:
        return Location(first.lat, first.lon), now, "now"
    return home or Location(0.0, 0.0), now, "now"


def _home(driver: dict[str, Any] | None, company: Company) -> Location | None:
    if driver and driver["home_lat"] is not None and driver["home_lon"] is not None:
        return Location(driver["home_lat"], driver["home_lon"])
    if company.lat is not None and company.lon is not None:
        return Location(company.lat, company.lon)
    return None


def _direct_pairs(stops: Sequence[LiveStop], points: list[Location]) -> dict[str, tuple[int, int]]:
    """Booking id -> (pick-up point, drop-off point) for the maximum ride time; a patient on
    board has its pick-up added to `points`."""
    pickups: dict[str, int] = {}
    pairs: dict[str, tuple[int, int]] = {}
    for i, stop in enumerate(stops, start=1):
        booking = stop.booking
        if booking is None:
            continue
        key = str(booking.id)
        if stop.kind == "pickup":
            pickups[key] = i
        elif key in pickups:
            pairs[key] = (pickups[key], i)
        else:
            points.append(Location(booking.pickup_lat, booking.pickup_lon))
            pairs[key] = (len(points) - 1, i)
    return pairs


def _visit(stop: LiveStop, arrival: datetime, context: _Context) -> tuple[datetime, datetime]:
    """(arrival, departure) at `stop` reached at `arrival`."""
    booking = stop.booking
    if booking is None:  # a break lasts as planned
        planned = (stop.planned_departure or arrival) - (stop.planned_arrival or arrival)
        return arrival, arrival + max(planned, timedelta(0))
    service = timedelta(
        seconds=stop_service_seconds(booking, stop.kind, context.conf, context.extra)
    )
    if stop.kind != "pickup":
        return arrival, arrival + service
    if booking.status == Booking.Status.ARRIVED and booking.arrived_at is not None:
        # There and waiting (`arrived_at` keeps the arrival): the patient boards no earlier
        # than now, so the pick-up's ETA, its lateness and every later stop move with the
        # clock until `on_board`. Time spent at the door counts as service (loading).
        begins = max(booking.arrived_at, booking.pickup_earliest)
        return max(begins, context.now), max(begins + service, context.now)
    begins = max(arrival, booking.pickup_earliest)
    return arrival, max(begins + service, context.now)


def _note(result: DriverEtas, stop: LiveStop, arrival: datetime, departure: datetime) -> None:
    booking = stop.booking
    if booking is None:
        return
    key = str(booking.id)
    trip = result.trips.get(key)
    if trip is None:
        trip = result.trips[key] = TripEta(booking, booking.eta_pickup, previous=booking.lateness)
        if booking.status == Booking.Status.ON_BOARD:
            # Edits are refused once under way, so the row last changed when it went on board.
            trip.pickup_departure = booking.updated_at
    if stop.kind == "pickup":
        trip.eta_pickup, trip.pickup_departure = arrival, departure
    else:
        trip.eta_dropoff = arrival


def _judge(trip: TripEta, context: _Context) -> None:
    """Lateness, its reason and slack, and the ride time check."""
    booking = trip.booking
    slacks: list[tuple[float, Reason]] = []
    if trip.eta_pickup is not None and booking.status != Booking.Status.ON_BOARD:
        slacks.append(((booking.pickup_latest - trip.eta_pickup).total_seconds(), "pickup_window"))
    if trip.eta_dropoff is not None and booking.appointment_at is not None:
        slacks.append(((booking.appointment_at - trip.eta_dropoff).total_seconds(), "appointment"))
    margin = context.company.late_margin_minutes * 60
    if slacks:
        slack, reason = min(slacks)
        trip.slack_s = int(slack)
        if slack < 0:
            trip.lateness, trip.reason = L.LATE, reason
        elif slack < margin:
            trip.lateness, trip.reason = L.AT_RISK, reason
    if trip.direct_s is not None and trip.eta_dropoff and trip.pickup_departure:
        ride = (trip.eta_dropoff - trip.pickup_departure).total_seconds()
        conf = context.conf
        limit = trip.direct_s * conf.max_ride_factor + conf.max_ride_extra_minutes * 60
        trip.ride_too_long = ride > limit
        if trip.ride_too_long and trip.reason is None:
            trip.reason = "ride_time"


# --- reading ------------------------------------------------------------------------------------
def _drivers(company_id: UUID | str, plans: dict[str, LivePlan]) -> dict[str, dict[str, Any]]:
    rows = Driver.objects.filter(company_id=company_id, id__in=list(plans)).values(
        "id", "last_lat", "last_lon", "last_seen_at", "home_lat", "home_lon"
    )
    return {str(row["id"]): dict(row) for row in rows}


def _shifts(
    company_id: UUID | str, plans: dict[str, LivePlan], now: datetime, tz: tzinfo
) -> dict[str, Shift]:
    """Each driver's shift of today that is on now or comes next (a night shift of yesterday
    still running counts), else its last one."""
    rows = (
        shifts_on_day(company_id=company_id, day=now.astimezone(tz).date(), tz=tz)
        .filter(driver_id__in=list(plans))
        .only("driver_id", "start", "end")
        .order_by("-start")
    )
    out: dict[str, Shift] = {}
    for shift in rows:  # latest first: an earlier one still running replaces it
        key = str(shift.driver_id)
        if key not in out or shift.end > now:
            out[key] = shift
    return out


# --- writing ------------------------------------------------------------------------------------
_UPDATE_SQL = """
UPDATE bookings_booking AS b
SET eta_pickup = v.pickup, eta_dropoff = v.dropoff, eta_computed_at = %s, eta_source = v.source,
    lateness = v.lateness, ride_too_long = v.too_long
FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[],
            %s::bool[]) AS v(id, pickup, dropoff, source, lateness, too_long)
WHERE b.id = v.id AND b.company_id = %s AND b.status = ANY(%s)
RETURNING b.id
"""


def _write(company_id: UUID | str, results: list[DriverEtas], now: datetime) -> None:
    """One statement for every trip of every driver (PostgreSQL); a trip no longer live
    (completed, cancelled meanwhile) keeps what it had. The trips written go to the bookings
    list's cached pages as fragments (`list_cache.etas_written`): those pages survive."""
    trips = [(r.source, t) for r in results for t in r.trips.values()]
    if not trips:
        return
    if connection.vendor == "postgresql":
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
        for source, t in trips:
            row = (t.booking.id, t.eta_pickup, t.eta_dropoff, source, t.lateness, t.ride_too_long)
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        with connection.cursor() as cursor:
            cursor.execute(
                _UPDATE_SQL, [now, *columns, company_id, [str(s) for s in LIVE_STATUSES]]
            )
            written = {str(row[0]) for row in cursor.fetchall()}
    else:
        _write_orm(trips, now)
        written = {str(t.booking.id) for _, t in trips}
    etas_written(company_id, _fragments(trips, written, now))


def _fragments(
    trips: list[tuple[str, TripEta]], written: set[str], now: datetime
) -> dict[str, bytes]:
    fragments = {}
    for source, t in trips:
        key = str(t.booking.id)
        if key in written:
            fragments[key] = booking_eta_fragment(
                eta_pickup=t.eta_pickup,
                eta_dropoff=t.eta_dropoff,
                eta_computed_at=now,
                eta_source=source,
                lateness=t.lateness,
                ride_too_long=t.ride_too_long,
            )
    return fragments


def _write_orm(trips: list[tuple[str, TripEta]], now: datetime) -> None:
    rows = []
    for source, t in trips:
        b = t.booking
        b.eta_pickup, b.eta_dropoff, b.eta_computed_at = t.eta_pickup, t.eta_dropoff, now
        b.eta_source, b.lateness, b.ride_too_long = source, t.lateness, t.ride_too_long
        rows.append(b)
    fields = ["eta_pickup", "eta_dropoff", "eta_computed_at", "eta_source", "lateness"]
    Booking.objects.bulk_update(rows, [*fields, "ride_too_long"])


# --- announcing ---------------------------------------------------------------------------------
def _announce(company_id: UUID | str, results: list[DriverEtas], now: datetime) -> None:
    """Times in the events carry the company's UTC offset (`now` is in its zone), as a
    run's routes do: people read them."""
    tz = now.tzinfo
    office = group_for_company_dispatch(company_id)
    messages: list[tuple[str, Any]] = []
    for result in results:
        event = build_eta_updated(
            driver_id=result.driver_id,
            computed_at=now,
            start=result.start,
            source=result.source,
            stops=[
                _eta_stop(result, stop, a.astimezone(tz), d.astimezone(tz))
                for stop, a, d in result.stops
            ],
        )
        messages += [(office, event), (group_for_driver(result.driver_id), event)]
        for trip in result.trips.values():
            if _changed(trip):
                messages.append((office, _late_risk(trip, tz)))
    publish_many_on_commit(messages)


def _changed(trip: TripEta) -> bool:
    """A new state worth telling: not the first ETA of a trip on time."""
    was_flagged = trip.booking.ride_too_long
    if trip.lateness == trip.previous and trip.ride_too_long == was_flagged:
        return False
    return not (trip.previous == "" and trip.lateness == L.ON_TIME and not trip.ride_too_long)


def _late_risk(trip: TripEta, tz: Any) -> Any:
    booking = trip.booking
    booking.lateness, booking.ride_too_long = trip.lateness, trip.ride_too_long
    return build_late_risk(
        booking,
        previous=trip.previous,
        reason=trip.reason,
        slack_seconds=trip.slack_s,
        eta_pickup=trip.eta_pickup.astimezone(tz) if trip.eta_pickup else None,
        eta_dropoff=trip.eta_dropoff.astimezone(tz) if trip.eta_dropoff else None,
    )


def _eta_stop(
    result: DriverEtas, stop: LiveStop, arrival: datetime, departure: datetime
) -> EtaStop:
    trip = result.trips.get(stop.booking_id or "")
    return {
        "booking_id": stop.booking_id,
        "kind": stop.kind,
        "eta": arrival.isoformat(),
        "departure": departure.isoformat(),
        "lateness": trip.lateness if trip else "",  # type: ignore[typeddict-item]
        "ride_too_long": trip.ride_too_long if trip else False,
    }
