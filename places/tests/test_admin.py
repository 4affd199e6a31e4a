"""The Place admin: staff keep their places and read the global ones; the map picker is ours."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from places.models import Place
from places.tests.factories import PlaceFactory

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Dialyse Morges",
    "kind": "dialysis",
    "address": "Rue de Lausanne 1, Morges",
    "lat": "46.511",
    "lon": "6.498",
    "aliases": "Dialyse EHC, Centre de dialyse de Morges",
    "entrance_notes": "",
    "extra_service_minutes": "5",
}


def test_staff_add_a_place_through_the_services(company, admin_web):
    response = admin_web.post("/admin/places/place/add/", FORM)
    assert response.status_code == 302, response.context["adminform"].form.errors
    place = Place.objects.get()
    assert place.company_id == company.id
    assert place.aliases == ["Dialyse EHC", "Centre de dialyse de Morges"]
    assert "centre de dialyse de morges" in place.search_text


def test_staff_see_global_and_own_not_another_companys(company, other_company, admin_web):
    shared = PlaceFactory(name="HUG")
    own = PlaceFactory(name="Ours", company=company)
    theirs = PlaceFactory(name="Theirs", company=other_company)
    page = admin_web.get("/admin/places/place/")
    assert {p.pk for p in page.context["cl"].result_list} == {shared.pk, own.pk}
    assert admin_web.get(f"/admin/places/place/{theirs.pk}/change/").status_code == 302


def test_global_places_are_read_only_for_staff(company, admin_web):
    shared = PlaceFactory(name="HUG")
    page = admin_web.get(f"/admin/places/place/{shared.pk}/change/")
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    response = admin_web.post(f"/admin/places/place/{shared.pk}/change/", {**FORM, "name": "X"})
    assert response.status_code == 403
    assert Place.objects.get(pk=shared.pk).name == "HUG"


def test_superuser_edits_a_global_place(superuser_web):
    shared = PlaceFactory(name="HUG")
    form = {**FORM, "name": "HUG", "aliases": "Hôpital cantonal", "company": ""}
    response = superuser_web.post(f"/admin/places/place/{shared.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    shared.refresh_from_db()
    assert shared.company_id is None and shared.search_text == "hug | hopital cantonal"


def test_admin_search_is_the_apis_search(company, admin_web):
    PlaceFactory(name="HUG", aliases=["Hôpital cantonal"])
    PlaceFactory(name="CHUV")
    page = admin_web.get("/admin/places/place/", {"q": "hopital CANTONAL"})
    assert [p.name for p in page.context["cl"].result_list] == ["HUG"]


def test_kind_filter(company, admin_web):
    PlaceFactory(name="A", kind="dialysis")
    PlaceFactory(name="B", kind="hospital")
    page = admin_web.get("/admin/places/place/", {"kind__exact": "dialysis"})
    assert [p.name for p in page.context["cl"].result_list] == ["A"]


def test_empty_coordinates_without_a_geocoder_are_a_form_error(company, admin_web, settings):
    settings.GEOCODER_URL = ""
    response = admin_web.post("/admin/places/place/add/", {**FORM, "lat": "", "lon": ""})
    assert response.status_code == 200
    assert "Coordinates required" in str(response.context["adminform"].form.errors["lat"])
    assert not Place.objects.exists()


def test_empty_coordinates_are_geocoded(company, admin_web, geocoder):
    form = {**FORM, "address": "Rue du Bugnon 46, Lausanne", "lat": "", "lon": ""}
    assert admin_web.post("/admin/places/place/add/", form).status_code == 302
    assert (Place.objects.get().lat, Place.objects.get().lon) == (46.5254, 6.6423)


def test_the_map_picker_loads_only_our_own_static_files(company, admin_web, settings):
    settings.MAP_TILES_URL = "https://tiles.example.test/{z}/{x}/{y}.png"
    page = admin_web.get("/admin/places/place/add/").content.decode()
    assert 'class="atmr-map-picker"' in page
    assert 'data-lat-input="id_lat" data-lon-input="id_lon"' in page
    assert 'data-tiles="https://tiles.example.test/{z}/{x}/{y}.png"' in page
    for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "places/map_picker.js"):
        assert f"/static/{path}" in page
        assert finders.find(path), path
    assert "unpkg" not in page and "cdn" not in page.lower()
    assert finders.find("vendor/leaflet/images/marker-icon.png")


def test_duplicate_name_is_a_form_error_not_a_crash(company, admin_web):
    PlaceFactory(name=FORM["name"], company=company)
    response = admin_web.post("/admin/places/place/add/", FORM)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Place.objects.count() == 1


@pytest.mark.parametrize(
    ("path", "pairs"),
    [
        ("/admin/bookings/client/add/", [("id_lat", "id_lon")]),
        (
            "/admin/bookings/booking/add/",
            [("id_pickup_lat", "id_pickup_lon"), ("id_dropoff_lat", "id_dropoff_lon")],
        ),
        (
            "/admin/bookings/standingorder/add/",
            [("id_pickup_lat", "id_pickup_lon"), ("id_dropoff_lat", "id_dropoff_lon")],
        ),
    ],
)
def test_every_coordinate_pair_in_the_admin_has_the_map_picker(admin_web, path, pairs):
    page = admin_web.get(path).content.decode()
    for lat, lon in pairs:
        assert f'data-lat-input="{lat}" data-lon-input="{lon}"' in page
    assert "/static/vendor/leaflet/leaflet.js" in page
