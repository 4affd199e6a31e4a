"""Celery entry points for bookings."""

from __future__ import annotations

from celery import shared_task

from bookings.list_json import booking_list_json_audit
from bookings.orders.services import standing_orders_materialise_all


@shared_task(name="bookings.materialise_standing_orders", ignore_result=True)
def materialise_standing_orders() -> int:
    """Book standing orders' trips up to each company's horizon. Idempotent: a second run
    books nothing new."""
    return standing_orders_materialise_all()


@shared_task(name="bookings.audit_list_json", ignore_result=True)
def audit_list_json() -> int:
    """Nightly: the bookings list's stored JSON rows of trips from yesterday on, checked
    against their values and re-written where they differ (none should: the triggers keep
    them). Returns how many were re-written; any is logged as a warning."""
    return booking_list_json_audit()
