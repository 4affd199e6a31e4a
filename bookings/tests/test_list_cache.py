"""The cached bookings list: served without SQL when nothing changed, never stale after a write."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bookings.models import Booking
from tests.factories import BookingFactory, DriverFactory

pytestmark = pytest.mark.django_db
URL = "/api/bookings?date=2026-12-01"


def statuses(client) -> list[str]:
    return [b["status"] for b in client.get(URL).json()["results"]]


def test_unchanged_list_is_served_without_sql(
    company, dispatcher_client, django_assert_num_queries
):
    BookingFactory.create_batch(3, company=company)
    first = dispatcher_client.get(URL)
    with django_assert_num_queries(0):
        again = dispatcher_client.get(URL)
    assert again.status_code == 200 and again.content == first.content
    assert again["Content-Type"] == "application/json"


def test_api_writes_show_at_once(company, dispatcher_client, django_capture_on_commit_callbacks):
    booking = BookingFactory(company=company)
    driver = DriverFactory(company=company)
    assert statuses(dispatcher_client) == ["pending"]
    with django_capture_on_commit_callbacks(execute=True):
        dispatcher_client.post(
            f"/api/bookings/{booking.id}/assign", {"driver": str(driver.id)}, format="json"
        )
    assert statuses(dispatcher_client) == ["assigned"]
    with django_capture_on_commit_callbacks(execute=True):
        dispatcher_client.patch(f"/api/drivers/{driver.id}", {"first_name": "Renée"}, format="json")
    listed = dispatcher_client.get(URL).json()["results"][0]
    assert listed["driver"]["first_name"] == "Renée"
    with django_capture_on_commit_callbacks(execute=True):
        dispatcher_client.post(
            f"/api/bookings/{booking.id}/cancel", {"code": "weather"}, format="json"
        )
    assert statuses(dispatcher_client) == ["cancelled"]


def test_writes_outside_the_api_show_too(company, dispatcher_client):
    booking = BookingFactory(company=company)
    assert statuses(dispatcher_client) == ["pending"]
    booking.status = Booking.Status.CANCELLED  # e.g. the admin: a plain model save
    booking.save()
    assert statuses(dispatcher_client) == ["cancelled"]


def test_a_driver_never_gets_the_offices_page(company, driver, dispatcher_client, driver_client):
    BookingFactory(company=company)
    BookingFactory(company=company, driver=driver, status="assigned")
    assert dispatcher_client.get(URL).json()["count"] == 2
    assert driver_client.get(URL).json()["count"] == 1


def test_another_company_never_gets_the_page(company, dispatcher_client, other_dispatcher_client):
    BookingFactory(company=company)
    assert dispatcher_client.get(URL).json()["count"] == 1
    assert other_dispatcher_client.get(URL).json()["count"] == 0


# The day before: a whole-day run of today is refused (it needs "from": "now").
@pytest.mark.clock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
def test_a_dispatch_run_shows_in_the_list(
    company, dispatcher_client, django_capture_on_commit_callbacks
):
    DriverFactory(company=company)
    BookingFactory(company=company)
    assert statuses(dispatcher_client) == ["pending"]
    with django_capture_on_commit_callbacks(execute=True):
        dispatcher_client.post(
            "/api/dispatch/run", {"date": "2026-12-01", "mode": "auto"}, format="json"
        )
    assert statuses(dispatcher_client) == ["assigned"]


def test_vehicle_and_client_lists_are_cached_and_retired_on_write(
    company, dispatcher_client, django_assert_num_queries
):
    dispatcher_client.get("/api/vehicles")
    with django_assert_num_queries(0):
        assert dispatcher_client.get("/api/vehicles").json()["count"] == 0
    dispatcher_client.post("/api/vehicles", {"plate": "VD 1"}, format="json")
    assert dispatcher_client.get("/api/vehicles").json()["count"] == 1
    dispatcher_client.get("/api/clients")
    dispatcher_client.post("/api/clients", {"first_name": "A", "last_name": "B"}, format="json")
    assert dispatcher_client.get("/api/clients").json()["count"] == 1


def test_driver_list_positions_are_at_most_a_page_lifetime_old(
    company, dispatcher_client, django_assert_num_queries, monkeypatch
):
    from drivers.api import DriverListCreateApi
    from drivers.models import Driver

    assert DriverListCreateApi.page_ttl_s == 2
    monkeypatch.setattr(DriverListCreateApi, "page_ttl_s", 1)
    driver = DriverFactory(company=company)
    dispatcher_client.get("/api/drivers")
    Driver.objects.filter(id=driver.id).update(last_lat=46.0)  # as the location writer does
    with django_assert_num_queries(0):
        assert dispatcher_client.get("/api/drivers").json()["results"][0]["last_lat"] is None
    time.sleep(1.1)
    assert dispatcher_client.get("/api/drivers").json()["results"][0]["last_lat"] == 46.0
    # An edit is a write: it shows at once.
    dispatcher_client.patch(f"/api/drivers/{driver.id}", {"first_name": "Renée"}, format="json")
    assert dispatcher_client.get("/api/drivers").json()["results"][0]["first_name"] == "Renée"


def test_no_cache_request_reads_the_database(company, dispatcher_client, django_assert_num_queries):
    booking = BookingFactory(company=company)
    dispatcher_client.get(URL)
    Booking.objects.filter(id=booking.id).update(notes="changed without a signal")
    assert dispatcher_client.get(URL).json()["results"][0]["notes"] == ""  # the stored page
    fresh = dispatcher_client.get(URL, HTTP_CACHE_CONTROL="no-cache").json()
    assert fresh["results"][0]["notes"] == "changed without a signal"
    with django_assert_num_queries(0):  # and the fresh page is what the cache holds now
        assert dispatcher_client.get(URL).json() == fresh


class _ReadKeys:
    """The cache, noting the keys each `get_many` reads."""

    def __init__(self, inner) -> None:
        self.inner, self.reads = inner, []

    def get_many(self, keys):
        self.reads.append(list(keys))
        return self.inner.get_many(keys)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_no_cache_request_does_not_read_the_stored_page(company, dispatcher_client, monkeypatch):
    from atmr import list_cache

    BookingFactory(company=company)
    stored = dispatcher_client.get(URL).json()
    spy = _ReadKeys(list_cache.cache)
    monkeypatch.setattr(list_cache, "cache", spy)
    assert dispatcher_client.get(URL, HTTP_CACHE_CONTROL="no-cache").json() == stored
    [keys] = spy.reads
    assert not any(key.startswith("lists:page:") for key in keys)
    assert f"lists:version:{company.id}" in keys  # the versions the new page is stored under
    spy.reads.clear()
    assert dispatcher_client.get(URL).json() == stored
    [keys] = spy.reads
    assert any(key.startswith("lists:page:") for key in keys)


def test_a_fresh_lookup_reads_versions_and_extra_keys_only(company):
    from django.core.cache import cache

    from atmr import list_cache

    key = list_cache.page_key(company.id, "office", "http://testserver/api/bookings")
    version = list_cache.page_get(company.id, key).version
    list_cache.page_set(key, version, b'{"count":0}')
    cache.set("extra", 7)
    assert list_cache.page_get(company.id, key).body == b'{"count":0}'
    fresh = list_cache.page_get(company.id, key, also=["extra"], fresh=True)
    assert fresh.body is None and fresh.version == version and fresh.also == {"extra": 7}
