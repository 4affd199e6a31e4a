"""The geocoder client against a real HTTP server on loopback (places/tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from places.geocoding import Coordinates, geocode
from places.tests.conftest import BROKEN, GARBAGE, SLOW

pytestmark = pytest.mark.django_db


def test_found_address_and_the_request_it_sent(geocoder):
    assert geocode("Rue du Bugnon 46, Lausanne") == Coordinates(46.5254, 6.6423)
    (query,) = geocoder.queries
    assert query["path"] == ["/search"] and query["format"] == ["jsonv2"]
    assert query["q"] == ["Rue du Bugnon 46, Lausanne"]


def test_answers_are_cached_found_or_not(geocoder):
    for _ in range(3):
        assert geocode("Rue du Bugnon 46, Lausanne") is not None
        assert geocode("Nowhere street 99") is None
    # Case, accents and spacing do not make another lookup either.
    assert geocode("rue du  BUGNON 46, lausanne") is not None
    assert len(geocoder.queries) == 2


@pytest.mark.parametrize("address", [BROKEN, GARBAGE])
def test_a_failing_geocoder_is_no_answer_and_not_cached(geocoder, address):
    assert geocode(address) is None
    assert geocode(address) is None
    assert len(geocoder.queries) == 2  # a failure is tried again next time


def test_a_slow_geocoder_times_out(geocoder, settings):
    # The server holds this answer until the test ends; the client gives up after 0.5 s.
    settings.GEOCODER_TIMEOUT_S = 0.5
    assert geocode(SLOW) is None


def test_no_geocoder_set_asks_nobody(settings):
    settings.GEOCODER_URL = ""
    assert geocode("Rue du Bugnon 46, Lausanne") is None


def test_an_unreachable_geocoder_is_no_answer(settings):
    settings.GEOCODER_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    assert geocode("Rue du Bugnon 46, Lausanne") is None


def test_place_created_without_coordinates_is_geocoded(geocoder, company, dispatcher_client):
    body = {"name": "CHUV", "kind": "hospital", "address": "Rue du Bugnon 46, Lausanne"}
    response = dispatcher_client.post("/api/places", body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["lat"], response.json()["lon"]) == (46.5254, 6.6423)


def test_place_moved_to_a_new_address_is_geocoded_again(geocoder, company, dispatcher_client):
    body = {"name": "Depot", "address": "Rue du Bugnon 46, Lausanne", "lat": 1.0, "lon": 2.0}
    place_id = dispatcher_client.post("/api/places", body, format="json").json()["id"]
    moved = dispatcher_client.patch(
        f"/api/places/{place_id}", {"address": "Avenue de la Gare 10, Lausanne"}, format="json"
    )
    assert moved.status_code == 200
    assert (moved.json()["lat"], moved.json()["lon"]) == (46.5167, 6.6291)
    lost = dispatcher_client.patch(
        f"/api/places/{place_id}", {"address": "Nowhere street 99"}, format="json"
    )
    assert lost.status_code == 400 and lost.json()["code"] == "coordinates_required"
    assert dispatcher_client.get(f"/api/places/{place_id}").json()["lat"] == 46.5167


def test_a_geocoder_url_that_is_not_http_fails_at_startup():
    clean = {k: v for k, v in os.environ.items() if k not in ("ATMR_TESTING", "DEBUG")}
    env = {**clean, "DEBUG": "1", "GEOCODER_URL": "nominatim.example.test"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode != 0
    assert "GEOCODER_URL must be an http:// or https:// URL" in result.stderr
