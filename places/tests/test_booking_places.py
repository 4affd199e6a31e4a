"""Bookings that name places, start at the client's home, or have their addresses geocoded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookings.models import Booking
from places.tests.conftest import BROKEN
from places.tests.factories import PlaceFactory
from tests.factories import GENEVA, LAUSANNE, BookingFactory, ClientFactory, at

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.clock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=True),
]


@pytest.fixture
def hug(db):
    return PlaceFactory(
        name="HUG",
        address="Rue Gabrielle-Perret-Gentil 4, Genève",
        lat=GENEVA[0],
        lon=GENEVA[1],
        aliases=["Hôpital cantonal"],
    )


def book(api, patient, **fields):
    body = {"client": str(patient.id), "scheduled_at": at(9).isoformat(), **fields}
    return api.post("/api/bookings", body, format="json")


def test_dropoff_place_fills_address_and_coordinates(company, dispatcher_client, hug):
    patient = ClientFactory(company=company, address="Rue du Lac 5, Lausanne")
    response = book(dispatcher_client, patient, dropoff_place=str(hug.id))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["dropoff"] == {
        "address": "HUG, Rue Gabrielle-Perret-Gentil 4, Genève",
        "lat": hug.lat,
        "lon": hug.lon,
    }
    assert body["dropoff_place"] == str(hug.id) and body["pickup_place"] is None
    # No pick-up given: the client's home.
    assert body["pickup"] == {"address": patient.address, "lat": patient.lat, "lon": patient.lon}
    assert body["geocoded"] is False
    booking = Booking.objects.get(pk=body["id"])
    assert booking.dropoff_place_id == hug.id


def test_return_trip_swaps_the_places(company, dispatcher_client, hug):
    patient = ClientFactory(company=company)
    response = book(
        dispatcher_client,
        patient,
        dropoff_place=str(hug.id),
        return_trip={"scheduled_at": at(15).isoformat()},
    )
    assert response.status_code == 201, response.json()
    back = Booking.objects.get(return_of_id=response.json()["id"])
    assert back.pickup_place_id == hug.id and back.dropoff_place_id is None
    assert (back.pickup_lat, back.pickup_lon) == GENEVA


def test_a_company_place_of_another_company_is_unknown(company, other_company, dispatcher_client):
    theirs = PlaceFactory(name="Their clinic", company=other_company)
    patient = ClientFactory(company=company)
    response = book(dispatcher_client, patient, dropoff_place=str(theirs.id))
    assert response.status_code == 400
    assert "dropoff_place" in response.json()
    assert not Booking.objects.exists()


def test_own_company_place_is_accepted(company, dispatcher_client):
    own = PlaceFactory(name="Our clinic", company=company)
    patient = ClientFactory(company=company)
    response = book(dispatcher_client, patient, pickup_place=str(own.id), dropoff_place=str(own.id))
    assert response.status_code == 201, response.json()
    assert response.json()["pickup_place"] == str(own.id)


def test_client_without_home_coordinates_needs_a_pickup(company, dispatcher_client, hug):
    patient = ClientFactory(company=company, lat=None, lon=None)
    response = book(dispatcher_client, patient, dropoff_place=str(hug.id))
    assert response.status_code == 400
    assert response.json()["code"] == "pickup_required"
    assert response.json()["field"] == "pickup"
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "dropoff"),
        ({"pickup": {"address": "x", "lat": 1, "lon": 2}, "pickup_place": "HUG"}, "pickup_place"),
        ({"dropoff_place": "not-a-uuid"}, "dropoff_place"),
        ({"dropoff": {"address": "x", "lat": 46.5}}, "dropoff"),
    ],
)
def test_bad_stops_name_the_field(company, dispatcher_client, hug, fields, field):
    patient = ClientFactory(company=company)
    fields = {k: (str(hug.id) if v == "HUG" else v) for k, v in fields.items()}
    if field != "dropoff":
        fields.setdefault("dropoff_place", str(hug.id))
    response = book(dispatcher_client, patient, **fields)
    assert response.status_code == 400
    assert field in response.json()


def test_address_without_coordinates_and_no_geocoder(company, dispatcher_client, hug, settings):
    settings.GEOCODER_URL = ""
    patient = ClientFactory(company=company)
    response = book(
        dispatcher_client,
        patient,
        pickup={"address": "Rue du Lac 5, Lausanne"},
        dropoff_place=str(hug.id),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "coordinates_required"
    assert response.json()["field"] == "pickup"
    assert not Booking.objects.exists()


def test_address_without_coordinates_is_geocoded(company, dispatcher_client, hug, geocoder):
    patient = ClientFactory(company=company)
    response = book(
        dispatcher_client,
        patient,
        pickup_place=str(hug.id),
        dropoff={"address": "Rue du Bugnon 46, Lausanne"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["dropoff"] == {
        "address": "Rue du Bugnon 46, Lausanne",
        "lat": 46.5254,
        "lon": 6.6423,
    }
    assert body["geocoded"] is True
    assert Booking.objects.get(pk=body["id"]).geocoded is True


def test_a_failing_geocoder_is_coordinates_required(company, dispatcher_client, hug, geocoder):
    patient = ClientFactory(company=company)
    response = book(
        dispatcher_client, patient, pickup_place=str(hug.id), dropoff={"address": BROKEN}
    )
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == (
        "coordinates_required",
        "dropoff",
    )
    assert not Booking.objects.exists()


def test_patch_to_a_place_and_back_to_an_address(company, dispatcher_client, hug, geocoder):
    booking = BookingFactory(company=company)
    url = f"/api/bookings/{booking.id}"
    to_place = dispatcher_client.patch(url, {"dropoff_place": str(hug.id)}, format="json")
    assert to_place.status_code == 200, to_place.json()
    assert to_place.json()["dropoff"]["address"] == f"HUG, {hug.address}"
    assert to_place.json()["dropoff_place"] == str(hug.id)
    to_address = dispatcher_client.patch(
        url, {"dropoff": {"address": "Avenue de la Gare 10, Lausanne"}}, format="json"
    )
    assert to_address.status_code == 200, to_address.json()
    body = to_address.json()
    assert body["dropoff_place"] is None and body["geocoded"] is True
    assert (body["dropoff"]["lat"], body["dropoff"]["lon"]) == (46.5167, 6.6291)
    typed = dispatcher_client.patch(
        url,
        {
            "pickup": {"address": "a", "lat": LAUSANNE[0], "lon": LAUSANNE[1]},
            "dropoff": {"address": "b", "lat": GENEVA[0], "lon": GENEVA[1]},
        },
        format="json",
    )
    assert typed.json()["geocoded"] is False  # both stops typed again


def test_patch_to_another_companys_place_is_unknown(company, other_company, dispatcher_client):
    booking = BookingFactory(company=company)
    theirs = PlaceFactory(name="Their clinic", company=other_company)
    response = dispatcher_client.patch(
        f"/api/bookings/{booking.id}", {"pickup_place": str(theirs.id)}, format="json"
    )
    assert response.status_code == 400 and "pickup_place" in response.json()
    booking.refresh_from_db()
    assert booking.pickup_place_id is None


def test_deleting_a_place_keeps_the_bookings_stops(company, dispatcher_client, hug):
    patient = ClientFactory(company=company)
    booking_id = book(dispatcher_client, patient, dropoff_place=str(hug.id)).json()["id"]
    hug.delete()
    booking = Booking.objects.get(pk=booking_id)
    assert booking.dropoff_place_id is None
    assert booking.dropoff_address == "HUG, Rue Gabrielle-Perret-Gentil 4, Genève"
