from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.db import DatabaseError
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Clients and bookings"

    def ready(self) -> None:
        from bookings import signals  # noqa: F401  (connects the receivers)

        post_migrate.connect(_json_store_install, sender=self)


def _json_store_install(using: str = "default", **kwargs: Any) -> None:
    """Install (or replace, when the list's shape changed) the bookings list's stored JSON
    rows on PostgreSQL (atmr/json_store.py) once every table they read is migrated."""
    from bookings.serializers import BOOKING_JSON_ROWS

    store = BOOKING_JSON_ROWS.store
    if store is None:
        return
    try:  # (does nothing on SQLite)
        store.install(using)
    except DatabaseError as error:  # a partial migrate: the list writes JSON per read
        logger.warning("bookings list JSON store not installed: %s", error)
