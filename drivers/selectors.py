"""Reads of drivers and vehicles, always scoped to one company."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atmr.accounts.models import Company
from drivers.models import Driver, Vehicle


def driver_list(*, company_id: object, driver_id: object | None = None) -> QuerySet[Driver]:
    """A company's drivers; with `driver_id`, only that one (a driver sees itself only)."""
    qs = Driver.objects.filter(company_id=company_id).select_related("user", "default_vehicle")
    if driver_id is not None:
        qs = qs.filter(id=driver_id)
    return qs


# The list's columns, in the order `drivers.serializers.driver_list_data` unpacks them.
DRIVER_ROW_COLUMNS = (
    "id",
    "user__email",
    "user__first_name",
    "user__last_name",
    "phone",
    "status",
    "default_vehicle_id",
    "default_vehicle__plate",
    "default_vehicle__seats",
    "default_vehicle__wheelchair_places",
    "default_vehicle__stretcher",
    "shift_start",
    "shift_end",
    "home_lat",
    "home_lon",
    "last_lat",
    "last_lon",
    "last_seen_at",
    "active",
)
VEHICLE_ROW_COLUMNS = ("id", "plate", "label", "seats", "wheelchair_places", "stretcher", "active")


def driver_rows(queryset: QuerySet[Driver]) -> list[tuple[Any, ...]]:
    """`DRIVER_ROW_COLUMNS` of an already scoped (and sliced) queryset: one query joining the
    user and the default vehicle, no model instances."""
    return list(queryset.values_list(*DRIVER_ROW_COLUMNS))


def vehicle_rows(queryset: QuerySet[Vehicle]) -> list[tuple[Any, ...]]:
    """`VEHICLE_ROW_COLUMNS` of an already scoped (and sliced) queryset."""
    return list(queryset.values_list(*VEHICLE_ROW_COLUMNS))


def vehicle_list(*, company_id: object) -> QuerySet[Vehicle]:
    return Vehicle.objects.filter(company_id=company_id)


def company_get(*, company_id: object) -> Company:
    return Company.objects.get(id=company_id)
