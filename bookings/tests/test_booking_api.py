from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bookings.models import Booking
from tests.factories import (
    GENEVA,
    LAUSANNE,
    BookingFactory,
    ClientFactory,
    DriverFactory,
    VehicleFactory,
    at,
)

DAY = "2026-12-01"


# The bookings here are on DAY; a pick-up more than 24 h ago would need record_past.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.clock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=True),
]


def payload(patient, **overrides):
    body = {
        "client": str(patient.id),
        "pickup": {"address": "Rue du Lac 5, Lausanne", "lat": LAUSANNE[0], "lon": LAUSANNE[1]},
        "dropoff": {"address": "HUG, Genève", "lat": GENEVA[0], "lon": GENEVA[1]},
        "scheduled_at": at(9).isoformat(),
    }
    body.update(overrides)
    return body


# --- list -----------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [1, 200])
def test_day_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_num_queries
):
    driver = DriverFactory(company=company)
    BookingFactory.create_batch(rows, company=company, driver=driver, status="assigned")
    dispatcher_client.get("/api/companies/me")  # warm the company cache like any live client
    # One query: the page's bookings joined with client, driver and vehicle; the page holds
    # them all, so no count is needed.
    with django_assert_num_queries(1):
        response = dispatcher_client.get(f"/api/bookings?date={DAY}&page_size=500")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == rows and len(body["results"]) == rows
    first = body["results"][0]
    assert first["client"]["last_name"]
    assert first["driver"]["id"] == str(driver.id)
    assert first["driver"]["first_name"] == driver.user.first_name


def test_a_day_longer_than_a_page_takes_two_queries(
    company, dispatcher_client, django_assert_num_queries
):
    BookingFactory.create_batch(7, company=company)
    dispatcher_client.get("/api/companies/me")
    with django_assert_num_queries(2):  # the page (one row more tells there is more), count
        first = dispatcher_client.get(f"/api/bookings?date={DAY}&page_size=3").json()
    assert first["count"] == 7 and len(first["results"]) == 3
    assert first["previous"] is None and "page=2" in first["next"]
    second = dispatcher_client.get(first["next"]).json()
    last = dispatcher_client.get(f"/api/bookings?date={DAY}&page_size=3&page=3").json()
    ids = [b["id"] for page in (first, second, last) for b in page["results"]]
    assert len(ids) == len(set(ids)) == 7
    assert last["next"] is None


def test_day_list_takes_at_most_three_queries_cold(
    company, dispatcher_client, django_assert_max_num_queries
):
    BookingFactory.create_batch(3, company=company)
    with django_assert_max_num_queries(3):  # company (time zone), count, bookings
        assert dispatcher_client.get(f"/api/bookings?date={DAY}").status_code == 200


def test_day_list_uses_the_company_local_day(company, dispatcher_client):
    inside = BookingFactory(company=company, scheduled_at=at(0, 30))  # 23:30 UTC the day before
    BookingFactory(company=company, scheduled_at=at(0, 30, day=1))
    response = dispatcher_client.get(f"/api/bookings?date={DAY}")
    assert [b["id"] for b in response.json()["results"]] == [str(inside.id)]


def test_list_filters_by_status_driver_and_client(company, dispatcher_client):
    driver = DriverFactory(company=company)
    mine = BookingFactory(company=company, driver=driver, status="assigned")
    BookingFactory(company=company)
    ids = lambda r: [b["id"] for b in r.json()["results"]]  # noqa: E731
    assert ids(dispatcher_client.get(f"/api/bookings?driver={driver.id}")) == [str(mine.id)]
    assert ids(dispatcher_client.get("/api/bookings?status=assigned")) == [str(mine.id)]
    assert ids(dispatcher_client.get(f"/api/bookings?client={mine.client_id}")) == [str(mine.id)]


def test_list_orders_by_scheduled_time(company, dispatcher_client):
    late = BookingFactory(company=company, scheduled_at=at(15))
    early = BookingFactory(company=company, scheduled_at=at(8))
    response = dispatcher_client.get(f"/api/bookings?date={DAY}&ordering=-scheduled_at")
    assert [b["id"] for b in response.json()["results"]] == [str(late.id), str(early.id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=flying", "status"),
        ("date=2026-02-30", "date"),
        ("driver=not-a-uuid", "driver"),
        ("ordering=price", "ordering"),
    ],
)
def test_bad_filters_answer_400_naming_the_field(query, field, dispatcher_client):
    response = dispatcher_client.get(f"/api/bookings?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_list_never_shows_another_company(company, other_company, dispatcher_client):
    BookingFactory(company=other_company)
    assert dispatcher_client.get("/api/bookings").json()["count"] == 0


def test_driver_sees_only_its_own_bookings(company, driver, driver_client):
    mine = BookingFactory(company=company, driver=driver, status="assigned")
    BookingFactory(company=company, driver=DriverFactory(company=company), status="assigned")
    BookingFactory(company=company)
    response = driver_client.get("/api/bookings")
    assert [b["id"] for b in response.json()["results"]] == [str(mine.id)]
    others = Booking.objects.exclude(id=mine.id)
    for other in others:
        assert driver_client.get(f"/api/bookings/{other.id}").status_code == 404


# --- create ---------------------------------------------------------------------------------
def test_create_booking_with_default_window(company, dispatcher_client):
    client = ClientFactory(company=company, mobility="wheelchair")
    response = dispatcher_client.post("/api/bookings", payload(client), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    booking = Booking.objects.get(id=body["id"])
    assert booking.company == company and booking.status == "pending"
    assert booking.pickup_earliest == at(9) - timedelta(minutes=10)
    assert booking.pickup_latest == at(9) + timedelta(minutes=15)
    assert booking.mobility == "wheelchair"  # inherited from the client
    assert body["client"]["id"] == str(client.id)


def test_create_with_return_trip_creates_both(company, dispatcher_client):
    client = ClientFactory(company=company)
    body = payload(client, return_trip={"scheduled_at": at(16).isoformat()})
    response = dispatcher_client.post("/api/bookings", body, format="json")
    assert response.status_code == 201, response.json()
    outbound = Booking.objects.get(id=response.json()["id"])
    back = outbound.return_trip
    assert back.pickup_address == outbound.dropoff_address
    assert back.dropoff_lat == outbound.pickup_lat
    assert response.json()["return_trip"] == str(back.id)


def test_return_trip_before_outbound_stores_nothing(company, dispatcher_client):
    client = ClientFactory(company=company)
    body = payload(client, return_trip={"scheduled_at": at(8).isoformat()})
    response = dispatcher_client.post("/api/bookings", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "return_trip.scheduled_at"
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pickup": {"address": "x", "lat": 91, "lon": 6.6}}, "pickup"),
        ({"dropoff": {"address": "x", "lat": 46.2, "lon": -181}}, "dropoff"),
        ({"pickup_earliest": at(10).isoformat()}, "pickup_earliest"),
        ({"pickup_latest": at(8).isoformat()}, "pickup_latest"),
        ({"appointment_at": at(8).isoformat()}, "appointment_at"),
        ({"passengers": 0}, "passengers"),
        ({"passengers": "two"}, "passengers"),
        ({"mobility": "skateboard"}, "mobility"),
        ({"scheduled_at": "tomorrow-ish"}, "scheduled_at"),
        ({"price": -5}, "price"),
        ({"client": "not-a-uuid"}, "client"),
    ],
)
def test_bad_booking_input_answers_400_naming_the_field(
    overrides, field, company, dispatcher_client
):
    client = ClientFactory(company=company)
    response = dispatcher_client.post("/api/bookings", payload(client, **overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Booking.objects.count() == 0


def test_client_of_another_company_reads_as_unknown(other_company, dispatcher_client):
    foreign = ClientFactory(company=other_company)
    response = dispatcher_client.post("/api/bookings", payload(foreign), format="json")
    assert response.status_code == 400
    assert "Unknown" in response.json()["client"][0]


def test_malformed_json_is_400(dispatcher_client):
    response = dispatcher_client.post("/api/bookings", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_json_that_is_not_an_object_is_400(dispatcher_client):
    response = dispatcher_client.post("/api/bookings", [1, 2], format="json")
    assert response.status_code == 400


def test_driver_cannot_create_bookings(company, driver_client):
    client = ClientFactory(company=company)
    response = driver_client.post("/api/bookings", payload(client), format="json")
    assert response.status_code == 403


# --- detail, patch, cancel ------------------------------------------------------------------
def test_patch_moves_the_time_and_keeps_the_window_ordered(company, dispatcher_client):
    booking = BookingFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/bookings/{booking.id}",
        {
            "scheduled_at": at(11).isoformat(),
            "pickup_earliest": at(10, 50).isoformat(),
            "pickup_latest": at(11, 20).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    booking.refresh_from_db()
    assert booking.scheduled_at == at(11)


def test_patch_that_leaves_the_window_inverted_is_400(company, dispatcher_client):
    booking = BookingFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/bookings/{booking.id}", {"scheduled_at": at(12).isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "pickup_earliest"
    booking.refresh_from_db()
    assert booking.scheduled_at == at(9)


def test_patch_of_a_completed_booking_is_refused(company, dispatcher_client):
    booking = BookingFactory(company=company, status="completed")
    response = dispatcher_client.patch(
        f"/api/bookings/{booking.id}", {"notes": "late"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "booking_not_editable"


def test_cancel_records_reason_and_cannot_repeat(company, dispatcher_client):
    booking = BookingFactory(company=company)
    url = f"/api/bookings/{booking.id}/cancel"
    body = {"code": "patient_cancelled", "reason": "patient ill"}
    response = dispatcher_client.post(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    booking.refresh_from_db()
    assert booking.cancel_reason == "patient ill"
    again = dispatcher_client.post(url, body, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"notes": "x"}),
        ("post", "/cancel", {}),
        ("post", "/assign", {"driver": "00000000-0000-0000-0000-000000000000"}),
        ("post", "/unassign", {}),
    ],
)
def test_another_companys_booking_is_404(method, suffix, body, other_company, dispatcher_client):
    foreign = BookingFactory(company=other_company, status="pending")
    response = getattr(dispatcher_client, method)(
        f"/api/bookings/{foreign.id}{suffix}", body, format="json"
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "pending" and foreign.notes == ""


# --- assign ---------------------------------------------------------------------------------
def test_assign_and_unassign(company, dispatcher_client):
    booking = BookingFactory(company=company)
    driver = DriverFactory(company=company)
    response = dispatcher_client.post(
        f"/api/bookings/{booking.id}/assign", {"driver": str(driver.id)}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["driver"]["id"] == str(driver.id)
    booking.refresh_from_db()
    assert booking.status == "assigned" and booking.vehicle_id == driver.default_vehicle_id
    response = dispatcher_client.post(f"/api/bookings/{booking.id}/unassign", format="json")
    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == "pending" and booking.driver_id is None


def test_wheelchair_booking_is_not_assigned_to_a_car_without_a_wheelchair_place(
    company, dispatcher_client
):
    booking = BookingFactory(company=company, mobility="wheelchair")
    car = DriverFactory(company=company, default_vehicle=VehicleFactory(company=company))
    response = dispatcher_client.post(
        f"/api/bookings/{booking.id}/assign", {"driver": str(car.id)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "vehicle_unsuitable"
    booking.refresh_from_db()
    assert booking.driver_id is None and booking.status == "pending"
    van = DriverFactory(
        company=company, default_vehicle=VehicleFactory(company=company, wheelchair_places=1)
    )
    response = dispatcher_client.post(
        f"/api/bookings/{booking.id}/assign", {"driver": str(van.id)}, format="json"
    )
    assert response.status_code == 200


def test_assigning_another_companys_driver_reads_as_unknown(
    company, other_company, dispatcher_client
):
    booking = BookingFactory(company=company)
    foreign = DriverFactory(company=other_company)
    response = dispatcher_client.post(
        f"/api/bookings/{booking.id}/assign", {"driver": str(foreign.id)}, format="json"
    )
    assert response.status_code == 400
    assert "driver" in response.json()


def test_urgent_flag_is_stored_listed_and_validated(company, dispatcher_client):
    client = ClientFactory(company=company)
    body = {
        "client": str(client.id),
        "pickup": {"address": "A", "lat": 46.52, "lon": 6.63},
        "dropoff": {"address": "B", "lat": 46.53, "lon": 6.64},
        "scheduled_at": "2026-12-01T09:00:00+01:00",
        "urgent": "maybe",
    }
    bad = dispatcher_client.post("/api/bookings", body, format="json")
    assert bad.status_code == 400 and "urgent" in bad.json()
    created = dispatcher_client.post("/api/bookings", {**body, "urgent": True}, format="json")
    assert created.status_code == 201 and created.json()["urgent"] is True
    listed = dispatcher_client.get("/api/bookings?date=2026-12-01").json()["results"]
    assert [b["urgent"] for b in listed] == [True]
    booking_id = created.json()["id"]
    edited = dispatcher_client.patch(
        f"/api/bookings/{booking_id}", {"urgent": False}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["urgent"] is False
