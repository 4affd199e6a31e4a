"""Hostile input is a 400 (or an error frame) naming the problem, never a 500."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from atmr.parsers import MAX_DEPTH, json_depth_exceeds
from bookings.models import Client
from tests.factories import ClientFactory


def _post_raw(body: str, url: str = "/api/auth/login", client: APIClient | None = None):
    return (client or APIClient()).generic(
        "POST", url, body.encode(), content_type="application/json"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        '{"a":' * 1000 + "1" + "}" * 1000,
        "[" * 100_000 + "]" * 100_000,
        '{"email": ' + "[" * 500 + "]" * 500 + ', "password": "x"}',
        '{"email": "a@b.test", "password": NaN}',
        '{"email": "a@b.test", "password": "\\ud800"}',
    ],
    ids=["list-1000", "object-1000", "list-100000", "deep-value", "nan", "lone-surrogate"],
)
def test_hostile_json_bodies_are_a_400_before_log_in(body):
    response = _post_raw(body)
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.django_db
def test_ordinary_bodies_still_parse(dispatcher):
    body = json.dumps({"email": dispatcher.email, "password": "pw-correct-horse"})
    assert _post_raw(body).status_code == 200
    assert _post_raw('{"email": "x@y.test", "password": "é"}').status_code == 401


def test_depth_limit_counts_levels_without_recursion():
    nested: object = 1
    for _ in range(MAX_DEPTH):
        nested = [nested]
    assert not json_depth_exceeds(nested, MAX_DEPTH)
    assert json_depth_exceeds([nested], MAX_DEPTH)
    deep: object = {}
    for _ in range(50_000):  # far past Python's recursion limit
        deep = {"a": deep}
    assert json_depth_exceeds(deep, MAX_DEPTH)


# --- clients: a position is both coordinates or none ---------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "coordinates",
    [{"lat": 46.5}, {"lon": 6.6}, {"lat": 46.5, "lon": None}, {"lat": None, "lon": 6.6}],
)
def test_client_with_half_a_position_is_400(dispatcher_client, coordinates):
    body = {"first_name": "Ann", "last_name": "Lee", **coordinates}
    response = dispatcher_client.post("/api/clients", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) <= {"lat", "lon"} and response.json()
    assert not Client.objects.exists()


@pytest.mark.django_db
def test_client_patch_cannot_drop_one_coordinate(company, dispatcher_client):
    client = ClientFactory(company=company)
    response = dispatcher_client.patch(f"/api/clients/{client.id}", {"lon": None}, format="json")
    assert response.status_code == 400
    response = dispatcher_client.patch(
        f"/api/clients/{client.id}", {"lat": None, "lon": None}, format="json"
    )
    assert response.status_code == 200
    client.refresh_from_db()
    assert (client.lat, client.lon) == (None, None)


@pytest.mark.django_db
def test_client_model_and_database_refuse_half_a_position(company):
    client = ClientFactory.build(company=company, lat=46.5, lon=None)
    with pytest.raises(ValidationError) as refused:
        client.full_clean()
    assert "lon" in refused.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        client.save()


# --- NUL characters (PostgreSQL text cannot hold them) are a field error ---------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/clients", {"first_name": "A\x00", "last_name": "B"}, "first_name"),
        ("/api/clients", {"first_name": "A", "last_name": "B", "notes": "x\x00y"}, "notes"),
        (
            "/api/drivers",
            {"email": "d@x.test", "first_name": "A", "last_name": "\x00"},
            "last_name",
        ),
        ("/api/auth/login", {"email": "a@b.test", "password": "pw\x00"}, "password"),
    ],
)
def test_nul_in_text_is_a_field_error(dispatcher_client, url, body, field):
    response = dispatcher_client.post(url, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
