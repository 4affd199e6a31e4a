"""atmr/list_cache.py with bookings/signals.py: which writes retire a company's cached pages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from atmr import list_cache

pytestmark = pytest.mark.django_db


def _version(company_id) -> int:
    return list_cache.page_get(company_id, "lists:page:none").version


def test_a_position_keeps_the_cached_pages_and_a_status_retires_them(driver):
    before = _version(driver.company_id)
    driver.last_lat, driver.last_lon, driver.last_seen_at = 46.5, 6.6, timezone.now()
    driver.save(update_fields=["last_lat", "last_lon", "last_seen_at"])
    assert _version(driver.company_id) == before
    driver.status = "on_break"
    driver.save(update_fields=["status", "last_seen_at"])
    assert _version(driver.company_id) > before
