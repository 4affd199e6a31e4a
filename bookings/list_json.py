"""The bookings list's stored JSON rows (atmr/json_store.py): the nightly audit."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bookings.models import Booking
from bookings.serializers import BOOKING_JSON_ROWS

logger = logging.getLogger(__name__)

# Trips the lists still show day to day: older ones are rarely read and never change.
AUDIT_FROM = timedelta(days=1)


def booking_list_json_audit() -> int:
    """Re-write the stored rows of trips from yesterday on that differ from their values
    (none should: the triggers keep them); how many. Nothing on SQLite or while the
    database holds another code's store (the lists then write JSON per read)."""
    store = BOOKING_JSON_ROWS.store
    if store is None or connection.vendor != "postgresql" or store.installed() != store.digest:
        return 0
    recent = Booking.objects.filter(scheduled_at__gte=timezone.now() - AUDIT_FROM)
    stale = store.stale(queryset=recent)
    if stale:
        store.rewrite(stale)
        # Ids only: no patient's data in the logs.
        logger.warning("bookings list JSON: %d stale rows re-written: %s", len(stale), stale[:20])
    return len(stale)
