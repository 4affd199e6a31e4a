from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_valid_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in ("/api/bookings", "/api/bookings/{booking_id}/assign", "/api/auth/login"):
        assert f"{path}:" in schema


def test_schema_and_docs_are_served():
    client = APIClient()
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ATMR_TESTING", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "-production-secret-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="atmr.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_bad_boolean_in_environment_fails_at_startup():
    result = _manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_bad_osrm_algorithm_fails_at_startup():
    result = _manage("check", OSRM_ALGORITHM="fast")
    assert result.returncode != 0
    assert "OSRM_ALGORITHM must be ch or mld" in result.stderr


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL; CI sets it)")
def test_redis_cache_takes_keys_memcached_would_not(settings):
    import warnings

    from django.core.cache import CacheKeyWarning

    from atmr.redis_cache import ReusingRedisCache

    cache = ReusingRedisCache(settings.REDIS_URL, {"KEY_PREFIX": "atmr-test-keys"})
    key = "a key with spaces " + "x" * 300
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        cache.set(key, 1, 60)
        assert cache.get_many([key]) == {key: 1}
        cache.delete(key)


def test_redis_cache_reuses_one_client_per_pool():
    from atmr.redis_cache import ReusingRedisCache

    backend = ReusingRedisCache("redis://127.0.0.1:6379/0", {})._cache
    client = backend.get_client("a")
    assert backend.get_client("b", write=True) is client
    assert client.connection_pool is backend._get_connection_pool(write=False)
