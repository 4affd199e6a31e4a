"""The places services' edges that the API and admin tests do not reach directly."""

from __future__ import annotations

import pytest

from bookings.services import Place as Stop
from places import services
from places.errors import PlaceNameTaken
from places.models import Place
from places.tests.factories import PlaceFactory
from tests.factories import LAUSANNE


@pytest.mark.django_db
def test_a_second_global_place_of_the_same_name_is_refused_on_name(company):
    PlaceFactory(name="HUG")
    PlaceFactory(name="HUG", company=company)  # a company's own of that name is no clash
    with pytest.raises(PlaceNameTaken) as refused:
        services.place_create(company=None, name="HUG", address="Genève", lat=46.2, lon=6.1)
    assert refused.value.field == "name" and "A global place" in refused.value.detail
    assert Place.objects.filter(name="HUG", company__isnull=True).count() == 1


def test_a_stop_gives_its_coordinates_once_resolved():
    assert Stop("Rue du Bugnon 46", *LAUSANNE).coordinates() == LAUSANNE
    with pytest.raises(ValueError, match="no coordinates"):
        Stop("Rue du Bugnon 46").coordinates()
