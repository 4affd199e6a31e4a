"""Reads for dispatch, always scoped to one company."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from bookings.models import Booking
from bookings.selectors import day_bounds
from dispatch.models import DispatchRun, DispatchSettings
from drivers.models import Driver

# Trips a run plans: new ones, and those already given to a driver but not yet started
# (pinned to that driver). Patients on board are finished by their driver outside the plan.
PLANNED_STATUSES = (Booking.Status.PENDING, Booking.Status.ASSIGNED, Booking.Status.EN_ROUTE)


def run_list(*, company_id: object, service_date: date | None = None) -> QuerySet[DispatchRun]:
    qs = DispatchRun.objects.filter(company_id=company_id)
    if service_date is not None:
        qs = qs.filter(service_date=service_date)
    return qs


def run_active(*, company_id: object, service_date: date) -> DispatchRun | None:
    return (
        run_list(company_id=company_id, service_date=service_date)
        .filter(status__in=DispatchRun.ACTIVE)
        .first()
    )


def dispatch_settings_get(*, company_id: object) -> DispatchSettings:
    conf, _ = DispatchSettings.objects.get_or_create(company_id=company_id)
    return conf


def day_bookings(*, company_id: object, day: date, tz: object) -> list[Booking]:
    start, end = day_bounds(day, tz)  # type: ignore[arg-type]
    return list(
        Booking.objects.filter(
            company_id=company_id,
            scheduled_at__gte=start,
            scheduled_at__lt=end,
            status__in=PLANNED_STATUSES,
        ).order_by("scheduled_at", "id")
    )


def shift_drivers(*, company_id: object) -> list[Driver]:
    """Active drivers with an active vehicle and a shift: who a run can plan for."""
    return list(
        Driver.objects.filter(
            company_id=company_id,
            active=True,
            default_vehicle__isnull=False,
            default_vehicle__active=True,
            shift_start__isnull=False,
            shift_end__isnull=False,
        )
        .select_related("user", "default_vehicle")
        .order_by("id")
    )


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
