"""Places for tests (kept beside them: tests/factories.py is shared by every app)."""

from __future__ import annotations

import factory

from places.models import Place, place_search_text
from tests.factories import LAUSANNE


class PlaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Place

    company = None
    name = factory.Sequence(lambda n: f"Place {n}")
    kind = Place.Kind.HOSPITAL
    address = "Rue du Bugnon 46, Lausanne"
    lat, lon = LAUSANNE
    aliases = factory.LazyFunction(list)
    search_text = factory.LazyAttribute(lambda o: place_search_text(o.name, o.aliases))
