"""With Redis stopped or frozen, the API answers from PostgreSQL; readiness reports the outage.

A real redis-server of the test's own (port 6391 on loopback), which the test stops or
freezes (SIGSTOP): the shared Redis is never touched. The time bound is generous (a loaded
machine) but well below the 5 s a call used to hang.
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from rest_framework.test import APIClient

from atmr import redis_cache
from tests.factories import BookingFactory

pytestmark = pytest.mark.django_db
REDIS_PORT = 6391
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
BOUND_S = 3.0


@pytest.fixture
def own_redis(settings) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", REDIS_PORT)) == 0:
            pytest.skip(f"port {REDIS_PORT} is taken")
    process = subprocess.Popen(
        [binary, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", *("--save", "")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        settings.CACHES = {
            "default": {
                "BACKEND": "atmr.redis_cache.ReusingRedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": "outage-test",
            }
        }
        settings.REDIS_URL = REDIS_URL
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(timeout=10)


def _timed(call) -> tuple[object, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _exercise(dispatcher, company) -> None:
    BookingFactory(company=company)
    login = APIClient()
    response, took = _timed(
        lambda: login.post(
            "/api/auth/login",
            {"email": dispatcher.email, "password": "pw-correct-horse"},
            format="json",
        )
    )
    assert response.status_code == 200 and took < BOUND_S, (response.status_code, took)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    for url in ("/api/companies/me", "/api/bookings?date=2026-12-01", "/api/bookings"):
        for _ in range(2):  # the second call would come from the cache
            response, took = _timed(lambda url=url: api.get(url))
            assert response.status_code == 200 and took < BOUND_S, (url, took)
    assert api.get("/api/bookings?date=2026-12-01").json()["count"] == 1
    ready = APIClient().get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["redis"]


def test_api_answers_with_redis_stopped(own_redis, dispatcher, company, caplog):
    own_redis.terminate()
    own_redis.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="atmr.redis_cache"):
        _exercise(dispatcher, company)
    warnings = [r for r in caplog.records if r.name == "atmr.redis_cache"]
    assert len(warnings) == 1  # one line for the outage, not one per call


def test_api_answers_with_redis_frozen(own_redis, dispatcher, company):
    own_redis.send_signal(signal.SIGSTOP)
    _exercise(dispatcher, company)


def test_the_cache_comes_back_with_redis(own_redis, dispatcher, company, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(redis_cache, "RETRY_AFTER_S", 0.2)
    own_redis.send_signal(signal.SIGSTOP)
    cache.set("probe", 1)
    assert cache.get("probe") is None
    own_redis.send_signal(signal.SIGCONT)
    time.sleep(0.3)
    cache.set("probe", 2)
    assert cache.get("probe") == 2


def test_every_call_has_short_timeouts(own_redis):
    from django.core.cache import cache

    pool = cache._cache._get_connection_pool(write=True)
    kwargs = pool.connection_kwargs
    assert kwargs["socket_timeout"] <= 0.1 and kwargs["socket_connect_timeout"] <= 0.1
