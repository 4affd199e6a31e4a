"""Celery entry points for drivers."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from drivers.locations import location_prune
from drivers.rosters import shifts_generate_all

LOCATION_RETENTION_DAYS = 30


@shared_task(name="drivers.prune_locations", ignore_result=True)
def prune_locations(older_than_days: int = LOCATION_RETENTION_DAYS) -> int:
    """Delete old positions. Running it twice does no harm: the second run finds less."""
    return location_prune(older_than=timedelta(days=older_than_days))


@shared_task(name="drivers.generate_shifts", ignore_result=True)
def generate_shifts() -> int:
    """Extend every company's shifts to its horizon from the rosters. Idempotent."""
    return shifts_generate_all()
