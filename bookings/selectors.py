"""Reads of clients and bookings, always scoped to one company."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from bookings.models import Booking, Client

LATE_STATES = (Booking.Lateness.LATE, Booking.Lateness.AT_RISK)
UNDER_WAY = (
    Booking.Status.ASSIGNED,
    Booking.Status.EN_ROUTE,
    Booking.Status.ARRIVED,
    Booking.Status.ON_BOARD,
)
# Filters keep whatever a queryset yields (models, or `.values_list()` rows).
_Row = TypeVar("_Row")


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A local calendar day as an aware [start, end) interval (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def booking_list(
    *, company_id: UUID | str, driver_id: UUID | str | None = None
) -> QuerySet[Booking]:
    """A company's bookings with everything the list shows joined in (one query for rows).

    With `driver_id`, only that driver's bookings: a driver sees its own work only.
    """
    qs = Booking.objects.filter(company_id=company_id).select_related(
        "client", "driver__user", "vehicle", "return_trip", "cancel_code"
    )
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    return qs


def booking_filter(
    qs: QuerySet[Booking, _Row],
    *,
    day: date | None = None,
    tz: ZoneInfo | None = None,
    statuses: Iterable[str] = (),
    driver_id: UUID | str | None = None,
    client_id: UUID | str | None = None,
    ordering: str = "scheduled_at",
    cancel_code: str | None = None,
    cancelled_late: bool | None = None,
    late: bool | None = None,
) -> QuerySet[Booking, _Row]:
    """The list's filters. Plain code rather than a FilterSet: this is the hottest read.

    `cancel_code` is a reason code's id or its code (the list is already one company's).
    `late`: True keeps the trips under way (assigned to on board) whose ETAs make them late
    or at risk (dispatch/eta.py), False the others.
    """
    if day is not None and tz is not None:
        qs = booking_on_day(qs, day, tz)
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    if cancel_code is not None:
        qs = _by_reason_code(qs, cancel_code)
    if cancelled_late is not None:
        qs = qs.filter(cancelled_late=cancelled_late)
    if late is not None:
        flagged = Q(lateness__in=LATE_STATES, status__in=UNDER_WAY)
        qs = qs.filter(flagged) if late else qs.exclude(flagged)
    return qs.order_by(ordering, "id")


def _by_reason_code(qs: QuerySet[Booking, _Row], value: str) -> QuerySet[Booking, _Row]:
    try:
        return qs.filter(cancel_code_id=UUID(value))
    except ValueError:
        return qs.filter(cancel_code__code=value.strip().lower())


def booking_on_day(qs: QuerySet[Booking, _Row], day: date, tz: ZoneInfo) -> QuerySet[Booking, _Row]:
    start, end = day_bounds(day, tz)
    return qs.filter(scheduled_at__gte=start, scheduled_at__lt=end)


def client_list(*, company_id: UUID | str) -> QuerySet[Client]:
    return Client.objects.filter(company_id=company_id)
