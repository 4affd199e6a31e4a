"""Every write to clients and bookings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_get
from atmr.exceptions import DomainError, NotFound
from atmr.list_cache import lists_changed
from atmr.localtime import format_local, moment_range_error
from bookings.errors import (
    BookingConflict,
    BookingInPast,
    BookingInvalidTransition,
    BookingNotEditable,
    BookingTimeOutOfRange,
    NoShowTooEarly,
    VehicleUnsuitable,
)
from bookings.models import Booking, Client, Mobility, ReasonCode
from bookings.reasons import (
    NO_SHOW,
    OTHER,
    ReasonCodeInvalid,
    reason_code_check_fits,
    reason_code_get,
)
from bookings.transitions import EDITABLE, can_transition, driver_step_refusal
from dispatch.eta_schedule import etas_refresh_on_commit
from drivers.models import Driver, Vehicle
from places.errors import PickupRequired
from places.services import coordinates_resolve
from realtime.events import build_assignment, build_booking_updated
from realtime.groups import group_for_company_dispatch, group_for_driver
from realtime.publish import publish_on_commit
from realtime.schemas import AssignmentAction


@dataclass(frozen=True)
class Place:
    address: str
    # None until resolved: an address given without coordinates is geocoded on save
    # (`booking_stops_resolve`); a booking's stops always have both.
    lat: float | None = None
    lon: float | None = None

    def coordinates(self) -> tuple[float, float]:
        """(lat, lon) of a resolved stop; an unresolved one is a caller's bug, not bad input."""
        if self.lat is None or self.lon is None:
            raise ValueError(f"Stop {self.address!r} has no coordinates: resolve it first.")
        return self.lat, self.lon


# Sent inside the transaction of every status change, with `booking` (updated) and `status`:
# billing prices a trip that completes, is cancelled late or is a no-show (on commit).
booking_status_changed = Signal()


# --- clients --------------------------------------------------------------------------------
def client_create(*, company: Company, **fields: Any) -> Client:
    client = Client(company=company, **fields)
    client.full_clean()
    client.save()
    return client


def client_update(*, client: Client, **changes: Any) -> Client:
    for name, value in changes.items():
        setattr(client, name, value)
    client.full_clean()
    client.save(update_fields=[*changes, "updated_at"])
    return client


# --- bookings -------------------------------------------------------------------------------
# A pick-up further back than this is a record of a trip that happened, not a plan: creating
# one needs `record_past` (office staff entering yesterday's trips for billing).
PAST_GRACE = timedelta(hours=24)
_TIME_FIELDS = ("scheduled_at", "pickup_earliest", "pickup_latest", "appointment_at")


def booking_will_call_window(
    *, company: Company, after: datetime
) -> tuple[datetime, datetime, datetime]:
    """(scheduled_at, pickup_earliest, pickup_latest) of a will-call return not yet released:
    from `after` (the outbound trip's time) to the end of that day in the company's zone.

    A placeholder that keeps the window constraints true; releasing the return replaces it.
    """
    local = after.astimezone(company.tz)
    day_end = datetime.combine(local.date(), time(23, 59), tzinfo=company.tz)
    latest = max(day_end, after)
    return after, after, latest


def default_window(company: Company, scheduled_at: datetime) -> tuple[datetime, datetime]:
    try:
        return (
            scheduled_at - timedelta(minutes=company.window_before_minutes),
            scheduled_at + timedelta(minutes=company.window_after_minutes),
        )
    except OverflowError:  # callers check the range first; this keeps a slip from being a 500
        raise BookingTimeOutOfRange(
            "The pick-up time is out of range.", field="scheduled_at"
        ) from None


def booking_check_times(*, booking: Booking, fields: tuple[str, ...] = _TIME_FIELDS) -> None:
    """Raise BookingTimeOutOfRange (400) naming the first of `fields` outside the accepted range.

    The range (`atmr.localtime`) keeps window, day and route arithmetic from overflowing near
    year 1 or 9999; run it before any of that on a booking whatever the database holds.
    """
    _check_range({name: getattr(booking, name) for name in fields})


def _check_range(moments: dict[str, datetime | None]) -> None:
    for name, moment in moments.items():
        reason = moment_range_error(moment) if moment is not None else None
        if reason:
            raise BookingTimeOutOfRange(reason, field=name)


def _check_not_past(booking: Booking, company: Company) -> None:
    if booking.scheduled_at >= timezone.now() - PAST_GRACE:
        return
    when = format_local(booking.scheduled_at, company.tz, with_date=True)
    raise BookingInPast(
        f"The pick-up ({when}) is more than 24 hours in the past; "
        "record it as a past trip (record_past) if it already happened.",
        field="scheduled_at",
    )


def _check_window(booking: Booking) -> None:
    errors = {}
    if not booking.pickup_earliest <= booking.scheduled_at <= booking.pickup_latest:
        errors["pickup_earliest"] = "The pick-up window must contain the scheduled time."
    if booking.appointment_at and booking.appointment_at <= booking.pickup_earliest:
        errors["appointment_at"] = "The appointment must be after the earliest pick-up."
    if errors:
        field, detail = next(iter(errors.items()))
        raise DomainError(detail, field=field)


def vehicle_suits(vehicle: Vehicle | None, *, mobility: str, passengers: int) -> str | None:
    """Why `vehicle` cannot carry this trip, or None when it can."""
    if vehicle is None:
        return "The driver has no vehicle."
    if mobility == Mobility.WHEELCHAIR and vehicle.wheelchair_places < 1:
        return f"Vehicle {vehicle.plate} has no wheelchair place."
    if mobility == Mobility.STRETCHER and not vehicle.stretcher:
        return f"Vehicle {vehicle.plate} carries no stretcher."
    seated = passengers - (1 if mobility != Mobility.WALKS else 0)
    if seated > vehicle.seats:
        return f"Vehicle {vehicle.plate} has {vehicle.seats} seats for {seated} passengers."
    return None


def _booking_from(
    *,
    company: Company,
    client: Client,
    pickup: Place,
    dropoff: Place,
    scheduled_at: datetime,
    pickup_earliest: datetime | None = None,
    pickup_latest: datetime | None = None,
    appointment_at: datetime | None = None,
    passengers: int = 1,
    urgent: bool = False,
    mobility: str | None = None,
    price: Decimal | None = None,
    notes: str = "",
) -> Booking:
    _check_range(
        {
            "scheduled_at": scheduled_at,
            "pickup_earliest": pickup_earliest,
            "pickup_latest": pickup_latest,
            "appointment_at": appointment_at,
        }
    )
    earliest, latest = default_window(company, scheduled_at)
    # Both stops come through `booking_stops_resolve`, which gives each its coordinates.
    pickup_lat, pickup_lon = pickup.coordinates()
    dropoff_lat, dropoff_lon = dropoff.coordinates()
    booking = Booking(
        company=company,
        client=client,
        pickup_address=pickup.address,
        pickup_lat=pickup_lat,
        pickup_lon=pickup_lon,
        dropoff_address=dropoff.address,
        dropoff_lat=dropoff_lat,
        dropoff_lon=dropoff_lon,
        scheduled_at=scheduled_at,
        pickup_earliest=pickup_earliest or min(earliest, scheduled_at),
        pickup_latest=pickup_latest or max(latest, scheduled_at),
        appointment_at=appointment_at,
        passengers=passengers,
        urgent=urgent,
        mobility=mobility or client.mobility,
        price=price,
        notes=notes,
    )
    _check_window(booking)
    return booking


@transaction.atomic
def booking_create(
    *,
    company: Company,
    client: Client,
    return_trip: dict[str, Any] | None = None,
    record_past: bool = False,
    **fields: Any,
) -> Booking:
    """Create a booking, and its return trip (addresses swapped) in the same transaction.

    A pick-up more than `PAST_GRACE` ago is refused (BookingInPast, 400 on `scheduled_at`)
    unless `record_past`: the office records a trip that already happened.
    """
    if client.company_id != company.id:
        raise DomainError("Unknown client.", field="client")
    fields = booking_stops_resolve(company_id=company.id, client=client, fields=fields)
    links = {name: fields.pop(name) for name in _STOP_LINKS if name in fields}
    booking = _booking_from(company=company, client=client, **fields)
    for name, value in links.items():
        setattr(booking, name, value)
    if not record_past:
        _check_not_past(booking, company)
    booking.save()
    if return_trip is not None:
        will_call = bool(return_trip.get("will_call"))
        times = _will_call_times(company, booking) if will_call else return_trip
        try:
            back = _booking_from(
                company=company,
                client=client,
                pickup=fields["dropoff"],
                dropoff=fields["pickup"],
                passengers=booking.passengers,
                urgent=booking.urgent,
                mobility=booking.mobility,
                **times,
            )
        except DomainError as exc:
            exc.field = f"return_trip.{exc.field}" if exc.field else "return_trip"
            raise
        back.will_call = will_call
        if not will_call and back.scheduled_at <= booking.scheduled_at:
            raise DomainError(
                "The return trip must be scheduled after the outbound trip.",
                field="return_trip.scheduled_at",
            )
        back.return_of = booking
        back.pickup_place, back.dropoff_place = booking.dropoff_place, booking.pickup_place
        back.geocoded = booking.geocoded
        back.save()
    publish_on_commit(group_for_company_dispatch(company.id), build_booking_updated(booking))
    _insertions_on_commit(booking)
    return booking


def _will_call_times(company: Company, outbound: Booking) -> dict[str, datetime]:
    """The placeholder of a will-call return (bookings/will_call.py releases it): from the
    outbound trip's appointment, or its pick-up, to the end of that day."""
    scheduled, earliest, latest = booking_will_call_window(
        company=company, after=outbound.appointment_at or outbound.scheduled_at
    )
    return {"scheduled_at": scheduled, "pickup_earliest": earliest, "pickup_latest": latest}


# --- stops: places, the client's home, geocoding ------------------------------------------
_STOP_LINKS = ("pickup_place", "dropoff_place", "geocoded")


def booking_stops_resolve(
    *, company_id: object, client: Client | None, fields: dict[str, Any]
) -> dict[str, Any]:
    """`fields` (of a booking to create, or changes) with every stop given as an address with
    coordinates (`Place`), plus the links to record.

    - `pickup_place` / `dropoff_place` (a `places.Place` of the company or a global one) fill
      their stop's address ("name, address") and coordinates, and the booking keeps the link;
      a stop given as an address clears its link.
    - Creating (`client` given) with no pick-up at all starts at the client's home
      (PickupRequired, 400 on `pickup`, when the client has no home coordinates).
    - An address without coordinates is geocoded (`places.services.coordinates_resolve`:
      CoordinatesRequired, 400 naming the stop, when it cannot be); `geocoded` is set when one
      was, and cleared when both stops are given again without the geocoder.
    """
    out = dict(fields)
    if client is not None and "pickup" not in out and "pickup_place" not in out:
        out["pickup"] = _client_home(client)
    geocoded, given = False, set()
    for stop in ("pickup", "dropoff"):
        place = out.get(f"{stop}_place")
        if place is not None:
            if place.company_id not in (None, company_id):
                raise NotFound("Unknown place.", field=f"{stop}_place")
            out[stop] = place_stop(place)
        elif stop in out:
            address = out[stop]
            lat, lon, found = coordinates_resolve(
                address=address.address, lat=address.lat, lon=address.lon, field=stop
            )
            out[stop], out[f"{stop}_place"] = Place(address.address, lat, lon), None
            geocoded |= found
        if stop in out:
            given.add(stop)
    if geocoded or client is not None or given == {"pickup", "dropoff"}:
        out["geocoded"] = geocoded
    return out


def place_stop(place: Any) -> Place:
    """A saved place (`places.Place`) as a trip's stop. The trip sheet names the place:
    "HUG, Rue Gabrielle-Perret-Gentil 4, Genève"."""
    return Place(address=f"{place.name}, {place.address}"[:300], lat=place.lat, lon=place.lon)


def _client_home(client: Client) -> Place:
    if client.lat is None or client.lon is None:
        raise PickupRequired(
            "Pickup required: the client has no home coordinates; give pickup or pickup_place.",
            field="pickup",
        )
    return Place(address=client.address or str(client), lat=client.lat, lon=client.lon)


_PLACE_FIELDS = {
    "pickup": ("pickup_address", "pickup_lat", "pickup_lon"),
    "dropoff": ("dropoff_address", "dropoff_lat", "dropoff_lon"),
}


@transaction.atomic
def booking_update(*, booking: Booking, changes: dict[str, Any]) -> Booking:
    """Edit a booking whose plan can still change (pending or assigned)."""
    # Before the row lock: a stop given as an address may wait for the geocoder.
    changes = booking_stops_resolve(company_id=booking.company_id, client=None, fields=changes)
    booking = (
        Booking.objects.select_for_update(of=("self",)).select_related("vehicle").get(pk=booking.pk)
    )
    if booking.status not in EDITABLE:
        raise BookingNotEditable(f"A {booking.get_status_display().lower()} booking is final.")
    updated: list[str] = []
    for name, value in changes.items():
        if name in _PLACE_FIELDS:
            for field, part in zip(_PLACE_FIELDS[name], ("address", "lat", "lon"), strict=True):
                setattr(booking, field, getattr(value, part))
                updated.append(field)
        else:
            setattr(booking, name, value)
            updated.append(name)
    booking_check_times(booking=booking, fields=tuple(n for n in _TIME_FIELDS if n in changes))
    _check_window(booking)
    if booking.driver_id:
        reason = vehicle_suits(
            booking.vehicle, mobility=booking.mobility, passengers=booking.passengers
        )
        if reason:
            raise VehicleUnsuitable(reason, field="mobility")
    booking.save(update_fields=[*updated, "updated_at"])
    _publish_change(booking, "changed")
    etas_refresh_on_commit(booking.company_id, [booking.driver_id])
    return booking


def _publish_change(booking: Booking, action: AssignmentAction) -> None:
    publish_on_commit(
        group_for_company_dispatch(booking.company_id), build_booking_updated(booking)
    )
    if booking.driver_id:
        publish_on_commit(group_for_driver(booking.driver_id), build_assignment(booking, action))


def _set_status(booking: Booking, target: str, **values: Any) -> Booking:
    """Move `booking` to `target` unless someone moved it meanwhile (conditional update)."""
    if not can_transition(booking.status, target):
        raise BookingInvalidTransition(
            f"A booking cannot go from {booking.status} to {target}.", field="status"
        )
    now = timezone.now()
    updated = Booking.objects.filter(pk=booking.pk, status=booking.status).update(
        status=target, updated_at=now, **values
    )
    if updated == 0:
        raise BookingConflict("The booking was changed by someone else; reload it.")
    lists_changed(booking.company_id)  # update() sends no signal
    booking.status, booking.updated_at = target, now
    for name, value in values.items():
        setattr(booking, name, value)
    booking_status_changed.send(sender=Booking, booking=booking, status=target)
    return booking


def _reason_code(
    booking: Booking, code: ReasonCode | str | None, *, default: str, kind: str
) -> ReasonCode:
    """The code to record: the one a person chose (already checked by `reason_code_choose`),
    or a code by name from a service (system codes allowed), or `default`."""
    if isinstance(code, ReasonCode):
        reason = code
    else:
        reason = reason_code_get(company_id=booking.company_id, code=code or default)
    if reason.company_id != booking.company_id:
        raise ReasonCodeInvalid("Unknown reason code.", field="code")
    reason_code_check_fits(reason=reason, kind=kind)
    return reason


def booking_cancel_is_late(*, booking: Booking, company: Company, at: datetime) -> bool:
    """A cancellation at `at` is late when less than the company's notice is left before the
    pick-up (exactly the notice is in time). Billing charges late ones."""
    return booking.scheduled_at - at < timedelta(hours=company.cancel_notice_hours)


@transaction.atomic
def booking_cancel(
    *, booking: Booking, code: ReasonCode | str | None = None, reason: str = ""
) -> Booking:
    """Cancel with a reason code and optional text; its driver is told.

    `code`: a `ReasonCode` a person chose (`bookings.reasons.reason_code_choose`), or a code
    by name from a service (`"series_ended"` when a standing order ends); None records
    `other`. `cancelled_late` says whether it came within the company's notice.
    """
    reason_code = _reason_code(booking, code, default=OTHER, kind=ReasonCode.Kind.CANCELLATION)
    company = company_get(company_id=booking.company_id)
    now = timezone.now()
    driver_id = booking.driver_id
    _set_status(
        booking,
        Booking.Status.CANCELLED,
        cancel_code=reason_code,
        cancel_reason=reason.strip()[:300],
        cancelled_late=booking_cancel_is_late(booking=booking, company=company, at=now),
        cancelled_at=now,
    )
    publish_on_commit(
        group_for_company_dispatch(booking.company_id), build_booking_updated(booking)
    )
    if driver_id:
        publish_on_commit(group_for_driver(driver_id), build_assignment(booking, "withdrawn"))
    etas_refresh_on_commit(booking.company_id, [driver_id])
    return booking


@transaction.atomic
def booking_set_status(
    *,
    booking: Booking,
    status: str,
    driver: Driver | None = None,
    code: ReasonCode | str | None = None,
    reason: str = "",
) -> Booking:
    """Progress a trip (en route, arrived, on board, completed, no-show).

    With `driver`, the change comes from that driver's phone: only its own bookings, and only
    the statuses a driver may set. `arrived` (at the pick-up) records `arrived_at` and starts
    the company's no-show wait (`no_show_after`); `on_board` records `picked_up_at`. A trip that
    arrived may be reported a no-show only once the wait is over (NoShowTooEarly, 409
    `no_show_wait`, field `status`). A no-show records `code` (as in `booking_cancel`; None
    records `no_show`) and the optional `reason`; a cancellation goes to `booking_cancel`. The
    driver's ETAs are recomputed on commit.
    """
    if driver is not None:
        if booking.driver_id != driver.id:
            raise NotFound("Unknown booking.", field="booking_id")
        refusal = driver_step_refusal(
            current=booking.status,
            target=status,
            scheduled_at=booking.scheduled_at,
            tz=company_get(company_id=booking.company_id).tz,
            now=timezone.now(),
        )
        if refusal:
            raise BookingInvalidTransition(refusal, field="status")
    if status == Booking.Status.CANCELLED:
        return booking_cancel(booking=booking, code=code, reason=reason)
    values: dict[str, Any] = {}
    if status == Booking.Status.ARRIVED:
        values = _arrival(booking)
    elif status == Booking.Status.NO_SHOW:
        _check_wait_over(booking)
        values = {
            "cancel_code": _reason_code(
                booking, code, default=NO_SHOW, kind=ReasonCode.Kind.NO_SHOW
            ),
            "cancel_reason": reason.strip()[:300],
            "cancelled_at": timezone.now(),
        }
    elif code is not None or reason:
        raise ReasonCodeInvalid(
            "A reason goes with a cancellation or no-show only.",
            field="code" if code is not None else "reason",
        )
    if status == Booking.Status.ON_BOARD:
        values = {"picked_up_at": timezone.now()}
    _set_status(booking, status, **values)
    publish_on_commit(
        group_for_company_dispatch(booking.company_id), build_booking_updated(booking)
    )
    etas_refresh_on_commit(booking.company_id, [booking.driver_id])
    return booking


def _arrival(booking: Booking) -> dict[str, Any]:
    now = timezone.now()
    wait = timedelta(minutes=company_get(company_id=booking.company_id).no_show_wait_minutes)
    return {"arrived_at": now, "no_show_after": now + wait}


def _check_wait_over(booking: Booking) -> None:
    """A patient gets the company's wait after the driver arrived before being a no-show."""
    if booking.status != Booking.Status.ARRIVED or booking.no_show_after is None:
        return
    now = timezone.now()
    if now < booking.no_show_after:
        tz = company_get(company_id=booking.company_id).tz
        left = int((booking.no_show_after - now).total_seconds() + 59) // 60
        raise NoShowTooEarly(
            f"The driver arrived at {format_local(booking.arrived_at or now, tz)}: a no-show "
            f"can be reported from {format_local(booking.no_show_after, tz)} "
            f"(in {left} min).",
            field="status",
        )


@transaction.atomic
def booking_assign(*, booking: Booking, driver: Driver, vehicle: Vehicle | None = None) -> Booking:
    """Give a pending or assigned booking to `driver` and `vehicle` (the vehicle of the
    driver's shift that day, see dispatch/manual.py; by default the driver's default one)."""
    if driver.company_id != booking.company_id or not driver.active:
        raise NotFound("Unknown driver.", field="driver")
    if booking.status not in EDITABLE:
        raise BookingNotEditable(f"A {booking.status} booking cannot be reassigned.")
    booking_check_times(booking=booking, fields=("scheduled_at",))
    vehicle = vehicle or driver.default_vehicle
    reason = vehicle_suits(vehicle, mobility=booking.mobility, passengers=booking.passengers)
    if reason:
        raise VehicleUnsuitable(reason, field="driver")
    previous = booking.driver_id
    values = {"driver_id": driver.id, "vehicle_id": vehicle.id if vehicle else None}
    if booking.status == Booking.Status.ASSIGNED:
        _update_if_unchanged(booking, **values)
    else:
        _set_status(booking, Booking.Status.ASSIGNED, **values)
    if previous and previous != driver.id:
        publish_on_commit(group_for_driver(previous), build_assignment(booking, "withdrawn"))
    _publish_change(booking, "assigned")
    etas_refresh_on_commit(booking.company_id, [previous, driver.id])
    return booking


@transaction.atomic
def booking_unassign(*, booking: Booking) -> Booking:
    previous = booking.driver_id
    if booking.status != Booking.Status.ASSIGNED:
        raise BookingNotEditable(f"A {booking.status} booking has no assignment to withdraw.")
    _set_status(booking, Booking.Status.PENDING, driver_id=None, vehicle_id=None)
    publish_on_commit(
        group_for_company_dispatch(booking.company_id), build_booking_updated(booking)
    )
    if previous:
        publish_on_commit(group_for_driver(previous), build_assignment(booking, "withdrawn"))
    _insertions_on_commit(booking)
    etas_refresh_on_commit(booking.company_id, [previous])
    return booking


def _insertions_on_commit(booking: Booking) -> None:
    """A trip for today without a driver: propose where it fits (dispatch/insertion.py)."""
    from dispatch.tasks import insertions_on_commit  # dispatch builds on bookings

    insertions_on_commit(booking)


def _update_if_unchanged(booking: Booking, **values: Any) -> None:
    now = timezone.now()
    updated = Booking.objects.filter(
        # `driver=`: the same SQL as `driver_id=` (IS NULL for None), and the stubs reject
        # None on an `_id` lookup (typeddjango/django-stubs#3472).
        pk=booking.pk,
        status=booking.status,
        driver=booking.driver_id,
    ).update(updated_at=now, **values)
    if updated == 0:
        raise BookingConflict("The booking was changed by someone else; reload it.")
    lists_changed(booking.company_id)  # update() sends no signal
    booking.updated_at = now
    for name, value in values.items():
        setattr(booking, name, value)
