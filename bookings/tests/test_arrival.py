"""The driver's side of the live day: `arrived` at the pick-up starts the no-show wait, a
no-show comes only once it is over, and every status change recomputes the driver's ETAs."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async

from bookings import services
from bookings.errors import NoShowTooEarly
from bookings.models import Booking
from realtime.tests import conftest as socket_fixtures
from realtime.tests.utils import open_socket, receive_type
from tests.factories import ZURICH, BookingFactory, DriverFactory, at

NOW = datetime(2026, 12, 1, 8, 50, tzinfo=ZURICH)
_close_consumer_connections = socket_fixtures._close_consumer_connections
token_for = socket_fixtures.token_for


def _en_route(company, driver) -> Booking:
    return BookingFactory(company=company, driver=driver, status="en_route", scheduled_at=at(9))


def _url(booking, action="status") -> str:
    return f"/api/bookings/{booking.id}/{action}"


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_arrived_records_the_time_and_the_end_of_the_wait(company):
    company.no_show_wait_minutes = 7
    company.save()
    driver = DriverFactory(company=company)
    trip = _en_route(company, driver)
    services.booking_set_status(booking=trip, status="arrived", driver=driver)
    trip.refresh_from_db()
    assert (trip.status, trip.arrived_at, trip.no_show_after) == (
        "arrived",
        NOW,
        NOW + timedelta(minutes=7),
    )


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_on_board_records_the_pick_up_time_and_arrived_is_kept(company):
    driver = DriverFactory(company=company)
    trip = _en_route(company, driver)
    services.booking_set_status(booking=trip, status="arrived", driver=driver)
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        services.booking_set_status(booking=trip, status="on_board", driver=driver)
    trip.refresh_from_db()
    assert (trip.status, trip.arrived_at, trip.picked_up_at) == (
        "on_board",
        NOW,
        NOW + timedelta(minutes=4),
    )


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_no_show_is_refused_until_the_wait_is_over(company):
    driver = DriverFactory(company=company)
    trip = _en_route(company, driver)
    services.booking_set_status(booking=trip, status="arrived", driver=driver)
    early = time_machine.travel(NOW + timedelta(minutes=4, seconds=59), tick=False)
    with early, pytest.raises(NoShowTooEarly, match="from 08:55") as refused:
        services.booking_set_status(booking=trip, status="no_show", driver=driver)
    assert (refused.value.code, refused.value.field, refused.value.http_status) == (
        "no_show_wait",
        "status",
        409,
    )
    trip.refresh_from_db()
    assert trip.status == "arrived"
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        services.booking_set_status(booking=trip, status="no_show", driver=driver)
    trip.refresh_from_db()
    assert (trip.status, trip.cancel_code.code) == ("no_show", "no_show")


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_a_driver_reports_a_no_show_only_from_arrived(company):
    driver = DriverFactory(company=company)
    trip = _en_route(company, driver)
    with pytest.raises(services.BookingInvalidTransition, match="next step: arrived, on_board"):
        services.booking_set_status(booking=trip, status="no_show", driver=driver)


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_the_api_moves_a_trip_and_shows_the_wait(company, driver, driver_client, dispatcher_client):
    trip = _en_route(company, driver)
    response = driver_client.post(_url(trip), {"status": "arrived"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "arrived"
    assert body["arrived_at"] == "2026-12-01T07:50:00Z"
    assert body["no_show_after"] == "2026-12-01T07:55:00Z"
    # The office's list shows the same (the fast list).
    listed = dispatcher_client.get("/api/bookings?date=2026-12-01").json()["results"][0]
    assert (listed["arrived_at"], listed["no_show_after"]) == (
        body["arrived_at"],
        body["no_show_after"],
    )
    refused = driver_client.post(_url(trip), {"status": "no_show"}, format="json")
    assert refused.status_code == 409
    assert (refused.json()["code"], refused.json()["field"]) == ("no_show_wait", "status")
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        done = driver_client.post(
            _url(trip), {"status": "no_show", "code": "patient_hospitalised"}, format="json"
        )
    assert done.status_code == 200, done.content
    assert done.json()["cancel_code"]["code"] == "patient_hospitalised"


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_the_status_api_validates_and_scopes(
    company, other_company, driver, driver_client, dispatcher_client, client_for
):
    trip = _en_route(company, driver)
    bad = dispatcher_client.post(_url(trip), {"status": "flying"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    bad = dispatcher_client.post(_url(trip), {"status": "no_show", "code": "nope"}, format="json")
    assert bad.status_code == 400 and "code" in bad.json()
    theirs = _en_route(other_company, DriverFactory(company=other_company))
    assert (
        dispatcher_client.post(_url(theirs), {"status": "arrived"}, format="json").status_code
        == 404
    )
    colleague = _en_route(company, DriverFactory(company=company))
    assert (
        driver_client.post(_url(colleague), {"status": "arrived"}, format="json").status_code == 404
    )
    skipped = driver_client.post(_url(trip), {"status": "completed"}, format="json")
    assert (skipped.status_code, skipped.json()["code"]) == (409, "invalid_transition")
    # The office keeps its wider moves, through the same service.
    office = dispatcher_client.post(_url(trip), {"status": "completed"}, format="json")
    assert office.status_code == 200 and office.json()["status"] == "completed"


@pytest.mark.django_db
@pytest.mark.clock(NOW)
def test_every_status_change_recomputes_the_drivers_etas(
    company, driver, django_capture_on_commit_callbacks
):
    trip = _en_route(company, driver)
    later = BookingFactory(company=company, driver=driver, status="assigned", scheduled_at=at(11))
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_set_status(booking=trip, status="arrived", driver=driver)
    trip.refresh_from_db(), later.refresh_from_db()
    assert trip.eta_pickup == NOW  # it is there
    assert later.eta_computed_at == NOW and later.lateness == "on_time"
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=later)
    trip.refresh_from_db()
    assert trip.eta_computed_at == NOW


@pytest.fixture
def en_route_trip(driver):
    return _en_route(driver.company, driver)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.clock(NOW, tick=True)
async def test_the_phone_reports_arrived_then_waits_for_the_no_show(
    en_route_trip, driver, token_for
):
    phone = await open_socket("/ws/driver/", await database_sync_to_async(token_for)(driver.user))
    message = {"type": "booking_status", "booking_id": str(en_route_trip.id)}
    await phone.send_json_to({**message, "id": 1, "status": "arrived"})
    # The ack, and the driver's ETAs the status change recomputed (in either order).
    got: dict[str, dict] = {}
    while len(got) < 2:
        frame = await phone.receive_json_from(timeout=30)
        got[frame["type"]] = frame
    ack, etas = got["ack"], got["eta_updated"]
    assert ack["booking"]["status"] == "arrived"
    assert [s["kind"] for s in etas["stops"]] == ["pickup", "dropoff"]
    await phone.send_json_to({**message, "id": 2, "status": "no_show"})
    error = await receive_type(phone, "error")
    assert (error["id"], error["code"], error["field"]) == (2, "no_show_wait", "status")
    await phone.disconnect()
