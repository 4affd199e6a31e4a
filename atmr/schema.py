"""OpenAPI extensions: the JWT scheme for our claims-based authentication."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class ClaimsJWTScheme(SimpleJWTScheme):
    target_class = "atmr.accounts.authentication.ClaimsJWTAuthentication"
    name = "jwtAuth"
