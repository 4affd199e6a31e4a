"""The places list (rows, atmr/row_shapes.py) writes exactly what PlaceOutputSerializer does."""

from __future__ import annotations

import pytest
from rest_framework.renderers import JSONRenderer

from places.selectors import place_list
from places.serializers import PlaceOutputSerializer, place_list_data
from places.tests.factories import PlaceFactory

pytestmark = pytest.mark.django_db


def test_rows_are_the_serializers_bytes(company, other_company, dispatcher_client):
    PlaceFactory(name="HUG", aliases=["Hôpital cantonal", "Hôpitaux universitaires"])
    PlaceFactory(name="Zoé's practice — côté lac", company=company, aliases=[], lat=46.123456789)
    PlaceFactory(name="Theirs", company=other_company)
    queryset = place_list(company_id=company.id).order_by("name")
    rows = place_list_data(queryset)
    expected = PlaceOutputSerializer(list(queryset), many=True).data
    assert JSONRenderer().render(rows) == JSONRenderer().render(expected)
    body = dispatcher_client.get("/api/places").json()["results"]
    assert [p["is_global"] for p in body] == [True, False]
    assert body[0]["aliases"] == ["Hôpital cantonal", "Hôpitaux universitaires"]
