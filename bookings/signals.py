"""Bump the bookings list's cache version when anything it shows is saved or deleted; seed
a new company's reason codes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from atmr.accounts.models import Company, User
from atmr.list_cache import lists_changed
from bookings.models import Booking, Client, ReasonCode
from bookings.reasons import reason_codes_seed
from drivers.models import Driver, Vehicle

# Saves of only these fields keep the company's cached pages: busy offices' phones move all
# day, and the drivers list, the one list that shows a position, expires after 2 s anyway.
UNLISTED_FIELDS: dict[type, frozenset[str]] = {
    Driver: frozenset({"last_lat", "last_lon", "last_seen_at"}),
}


@receiver([post_save, post_delete], sender=Booking)
@receiver([post_save, post_delete], sender=ReasonCode)  # its label is on cancelled bookings
@receiver([post_save, post_delete], sender=Client)
@receiver([post_save, post_delete], sender=Driver)
@receiver([post_save, post_delete], sender=Vehicle)
@receiver([post_save, post_delete], sender=User)
def _listed_row_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if update_fields and frozenset(update_fields) <= UNLISTED_FIELDS.get(sender, frozenset()):
        return
    company_id = getattr(instance, "company_id", None)
    if company_id is not None:
        lists_changed(company_id)


@receiver(post_save, sender=Company)
def _company_created(sender: type, instance: Company, created: bool, **kwargs: Any) -> None:
    # Every way a company comes to be (company_create, the admin, the demo, fixtures) gives it
    # the standard reason codes: cancelling and no-shows need them from the first trip.
    if created and not kwargs.get("raw"):
        reason_codes_seed(company_id=instance.id)
