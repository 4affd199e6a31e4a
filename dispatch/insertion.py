"""Fitting one more trip into today's live plan: proposals, applying one, and the automatic
proposal when a trip for today appears (created, released, unassigned).

Each driver's remaining work is a small live day of its own (its trips and the new one, over
a matrix of their places only), so a proposal costs little even on a large day (the drivers'
matrices are asked together: one cache read and one OSRM fetch in all); the engine
(`dispatch.engine.live.insertions`) tries every position after the fixed stops, ride limits,
windows and the break included, and checks each proposed route with the checker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_get
from atmr.exceptions import DomainError
from bookings import services as booking_services
from bookings.models import Booking
from dispatch import adapters, live, selectors
from dispatch.engine.geo import Location, TravelMatrix
from dispatch.engine.live import LiveDay, insertions
from dispatch.engine.plan import Route
from dispatch.engine.straight_line import haversine_m
from dispatch.errors import BookingNotInsertable, InsertionStale
from dispatch.models import DispatchSettings
from dispatch.travel import travel_matrices_provider
from drivers.models import Driver, Shift, Vehicle
from realtime.events import build_insertion_proposed
from realtime.groups import group_for_company_dispatch
from realtime.publish import publish_on_commit
from realtime.schemas import InsertionSummary

logger = logging.getLogger(__name__)

PROPOSALS = 3
# Drivers considered for a proposal, nearest first (see `_nearest`).
NEAREST_DRIVERS = 20
NEAR_TIME = timedelta(hours=1)


@dataclass(frozen=True)
class Proposal:
    """One place for the trip. Positions index the driver's remaining stops (0: the next
    one), before the trip is added; seconds are extra driving and lateness caused to the
    driver's other patients (against their promised windows) and their added waiting."""

    driver_id: UUID
    driver_name: str
    vehicle_id: UUID | None
    position: int
    dropoff_position: int
    extra_drive_seconds: int
    lateness_caused_seconds: int
    delay_caused_seconds: int
    pickup_at: datetime
    dropoff_at: datetime
    # The stops right after its pick-up and its drop-off (`Booking.insert_before`).
    before: dict[str, list[str] | None] = field(default_factory=dict, compare=False)

    def summary(self) -> InsertionSummary:
        return {
            "driver": str(self.driver_id),
            "driver_name": self.driver_name,
            "position": self.position,
            "dropoff_position": self.dropoff_position,
            "extra_drive_seconds": self.extra_drive_seconds,
            "lateness_caused_seconds": self.lateness_caused_seconds,
            "pickup_at": self.pickup_at.isoformat(),
        }


def _check_insertable(booking: Booking, company: Company, now: datetime) -> None:
    """Only a pending trip of today (in the company's zone) that can be planned."""
    today = now.astimezone(company.tz).date()
    if booking.scheduled_at.astimezone(company.tz).date() != today:
        raise BookingNotInsertable(
            "Only a trip for today can be fitted into the live plan; plan other days with a "
            "dispatch run."
        )
    if booking.status != Booking.Status.PENDING:
        raise BookingNotInsertable(
            f"The trip is {booking.get_status_display().lower()}: only a trip without a driver "
            "can be fitted in."
        )
    if booking.will_call and booking.released_at is None:
        raise BookingNotInsertable("This will-call return is not released yet.")


def booking_insertions(
    *,
    booking: Booking,
    limit: int = PROPOSALS,
    driver_id: UUID | None = None,
    position: int | None = None,
    now: datetime | None = None,
) -> list[Proposal]:
    """Up to `limit` places for a pending trip of today in the drivers' current work, best
    first (least lateness caused, then least extra driving); only `driver_id`'s, with the
    pick-up at `position` of its remaining stops, when given. Raises BookingNotInsertable
    (409) for a trip that is not pending, not today, or a will-call return not released."""
    company = company_get(company_id=booking.company_id)
    now = now or timezone.now()
    _check_insertable(booking, company, now)
    conf = selectors.dispatch_settings_get(company_id=company.id)
    lead = timedelta(minutes=conf.replan_lead_minutes)
    inp = live.live_load(company=company, now=now, lead=lead, only=booking.id)
    target = next((b for b in inp.bookings if b.id == booking.id), None)
    if target is None:
        return []
    shifts = {str(s.driver_id): s for s in inp.shifts}
    if driver_id is not None:
        shifts = {k: s for k, s in shifts.items() if k == str(driver_id)}
    else:
        shifts = {str(s.driver_id): s for s in _nearest(inp, target, list(shifts.values()))}
    parts = [inp.for_driver(shift, target) for shift in shifts.values()]
    days = [day for day in _driver_days(parts, conf) if day is not None]
    found = insertions(
        days,
        str(booking.id),
        limit=limit,
        vehicle_id=str(driver_id) if driver_id else None,
        position=position,
    )
    clock = inp.clock
    return [
        Proposal(
            driver_id=shifts[p.vehicle_id].driver_id,
            driver_name=shifts[p.vehicle_id].driver.user.full_name,
            vehicle_id=shifts[p.vehicle_id].vehicle_id,
            position=p.pickup_position,
            dropoff_position=p.dropoff_position,
            extra_drive_seconds=p.extra_drive_seconds,
            lateness_caused_seconds=p.lateness_caused_seconds,
            delay_caused_seconds=p.delay_caused_seconds,
            pickup_at=clock.at(p.pickup_at),
            dropoff_at=clock.at(p.dropoff_at),
            before=_stops_after(p.route, str(booking.id)),
        )
        for p in found
    ]


def _stops_after(route: Route, booking_id: str) -> dict[str, list[str] | None]:
    """The stop after the trip's pick-up (other than its own drop-off) and after its
    drop-off in `route`, as [kind, booking id]; None when there is none."""
    visits = [[str(s.kind), s.request_id] for s in route.stops if s.request_id]
    out: dict[str, list[str] | None] = {}
    for kind in ("pickup", "dropoff"):
        at = visits.index([kind, booking_id])
        after = [v for v in visits[at + 1 :] if v[1] != booking_id]
        out[kind] = after[0] if after else None
    return out


def _nearest(inp: live.LiveInput, target: Booking, shifts: list[Shift]) -> list[Shift]:
    """The NEAREST_DRIVERS drivers closest to the trip's pick-up (straight line) around its
    time: from their stops within NEAR_TIME of it, or from where they are when they have
    none then (free). A driver busy far away then is never among the best three, and each
    driver considered adds its cells to the travel matrices asked."""
    if len(shifts) <= NEAREST_DRIVERS:
        return shifts
    here = Location(target.pickup_lat, target.pickup_lon)
    when = target.scheduled_at

    def gap(shift: Shift) -> float:
        points = [
            Location(lat, lon)
            for b in inp.by_driver.get(shift.driver_id, [])
            if abs(b.scheduled_at - when) <= NEAR_TIME
            for lat, lon in ((b.pickup_lat, b.pickup_lon), (b.dropoff_lat, b.dropoff_lon))
        ]
        return min(haversine_m(here, p) for p in points or [inp.positions[shift.driver_id]])

    return sorted(shifts, key=gap)[:NEAREST_DRIVERS]


def _driver_days(parts: list[live.LiveInput], conf: DispatchSettings) -> list[LiveDay | None]:
    """Each driver's small live day (`_settled`), their travel matrices asked together:
    one cache read and one OSRM fetch for the new trip's cells against every driver's stops
    (and any other missing cell), not one round trip each; and their places read once."""
    provider = travel_matrices_provider()
    matrices = provider.matrices([part.locations for part in parts])
    # The places' extra service time: one query for every driver, not one each.
    extra = adapters.place_extra_seconds([b for part in parts for b in part.bookings])
    return [
        _settled(part, matrix, conf, extra) for part, matrix in zip(parts, matrices, strict=True)
    ]


def _settled(
    inp: live.LiveInput, matrix: TravelMatrix, conf: DispatchSettings, extra: dict[object, int]
) -> LiveDay | None:
    """The driver's small live day; None (logged) when its rows contradict each other (more
    patients on board than its vehicle holds): that driver gets no proposal."""
    try:
        return live.live_day(inp, matrix, conf, extra)
    except ValueError as exc:
        logger.warning("No insertion for driver %s: %s", inp.shifts[0].driver_id, exc)
        return None


def booking_insert(
    *, booking: Booking, driver: Driver, position: int | None = None
) -> tuple[Booking, Proposal]:
    """Give the trip to `driver` where it fits now (at `position` of its remaining stops when
    given), through the same assignment as every door (`booking_assign`: the driver gets its
    `assignment`). Raises InsertionStale (409) when it no longer fits there (the plan changed
    since the proposal) and BookingNotInsertable (409) for a trip that cannot be fitted in."""
    if driver.company_id != booking.company_id:
        raise InsertionStale("Unknown driver.", field="driver")  # a serializer checks first
    found = booking_insertions(booking=booking, limit=1, driver_id=driver.id, position=position)
    if not found:
        where = f" at position {position}" if position is not None else ""
        raise InsertionStale(
            f"The trip does not fit this driver's current work{where} (the plan changed, or "
            "it never fitted): ask for proposals again.",
            field="position" if position is not None else "driver",
        )
    proposal = found[0]
    vehicle = (
        Vehicle.objects.filter(id=proposal.vehicle_id).first() if proposal.vehicle_id else None
    )
    with transaction.atomic():
        assigned = booking_services.booking_assign(booking=booking, driver=driver, vehicle=vehicle)
        # The live plan keeps it where it was fitted (until a run plans it).
        Booking.objects.filter(pk=assigned.pk).update(insert_before=proposal.before)
        assigned.insert_before = proposal.before
    return assigned, proposal


# --- proposals when a trip for today appears --------------------------------------------------
def insertions_propose(*, booking_id: UUID | str) -> list[Proposal]:
    """Propose places for a trip that just appeared (`insertion_proposed` to the office) and,
    when the company's `auto_insert` covers it, give it to the best one at once. Does nothing
    for a trip that is not a pending one of today any more (the task may run late, twice)."""
    booking = Booking.objects.filter(id=booking_id).first()
    if booking is None:
        return []
    try:
        proposals = booking_insertions(booking=booking)
    except BookingNotInsertable:
        return []
    conf = selectors.dispatch_settings_get(company_id=booking.company_id)
    auto = conf.auto_insert == "all" or (conf.auto_insert == "urgent" and booking.urgent)
    applied = False
    with transaction.atomic():
        if auto and proposals:
            best = proposals[0]
            driver = Driver.objects.get(id=best.driver_id)
            try:
                booking_insert(booking=booking, driver=driver)
                applied = True
            except DomainError as exc:  # changed meanwhile: proposed only
                logger.info("Automatic insertion of %s skipped: %s", booking.id, exc.detail)
        publish_on_commit(
            group_for_company_dispatch(booking.company_id),
            build_insertion_proposed(booking, [p.summary() for p in proposals], applied=applied),
        )
    return proposals


def insertable_today(booking: Booking) -> bool:
    """A pending trip of today (and not a will-call return waiting): proposals are made for
    it; other days are planned by dispatch runs."""
    company = company_get(company_id=booking.company_id)
    try:
        _check_insertable(booking, company, timezone.now())
    except BookingNotInsertable:
        return False
    return True
