"""Celery entry points for bookings."""

from __future__ import annotations

from celery import shared_task

from bookings.orders.services import standing_orders_materialise_all


@shared_task(name="bookings.materialise_standing_orders", ignore_result=True)
def materialise_standing_orders() -> int:
    """Book standing orders' trips up to each company's horizon. Idempotent: a second run
    books nothing new."""
    return standing_orders_materialise_all()
