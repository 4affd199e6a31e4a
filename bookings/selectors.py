"""Reads of clients and bookings, always scoped to one company."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from bookings.models import Booking, Client
from bookings.will_call import will_call_filter

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


@dataclass(frozen=True, slots=True)
class BookingListFilter:
    """The list's filters, validated (`BookingListQuerySerializer`).

    `between`: a local day as an aware [start, end) (`day_bounds`). `cancel_code_id` or
    `cancel_code` (a code, lower case): a reason code (the list is already one company's).
    `late`: True keeps the trips under way (assigned to on board) whose ETAs make them late or
    at risk (dispatch/eta.py), False the others. `will_call`: only will-call returns, in that
    state (`will_call.will_call_filter`).
    """

    between: tuple[datetime, datetime] | None = None
    statuses: tuple[str, ...] = ()
    driver_id: UUID | None = None
    client_id: UUID | None = None
    cancel_code_id: UUID | None = None
    cancel_code: str | None = None
    cancelled_late: bool | None = None
    late: bool | None = None
    will_call: str | None = None
    ordering: str = "scheduled_at"

    def shape(self) -> tuple[object, ...]:
        """What decides the SQL's structure beyond which `params` are there (see
        atmr/json_sql.py): the booleans and choices the ORM writes into the SQL text."""
        return (self.cancelled_late, self.late, self.will_call, self.ordering)

    def params(self) -> dict[str, Any]:
        """The values the SQL binds, only those given."""
        found: dict[str, Any] = {
            "statuses": self.statuses or None,
            "driver_id": self.driver_id,
            "client_id": self.client_id,
            "cancel_code_id": self.cancel_code_id,
            "cancel_code": self.cancel_code,
        }
        if self.between is not None:
            found["start"], found["end"] = self.between
        return {name: value for name, value in found.items() if value is not None}

    @classmethod
    def from_shape(cls, shape: Hashable, params: Mapping[str, Any]) -> BookingListFilter:
        assert isinstance(shape, tuple)
        cancelled_late, late, will_call, ordering = shape
        between = (params["start"], params["end"]) if "start" in params else None
        return cls(
            between=between,
            statuses=params.get("statuses", ()),
            driver_id=params.get("driver_id"),
            client_id=params.get("client_id"),
            cancel_code_id=params.get("cancel_code_id"),
            cancel_code=params.get("cancel_code"),
            cancelled_late=cancelled_late,
            late=late,
            will_call=will_call,
            ordering=ordering,
        )


def booking_filter(qs: QuerySet[Booking, _Row], by: BookingListFilter) -> QuerySet[Booking, _Row]:
    """The list's filters. Plain code rather than a FilterSet: this is the hottest read."""
    if by.will_call is not None:
        qs = will_call_filter(qs, by.will_call)  # type: ignore[arg-type]
    if by.between is not None:
        start, end = by.between
        qs = qs.filter(scheduled_at__gte=start, scheduled_at__lt=end)
    if by.statuses:
        qs = qs.filter(status__in=list(by.statuses))
    if by.driver_id is not None:
        qs = qs.filter(driver_id=by.driver_id)
    if by.client_id is not None:
        qs = qs.filter(client_id=by.client_id)
    if by.cancel_code_id is not None:
        qs = qs.filter(cancel_code_id=by.cancel_code_id)
    if by.cancel_code is not None:
        qs = qs.filter(cancel_code__code=by.cancel_code)
    if by.cancelled_late is not None:
        qs = qs.filter(cancelled_late=by.cancelled_late)
    if by.late is not None:
        flagged = Q(lateness__in=LATE_STATES, status__in=UNDER_WAY)
        qs = qs.filter(flagged) if by.late else qs.exclude(flagged)
    return qs.order_by(by.ordering, "id")


def booking_list_build(shape: Hashable, params: Mapping[str, Any]) -> QuerySet[Booking]:
    """The list of `params["company_id"]` (only `params["me"]`'s trips when a driver asks),
    filtered as `shape` and `params` say (`BookingListFilter`; atmr/json_sql.py compiles it
    once per shape)."""
    qs = booking_list(company_id=params["company_id"], driver_id=params.get("me"))
    return booking_filter(qs, BookingListFilter.from_shape(shape, params))


def booking_on_day(qs: QuerySet[Booking, _Row], day: date, tz: ZoneInfo) -> QuerySet[Booking, _Row]:
    start, end = day_bounds(day, tz)
    return qs.filter(scheduled_at__gte=start, scheduled_at__lt=end)


def client_list(*, company_id: UUID | str) -> QuerySet[Client]:
    return Client.objects.filter(company_id=company_id)
