"""OpenAPI generation: the JWT scheme, each operation's own description, and its error bodies.

Every operation documents the errors it can answer, derived from what the view declares
(authentication, role permission, input, path ids, pagination, throttles), with the bodies
`atmr.exceptions.api_exception_handler` really sends:

- `Error` `{"code", "detail", "field"?}`: every error that is not a field-by-field validation
  error (401, 403, 404, 409, 429, and 400 for domain rules and unreadable JSON);
- `ValidationError` `{field: [messages]}`: a serializer's field errors (400).

A 409 depends on the business rule, not on the view's shape: views declare it with
`@extend_schema(responses={..., 409: conflict("when")})`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from atmr.permissions import CompanyRolePermission


class ClaimsJWTScheme(SimpleJWTScheme):
    target_class = "atmr.accounts.authentication.ClaimsJWTAuthentication"
    name = "jwtAuth"


class ErrorSerializer(serializers.Serializer):
    """Every error but a field-by-field validation error. Some carry more keys (e.g. the
    conflicting run's id)."""

    code = serializers.CharField(help_text="Stable, for programs: `not_found`, `conflict`, …")
    detail = serializers.CharField(help_text="For people.")
    field = serializers.CharField(required=False, help_text="The input field at fault, if one.")


def conflict(description: str) -> OpenApiResponse:
    """A documented 409 for `@extend_schema(responses={409: conflict("...")})`."""
    return OpenApiResponse(ErrorSerializer, description=f"Conflict: {description}")


_VALIDATION_ERROR = {
    "type": "object",
    "description": "Field name (or `non_field_errors`) → its messages; nested input nests.",
    "additionalProperties": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}]},
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses and no inherited descriptions."""

    # drf-spectacular's AutoSchema drops the (path, method) arguments of DRF's, which the
    # stubs describe; drf-spectacular's own method carries the same ignore.
    def get_description(self) -> str:  # type: ignore[override]
        """The method's own docstring, else the view class's own: a base class's docstring
        describes the base class, not the operation."""
        view_class = type(self.view)
        method = view_class.__dict__.get(self.method.lower())
        doc = getattr(method, "__doc__", None) or view_class.__dict__.get("__doc__") or ""
        return "\n".join(line.strip() for line in doc.strip().splitlines())

    def get_summary(self) -> str | None:
        """The description's first sentence, shown beside the path in Swagger UI."""
        first = self.get_description().split("\n")[0]
        return first.split(". ")[0].rstrip(".") or None

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description, schema in self._error_responses():
            if code not in responses:
                responses[code] = self._get_response_for_code(schema, code)
                responses[code]["description"] = description
        return dict(sorted(responses.items()))

    def _error_responses(self) -> list[tuple[str, str, Any]]:
        view = self.view
        error = self._component("Error", ErrorSerializer)
        permissions = [type(p) for p in view.get_permissions()]
        authenticated = bool(view.get_authenticators()) and AllowAny not in permissions
        query = [p for p in self._get_parameters() if p["in"] != "path"]
        takes_input = self._get_request_body() is not None or bool(query)
        has_id = "{" in self.path
        paginated = self._is_list_view() and self._get_paginator() is not None
        errors: list[tuple[str, str, Any]] = []
        if takes_input:
            schema = {"anyOf": [error, self._component("ValidationError", _VALIDATION_ERROR)]}
            errors.append(("400", "Invalid input: field errors, or a rule it breaks.", schema))
        errors.append(
            (
                "401",
                "Missing, expired or invalid access token."
                if authenticated
                else "Wrong credentials, or an invalid or expired token.",
                error,
            )
        )
        if any(issubclass(p, CompanyRolePermission) for p in permissions):
            errors.append(("403", "Your role may not do this.", error))
        if has_id or paginated:
            errors.append(
                (
                    "404",
                    "No such object in your company." if has_id else "No such page.",
                    error,
                )
            )
        if view.get_throttles():
            errors.append(("429", "Too many requests: retry after `Retry-After` seconds.", error))
        return errors

    def _component(self, name: str, source: Any) -> dict[str, str]:
        if isinstance(source, dict):
            component = ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=source
            )
            self.registry.register_on_missing(component)
            return component.ref
        return self.resolve_serializer(source, "response").ref
