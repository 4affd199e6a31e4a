"""Reads of drivers and vehicles, always scoped to one company."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from atmr.accounts.models import Company
from drivers.models import Driver, Vehicle


def driver_list(*, company_id: UUID | str, driver_id: UUID | str | None = None) -> QuerySet[Driver]:
    """A company's drivers; with `driver_id`, only that one (a driver sees itself only)."""
    qs = Driver.objects.filter(company_id=company_id).select_related("user", "default_vehicle")
    if driver_id is not None:
        qs = qs.filter(id=driver_id)
    return qs


def vehicle_list(*, company_id: UUID | str) -> QuerySet[Vehicle]:
    return Vehicle.objects.filter(company_id=company_id)


def company_get(*, company_id: UUID | str) -> Company:
    return Company.objects.get(id=company_id)
