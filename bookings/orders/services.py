"""Every write to standing orders (create, update, skip, pause, end).

An occurrence is an ordinary booking carrying `standing_order`, `occurrence_date` and
`occurrence_leg` (the outbound trip, and its return with `return_of` set). The unique
constraint on those three makes materialising idempotent; a trip the series withdraws (a skip,
a pause, an edit that drops its day) is cancelled and gives its day back (`occurrence_date`
cleared), so the day can be booked again if the order later wants it.

Places are given as `Place` (address and coordinates); the pick-up defaults to the client's
home. A place id (`pickup_place`) resolves to a `Place` before it reaches these services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.exceptions import DomainError, InvalidTransition
from bookings import services as booking_services
from bookings.models import Booking, Client, StandingOrder, StandingOrderException
from bookings.orders.calendar import in_pattern, last_day, order_days
from bookings.orders.materialise import (
    exceptions_of,
    standing_orders_materialise,
    standing_orders_materialise_all,
)
from bookings.orders.trips import (
    OUTBOUND,
    RETURN,
    local_today,
    occurrence_times,
    outbound_end,
    return_times,
    trip_day,
    trip_fields,
)
from bookings.services import Place
from bookings.transitions import EDITABLE

__all__ = [
    "OccurrenceStarted",
    "StandingOrderEnded",
    "StandingOrderUpdate",
    "standing_order_create",
    "standing_order_end",
    "standing_order_exception_remove",
    "standing_order_pause",
    "standing_order_skip",
    "standing_order_unpause",
    "standing_order_unskip",
    "standing_order_update",
    "standing_orders_materialise",
    "standing_orders_materialise_all",
]

SERIES_ENDED = "series_ended"
SERIES_CHANGED = "series_changed"
SKIPPED = "skipped"
PAUSED = "paused"
_TIME_KEYS = ("scheduled_at", "pickup_earliest", "pickup_latest", "appointment_at")


class StandingOrderEnded(InvalidTransition):
    code = "standing_order_ended"


class OccurrenceStarted(InvalidTransition):
    code = "occurrence_started"


@dataclass
class StandingOrderUpdate:
    """What an edit did: the order, and the trips taken from their driver (times changed)."""

    order: StandingOrder
    unassigned: list[Booking] = field(default_factory=list)


# --- validation -------------------------------------------------------------------------------
def _check_order(order: StandingOrder) -> None:
    """The rules a serializer cannot see alone (they span fields, or need the stored order)."""
    weekdays = order.weekdays
    if not weekdays or any(not isinstance(d, int) or not 1 <= d <= 7 for d in weekdays):
        raise DomainError("Give one or more weekdays, 1 (Monday) to 7 (Sunday).", field="weekdays")
    if order.every_weeks not in (1, 2):
        raise DomainError("Every week (1) or every second week (2).", field="every_weeks")
    if order.pickup_time is None and order.appointment_time is None:
        raise DomainError("Give a pick-up time or an appointment time.", field="pickup_time")
    if order.pickup_time and order.appointment_time and order.appointment_time <= order.pickup_time:
        raise DomainError("The appointment must be after the pick-up.", field="appointment_time")
    if order.return_leg == StandingOrder.ReturnLeg.FIXED:
        after = order.appointment_time or order.pickup_time
        assert after is not None  # an order without either was refused just above
        if order.return_time is None or order.return_time <= after:
            raise DomainError(
                "The return must be after the outbound trip's time.", field="return.time"
            )
    if order.end_date is None and order.occurrences is None:
        raise DomainError("Give an end date or a number of occurrences.", field="end_date")
    if order.end_date is not None and order.occurrences is not None and order.ended_at is None:
        raise DomainError(
            "Give an end date or a number of occurrences, not both.", field="occurrences"
        )
    if order.occurrences is not None and not 1 <= order.occurrences <= order.MAX_OCCURRENCES:
        raise DomainError("A standing order has 1 to 1,000 occurrences.", field="occurrences")
    if order.end_date is not None and order.end_date < order.start_date:
        raise DomainError("The end date is before the start date.", field="end_date")
    if not 1 <= order.passengers <= 8:
        raise DomainError("A trip carries 1 to 8 passengers.", field="passengers")


def _home(client: Client) -> Place:
    if client.lat is None or client.lon is None or not client.address:
        raise DomainError(
            "The client has no home address with coordinates: give the pick-up.", field="pickup"
        )
    return Place(address=client.address, lat=client.lat, lon=client.lon)


def _set_place(order: StandingOrder, prefix: str, place: Place) -> None:
    order.__dict__.update(
        {f"{prefix}_address": place.address, f"{prefix}_lat": place.lat, f"{prefix}_lon": place.lon}
    )


# --- create and update ------------------------------------------------------------------------
@transaction.atomic
def standing_order_create(
    *,
    company: Company,
    client: Client,
    dropoff: Place,
    pickup: Place | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> StandingOrder:
    """Create the order and book its trips up to the company's horizon at once.

    `fields` are the model's (`weekdays`, `pickup_time`, `return_leg`, ...); without `pickup`
    the trips start at the client's home; `mobility` defaults to the client's.
    """
    if client.company_id != company.id:
        raise DomainError("Unknown client.", field="client")
    now = now or timezone.now()
    fields.setdefault("mobility", client.mobility)
    order = StandingOrder(company=company, client=client, **fields)
    _set_place(order, "pickup", pickup or _home(client))
    _set_place(order, "dropoff", dropoff)
    _check_order(order)
    order.full_clean()
    order.save()
    standing_orders_materialise(company=company, order_ids=[order.id], now=now)
    return order


def _lock(order: StandingOrder) -> StandingOrder:
    return (
        StandingOrder.objects.select_for_update(of=("self",))
        .select_related("client")
        .get(pk=order.pk)
    )


@transaction.atomic
def standing_order_update(
    *, order: StandingOrder, changes: dict[str, Any], now: datetime | None = None
) -> StandingOrderUpdate:
    """Edit an order that has not ended; its future trips that have not started follow.

    Only what the edit changes is applied to each trip (a trip moved by hand keeps its time
    unless the order's times change). A trip whose times or places change is taken from its
    driver and listed in the result; otherwise it keeps its driver. A day the order no longer
    runs is cancelled (`series_changed`); a new one is booked.
    """
    now = now or timezone.now()
    order = _lock(order)
    if order.ended_at is not None:
        raise StandingOrderEnded("This standing order has ended; create a new one.")
    company = order.company
    before = StandingOrder(**{f.attname: getattr(order, f.attname) for f in order._meta.fields})
    for name, value in changes.items():
        if name in ("pickup", "dropoff"):
            _set_place(order, name, value or _home(order.client))
        elif name == "end_date" and "occurrences" not in changes:
            order.end_date, order.occurrences = value, None
        elif name == "occurrences" and "end_date" not in changes:
            order.end_date, order.occurrences = None, value
        else:
            setattr(order, name, value)
    _check_order(order)
    order.full_clean()
    order.save()
    result = StandingOrderUpdate(order=order)
    _resync(before, order, company, now, result)
    standing_orders_materialise(company=company, order_ids=[order.id], now=now)
    return result


def _future_trips(order: StandingOrder, now: datetime) -> list[Booking]:
    """The order's trips still to come and not started, outbound legs before returns."""
    trips = Booking.objects.filter(
        standing_order=order,
        occurrence_date__isnull=False,
        status__in=list(EDITABLE),
        scheduled_at__gt=now,
    ).select_related("vehicle")
    return sorted(trips, key=lambda b: (b.occurrence_leg == RETURN, b.occurrence_date))


def _resync(
    before: StandingOrder,
    order: StandingOrder,
    company: Company,
    now: datetime,
    result: StandingOrderUpdate,
) -> None:
    canton = company.canton
    trips = _future_trips(order, now)
    if not trips:
        return
    days = {trip_day(t) for t in trips}
    wanted = {
        d.day
        for d in order_days(
            order,
            canton=canton,
            exceptions=exceptions_of([order.id])[order.id],
            first=min(days),
            last=max(days),
        )
        if d.skipped is None
    }
    withdrawn: set[Any] = set()
    # A return whose outbound trip has started (or passed) still brings the patient home,
    # whatever the edit: only returns of trips still to come are withdrawn.
    coming = {t.id for t in trips if t.occurrence_leg == OUTBOUND}
    for trip in trips:
        is_return = trip.occurrence_leg == RETURN
        if trip.return_of_id in withdrawn:
            continue
        if trip.occurrence_date not in wanted:
            if not is_return or trip.return_of_id in coming:
                _withdraw(trip, SERIES_CHANGED)
                withdrawn.add(trip.id)
            continue
        if is_return and order.return_leg == StandingOrder.ReturnLeg.NONE:
            if trip.return_of_id in coming:
                _withdraw(trip, SERIES_CHANGED, detach=True)
            continue
        changes = _changes(before, order, company, trip)
        if changes:
            _apply(trip, changes, result)


def _changes(
    before: StandingOrder, order: StandingOrder, company: Company, trip: Booking
) -> dict[str, Any]:
    """The fields of `trip` the edit changes: those that differ between the old order's
    version of this trip and the new one's."""
    day, back = trip_day(trip), trip.occurrence_leg == RETURN
    old, new = _version(before, company, day, back), _version(order, company, day, back)
    if back and trip.released_at is not None:  # the clinic set its time: leave it
        for name in (*_TIME_KEYS, "will_call"):
            old.pop(name, None), new.pop(name, None)
    changes = {k: v for k, v in new.items() if old.get(k) != v}
    if any(k in changes for k in (*_TIME_KEYS, "will_call")):
        changes.update({k: new[k] for k in (*_TIME_KEYS, "will_call") if k in new})
    return changes


def _version(order: StandingOrder, company: Company, day: date, back: bool) -> dict[str, Any]:
    times = occurrence_times(order, day, company)
    if back:
        if order.return_leg == StandingOrder.ReturnLeg.NONE:
            return trip_fields(order, back=True)
        times = return_times(order, day, company, outbound_end(times))
    return {**trip_fields(order, back=back), **times}


_ROUTE_KEYS = {*_TIME_KEYS, "will_call", "pickup_lat", "pickup_lon", "dropoff_lat", "dropoff_lon"}


def _apply(trip: Booking, changes: dict[str, Any], result: StandingOrderUpdate) -> None:
    if trip.status == Booking.Status.ASSIGNED:
        unsuitable = booking_services.vehicle_suits(
            trip.vehicle,
            mobility=changes.get("mobility", trip.mobility),
            passengers=changes.get("passengers", trip.passengers),
        )
        taken = bool(unsuitable or _ROUTE_KEYS & set(changes))
        if taken:
            trip = booking_services.booking_unassign(booking=trip)
    else:
        taken = False
    places = {}
    for prefix in ("pickup", "dropoff"):
        parts = [changes.pop(f"{prefix}_{p}", None) for p in ("address", "lat", "lon")]
        if any(p is not None for p in parts):
            places[prefix] = Place(
                address=parts[0] if parts[0] is not None else getattr(trip, f"{prefix}_address"),
                lat=parts[1] if parts[1] is not None else getattr(trip, f"{prefix}_lat"),
                lon=parts[2] if parts[2] is not None else getattr(trip, f"{prefix}_lon"),
            )
    if changes.get("will_call") is False:
        changes["released_at"] = None
    trip = booking_services.booking_update(booking=trip, changes={**changes, **places})
    if taken:
        result.unassigned.append(trip)


def _withdraw(trip: Booking, reason: str, *, detach: bool = False) -> None:
    """Cancel a trip the series no longer has (and its return) and free its day."""
    back = getattr(trip, "return_trip", None) if trip.occurrence_leg == OUTBOUND else None
    for booking in (trip, back):
        if booking is None or booking.status not in EDITABLE:
            continue
        booking_services.booking_cancel(booking=booking, reason=reason)
        values: dict[str, Any] = {"occurrence_date": None}
        if detach and booking.return_of_id is not None:
            values["return_of"] = None  # the outbound may get a new return later
        Booking.objects.filter(pk=booking.pk).update(**values)


# --- exceptions and the end -------------------------------------------------------------------
def _check_live(order: StandingOrder) -> None:
    if order.ended_at is not None:
        raise StandingOrderEnded("This standing order has ended.")


def _withdraw_days(
    order: StandingOrder, first: date, last: date | None, reason: str, now: datetime
) -> None:
    trips = Booking.objects.filter(
        standing_order=order, occurrence_date__gte=first, occurrence_leg=OUTBOUND
    ).select_related("return_trip")
    if last is not None:
        trips = trips.filter(occurrence_date__lte=last)
    for trip in trips:
        if trip.status in EDITABLE:
            _withdraw(trip, reason)


@transaction.atomic
def standing_order_skip(
    *, order: StandingOrder, day: date, reason: str = "", now: datetime | None = None
) -> StandingOrder:
    """Skip one day of the order (its trips, if booked, are cancelled). Skipping a day twice
    changes nothing the second time."""
    now = now or timezone.now()
    order = _lock(order)
    _check_live(order)
    company = order.company
    if day < local_today(company, now):
        raise DomainError("That day has passed.", field="date")
    if not in_pattern(order, day) or day < order.start_date:
        raise DomainError(f"The order has no trip on {day.isoformat()}.", field="date")
    end = last_day(order, canton=company.canton, exceptions=exceptions_of([order.id])[order.id])
    if day > end:
        raise DomainError(f"The order has no trip on {day.isoformat()}.", field="date")
    if order.exceptions.filter(first_day__lte=day, last_day__gte=day).exists():
        return order
    started = Booking.objects.filter(standing_order=order, occurrence_date=day).exclude(
        status__in=[*EDITABLE, Booking.Status.CANCELLED]
    )
    if started.exists():
        raise OccurrenceStarted("That day's trip has already started.", field="date")
    StandingOrderException.objects.create(
        company=company, order=order, kind="skip", first_day=day, last_day=day, reason=reason
    )
    _withdraw_days(order, day, day, SKIPPED, now)
    # As with a pause, a count of trips runs a day longer: book that day if it is near.
    standing_orders_materialise(company=company, order_ids=[order.id], now=now)
    return order


@transaction.atomic
def standing_order_pause(
    *,
    order: StandingOrder,
    first: date,
    last: date,
    reason: str = "",
    now: datetime | None = None,
) -> StandingOrder:
    """Pause the order from `first` to `last` inclusive (a hospital stay): trips booked in
    that time and not started are cancelled."""
    now = now or timezone.now()
    order = _lock(order)
    _check_live(order)
    company = order.company
    if last < first:
        raise DomainError("The pause ends before it starts.", field="to")
    if last < local_today(company, now):
        raise DomainError("That time has passed.", field="to")
    if first < order.start_date:
        raise DomainError("The pause starts before the order.", field="from")
    end = last_day(order, canton=company.canton, exceptions=exceptions_of([order.id])[order.id])
    if first > end:
        raise DomainError("The pause starts after the order's last trip.", field="from")
    if order.end_date is not None and last > order.end_date:
        raise DomainError("The pause ends after the order.", field="to")
    StandingOrderException.objects.create(
        company=company, order=order, kind="pause", first_day=first, last_day=last, reason=reason
    )
    _withdraw_days(order, first, last, PAUSED, now)
    # A count of trips runs longer by the days paused: book those now if they are near.
    standing_orders_materialise(company=company, order_ids=[order.id], now=now)
    return order


# --- taking a skip or a pause back -----------------------------------------------------------
@transaction.atomic
def standing_order_exception_remove(
    *, exception: StandingOrderException, now: datetime | None = None
) -> StandingOrder:
    """Take back a skipped day or a pause from today on; the past stays as it was.

    A skip of a day gone by, or a pause over, is refused (field `date` / `to`); a pause that
    began before today is cut to end yesterday. The days given back are booked again up to the
    horizon (`standing_orders_materialise`), and with a count of trips the series ends sooner
    again: its booked trips past the new last day that have not started are cancelled
    (`series_changed`), as an edit would.
    """
    now = now or timezone.now()
    order = _lock(exception.order)
    _check_live(order)
    company = order.company
    today = local_today(company, now)
    if exception.last_day < today:
        past = "That day has passed." if exception.kind == "skip" else "That pause is over."
        raise DomainError(past, field="date" if exception.kind == "skip" else "to")
    if exception.first_day < today:
        exception.last_day = today - timedelta(days=1)
        exception.save(update_fields=["last_day"])
    else:
        exception.delete()
    _resync(order, order, company, now, StandingOrderUpdate(order=order))
    standing_orders_materialise(company=company, order_ids=[order.id], now=now)
    return order


def _exception_of(
    order: StandingOrder, kind: str, first: date, last: date
) -> StandingOrderException | None:
    return StandingOrderException.objects.filter(
        order_id=order.id, kind=kind, first_day=first, last_day=last
    ).first()


def standing_order_unskip(
    *, order: StandingOrder, day: date, now: datetime | None = None
) -> StandingOrder:
    """Book a skipped day again (see `standing_order_exception_remove`)."""
    found = _exception_of(order, "skip", day, day)
    if found is None:
        raise DomainError(f"{day.isoformat()} is not skipped.", field="date")
    return standing_order_exception_remove(exception=found, now=now)


def standing_order_unpause(
    *, order: StandingOrder, first: date, last: date, now: datetime | None = None
) -> StandingOrder:
    """Take back the pause `first`..`last` (see `standing_order_exception_remove`)."""
    found = _exception_of(order, "pause", first, last)
    if found is None:
        raise DomainError(
            f"The order has no pause from {first.isoformat()} to {last.isoformat()}.",
            field="from",
        )
    return standing_order_exception_remove(exception=found, now=now)


@transaction.atomic
def standing_order_end(
    *, order: StandingOrder, day: date, reason: str = "", now: datetime | None = None
) -> StandingOrder:
    """End the order after `day` (its last day with trips): later trips not started are
    cancelled with the reason `series_ended`. An order ends once."""
    now = now or timezone.now()
    order = _lock(order)
    _check_live(order)
    company = order.company
    if day < local_today(company, now):
        raise DomainError("That day has passed.", field="date")
    if order.end_date is not None and day > order.end_date:
        raise DomainError("The order already ends before that day.", field="date")
    order.end_date = day
    order.ended_at = now
    order.end_reason = reason
    order.save(update_fields=["end_date", "ended_at", "end_reason", "updated_at"])
    trips = Booking.objects.filter(
        standing_order=order, occurrence_date__gt=day, status__in=list(EDITABLE)
    )
    for trip in trips:
        # The system code: not offered to people, and billing can tell it from a patient's.
        booking_services.booking_cancel(booking=trip, code=SERIES_ENDED, reason=SERIES_ENDED)
    return order
