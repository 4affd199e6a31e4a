"""An ETA refresh retires the cached pages that show ETAs (the bookings list) and no other; a
position keeps every page; a change a list shows retires them all (atmr/list_cache.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch.eta import company_etas_refresh
from tests.factories import LAUSANNE, ZURICH, BookingFactory, DriverFactory, at

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZURICH)
pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]
BOOKINGS = "/api/bookings?date=2026-12-01"
DRIVERS = "/api/drivers"


def _get(client, url: str) -> tuple[dict, int]:
    """The body and how many SQL queries answered it (0: the cached page)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.json(), len(queries)


@pytest.fixture
def trip(company):
    driver = DriverFactory(
        company=company, last_lat=LAUSANNE[0], last_lon=LAUSANNE[1], last_seen_at=NOW
    )
    return BookingFactory(company=company, driver=driver, status="assigned", scheduled_at=at(8, 30))


def test_an_eta_refresh_retires_the_bookings_pages_only(trip, dispatcher_client):
    before, _ = _get(dispatcher_client, BOOKINGS)
    drivers, _ = _get(dispatcher_client, DRIVERS)
    assert before["results"][0]["eta_pickup"] is None
    assert _get(dispatcher_client, BOOKINGS)[1] == 0  # both are cached now
    assert _get(dispatcher_client, DRIVERS)[1] == 0

    company_etas_refresh(company_id=trip.company_id)

    after, queries = _get(dispatcher_client, BOOKINGS)
    assert queries > 0  # rebuilt: the cached page showed no ETA
    row = after["results"][0]
    assert row["eta_pickup"] is not None and row["eta_source"] == "straight_line"
    assert row["eta_computed_at"] == "2026-12-01T07:00:00Z"
    assert _get(dispatcher_client, DRIVERS) == (drivers, 0)  # kept: it shows no ETA


def test_a_position_keeps_every_page_and_a_listed_change_retires_them(trip, dispatcher_client):
    _get(dispatcher_client, BOOKINGS)
    _get(dispatcher_client, DRIVERS)
    driver = trip.driver
    driver.last_lat, driver.last_seen_at = LAUSANNE[0] + 0.01, NOW + timedelta(seconds=5)
    driver.save(update_fields=["last_lat", "last_lon", "last_seen_at"])
    assert _get(dispatcher_client, BOOKINGS)[1] == 0
    assert _get(dispatcher_client, DRIVERS)[1] == 0

    response = dispatcher_client.post(
        f"/api/bookings/{trip.id}/status", {"status": "en_route"}, format="json"
    )
    assert response.status_code == 200, response.json()

    body, queries = _get(dispatcher_client, BOOKINGS)
    assert queries > 0 and body["results"][0]["status"] == "en_route"
    assert _get(dispatcher_client, DRIVERS)[1] > 0  # a booking's save retires every list
