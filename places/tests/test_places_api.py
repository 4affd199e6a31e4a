"""The places API: global places plus the company's own, another company's is unknown."""

from __future__ import annotations

import pytest

from places.models import Place
from places.tests.factories import PlaceFactory

pytestmark = pytest.mark.django_db

BODY = {
    "name": "Dialyse Morges",
    "kind": "dialysis",
    "address": "Rue de Lausanne 1, Morges",
    "lat": 46.511,
    "lon": 6.498,
    "aliases": ["Dialyse EHC", " dialyse ehc ", ""],
    "entrance_notes": "Back entrance, ring twice.",
    "extra_service_minutes": 10,
}


@pytest.mark.parametrize("rows", [1, 200])
def test_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_num_queries
):
    PlaceFactory.create_batch(rows // 2 or 1)
    PlaceFactory.create_batch(rows - (rows // 2 or 1), company=company)
    with django_assert_num_queries(1):  # places (one page: its length is the count)
        response = dispatcher_client.get("/api/places?page_size=500")
    assert response.status_code == 200
    assert response.json()["count"] == rows


def test_a_list_longer_than_a_page_takes_one_query_too(
    company, dispatcher_client, django_assert_num_queries
):
    PlaceFactory.create_batch(7, company=company)
    with django_assert_num_queries(1):  # the page, each row with the total beside it
        first = dispatcher_client.get("/api/places?page_size=3").json()
    assert first["count"] == 7 and len(first["results"]) == 3 and "page=2" in first["next"]
    second = dispatcher_client.get(first["next"]).json()
    last = dispatcher_client.get("/api/places?page_size=3&page=3").json()
    ids = [p["id"] for page in (first, second, last) for p in page["results"]]
    assert len(ids) == len(set(ids)) == 7 and last["next"] is None


def test_search_query_count_is_constant(company, dispatcher_client, django_assert_num_queries):
    PlaceFactory.create_batch(30, aliases=["Hôpital cantonal"])
    with django_assert_num_queries(1):  # places
        response = dispatcher_client.get("/api/places?search=hopital+cantonal&page_size=500")
    assert response.json()["count"] == 30


def test_company_sees_global_and_own_places_not_another_companys(
    company, other_company, dispatcher_client
):
    shared = PlaceFactory(name="HUG", aliases=["Hôpital cantonal"])
    own = PlaceFactory(name="Our depot clinic", company=company)
    theirs = PlaceFactory(name="Their clinic", company=other_company)
    body = dispatcher_client.get("/api/places").json()
    assert {p["id"] for p in body["results"]} == {str(shared.id), str(own.id)}
    assert dispatcher_client.get(f"/api/places/{theirs.id}").status_code == 404
    patch = dispatcher_client.patch(f"/api/places/{theirs.id}", {"name": "x"}, format="json")
    assert patch.status_code == 404
    detail = dispatcher_client.get(f"/api/places/{shared.id}").json()
    assert detail["is_global"] is True and detail["aliases"] == ["Hôpital cantonal"]


def test_search_through_the_api(company, dispatcher_client):
    PlaceFactory(name="HUG", aliases=["Hôpitaux universitaires de Genève", "Hôpital cantonal"])
    PlaceFactory(name="CHUV", aliases=["Centre hospitalier universitaire vaudois"])
    for query, name in [("hug", "HUG"), ("hopital cantonal", "HUG"), ("CHUV", "CHUV")]:
        results = dispatcher_client.get("/api/places", {"search": query}).json()["results"]
        assert [p["name"] for p in results] == [name], query


def test_create_keeps_aliases_clean_and_search_text(company, dispatcher_client):
    response = dispatcher_client.post("/api/places", BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["aliases"] == ["Dialyse EHC"] and body["is_global"] is False
    place = Place.objects.get(pk=body["id"])
    assert place.company_id == company.id
    assert place.search_text == "dialyse morges | dialyse ehc"
    found = dispatcher_client.get("/api/places?search=ehc").json()["results"]
    assert [p["id"] for p in found] == [body["id"]]


def test_patch_renames_and_search_follows(company, dispatcher_client):
    place = PlaceFactory(name="Old name", company=company)
    response = dispatcher_client.patch(
        f"/api/places/{place.id}", {"name": "Clinique Bois-Cerf"}, format="json"
    )
    assert response.status_code == 200
    place.refresh_from_db()
    assert place.search_text == "clinique bois cerf"
    assert place.lat is not None  # the address did not change: its position stays


def test_global_place_is_read_only_for_company_staff(company, dispatcher_client):
    shared = PlaceFactory(name="HUG")
    response = dispatcher_client.patch(f"/api/places/{shared.id}", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "place_read_only"
    assert Place.objects.get(pk=shared.pk).name == "HUG"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 95.0, "lon": 6.0}, "lat"),
        ({"lat": 46.5, "lon": None}, "lon"),
        ({"extra_service_minutes": 500}, "extra_service_minutes"),
        ({"kind": "spaceport"}, "kind"),
        ({"aliases": "HUG"}, "aliases"),
        ({"name": ""}, "name"),
        ({"aliases": ["ok", "x" * 201]}, "aliases"),
    ],
)
def test_bad_input_names_the_field(company, dispatcher_client, change, field):
    response = dispatcher_client.post("/api/places", {**BODY, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Place.objects.exists()


def test_duplicate_name_in_the_company_is_a_400_on_name(company, dispatcher_client):
    PlaceFactory(name=BODY["name"], company=company)
    response = dispatcher_client.post("/api/places", BODY, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "name"


def test_same_name_as_another_companys_place_is_fine(company, other_company, dispatcher_client):
    PlaceFactory(name=BODY["name"], company=other_company)
    assert dispatcher_client.post("/api/places", BODY, format="json").status_code == 201


def test_address_without_coordinates_and_no_geocoder_is_refused(
    company, dispatcher_client, settings
):
    settings.GEOCODER_URL = ""
    body = {k: v for k, v in BODY.items() if k not in ("lat", "lon")}
    response = dispatcher_client.post("/api/places", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "coordinates_required"
    assert response.json()["field"] == "address"
    assert not Place.objects.exists()


def test_drivers_cannot_use_the_places_api(driver_client):
    assert driver_client.get("/api/places").status_code == 403
