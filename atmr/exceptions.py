"""Domain errors raised by services, and the API's single error format for them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from psycopg.errors import DeadlockDetected, SerializationFailure
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback


class DomainError(Exception):
    """A business rule said no. `code` is stable for clients; `detail` is for people."""

    code = "domain_error"
    http_status: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class NotFound(DomainError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = status.HTTP_409_CONFLICT


class Unauthorized(APIException):
    """401 from views that take no token (login, refresh): DRF would turn those into 403."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Not authenticated."
    default_code = "not_authenticated"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    if _concurrent_write(exc):
        # Two writers locked the same trips in opposite orders (PostgreSQL aborted this one):
        # its transaction rolled back whole, so the caller may simply send it again.
        set_rollback()
        return Response(
            {
                "code": "concurrent_write",
                "detail": "Another change to the same trips was being saved at the same "
                "moment; nothing was saved. Send it again.",
            },
            status=status.HTTP_409_CONFLICT,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DjangoValidationError):
        # Model validation that slipped past a serializer is still the caller's bad input.
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = ValidationError(detail=errors)
    if isinstance(exc, ValidationError) and isinstance(exc.detail, list):
        # A field validated outside a serializer (DRF's `?search=`) says a bare list; the
        # documented shape is an object of fields.
        exc = ValidationError(detail={"non_field_errors": exc.detail})
    response = exception_handler(exc, context)
    # DRF's own errors (401, 403, 404, 405, 429, unreadable JSON) say only `detail`: give them
    # the `code` every other error carries, so clients branch on one key.
    if response is not None and isinstance(response.data, dict) and "code" not in response.data:
        detail = response.data.get("detail")
        if isinstance(detail, ErrorDetail):
            response.data = {"code": detail.code, **response.data}
    return response


def _concurrent_write(exc: BaseException) -> bool:
    """A deadlock or serialization failure PostgreSQL raised for this request's writes."""
    if not isinstance(exc, OperationalError):
        return False
    return isinstance(exc.__cause__, DeadlockDetected | SerializationFailure)


# --- Errors Django answers before or outside DRF ----------------------------------------------
# A path no API view matches (an unknown path, or an id that is not a UUID), a body Django
# refuses (400), or a crash (500): under /api/ the client gets the same JSON error shape; the
# admin and other pages keep Django's HTML pages.


def _error_json(code: str, detail: str, status_code: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status_code)


@csrf_exempt  # a 404 for any method, not a CSRF failure page
def api_not_found(request: HttpRequest) -> HttpResponse:
    """The last /api/ route: a JSON 404, or the slash-appended URL if that one exists."""
    if not request.path_info.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(f"{request.path_info}/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return HttpResponsePermanentRedirect(f"{request.path}/")
    return _error_json("not_found", f"No API endpoint at {request.path}.", 404)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error_json("bad_request", "The request could not be read.", 400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _error_json("permission_denied", "You may not do this.", 403)
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _error_json("not_found", "Not found.", 404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _error_json("server_error", "Server error: it has been logged.", 500)
    return defaults.server_error(request)
