from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client, override_settings

from atmr import health


def test_liveness_answers_ok_without_the_database():
    # No django_db mark: pytest-django makes any database access here an error.
    response = Client().get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


def test_liveness_needs_no_token_and_no_known_host():
    # Load balancers probe by IP address; the probe answers before the host check.
    response = Client(HTTP_HOST="10.1.2.3").get("/api/health")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/health", "/api/health/ready"])
def test_probes_refuse_writes_in_json(path):
    response = Client().post(path)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_liveness_view_answers_without_the_middleware(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "atmr.health.HealthCheckMiddleware"
    ]
    assert Client().get("/api/health").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_checks_the_database_and_redis():
    response = Client().get("/api/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] in ("ok", "not configured")


@pytest.mark.django_db
def test_readiness_names_the_database_when_it_is_down():
    with mock.patch.object(health, "database_ok", autospec=True, return_value=False):
        response = Client().get("/api/health/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


@pytest.mark.django_db
def test_readiness_names_redis_when_it_is_unreachable():
    # A closed port on loopback: the real client fails fast with a connection error.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = Client().get("/api/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"] and body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readiness_without_redis_configured_is_ready():
    with override_settings(REDIS_URL=""):
        response = Client().get("/api/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "not configured"
