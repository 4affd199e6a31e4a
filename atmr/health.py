"""Liveness and readiness probes for load balancers, `make serve` and `make bench`.

`GET /api/health` (liveness) answers from the first middleware: no database, no cache, no
authentication, no host check (probes often come by IP address), and it stays up while
PostgreSQL or Redis is down so an orchestrator does not restart healthy web workers.
`GET /api/health/ready` (readiness) checks PostgreSQL and Redis and answers 503 naming the
one that failed, so a load balancer stops routing here until both are back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

LIVENESS_PATH = "/api/health"
_OK_BODY = b'{"status":"ok"}'
# A probe must answer well within a load balancer's usual 2-5 s timeout.
_REDIS_TIMEOUT_S = 1.0


def _ok() -> HttpResponse:
    return HttpResponse(_OK_BODY, content_type="application/json")


def _not_allowed(request: HttpRequest) -> JsonResponse:
    # Every /api/ URL answers JSON, these two included (they skip DRF's handler).
    response = JsonResponse(
        {"code": "method_not_allowed", "detail": f'Method "{request.method}" not allowed.'},
        status=405,
    )
    response["Allow"] = "GET, HEAD"
    return response


def health(request: HttpRequest) -> HttpResponse:
    """Liveness: the process serves requests. Reached only if the middleware is not installed."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request)
    return _ok()


class HealthCheckMiddleware:
    """Answers `GET /api/health` before any other middleware runs (the cheapest answer)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == LIVENESS_PATH and request.method in ("GET", "HEAD"):
            return _ok()
        return self.get_response(request)


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=_REDIS_TIMEOUT_S, socket_connect_timeout=_REDIS_TIMEOUT_S
    )


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure (refused, auth, timeout) means "not ready"
        return False


def redis_ok() -> bool | None:
    """True/False, or None when no Redis is configured (in-process cache and layers)."""
    if not settings.REDIS_URL:
        return None
    try:
        return bool(_redis_client(settings.REDIS_URL).ping())
    except Exception:  # any failure (refused, auth, timeout) means "not ready"
        return False


def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when PostgreSQL and Redis answer, else 503 naming what failed."""
    if request.method not in ("GET", "HEAD"):
        return _not_allowed(request)
    results = {"database": database_ok(), "redis": redis_ok()}
    checks = {
        name: "not configured" if ok is None else ("ok" if ok else "failed")
        for name, ok in results.items()
    }
    failed = [name for name, state in checks.items() if state == "failed"]
    body: dict[str, object] = {"status": "unavailable" if failed else "ok", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
