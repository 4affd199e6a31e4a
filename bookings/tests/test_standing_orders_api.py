"""Standing orders through the API: contract, validation, tenancy, query budgets."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bookings.models import Booking, StandingOrder
from bookings.orders import services
from bookings.services import Place, booking_assign
from tests.factories import GENEVA, ZURICH, ClientFactory, DriverFactory

URL = "/api/standing-orders"
HUG = {"address": "HUG, Genève", "lat": GENEVA[0], "lon": GENEVA[1]}
NOW = datetime(2026, 12, 17, 10, 0, tzinfo=ZURICH)  # a Thursday; Christmas is a Friday


pytestmark = [pytest.mark.django_db, pytest.mark.clock(NOW)]


@pytest.fixture
def patient(company):
    return ClientFactory(company=company, mobility="wheelchair")


def payload(patient, **overrides):
    body = {
        "client": str(patient.id),
        "dropoff": HUG,
        "weekdays": [1, 3, 5],
        "pickup_time": "07:00",
        "return": {"will_call": True},
        "start_date": "2026-12-14",
        "end_date": "2027-06-13",
    }
    body.update(overrides)
    return body


def make_order(company, patient, **fields):
    values = {
        "client": patient,
        "dropoff": Place(**HUG),
        "weekdays": [1, 3, 5],
        "pickup_time": time(7, 0),
        "return_leg": "will_call",
        "start_date": date(2026, 12, 14),
        "end_date": date(2027, 6, 13),
        **fields,
    }
    return services.standing_order_create(company=company, **values)


# --- create -----------------------------------------------------------------------------------
def test_create_books_the_horizon_and_answers_the_order(dispatcher_client, patient):
    response = dispatcher_client.post(URL, payload(patient), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["client"]["id"] == str(patient.id)
    assert body["weekdays"] == [1, 3, 5] and body["every_weeks"] == 1
    assert body["pickup_time"] == "07:00:00" and body["appointment_time"] is None
    assert body["return"] == {"will_call": True}
    assert body["pickup"]["address"] == patient.address  # the client's home
    assert body["dropoff"] == HUG
    assert body["mobility"] == "wheelchair"  # the client's
    assert body["holidays"] == "skip" and body["skipped_dates"] == [] and body["pauses"] == []
    trips = Booking.objects.filter(standing_order_id=body["id"])
    assert trips.filter(occurrence_leg="outbound").count() == 5
    assert trips.filter(occurrence_leg="return", will_call=True).count() == 5


def test_bookings_carry_their_order_and_day_in_the_booking_api(dispatcher_client, patient):
    order_id = dispatcher_client.post(URL, payload(patient), format="json").json()["id"]
    listed = dispatcher_client.get("/api/bookings?date=2026-12-18").json()["results"]
    assert len(listed) == 2
    assert {b["standing_order"] for b in listed} == {order_id}
    assert {b["occurrence_date"] for b in listed} == {"2026-12-18"}
    one = dispatcher_client.get(f"/api/bookings/{listed[0]['id']}").json()
    assert one["standing_order"] == order_id and one["occurrence_date"] == "2026-12-18"
    plain = dispatcher_client.get("/api/bookings?date=2026-12-17").json()["results"]
    assert plain == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [0]}, "weekdays"),
        ({"weekdays": [8]}, "weekdays"),
        ({"weekdays": ["x", 1]}, "weekdays"),
        ({"weekdays": "1,3"}, "weekdays"),
        ({"end_date": "2026-12-01"}, "end_date"),
        ({"end_date": None, "occurrences": 1001}, "occurrences"),
        ({"end_date": None}, "end_date"),
        ({"occurrences": 10}, "occurrences"),
        ({"every_weeks": 3}, "every_weeks"),
        ({"pickup_time": None}, "pickup_time"),
        ({"pickup_time": "7h"}, "pickup_time"),
        ({"pickup_time": "07:00", "appointment_time": "06:30"}, "appointment_time"),
        ({"return": {"time": "06:00"}}, "return.time"),
        ({"return": {}}, "return"),
        ({"return": {"time": "12:00", "will_call": True}}, "return"),
        ({"holidays": "maybe"}, "holidays"),
        ({"dropoff": {"address": "x", "lat": 91, "lon": 0}}, "dropoff"),
        ({"start_date": "9999-01-01"}, "start_date"),
        ({"passengers": 9}, "passengers"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(dispatcher_client, patient, overrides, field):
    response = dispatcher_client.post(URL, payload(patient, **overrides), format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    top = field.split(".")[0]
    assert body.get("field") == field or top in body, body
    assert not StandingOrder.objects.exists()


def test_another_companys_client_is_unknown_like_a_missing_one(
    dispatcher_client, other_company, patient
):
    stranger = ClientFactory(company=other_company)
    theirs = dispatcher_client.post(URL, payload(stranger), format="json")
    missing = dispatcher_client.post(
        URL, payload(patient, client="00000000-0000-0000-0000-000000000001"), format="json"
    )
    assert theirs.status_code == missing.status_code == 400
    assert "client" in theirs.json() and "client" in missing.json()
    assert theirs.json()["client"][0].startswith("Unknown client")


def test_drivers_may_not_see_or_write_standing_orders(driver_client, patient):
    assert driver_client.get(URL).status_code == 403
    assert driver_client.post(URL, payload(patient), format="json").status_code == 403


# --- read -------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [1, 200])
def test_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_num_queries
):
    patient = ClientFactory(company=company)
    orders = [
        StandingOrder(
            company=company,
            client=patient,
            pickup_address="a",
            pickup_lat=46.5,
            pickup_lon=6.6,
            dropoff_address="b",
            dropoff_lat=46.2,
            dropoff_lon=6.1,
            weekdays=[1],
            pickup_time=time(7, 0),
            start_date=date(2026, 12, 14),
            end_date=date(2027, 1, 31),
        )
        for _ in range(rows)
    ]
    StandingOrder.objects.bulk_create(orders)
    dispatcher_client.get("/api/companies/me")  # warm the company cache like a live client
    with django_assert_num_queries(3):  # count, orders joined with clients, their exceptions
        response = dispatcher_client.get(f"{URL}?page_size=500")
    assert response.status_code == 200
    assert response.json()["count"] == rows


def test_other_companys_order_is_a_404_at_every_door(
    dispatcher_client, other_dispatcher_client, company, patient
):
    order = make_order(company, patient)
    base = f"{URL}/{order.id}"
    mine = dispatcher_client.get(base)
    assert mine.status_code == 200
    c = other_dispatcher_client
    assert c.get(base).status_code == 404
    assert c.patch(base, {"notes": "x"}, format="json").status_code == 404
    assert c.post(f"{base}/skip", {"date": "2026-12-21"}, format="json").status_code == 404
    assert (
        c.post(f"{base}/pause", {"from": "2027-01-04", "to": "2027-01-08"}, format="json")
    ).status_code == 404
    assert c.post(f"{base}/end", {}, format="json").status_code == 404
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    services.standing_order_pause(order=order, first=date(2027, 1, 4), last=date(2027, 1, 8))
    assert c.post(f"{base}/unskip", {"date": "2026-12-21"}, format="json").status_code == 404
    assert (
        c.post(f"{base}/unpause", {"from": "2027-01-04", "to": "2027-01-08"}, format="json")
    ).status_code == 404
    assert order.exceptions.count() == 2
    order.exceptions.all().delete()
    assert c.get(f"{base}/occurrences").status_code == 404
    assert c.get(URL).json()["count"] == 0
    order.refresh_from_db()
    assert order.notes == "" and order.ended_at is None and not order.exceptions.exists()


def test_occurrences_preview_names_skipped_days_and_why(
    dispatcher_client, company, patient, django_assert_max_num_queries
):
    order = make_order(company, patient)
    dispatcher_client.post(f"{URL}/{order.id}/skip", {"date": "2026-12-21"}, format="json")
    dispatcher_client.post(
        f"{URL}/{order.id}/pause", {"from": "2026-12-28", "to": "2026-12-30"}, format="json"
    )
    dispatcher_client.get("/api/companies/me")
    with django_assert_max_num_queries(3):  # the order with its client, exceptions, bookings
        response = dispatcher_client.get(
            f"{URL}/{order.id}/occurrences?from=2026-12-18&to=2027-01-04"
        )
    assert response.status_code == 200
    rows = {r["date"]: r for r in response.json()}
    assert list(rows) == [
        "2026-12-18",
        "2026-12-21",
        "2026-12-23",
        "2026-12-25",
        "2026-12-28",
        "2026-12-30",
        "2027-01-01",
        "2027-01-04",
    ]
    assert rows["2026-12-18"]["skipped"] is None and rows["2026-12-18"]["booking_id"]
    assert rows["2026-12-18"]["pickup_at"] == "2026-12-18T06:00:00Z"
    assert rows["2026-12-18"]["return_will_call"] is True
    assert rows["2026-12-21"]["skipped"] == "skipped"
    assert rows["2026-12-25"]["skipped"] == "holiday"
    assert rows["2026-12-25"]["holiday"] == "Christmas Day"
    assert rows["2026-12-28"]["skipped"] == rows["2026-12-30"]["skipped"] == "paused"
    assert rows["2027-01-01"]["skipped"] == "holiday"
    assert rows["2027-01-04"]["booking_id"] is None  # beyond the horizon: not booked yet
    bad = dispatcher_client.get(f"{URL}/{order.id}/occurrences?from=2027-01-04&to=2026-12-18")
    assert bad.status_code == 400 and "to" in bad.json()
    far = dispatcher_client.get(f"{URL}/{order.id}/occurrences?from=2026-12-18&to=2028-01-04")
    assert far.status_code == 400 and "to" in far.json()


def test_overview_counts_trips_per_weekday_hour_and_mobility(
    dispatcher_client, company, patient, django_assert_max_num_queries
):
    make_order(company, patient)
    make_order(
        company,
        ClientFactory(company=company),
        weekdays=[1],
        mobility="walks",
        return_leg="fixed",
        return_time=time(11, 30),
    )
    dispatcher_client.get("/api/companies/me")
    with django_assert_max_num_queries(2):  # orders with clients, exceptions
        response = dispatcher_client.get(f"{URL}/overview?week=2026-12-23")
    assert response.status_code == 200
    bands = [
        (b["weekday"], b["date"], b["hour"], b["mobility"], b["trips"]) for b in response.json()
    ]
    assert bands == [
        (1, "2026-12-21", 7, "walks", 1),
        (1, "2026-12-21", 7, "wheelchair", 1),
        (1, "2026-12-21", 11, "walks", 1),
        (1, "2026-12-21", None, "wheelchair", 1),
        (3, "2026-12-23", 7, "wheelchair", 1),
        (3, "2026-12-23", None, "wheelchair", 1),
        # Friday 25th: Christmas, skipped.
    ]


# --- change -----------------------------------------------------------------------------------
def test_patch_lists_trips_taken_from_their_driver(dispatcher_client, company, patient):
    order = make_order(company, patient, mobility="walks")
    first = Booking.objects.filter(standing_order=order, occurrence_leg="outbound").earliest(
        "occurrence_date"
    )
    booking_assign(booking=first, driver=DriverFactory(company=company))
    notes = dispatcher_client.patch(f"{URL}/{order.id}", {"notes": "Ring twice"}, format="json")
    assert notes.status_code == 200 and notes.json()["unassigned"] == []
    moved = dispatcher_client.patch(f"{URL}/{order.id}", {"pickup_time": "07:45"}, format="json")
    assert moved.status_code == 200
    body = moved.json()
    assert body["pickup_time"] == "07:45:00" and body["notes"] == "Ring twice"
    assert [(u["id"], u["occurrence_date"], u["is_return"]) for u in body["unassigned"]] == [
        (str(first.id), "2026-12-18", False)
    ]
    assert body["unassigned"][0]["scheduled_at"] == "2026-12-18T06:45:00Z"
    empty = dispatcher_client.patch(f"{URL}/{order.id}", {}, format="json")
    assert empty.status_code == 400
    client_change = dispatcher_client.patch(
        f"{URL}/{order.id}", {"client": str(patient.id)}, format="json"
    )
    assert client_change.status_code == 400  # nothing it may change


def test_patch_return_and_end_date(dispatcher_client, company, patient):
    order = make_order(company, patient)
    response = dispatcher_client.patch(
        f"{URL}/{order.id}", {"return": {"time": "12:15"}, "end_date": "2026-12-24"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["return"] == {"time": "12:15:00"}
    live = Booking.objects.filter(standing_order=order).exclude(status="cancelled")
    assert sorted({b.occurrence_date.day for b in live}) == [18, 21, 23]
    backs = live.filter(occurrence_leg="return")
    assert backs.count() == 3 and not backs.filter(will_call=True).exists()
    none = dispatcher_client.patch(f"{URL}/{order.id}", {"return": None}, format="json")
    assert none.json()["return"] is None
    assert not Booking.objects.filter(standing_order=order, occurrence_leg="return").exclude(
        status="cancelled"
    )


def test_skip_pause_end_validate_and_answer(dispatcher_client, company, patient):
    order = make_order(company, patient)
    base = f"{URL}/{order.id}"
    tuesday = dispatcher_client.post(f"{base}/skip", {"date": "2026-12-22"}, format="json")
    assert tuesday.status_code == 400 and tuesday.json()["field"] == "date"
    skipped = dispatcher_client.post(f"{base}/skip", {"date": "2026-12-21"}, format="json")
    assert skipped.status_code == 200 and skipped.json()["skipped_dates"] == ["2026-12-21"]
    outside = dispatcher_client.post(
        f"{base}/pause", {"from": "2027-06-01", "to": "2027-07-01"}, format="json"
    )
    assert outside.status_code == 400 and outside.json()["field"] == "to"
    before = dispatcher_client.post(
        f"{base}/pause", {"from": "2026-11-01", "to": "2026-12-20"}, format="json"
    )
    assert before.status_code == 400 and before.json()["field"] == "from"
    missing = dispatcher_client.post(f"{base}/pause", {"from": "2027-01-04"}, format="json")
    assert missing.status_code == 400 and "to" in missing.json()
    paused = dispatcher_client.post(
        f"{base}/pause",
        {"from": "2027-01-04", "to": "2027-01-15", "reason": "hospital"},
        format="json",
    )
    assert paused.json()["pauses"] == [
        {"from": "2027-01-04", "to": "2027-01-15", "reason": "hospital"}
    ]
    ended = dispatcher_client.post(
        f"{base}/end", {"date": "2026-12-23", "reason": "moved away"}, format="json"
    )
    assert ended.status_code == 200
    assert ended.json()["end_date"] == "2026-12-23" and ended.json()["ended_at"]
    cancelled = Booking.objects.filter(standing_order=order, cancel_reason="series_ended")
    assert {b.occurrence_date.day for b in cancelled} == {28, 30}
    again = dispatcher_client.post(f"{base}/end", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "standing_order_ended"
    edit = dispatcher_client.patch(base, {"notes": "x"}, format="json")
    assert edit.status_code == 409
    active = dispatcher_client.get(f"{URL}?active=true").json()
    assert active["count"] == 0


def test_an_order_may_name_its_places_by_id(dispatcher_client, company, patient):
    from places.tests.factories import PlaceFactory

    hug = PlaceFactory(name="HUG", address="Rue Gabrielle-Perret-Gentil 4, Genève", lat=46.19)
    clinic = PlaceFactory(company=company, name="Clinique", lat=46.5)
    body = payload(patient, dropoff=None, dropoff_place=str(hug.id), pickup_place=str(clinic.id))
    del body["dropoff"]
    response = dispatcher_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    order = StandingOrder.objects.get()
    assert order.dropoff_address == "HUG, Rue Gabrielle-Perret-Gentil 4, Genève"
    assert (order.dropoff_lat, order.pickup_lat) == (46.19, 46.5)
    trip = Booking.objects.filter(standing_order=order, occurrence_leg="outbound").first()
    assert trip is not None and trip.dropoff_address.startswith("HUG, ")


def test_an_orders_places_are_checked_like_a_bookings(
    dispatcher_client, company, other_company, patient
):
    from places.tests.factories import PlaceFactory

    foreign = PlaceFactory(company=other_company, name="Theirs")
    body = payload(patient, dropoff_place=str(foreign.id))
    del body["dropoff"]
    response = dispatcher_client.post(URL, body, format="json")
    assert response.status_code == 400 and "dropoff_place" in response.json()
    both = payload(patient, dropoff_place=str(PlaceFactory(name="HUG").id))
    response = dispatcher_client.post(URL, both, format="json")
    assert response.status_code == 400 and "dropoff_place" in response.json()
    neither = payload(patient)
    del neither["dropoff"]
    response = dispatcher_client.post(URL, neither, format="json")
    assert response.status_code == 400 and "dropoff" in response.json()
    assert not StandingOrder.objects.exists()


def test_unskip_and_unpause_take_back_through_the_api(dispatcher_client, company, patient):
    order = make_order(company, patient)
    base = f"{URL}/{order.id}"
    dispatcher_client.post(f"{base}/skip", {"date": "2026-12-21"}, format="json")
    dispatcher_client.post(
        f"{base}/pause", {"from": "2026-12-28", "to": "2027-01-08"}, format="json"
    )
    live = Booking.objects.filter(standing_order=order).exclude(status="cancelled")
    assert live.count() == 4  # the 18th and the 23rd, out and back
    unskipped = dispatcher_client.post(f"{base}/unskip", {"date": "2026-12-21"}, format="json")
    assert unskipped.status_code == 200 and unskipped.json()["skipped_dates"] == []
    unpaused = dispatcher_client.post(
        f"{base}/unpause", {"from": "2026-12-28", "to": "2027-01-08"}, format="json"
    )
    assert unpaused.status_code == 200 and unpaused.json()["pauses"] == []
    assert sorted(b.occurrence_date.day for b in live.filter(occurrence_leg="outbound")) == [
        18,
        21,
        23,
        28,
        30,
    ]
    assert live.count() == 10


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("unskip", {}, "date"),
        ("unskip", {"date": "21.12.2026"}, "date"),
        ("unskip", {"date": "2026-12-23"}, "date"),  # not skipped
        ("unskip", {"date": "2026-12-16"}, "date"),  # gone by
        ("unpause", {"to": "2027-01-08"}, "from"),
        ("unpause", {"from": "2027-01-04"}, "to"),
        ("unpause", {"from": "2027-01-05", "to": "2027-01-08"}, "from"),  # no such pause
    ],
)
def test_unskip_and_unpause_bad_input_is_a_400_naming_the_field(
    dispatcher_client, company, patient, path, body, field
):
    order = make_order(company, patient)
    services.standing_order_pause(order=order, first=date(2027, 1, 4), last=date(2027, 1, 8))
    response = dispatcher_client.post(f"{URL}/{order.id}/{path}", body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data.get("field") == field or field in data
    assert order.exceptions.count() == 1


def test_unskip_of_an_ended_order_is_a_409(dispatcher_client, company, patient):
    order = make_order(company, patient)
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    services.standing_order_end(order=order, day=date(2026, 12, 23))
    response = dispatcher_client.post(
        f"{URL}/{order.id}/unskip", {"date": "2026-12-21"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "standing_order_ended"


def test_drivers_may_not_take_back_a_skip(driver_client, company, patient):
    order = make_order(company, patient)
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    response = driver_client.post(f"{URL}/{order.id}/unskip", {"date": "2026-12-21"}, format="json")
    assert response.status_code in (403, 404)
    assert order.exceptions.count() == 1
