"""The live day's adapter: today's remaining work as the engine's `LiveDay`, and back.

Like `dispatch/adapters.py` (whose builders it reuses) it speaks both ORM and engine; it
is kept apart so the whole-day adapter stays small. Engine times are seconds since local
midnight of the day.

What a driver still has to do: trips en route or arrived (the driver at the pick-up,
waiting: its pick-up, then its drop-off) and on board (the drop-off) are fixed, in their
order; trips assigned and not started are its current free work. Their order is the last
applied plan's (a run's planned pick-up and drop-off), else the trips' pick-up times. A
driver starts at its last position when it is fresher than FRESH_POSITION, else at its
current stop (where its patient on board was picked up, or where it dropped its last
patient), else at home; and not before now plus the lead time. Drivers whose shift ended by
then are left out, unless they carry or fetch a patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from uuid import UUID

from django.db.models import Q, QuerySet

from atmr.accounts.models import Company
from bookings.models import Booking
from bookings.selectors import day_bounds
from bookings.will_call import WAITING
from dispatch import adapters, live_plan, selectors
from dispatch.engine.geo import Location, TravelMatrix
from dispatch.engine.live import LiveDay, LiveVehicle, Replan, settle
from dispatch.engine.plan import Plan, StopKind
from dispatch.engine.problem import Problem, Request, Vehicle
from dispatch.engine.solver.common import Visit
from dispatch.models import DispatchSettings, DroppedTrip, EtaChange, MovedTrip, RunAssignment
from dispatch.models import RunDiff as RunDiffShape
from drivers.models import Shift
from drivers.rosters import shifts_generate

FRESH_POSITION = timedelta(minutes=3)
S = Booking.Status
# The driver-side statuses are live_plan's (the ETAs' reader), so both readers agree on what
# a driver still has to do; a re-plan also places the pending trips.
LIVE_STATUSES = (S.PENDING, *live_plan.LIVE_STATUSES)
# Under way: the trip stays with its driver, its stops first. Before on board, the pick-up
# is left too (`UNDER_WAY`).
STARTED = tuple(st for st in live_plan.LIVE_STATUSES if st != S.ASSIGNED)
UNDER_WAY = tuple(st for st in STARTED if st not in live_plan.PICKUP_DONE)


@dataclass(frozen=True)
class LiveInput:
    """Today's remaining trips and drivers, seen at `now`; drivers ready from `ready`."""

    now: datetime
    ready: datetime
    clock: adapters.DayClock
    bookings: list[Booking]
    shifts: list[Shift]
    homes: dict[UUID, Location]  # driver id -> where its day ends
    positions: dict[UUID, Location]  # driver id -> where it is now
    planned: dict[str, tuple[datetime, datetime]]  # booking id -> last applied plan's times
    # (booking id, "pickup"/"dropoff") -> its index in its driver's live plan (live_plan.py)
    order: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def locations(self) -> list[Location]:
        """Each booking's pick-up and drop-off, then each shift's home and position."""
        out: list[Location] = []
        for b in self.bookings:
            out += [Location(b.pickup_lat, b.pickup_lon), Location(b.dropoff_lat, b.dropoff_lon)]
        for s in self.shifts:
            out += [self.homes[s.driver_id], self.positions[s.driver_id]]
        return out

    def day_input(self) -> adapters.DayInput:
        return adapters.DayInput(self.bookings, self.shifts, self.locations)

    @cached_property
    def by_driver(self) -> dict[UUID, list[Booking]]:
        """Driver id -> its trips (assigned, en route, on board), in load order."""
        out: dict[UUID, list[Booking]] = {}
        for b in self.bookings:
            if b.driver_id is not None and b.status != S.PENDING:
                out.setdefault(b.driver_id, []).append(b)
        return out

    def for_driver(self, shift: Shift, extra: Booking) -> LiveInput:
        """One driver's part (its trips) with `extra` first: a small problem of its own."""
        mine = [b for b in self.by_driver.get(shift.driver_id, []) if b.id != extra.id]
        return replace(self, bookings=[extra, *mine], shifts=[shift])


def live_bookings(*, company_id: UUID | str, day_start: datetime, day_end: datetime) -> QuerySet:
    return Booking.objects.filter(
        company_id=company_id,
        scheduled_at__gte=day_start,
        scheduled_at__lt=day_end,
        status__in=LIVE_STATUSES,
    ).exclude(WAITING)


# What a proposal reads of each trip (a run reads whole rows: its page and diff need more).
PROPOSAL_FIELDS = (
    "id",
    "company_id",
    "driver_id",
    "status",
    "mobility",
    "passengers",
    "urgent",
    "pickup_lat",
    "pickup_lon",
    "dropoff_lat",
    "dropoff_lon",
    "scheduled_at",
    "pickup_earliest",
    "pickup_latest",
    "appointment_at",
    "pickup_place_id",
    "dropoff_place_id",
    "updated_at",
    "insert_before",
)


def live_load(
    *, company: Company, now: datetime, lead: timedelta, only: UUID | None = None
) -> LiveInput:
    """Today's live work in the company's zone. A run generates the day's roster shifts
    first; with `only` (a proposal for that pending trip: the other pending ones are left
    out, and the fields a proposal needs only) the shifts are those the nightly job and the
    day's runs generated."""
    tz = company.tz
    day = now.astimezone(tz).date()
    ready = now + lead
    start, end = day_bounds(day, tz)
    rows = live_bookings(company_id=company.id, day_start=start, day_end=end)
    if only is not None:
        rows = rows.exclude(~Q(id=only), status=S.PENDING).only(*PROPOSAL_FIELDS)
    else:
        shifts_generate(company=company, first=day, last=day)
    shifts = selectors.shift_drivers(company_id=company.id, day=day, tz=tz)
    bookings = list(rows.order_by("scheduled_at", "id"))
    busy = {b.driver_id for b in bookings if b.status in STARTED}
    shifts = [s for s in shifts if s.end > ready or s.driver_id in busy]
    on_shift = {s.driver_id for s in shifts}
    # A trip under way with a driver not planned here goes on as it is, outside the plan.
    bookings = [b for b in bookings if b.status not in STARTED or b.driver_id in on_shift]
    depot = Location(company.lat or 46.52, company.lon or 6.63)
    stops = _current_stops(company.id, start, end, shifts, bookings)
    homes = {s.driver_id: adapters.driver_home(s.driver, depot) for s in shifts}
    positions = {
        s.driver_id: _position(s, now, stops.get(s.driver_id), homes[s.driver_id]) for s in shifts
    }
    clock = adapters.DayClock(day, tz)
    planned = _last_plan(company.id, [b.id for b in bookings])
    order = _live_order(company.id, day, bookings)
    return LiveInput(now, ready, clock, bookings, shifts, homes, positions, planned, order)


def _live_order(company_id: UUID, day: date, bookings: list[Booking]) -> dict[tuple[str, str], int]:
    """Each driver's stops in the order of its live plan, the one the ETAs read (one query)."""
    trips: dict[str, list[Booking]] = {}
    for b in bookings:  # in pick-up time order
        if b.driver_id is not None and b.status != S.PENDING:
            trips.setdefault(str(b.driver_id), []).append(b)
    plans = live_plan.live_plans_of(company_id=company_id, day=day, trips=trips)
    return {
        (stop.booking_id, stop.kind): i
        for plan in plans.values()
        for i, stop in enumerate(plan.stops)
        if stop.booking_id is not None
    }


def _position(shift: Shift, now: datetime, stop: Location | None, home: Location) -> Location:
    d = shift.driver
    fresh = d.last_seen_at is not None and now - d.last_seen_at <= FRESH_POSITION
    if fresh and d.last_lat is not None and d.last_lon is not None:
        return Location(d.last_lat, d.last_lon)
    return stop or home


def _current_stops(
    company_id: UUID, start: datetime, end: datetime, shifts: list[Shift], live: list[Booking]
) -> dict[UUID, Location]:
    """Driver id -> where its last stop was: the pick-up of a patient on board or waited for
    (arrived), else the drop-off of its last completed trip today (one query)."""
    out: dict[UUID, Location] = {}
    done = (
        Booking.objects.filter(
            company_id=company_id,
            scheduled_at__gte=start,
            scheduled_at__lt=end,
            status=S.COMPLETED,
            driver_id__in=[s.driver_id for s in shifts],
        )
        .order_by("driver_id", "-updated_at")
        .values_list("driver_id", "dropoff_lat", "dropoff_lon")
    )
    # The newest per driver, kept in Python: SQLite (`make run`) has no DISTINCT ON, and a
    # day's completed trips are few.
    for driver_id, lat, lon in done:
        out.setdefault(driver_id, Location(lat, lon))
    for b in live:
        if b.status in (S.ARRIVED, S.ON_BOARD) and b.driver_id is not None:
            out[b.driver_id] = Location(b.pickup_lat, b.pickup_lon)
    return out


def _last_plan(company_id: UUID, ids: list[UUID]) -> dict[str, tuple[datetime, datetime]]:
    """Booking id -> (pick-up, drop-off) in the newest applied run that planned it."""
    rows = (
        RunAssignment.objects.filter(
            company_id=company_id, booking_id__in=ids, run__applied_at__isnull=False
        )
        .order_by("booking_id", "-run__applied_at")
        .values_list("booking_id", "pickup_eta", "dropoff_eta")
    )
    # The newest per booking (no DISTINCT ON: SQLite has none).
    out: dict[str, tuple[datetime, datetime]] = {}
    for b, p, d in rows:
        out.setdefault(str(b), (p, d))
    return out


def _unpinned(r: Request) -> Request:
    """Stability is the engine's (`engine.live`), not the whole-day run's driver pins."""
    return replace(r, equipment=frozenset(e for e in r.equipment if not e.startswith("driver:")))


def live_day(
    inp: LiveInput,
    matrix: TravelMatrix,
    conf: DispatchSettings,
    extra: dict[object, int] | None = None,
) -> LiveDay:
    """The engine's settled live day for `inp` over `matrix` (its locations in order);
    `extra`: `adapters.place_extra_seconds` of (at least) its bookings, read when not given."""
    clock, n = inp.clock, len(inp.bookings)
    if extra is None:
        extra = adapters.place_extra_seconds(inp.bookings)
    requests = tuple(
        _unpinned(adapters.build_request(i, b, clock, matrix, conf, extra))
        for i, b in enumerate(inp.bookings)
    )
    ready = clock.seconds(inp.ready)
    vehicles: list[Vehicle] = []
    lives: list[LiveVehicle] = []
    for k, shift in enumerate(inp.shifts):
        mine = [b for b in inp.bookings if b.driver_id == shift.driver_id and b.status != S.PENDING]
        base = adapters.build_vehicle(2 * n + 2 * k, shift, clock)
        begin = max(base.shift_start, ready)
        vehicles.append(
            replace(
                base,
                start=2 * n + 2 * k + 1,
                shift_start=begin,
                shift_end=max(base.shift_end, begin),
                onboard=tuple(str(b.id) for b in mine if b.status == S.ON_BOARD),
            )
        )
        lives.append(_live_vehicle(str(shift.driver_id), mine, inp))
    return settle(Problem(requests, tuple(vehicles), matrix), lives)


def _live_vehicle(vehicle_id: str, mine: list[Booking], inp: LiveInput) -> LiveVehicle:
    """Its fixed stops (pick-ups under way first, then every drop-off of a patient carried
    or fetched) and its free trips, each in its live plan's order (`inp.order`: the applied
    run's, trips given since fitted in by pick-up time), else by the planned times."""

    def when(b: Booking, kind: StopKind) -> datetime:
        pickup, dropoff = inp.planned.get(str(b.id), (b.scheduled_at, b.scheduled_at))
        return pickup if kind is StopKind.PICKUP else max(pickup, dropoff)

    def ordered(visits: list[tuple[Booking, StopKind]]) -> tuple[Visit, ...]:
        rank = {b.id: i for i, b in enumerate(mine)}

        def key(v: tuple[Booking, StopKind]) -> tuple[int, datetime, int, bool]:
            b, kind = v
            at = inp.order.get((str(b.id), "pickup" if kind is StopKind.PICKUP else "dropoff"))
            return (
                len(inp.order) if at is None else at,
                when(b, kind),
                rank[b.id],
                kind is StopKind.DROPOFF,
            )

        visits.sort(key=key)
        return tuple(Visit(kind, str(b.id)) for b, kind in visits)

    under_way = [b for b in mine if b.status in UNDER_WAY]
    fixed = ordered([(b, StopKind.PICKUP) for b in under_way]) + ordered(
        [(b, StopKind.DROPOFF) for b in mine if b.status in STARTED]
    )
    free = [b for b in mine if b.status == S.ASSIGNED]
    planned = ordered([(b, k) for b in free for k in (StopKind.PICKUP, StopKind.DROPOFF)])
    return LiveVehicle(vehicle_id, fixed, planned)


def run_diff(inp: LiveInput, day: LiveDay, result: Replan) -> RunDiffShape:
    """What the re-plan changes: trips moved between drivers (a trip whose driver is not
    planned any more counts as moved from it), each trip's planned pick-up before (the last
    applied plan's, else its current route's from now) and after, and trips that had a
    driver and no longer have a place."""
    clock = inp.clock
    by_id = {str(b.id): b for b in inp.bookings}
    after = _pickups(result.plan)
    served = {rid: r.vehicle_id for r in result.plan.routes for rid in r.request_ids}
    moved: list[MovedTrip] = []
    dropped: list[DroppedTrip] = []
    for rid, b in by_id.items():
        had = str(b.driver_id) if b.driver_id and b.status == S.ASSIGNED else None
        if had and rid in served and served[rid] != had:
            moved.append({"booking": rid, "from_driver": had, "to_driver": served[rid]})
        elif had and rid not in served:
            dropped.append({"booking": rid, "driver": had, "version": b.updated_at.isoformat()})
    changes: list[EtaChange] = []
    for rid, t in sorted(after.items(), key=lambda item: item[1]):
        before = inp.planned[rid][0] if rid in inp.planned else None
        if before is None and rid in day.before:
            before = clock.at(day.before[rid])
        now_at = clock.at(t)
        changes.append(
            {
                "booking": rid,
                "before": before.isoformat() if before else None,
                "after": now_at.isoformat(),
                "change_seconds": int((now_at - before).total_seconds()) if before else None,
            }
        )
    return {"moved": moved, "eta_changes": changes, "unassigned": dropped}


def _pickups(plan: Plan) -> dict[str, int]:
    return {
        s.request_id: s.service_start
        for r in plan.routes
        for s in r.stops
        if s.kind is StopKind.PICKUP and s.request_id
    }
