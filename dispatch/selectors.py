"""Reads for dispatch, always scoped to one company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from atmr.localtime import format_local
from bookings.models import Booking
from bookings.selectors import day_bounds
from bookings.will_call import WAITING
from dispatch import reasons
from dispatch.models import DispatchRun, DispatchSettings, RouteStop, UnassignedTrip
from drivers.models import Driver, Shift, Vehicle
from drivers.rosters import shifts_on_day

# Trips a run plans: new ones, and those already given to a driver but not yet started
# (pinned to that driver), en route or with the driver waiting at the pick-up (arrived).
# Patients on board are finished by their driver outside the plan.
PLANNED_STATUSES = (
    Booking.Status.PENDING,
    Booking.Status.ASSIGNED,
    Booking.Status.EN_ROUTE,
    Booking.Status.ARRIVED,
)


def run_list(*, company_id: UUID | str, service_date: date | None = None) -> QuerySet[DispatchRun]:
    qs = DispatchRun.objects.filter(company_id=company_id)
    if service_date is not None:
        qs = qs.filter(service_date=service_date)
    return qs


def run_active(*, company_id: UUID | str, service_date: date) -> DispatchRun | None:
    return (
        run_list(company_id=company_id, service_date=service_date)
        .filter(status__in=DispatchRun.ACTIVE)
        .first()
    )


def dispatch_settings_get(*, company_id: UUID | str) -> DispatchSettings:
    conf, _ = DispatchSettings.objects.get_or_create(company_id=company_id)
    return conf


def day_bookings(*, company_id: UUID | str, day: date, tz: ZoneInfo) -> list[Booking]:
    """The trips a run plans; will-call returns the clinic has not released are left out
    (`day_will_call_waiting`)."""
    return list(_day_planned(company_id, day, tz).exclude(WAITING).order_by("scheduled_at", "id"))


def day_will_call_waiting(*, company_id: UUID | str, day: date, tz: ZoneInfo) -> list[str]:
    """Ids of the day's will-call returns still waiting for the clinic: listed on the run."""
    waiting = _day_planned(company_id, day, tz).filter(WAITING).order_by("scheduled_at", "id")
    return [str(pk) for pk in waiting.values_list("id", flat=True)]


def _day_planned(company_id: UUID | str, day: date, tz: ZoneInfo) -> QuerySet[Booking]:
    start, end = day_bounds(day, tz)
    return Booking.objects.filter(
        company_id=company_id,
        scheduled_at__gte=start,
        scheduled_at__lt=end,
        status__in=PLANNED_STATUSES,
    )


def shift_drivers(*, company_id: UUID | str, day: date, tz: ZoneInfo) -> list[Shift]:
    """The shifts a run of the local `day` plans with, one per driver (the engine's vehicle
    is the driver): active drivers on a shift that is on during the day (the night shift of
    the evening before included, `shifts_on_day`) with an active vehicle, each with its
    driver and that shift's vehicle. Generate the day's shifts first
    (`drivers.rosters.shifts_generate`) so a roster's day is there.

    A driver with two such shifts (a night shift ending in the morning and the next one
    starting in the evening) gets them as one span (`shift_span`)."""
    rows = (
        shifts_on_day(company_id=company_id, day=day, tz=tz)
        .filter(driver__active=True, vehicle__isnull=False, vehicle__active=True)
        .select_related("driver__user", "vehicle")
        .order_by("driver_id", "start")
    )
    by_driver: dict[UUID, list[Shift]] = {}
    for shift in rows:
        by_driver.setdefault(shift.driver_id, []).append(shift)
    begins, ends = day_bounds(day, tz)
    return [shift_span(shifts, begins, ends) for shifts in by_driver.values()]


def shift_span(shifts: list[Shift], begins: datetime, ends: datetime) -> Shift:
    """One driver's shifts on a day (in time order, at most two: they never overlap) as the
    one shift the engine plans.

    Two with the same vehicle and no breaks of their own become one unsaved shift from the
    first's start to the second's end, whose break is the time between them (the engine
    takes one break per vehicle). Otherwise the one with more of the day is planned, with its
    break, and the other not that day.
    """
    if len(shifts) == 1:
        return shifts[0]
    first, second = shifts[0], shifts[-1]
    if first.vehicle_id == second.vehicle_id and not first.break_minutes + second.break_minutes:
        gap = int((second.start - first.end).total_seconds() // 60)
        return Shift(
            id=second.id,
            company_id=second.company_id,
            driver=second.driver,
            date=second.date,
            start=first.start,
            end=second.end,
            vehicle=second.vehicle,
            break_earliest=first.end if gap else None,
            break_latest=second.start if gap else None,
            break_minutes=gap,
        )

    def within(shift: Shift) -> float:
        return (min(shift.end, ends) - max(shift.start, begins)).total_seconds()

    return max(shifts, key=within)


def run_superseding(*, run: DispatchRun) -> DispatchRun | None:
    """The newest run of `run`'s company and day that makes its plan out of date.

    That is a run created after it that succeeded (a newer plan of the same day), or any
    other run applied after `run` loaded the day (its trips changed under the plan).
    """
    loaded = run.started_at or run.created_at
    return (
        run_list(company_id=run.company_id, service_date=run.service_date)
        .exclude(id=run.id)
        .filter(
            Q(created_at__gt=run.created_at, status=DispatchRun.Status.SUCCEEDED)
            | Q(applied_at__gt=loaded)
        )
        .order_by("-created_at")
        .first()
    )


# --- the run page: routes and left-out trips as a person reads them --------------------------
STOP_WORDS = {
    "start": "Leaves",
    "pickup": "Pick-up",
    "dropoff": "Drop-off",
    "break": "Break",
    "end": "Back",
}


@dataclass(frozen=True)
class StopRow:
    order: int
    time: str  # HH:MM in the company's zone
    kind: str
    patient: str
    address: str
    booking_id: str | None


@dataclass(frozen=True)
class RouteSheet:
    driver: str
    vehicle: str
    stops: list[StopRow]


@dataclass(frozen=True)
class UnassignedRow:
    booking_id: str
    patient: str
    pickup: str  # scheduled pick-up, HH:MM in the company's zone
    reason: str  # in words


def run_sheet(*, run: DispatchRun) -> tuple[list[RouteSheet], list[UnassignedRow]]:
    """The run's routes, unassigned trips and waiting will-call returns for its page, in three
    queries (the run's company, its bookings with their patients, its vehicles), times in the
    company's zone."""
    tz = run.company.tz
    wanted = {s["booking"] for r in run.routes for s in r["stops"] if s["booking"]}
    wanted |= {u["booking"] for u in run.unassigned}
    wanted |= {w["booking"] for w in run.waiting}
    bookings = {
        str(b.id): b
        for b in Booking.objects.filter(company_id=run.company_id, id__in=wanted).select_related(
            "client"
        )
    }
    vehicles = {
        str(v.id): v.plate
        for v in Vehicle.objects.filter(
            company_id=run.company_id, id__in={r["vehicle"] for r in run.routes}
        )
    }
    routes = [
        RouteSheet(
            driver=route["driver_name"],
            vehicle=vehicles.get(route["vehicle"], ""),
            stops=[
                _stop_row(i, stop, bookings.get(stop["booking"] or ""), tz)
                for i, stop in enumerate(route["stops"], start=1)
            ],
        )
        for route in run.routes
    ]
    left_out = [_unassigned_row(item, bookings.get(item["booking"]), tz) for item in run.unassigned]
    # Will-call returns the clinic had not released: not planned, and the page says why.
    left_out += [
        UnassignedRow(
            booking_id=item["booking"],
            patient=str(booking.client) if booking is not None else "",
            pickup="when ready",
            reason="Will-call return: waiting for the clinic to say the patient is ready.",
        )
        for item in run.waiting
        for booking in [bookings.get(item["booking"])]
    ]
    return routes, left_out


def _stop_row(order: int, stop: RouteStop, booking: Booking | None, tz: tzinfo) -> StopRow:
    address = ""
    if booking is not None:
        address = booking.dropoff_address if stop["kind"] == "dropoff" else booking.pickup_address
    return StopRow(
        order=order,
        time=format_local(datetime.fromisoformat(stop["service_start"]), tz),
        kind=STOP_WORDS.get(stop["kind"], stop["kind"]),
        patient=str(booking.client) if booking is not None else "",
        address=address,
        booking_id=str(booking.id) if booking is not None else None,
    )


def _unassigned_row(item: UnassignedTrip, booking: Booking | None, tz: tzinfo) -> UnassignedRow:
    return UnassignedRow(
        booking_id=item["booking"],
        patient=str(booking.client) if booking is not None else "",
        pickup=format_local(booking.scheduled_at, tz) if booking is not None else "",
        reason=item.get("detail") or reasons.unassigned_words(item["reason"], booking, tz),
    )


# --- a re-plan's diff as a person reads it -----------------------------------------------------
@dataclass(frozen=True)
class DiffRow:
    booking_id: str
    patient: str
    what: str  # in words: "moved from A to B", "withdrawn from A"
    before: str  # planned pick-up before, HH:MM in the company's zone ("" for a new trip)
    after: str
    change: str  # "+12 min", "-3 min", "new"


def run_diff_sheet(*, run: DispatchRun) -> list[DiffRow]:
    """The re-plan's moved, withdrawn and re-timed trips for its page (three queries: its
    company, bookings with their patients, drivers with their names); an empty list for a
    run of a whole day."""
    diff = run.diff or {}
    moved = {m["booking"]: m for m in diff.get("moved", [])}
    dropped = {d["booking"]: d for d in diff.get("unassigned", [])}
    etas = {e["booking"]: e for e in diff.get("eta_changes", [])}
    ids = set(moved) | set(dropped) | set(etas)
    if not ids:
        return []
    tz = run.company.tz
    bookings = {
        str(b.id): b
        for b in Booking.objects.filter(company_id=run.company_id, id__in=ids).select_related(
            "client"
        )
    }
    driver_ids = {m["from_driver"] for m in moved.values()} | {
        m["to_driver"] for m in moved.values()
    }
    driver_ids |= {d["driver"] for d in dropped.values()}
    names = {
        str(d.id): d.user.full_name
        for d in Driver.objects.filter(company_id=run.company_id, id__in=driver_ids).select_related(
            "user"
        )
    }
    rows = []
    for rid in [*moved, *dropped, *(e for e in etas if e not in moved and e not in dropped)]:
        booking = bookings.get(rid)
        eta = etas.get(rid)
        if rid in moved:
            m = moved[rid]
            what = (
                f"moved from {names.get(m['from_driver'], '?')} to {names.get(m['to_driver'], '?')}"
            )
        elif rid in dropped:
            what = f"no place any more: withdrawn from {names.get(dropped[rid]['driver'], '?')}"
        else:
            what = "re-timed" if eta and eta["before"] else "newly planned"
        if eta is not None and eta["change_seconds"] == 0 and rid not in moved:
            continue  # unchanged: not part of the diff a person reads
        rows.append(
            DiffRow(
                booking_id=rid,
                patient=str(booking.client) if booking is not None else "",
                what=what,
                before=_clock(eta["before"], tz) if eta else "",
                after=_clock(eta["after"], tz) if eta else "",
                change=_change(eta["change_seconds"]) if eta else "",
            )
        )
    return rows


def _clock(moment: str | None, tz: tzinfo) -> str:
    return format_local(datetime.fromisoformat(moment), tz) if moment else ""


def _change(seconds: int | None) -> str:
    if seconds is None:
        return "new"
    minutes = round(seconds / 60)
    return f"{minutes:+d} min"
