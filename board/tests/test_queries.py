"""The board's reads cost the same number of queries whatever the size of the day."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import BookingFactory, DriverFactory, at

pytestmark = [pytest.mark.django_db, pytest.mark.clock("2026-11-30T08:00:00Z")]

# What board/static/board/board.js reads when it loads a day (and after a reconnect).
BOARD_READS = [
    "/api/companies/me",
    "/api/bookings?date=2026-12-01&page_size=500",
    "/api/drivers?page_size=500",
    "/api/shifts?on=2026-12-01&page_size=500",
    "/api/reason-codes?kind=cancellation&active=true",
    "/api/chat/messages?limit=50",
    "/api/dispatch/runs?date=2026-12-01&page_size=5",
]


def _day(company, drivers: int, trips: int) -> None:
    crew = [DriverFactory(company=company) for _ in range(drivers)]
    for n in range(trips):
        driver = crew[n % drivers] if n % 3 else None
        BookingFactory(
            company=company,
            driver=driver,
            status="assigned" if driver else "pending",
            scheduled_at=at(7 + n % 10, 5 * (n % 12)),
        )


def _counts(api) -> dict[str, int]:
    counts = {}
    for path in BOARD_READS:
        cache.clear()  # cached lists would hide the queries
        with CaptureQueriesContext(connection) as queries:
            response = api.get(path)
        assert response.status_code == 200, (path, response.content)
        counts[path] = len(queries)
    return counts


def test_board_reads_cost_the_same_for_a_small_and_a_bigger_day(company, dispatcher_client):
    _day(company, drivers=1, trips=2)
    small = _counts(dispatcher_client)
    _day(company, drivers=5, trips=30)
    assert _counts(dispatcher_client) == small
    assert sum(small.values()) <= 20  # a handful each: count, rows, the company (cached)
