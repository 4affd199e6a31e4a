"""Domain errors raised by services, and the API's single error format for them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A business rule said no. `code` is stable for clients; `detail` is for people."""

    code = "domain_error"
    http_status = status.HTTP_400_BAD_REQUEST

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
    if isinstance(exc, DjangoValidationError):
        # Model validation that slipped past a serializer is still the caller's bad input.
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = ValidationError(detail=detail)
    return exception_handler(exc, context)
