"""Billing listens to bookings: a trip that completes, is cancelled late or is a no-show is
priced once its status change commits."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from billing.services import trip_charge_after_status
from bookings.models import Booking
from bookings.services import booking_status_changed

_PRICED = {Booking.Status.COMPLETED, Booking.Status.NO_SHOW, Booking.Status.CANCELLED}


@receiver(booking_status_changed, sender=Booking)
def _booking_status_changed(sender: type, booking: Booking, status: str, **kwargs: Any) -> None:
    if status in _PRICED:
        # robust: a failure is logged, never raised into the committed status change.
        transaction.on_commit(partial(trip_charge_after_status, booking_id=booking.pk), robust=True)
