"""Reads of standing orders, always scoped to one company."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from atmr.accounts.models import Company
from bookings.models import Booking, StandingOrder, StandingOrderException
from bookings.orders.calendar import Exception_, order_days
from bookings.orders.trips import OUTBOUND, occurrence_times, return_times

# The longest preview one request may ask for.
PREVIEW_MAX_DAYS = 366

_Row = TypeVar("_Row")


def standing_order_list(*, company_id: UUID | str) -> QuerySet[StandingOrder]:
    """A company's orders with their client and exceptions (two queries for any number)."""
    return (
        StandingOrder.objects.filter(company_id=company_id)
        .select_related("client")
        .prefetch_related(
            Prefetch("exceptions", queryset=StandingOrderException.objects.order_by("first_day"))
        )
    )


def standing_order_filter(
    qs: QuerySet[StandingOrder, _Row],
    *,
    client_id: UUID | str | None = None,
    active: bool | None = None,
) -> QuerySet[StandingOrder, _Row]:
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    if active is True:
        qs = qs.filter(ended_at__isnull=True)
    elif active is False:
        qs = qs.filter(ended_at__isnull=False)
    return qs.order_by("client__last_name", "client__first_name", "start_date", "id")


def _exceptions(order: StandingOrder) -> list[Exception_]:
    return [Exception_(e.kind, e.first_day, e.last_day) for e in order.exceptions.all()]


@dataclass(frozen=True)
class OccurrencePreview:
    """One day of an order's pattern: its planned times, or why it is skipped."""

    date: date
    skipped: str | None
    holiday: str | None
    pickup_at: datetime
    appointment_at: datetime | None
    return_at: datetime | None
    return_will_call: bool
    booking_id: Any
    booking_status: str | None


def standing_order_occurrences(
    *, order: StandingOrder, company: Company, first: date, last: date
) -> list[OccurrencePreview]:
    """The order's days from `first` to `last` with skipped ones and why, and each day's
    booking if it has one (two queries: the exceptions, the bookings)."""
    days = list(
        order_days(
            order, canton=company.canton, exceptions=_exceptions(order), first=first, last=last
        )
    )
    booked = {
        day: (booking_id, status)
        for day, booking_id, status in Booking.objects.filter(
            standing_order=order,
            occurrence_leg=OUTBOUND,
            occurrence_date__gte=first,
            occurrence_date__lte=last,
        ).values_list("occurrence_date", "id", "status")
    }
    will_call = order.return_leg == StandingOrder.ReturnLeg.WILL_CALL
    rows = []
    for found in days:
        times = occurrence_times(order, found.day, company)
        back = None
        if order.return_leg == StandingOrder.ReturnLeg.FIXED:
            after = times["appointment_at"] or times["scheduled_at"]
            back = return_times(order, found.day, company, after)["scheduled_at"]
        booking_id, status = booked.get(found.day, (None, None))
        rows.append(
            OccurrencePreview(
                date=found.day,
                skipped=found.skipped,
                holiday=found.holiday,
                pickup_at=times["scheduled_at"],
                appointment_at=times["appointment_at"],
                return_at=back,
                return_will_call=will_call,
                booking_id=booking_id,
                booking_status=status,
            )
        )
    return rows


@dataclass(frozen=True)
class OverviewBand:
    """Trips on one weekday of the week, in one local hour (None: will-call returns, whose
    time the clinic gives), for one mobility."""

    weekday: int
    date: date
    hour: int | None
    mobility: str
    trips: int


def standing_order_overview(*, company: Company, week_of: date) -> list[OverviewBand]:
    """Per weekday of `week_of`'s week (Monday to Sunday), the trips the company's orders
    give, counted by pick-up hour (local) and mobility, both legs. Holidays, skipped days,
    pauses and every-second-week orders are as they will be that week. Two queries."""
    monday = week_of - timedelta(days=week_of.isoweekday() - 1)
    sunday = monday + timedelta(days=6)
    orders = standing_order_list(company_id=company.id).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=monday), start_date__lte=sunday
    )
    counts: Counter[tuple[date, int | None, str]] = Counter()
    tz = company.tz
    for order in orders:
        days = order_days(
            order, canton=company.canton, exceptions=_exceptions(order), first=monday, last=sunday
        )
        for found in days:
            if found.skipped is not None:
                continue
            times = occurrence_times(order, found.day, company)
            counts[(found.day, times["scheduled_at"].astimezone(tz).hour, order.mobility)] += 1
            if order.return_leg == StandingOrder.ReturnLeg.FIXED:
                after = times["appointment_at"] or times["scheduled_at"]
                back = return_times(order, found.day, company, after)["scheduled_at"]
                counts[(found.day, back.astimezone(tz).hour, order.mobility)] += 1
            elif order.return_leg == StandingOrder.ReturnLeg.WILL_CALL:
                counts[(found.day, None, order.mobility)] += 1
    return [
        OverviewBand(day.isoweekday(), day, hour, mobility, trips)
        for (day, hour, mobility), trips in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1] or 0, kv[0][2])
        )
    ]
