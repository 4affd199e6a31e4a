"""Reads of clients and bookings, always scoped to one company."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from bookings.models import Booking, Client


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A local calendar day as an aware [start, end) interval (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def booking_list(*, company_id: object, driver_id: object | None = None) -> QuerySet[Booking]:
    """A company's bookings with everything the list shows joined in (one query for rows).

    With `driver_id`, only that driver's bookings: a driver sees its own work only.
    """
    qs = Booking.objects.filter(company_id=company_id).select_related(
        "client", "driver__user", "vehicle", "return_trip"
    )
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    return qs


def _as_text(column: str) -> Cast:
    """A datetime column as the database's text (UTC): parsing 300 datetimes into Python
    objects and formatting them back cost more than the rest of a 50-row list's rows."""
    return Cast(column, output_field=TextField())


# The list's columns, in the order `bookings.serializers.booking_list_data` unpacks them.
BOOKING_ROW_COLUMNS = (
    "id",
    "status",
    "client_id",
    "client__first_name",
    "client__last_name",
    "client__phone",
    "client__mobility",
    "driver_id",
    "driver__user__first_name",
    "driver__user__last_name",
    "driver__phone",
    "vehicle_id",
    "vehicle__plate",
    "pickup_address",
    "pickup_lat",
    "pickup_lon",
    "dropoff_address",
    "dropoff_lat",
    "dropoff_lon",
    _as_text("scheduled_at"),
    _as_text("pickup_earliest"),
    _as_text("pickup_latest"),
    _as_text("appointment_at"),
    "passengers",
    "urgent",
    "mobility",
    "return_of_id",
    "return_trip__id",
    "price",
    "notes",
    "cancel_reason",
    _as_text("created_at"),
    _as_text("updated_at"),
)


def booking_rows(queryset: QuerySet[Booking]) -> list[tuple[Any, ...]]:
    """`BOOKING_ROW_COLUMNS` of an already scoped, filtered (and sliced) queryset: one query
    joining client, driver, user, vehicle and return trip, no model instances."""
    return list(queryset.values_list(*BOOKING_ROW_COLUMNS))


def booking_filter(
    qs: QuerySet[Booking],
    *,
    day: date | None = None,
    tz: ZoneInfo | None = None,
    statuses: Iterable[str] = (),
    driver_id: object | None = None,
    client_id: object | None = None,
    ordering: str = "scheduled_at",
) -> QuerySet[Booking]:
    """The list's filters. Plain code rather than a FilterSet: this is the hottest read."""
    if day is not None and tz is not None:
        qs = booking_on_day(qs, day, tz)
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    return qs.order_by(ordering, "id")


def booking_on_day(qs: QuerySet[Booking], day: date, tz: ZoneInfo) -> QuerySet[Booking]:
    start, end = day_bounds(day, tz)
    return qs.filter(scheduled_at__gte=start, scheduled_at__lt=end)


def client_list(*, company_id: object) -> QuerySet[Client]:
    return Client.objects.filter(company_id=company_id)


CLIENT_ROW_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "phone",
    "address",
    "lat",
    "lon",
    "mobility",
    "notes",
    _as_text("created_at"),
)


def client_rows(queryset: QuerySet[Client]) -> list[tuple[Any, ...]]:
    """`CLIENT_ROW_COLUMNS` of an already scoped, filtered (and sliced) queryset."""
    return list(queryset.values_list(*CLIENT_ROW_COLUMNS))
