"""Booking standing orders' trips up to the company's horizon (at once, and nightly)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.list_cache import lists_changed
from bookings.models import Booking, StandingOrder, StandingOrderException
from bookings.orders.calendar import Exception_, order_days
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
from bookings.transitions import EDITABLE
from realtime.events import build_booking_updated
from realtime.groups import group_for_company_dispatch
from realtime.publish import publish_many_on_commit


def exceptions_of(order_ids: Iterable[Any]) -> dict[Any, list[Exception_]]:
    found: dict[Any, list[Exception_]] = defaultdict(list)
    rows = StandingOrderException.objects.filter(order_id__in=list(order_ids)).values_list(
        "order_id", "kind", "first_day", "last_day"
    )
    for order_id, kind, first, last in rows:
        found[order_id].append(Exception_(kind, first, last))
    return found


@transaction.atomic
def standing_orders_materialise(
    *, company: Company, order_ids: Iterable[Any] | None = None, now: datetime | None = None
) -> list[Booking]:
    """Book the trips of the company's orders (or of `order_ids`) up to its horizon.

    Idempotent: a day that has its trip (in any status, moved or cancelled) is not booked
    again; an outbound trip still to come gets its missing return. Trips whose pick-up has
    passed are not booked. Locks the orders' rows, so two runs at once book each trip once.
    Returns the bookings created.
    """
    now = now or timezone.now()
    today = local_today(company, now)
    horizon = today + timedelta(days=company.order_horizon_days)
    orders = StandingOrder.objects.select_for_update(of=("self",)).filter(
        company=company, start_date__lte=horizon
    )
    orders = orders.exclude(end_date__lt=today)
    if order_ids is not None:
        orders = orders.filter(id__in=list(order_ids))
    orders_list = list(orders.order_by("id"))
    if not orders_list:
        return []
    by_id = {o.id: o for o in orders_list}
    exceptions = exceptions_of(by_id)
    outbound, returned = _booked(by_id, today)
    created_out: list[Booking] = []
    created_back: list[Booking] = []
    for order in orders_list:
        new_out, new_back = _plan(
            order, company, exceptions[order.id], outbound, returned, today, horizon, now
        )
        created_out += new_out
        created_back += new_back
    Booking.objects.bulk_create(created_out, batch_size=500)
    Booking.objects.bulk_create(created_back, batch_size=500)
    if created_out or created_back:
        lists_changed(company.id)  # bulk_create sends no signal
    _announce(company, [*created_out, *created_back], today)
    return created_out + created_back


# The office's screens follow today and tomorrow live: new trips on those days are announced
# (the order was created or changed during the day); later ones show when the list is read.
ANNOUNCE_DAYS = 1


def _announce(company: Company, created: list[Booking], today: date) -> None:
    last = today + timedelta(days=ANNOUNCE_DAYS)
    group = group_for_company_dispatch(company.id)
    events = [(group, build_booking_updated(b)) for b in created if trip_day(b) <= last]
    if events:
        publish_many_on_commit(events)


# An order's day, and its booked outbound trip: id, status, pick-up and appointment.
_Day = tuple[UUID, date]
_Outbound = tuple[UUID, str, datetime, datetime | None]


def _booked(
    orders: dict[UUID, StandingOrder], today: date
) -> tuple[dict[_Day, _Outbound], set[_Day]]:
    """Trips already booked from `today` on: outbound legs by (order, day), and the
    (order, day) pairs that have their return."""
    rows = Booking.objects.filter(
        standing_order_id__in=list(orders), occurrence_date__gte=today
    ).values_list(
        "standing_order_id",
        "occurrence_date",
        "occurrence_leg",
        "id",
        "status",
        "scheduled_at",
        "appointment_at",
    )
    outbound: dict[_Day, _Outbound] = {}
    returned: set[_Day] = set()
    for order_id, day, leg, booking_id, status, scheduled, appointment in rows:
        assert day is not None  # occurrence_date__gte leaves out trips without a day
        if leg == OUTBOUND:
            outbound[(order_id, day)] = (booking_id, status, scheduled, appointment)
        else:
            returned.add((order_id, day))
    return outbound, returned


def _plan(
    order: StandingOrder,
    company: Company,
    exceptions: list[Exception_],
    outbound: dict[_Day, _Outbound],
    returned: set[_Day],
    today: date,
    horizon: date,
    now: datetime,
) -> tuple[list[Booking], list[Booking]]:
    new_out: list[Booking] = []
    new_back: list[Booking] = []
    days = order_days(
        order, canton=company.canton, exceptions=exceptions, first=today, last=horizon
    )
    wants_return = order.return_leg != StandingOrder.ReturnLeg.NONE
    for found in days:
        if found.skipped is not None:
            continue
        existing = outbound.get((order.id, found.day))
        back_missing = wants_return and (order.id, found.day) not in returned
        if existing is not None:
            booking_id, status, scheduled, appointment = existing
            if back_missing and status in EDITABLE:
                new_back.append(
                    _return_booking(order, company, found.day, booking_id, appointment or scheduled)
                )
            continue
        times = occurrence_times(order, found.day, company)
        if times["scheduled_at"] <= now:
            continue
        trip = Booking(
            company=company,
            client_id=order.client_id,
            standing_order=order,
            occurrence_date=found.day,
            occurrence_leg=OUTBOUND,
            **trip_fields(order),
            **times,
        )
        new_out.append(trip)
        if back_missing:
            new_back.append(
                _return_booking(order, company, found.day, trip.id, outbound_end(times))
            )
    return new_out, new_back


def _return_booking(
    order: StandingOrder, company: Company, day: date, outbound_id: Any, after: datetime
) -> Booking:
    return Booking(
        company=company,
        client_id=order.client_id,
        standing_order=order,
        occurrence_date=day,
        occurrence_leg=RETURN,
        return_of_id=outbound_id,
        **trip_fields(order, back=True),
        **return_times(order, day, company, after),
    )


def standing_orders_materialise_all(*, now: datetime | None = None) -> int:
    """The nightly run: every active company's orders, one transaction per company.
    Returns the number of bookings created."""
    created = 0
    company_ids = (
        StandingOrder.objects.filter(company__active=True)
        .values_list("company_id", flat=True)
        .distinct()
    )
    for company in Company.objects.filter(id__in=list(company_ids)):
        created += len(standing_orders_materialise(company=company, now=now))
    return created
