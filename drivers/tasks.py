"""Celery entry points for drivers."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from drivers.locations import location_prune
from drivers.partitions import location_partitions_ensure, location_partitions_sort
from drivers.rosters import shifts_generate_all

LOCATION_RETENTION_DAYS = 30


@shared_task(name="drivers.prune_locations", ignore_result=True)
def prune_locations(older_than_days: int = LOCATION_RETENTION_DAYS) -> int:
    """Drop old days of positions; return the rows deleted one by one. Idempotent."""
    return location_prune(older_than=timedelta(days=older_than_days)).rows


@shared_task(name="drivers.ensure_location_partitions", ignore_result=True)
def ensure_location_partitions(days_ahead: int = 7) -> int:
    """Create the positions' day partitions up to `days_ahead` days ahead. Idempotent."""
    return len(location_partitions_ensure(days_ahead=days_ahead))


@shared_task(name="drivers.sort_location_partitions", ignore_result=True)
def sort_location_partitions(days_back: int = 3) -> int:
    """Rewrite the closed days of positions not sorted yet in key order (one driver's day on
    contiguous pages); return the days sorted. Idempotent."""
    return len(location_partitions_sort(days_back=days_back))


@shared_task(name="drivers.generate_shifts", ignore_result=True)
def generate_shifts() -> int:
    """Extend every company's shifts to its horizon from the rosters. Idempotent."""
    return shifts_generate_all()
