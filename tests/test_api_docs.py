"""The API's documentation is true and local, and every /api/ URL answers JSON."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from atmr.api import CompanyApiView, CompanyListApiView, RowListApiView
from tests.factories import DriverFactory, UserFactory

pytestmark = pytest.mark.django_db

GENERIC_DOCS = {
    " ".join((cls.__doc__ or "").split())
    for cls in (CompanyApiView, CompanyListApiView, RowListApiView)
}


@pytest.fixture(scope="module")
def openapi():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


# --- Swagger UI from our own files ------------------------------------------------------------


def test_docs_page_loads_only_our_own_static_files():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.findall(r"https?://", html), "the docs page names another host"
    # Swagger UI's default online validator would fetch a badge from another host.
    assert '"validatorUrl": null' in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert not urlsplit(asset).netloc and asset.startswith("/static/"), asset
        response = Client().get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content if response.streaming else [response.content])


# --- every operation documented ---------------------------------------------------------------


def test_every_operation_has_its_own_description(openapi):
    descriptions = {}
    for name, operation in _operations(openapi):
        text = " ".join(operation.get("description", "").split())
        assert text, f"{name} has no description"
        assert text not in GENERIC_DOCS, f"{name} shows a base class's docstring"
        assert text.startswith(operation["summary"]), name
        descriptions.setdefault(text, []).append(name)
    shared = {text: names for text, names in descriptions.items() if len(names) > 1}
    assert not shared, shared


def test_every_operation_documents_its_errors(openapi):
    for name, operation in _operations(openapi):
        responses = operation["responses"]
        parameters = operation.get("parameters", [])
        if {} not in operation.get("security", [{}]):  # needs a token
            assert "401" in responses and "403" in responses, name
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            assert "400" in responses, name
        if any(p["in"] == "path" for p in parameters):
            assert "404" in responses, name
        for code, response in responses.items():
            if code.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
                assert "#/components/schemas/Error" in refs, (name, code)


def test_error_bodies_are_documented_as_they_are(openapi):
    components = openapi["components"]["schemas"]
    assert components["Error"]["required"] == ["code", "detail"]
    assert set(components["Error"]["properties"]) == {"code", "detail", "field"}
    assert components["ValidationError"]["type"] == "object"
    login = openapi["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"400", "401", "429"} <= set(login)
    apply = openapi["paths"]["/api/dispatch/runs/{run_id}/apply"]
    assert set(apply) == {"post"}, "GET of a run is its own URL"
    assert "409" in apply["post"]["responses"]
    assert "409" in openapi["paths"]["/api/bookings/{booking_id}/assign"]["post"]["responses"]


def test_shift_times_are_local_times_of_day(openapi, dispatcher_client, company):
    shift = openapi["components"]["schemas"]["DriverOutput"]["properties"]["shift_start"]
    pattern = shift["pattern"]
    assert shift["format"] == "partial-time"
    DriverFactory(company=company)
    listed = dispatcher_client.get("/api/drivers").json()["results"][0]
    one = dispatcher_client.get(f"/api/drivers/{listed['id']}").json()
    for driver in (listed, one):
        assert driver["shift_start"] == "07:00:00"
        assert re.match(pattern, driver["shift_start"]) and re.match(pattern, driver["shift_end"])


@pytest.mark.parametrize("value", ["13:52:20+02:00", "07:00:00Z", "07:00:00.5", "7h", 700])
def test_shift_time_with_an_offset_is_refused(dispatcher_client, company, value):
    driver = DriverFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/drivers/{driver.id}", {"shift_start": value}, format="json"
    )
    assert response.status_code == 400
    assert "shift_start" in response.json()


def test_shift_time_without_seconds_is_read(dispatcher_client, company):
    driver = DriverFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/drivers/{driver.id}", {"shift_start": "06:30"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["shift_start"] == "06:30:00"


# --- JSON at every /api/ URL ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/bookings/not-a-uuid/cancel"),
        ("get", "/api/bookings/not-a-uuid"),
        ("get", "/api/nope"),
        ("delete", "/api/bookings/123/assign/extra"),
    ],
)
def test_unknown_api_paths_answer_a_json_404(dispatcher_client, method, path):
    response = getattr(dispatcher_client, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    assert path in response.json()["detail"]


def test_unknown_api_path_needs_no_token_to_be_a_json_404():
    response = Client().post("/api/nope", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_api_url_without_its_trailing_slash_redirects():
    response = Client().get("/api/docs")
    assert response.status_code == 301
    assert response["Location"] == "/api/docs/"


def test_drf_errors_carry_a_code_too(dispatcher_client, driver_client):
    missing = dispatcher_client.get(f"/api/bookings/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    anonymous = APIClient().get("/api/bookings")
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }
    forbidden = driver_client.post("/api/vehicles", {"plate": "X"}, format="json")
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    unreadable = dispatcher_client.post(
        "/api/vehicles", data="{nope", content_type="application/json"
    )
    assert unreadable.status_code == 400
    assert unreadable.json()["code"] == "parse_error"


def test_a_validation_error_outside_a_serializer_is_an_object_of_fields(dispatcher_client):
    response = dispatcher_client.get("/api/clients", {"search": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Null characters are not allowed."]}


def test_a_crash_under_api_answers_json(dispatcher_client, monkeypatch):
    from atmr.accounts import api as accounts_api

    def crash(**kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(accounts_api, "company_get", crash)
    dispatcher_client.raise_request_exception = False
    response = dispatcher_client.get("/api/companies/me")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "detail": "Server error: it has been logged.",
    }


def test_admin_errors_stay_html():
    client = Client()
    client.force_login(UserFactory(company=None, is_superuser=True, is_staff=True))
    response = client.get("/admin/no-such-app/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    outside = Client().get("/nope")
    assert outside.status_code == 404
    assert outside["Content-Type"].startswith("text/html")


# --- each 4xx logged once ---------------------------------------------------------------------


def test_a_4xx_is_one_log_record(dispatcher_client, caplog):
    missing = uuid.uuid4()
    with caplog.at_level(logging.INFO):
        dispatcher_client.get("/api/bookings/not-a-uuid")
        dispatcher_client.get(f"/api/bookings/{missing}")
        APIClient().get("/api/bookings")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.getMessage()) for r in warnings] == [
        ("django.request", "Not Found: /api/bookings/not-a-uuid"),
        ("django.request", f"Not Found: /api/bookings/{missing}"),
        ("django.request", "Unauthorized: /api/bookings"),
    ]


def test_a_4xx_is_printed_once_with_debug_on():
    # Django's default logging adds a console handler of its own to "django" when DEBUG is on.
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "Client().get('/api/nope', HTTP_HOST='127.0.0.1')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ATMR_TESTING"}
    env.update(DEBUG="1", DEBUG_TOOLBAR="0", DJANGO_SETTINGS_MODULE="atmr.settings")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Not Found: /api/nope") == 1, result.stderr


def test_item_errors_of_a_list_field_render_as_a_400_not_a_500(rf):
    # DRF keys a ListField's item errors by their index (an int); orjson refused int keys, so
    # any list input with a bad item answered 500 instead of naming the item.
    import orjson
    from rest_framework import serializers
    from rest_framework.views import APIView

    class Numbers(serializers.Serializer):
        values = serializers.ListField(child=serializers.IntegerField(max_value=7))

    class View(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def post(self, request):
            Numbers(data=request.data).is_valid(raise_exception=True)

    request = rf.post("/api/x", {"values": [1, 9]}, content_type="application/json")
    response = View.as_view()(request)
    response.render()
    assert response.status_code == 400
    assert orjson.loads(response.content) == {
        "values": {"1": ["Ensure this value is less than or equal to 7."]}
    }
