"""`GET /api/places?search=`: names and aliases, case- and accent-blind, on any database."""

from __future__ import annotations

import pytest

from atmr.demo import seed_places
from places.models import Place, place_search_text, search_normalise
from places.selectors import place_list, place_search
from places.tests.factories import PlaceFactory

pytestmark = pytest.mark.django_db


def test_normalise_folds_case_accents_and_punctuation():
    assert search_normalise("  Hôpital Cantonal-GENÈVE ") == "hopital cantonal geneve"
    assert search_normalise("Straße") == "strasse"
    assert place_search_text("HUG", ["Hôpital cantonal"]) == "hug | hopital cantonal"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hug", "HUG"),
        ("HUG", "HUG"),
        ("hopital cantonal", "HUG"),
        ("Hôpital Cantonal", "HUG"),
        ("CHUV", "CHUV"),
        ("chuv", "CHUV"),
        ("universitaire vaudois", "CHUV"),
        ("rennaz", "Hôpital Riviera-Chablais"),
        ("dialyse", "Centre de dialyse"),
    ],
)
def test_demo_places_are_found_by_name_or_alias(company, query, expected):
    seed_places()
    found = list(place_search(place_list(company_id=company.id), search=query))
    assert found and found[0].name == expected


def test_every_word_must_match(company):
    seed_places()
    names = [
        p.name for p in place_search(place_list(company_id=company.id), search="hopital geneve")
    ]
    assert names == ["HUG"]
    assert not place_search(place_list(company_id=company.id), search="hopital zzz").exists()


def test_names_starting_with_the_text_come_first(company):
    PlaceFactory(name="Clinique du Lac")
    PlaceFactory(name="Lac Clinic", company=company)
    names = [p.name for p in place_search(place_list(company_id=company.id), search="lac")]
    assert names == ["Lac Clinic", "Clinique du Lac"]


def test_kind_filter(company):
    PlaceFactory(name="A", kind=Place.Kind.DIALYSIS)
    PlaceFactory(name="B", kind=Place.Kind.HOSPITAL)
    found = place_search(place_list(company_id=company.id), kind=Place.Kind.DIALYSIS)
    assert [p.name for p in found] == ["A"]


def test_seeding_places_twice_adds_nothing(db):
    first = seed_places()
    Place.objects.filter(name="HUG").update(aliases=[], search_text="hug")
    again = seed_places()
    assert {p.pk for p in first.values()} == {p.pk for p in again.values()}
    assert Place.objects.count() == len(first) == 10
    hug = Place.objects.get(name="HUG")
    assert "hopital cantonal" in hug.search_text and hug.company_id is None
