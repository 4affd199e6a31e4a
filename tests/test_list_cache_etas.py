"""An ETA refresh retires no cached page: the bookings list's pages show the new ETAs at once,
overlaid from what the refresh wrote (no query), except the pages chosen by lateness
(`late=`), which it retires; a position keeps every page; a change a list shows retires them
all (atmr/list_cache.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
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


@pytest.fixture
def refresh(trip, django_capture_on_commit_callbacks):
    """The ETA refresh, committed (its fragments go out on commit)."""

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            company_etas_refresh(company_id=trip.company_id)

    return run


def _fresh(client, url: str) -> bytes:
    """The page built from the database now (past the cache)."""
    response = client.get(url, HTTP_CACHE_CONTROL="no-cache")
    assert response.status_code == 200
    return response.content


def test_an_eta_refresh_keeps_the_bookings_pages_and_they_show_the_new_etas(
    trip, refresh, dispatcher_client
):
    before, _ = _get(dispatcher_client, BOOKINGS)
    drivers, _ = _get(dispatcher_client, DRIVERS)
    assert before["results"][0]["eta_pickup"] is None
    assert _get(dispatcher_client, BOOKINGS)[1] == 0  # both are cached now
    assert _get(dispatcher_client, DRIVERS)[1] == 0

    refresh()

    with CaptureQueriesContext(connection) as queries:
        cached = dispatcher_client.get(BOOKINGS)
    assert len(queries) == 0  # the cached page, its ETAs overlaid
    row = cached.json()["results"][0]
    assert row["eta_pickup"] is not None and row["eta_source"] == "straight_line"
    assert row["eta_computed_at"] == "2026-12-01T07:00:00Z"
    assert row["lateness"] in {"on_time", "at_risk", "late"}
    assert cached.content == _fresh(dispatcher_client, BOOKINGS)  # byte for byte
    assert _get(dispatcher_client, DRIVERS) == (drivers, 0)  # kept: it shows no ETA


def test_each_refresh_overlays_its_own_etas(trip, refresh, dispatcher_client):
    refresh()
    _get(dispatcher_client, BOOKINGS)  # built after the first refresh: holds its ETAs
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        refresh()
    body, queries = _get(dispatcher_client, BOOKINGS)
    assert queries == 0
    assert body["results"][0]["eta_computed_at"] == "2026-12-01T07:01:00Z"
    assert dispatcher_client.get(BOOKINGS).content == _fresh(dispatcher_client, BOOKINGS)


def test_a_driver_page_is_overlaid_too(trip, refresh, company):
    from conftest import _client_for

    client = _client_for(trip.driver.user)
    _get(client, BOOKINGS)
    refresh()
    body, queries = _get(client, BOOKINGS)
    assert queries == 0 and body["results"][0]["eta_source"] == "straight_line"
    assert client.get(BOOKINGS).content == _fresh(client, BOOKINGS)


def test_an_eta_refresh_retires_the_pages_chosen_by_lateness(trip, refresh, dispatcher_client):
    late = f"{BOOKINGS}&late=false"
    assert _get(dispatcher_client, late)[0]["count"] == 1
    assert _get(dispatcher_client, late)[1] == 0
    refresh()
    body, queries = _get(dispatcher_client, late)
    assert queries > 0  # rebuilt: its rows depend on the ETAs
    assert body["results"][0]["eta_source"] == "straight_line"


def test_a_trip_the_refresh_did_not_write_keeps_what_the_database_has(
    trip, refresh, dispatcher_client, company
):
    """A trip that left the live statuses keeps its last ETAs in the table; the overlay
    shows what the table has, not what the refresh computed."""
    refresh()
    other = BookingFactory(company=company, driver=trip.driver, status="completed")
    _get(dispatcher_client, BOOKINGS)
    refresh()
    body, queries = _get(dispatcher_client, BOOKINGS)
    assert queries == 0
    done = next(r for r in body["results"] if r["id"] == str(other.id))
    assert done["eta_pickup"] is None
    assert dispatcher_client.get(BOOKINGS).content == _fresh(dispatcher_client, BOOKINGS)


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


@pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="SQLite's writer writes every computed trip"
)
def test_a_trip_that_left_the_live_statuses_meanwhile_shows_what_the_table_has(
    trip, refresh, dispatcher_client, monkeypatch
):
    """The refresh's UPDATE skips a trip no longer live when it writes (here: as if the trip
    had been completed between the computation and the write); the list overlays only the
    trips it wrote (`RETURNING id`), so the page stays what the table holds."""
    _get(dispatcher_client, BOOKINGS)
    monkeypatch.setattr("dispatch.eta.LIVE_STATUSES", ("en_route",))  # the write's filter only
    refresh()
    body, queries = _get(dispatcher_client, BOOKINGS)
    assert queries == 0 and body["results"][0]["eta_pickup"] is None
    assert dispatcher_client.get(BOOKINGS).content == _fresh(dispatcher_client, BOOKINGS)
