"""Role checks for API views: a view names the roles that may read and write it."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from atmr.accounts.authentication import request_claims_user

ADMIN = ("admin",)
OFFICE = ("admin", "dispatcher")
EVERYONE = ("admin", "dispatcher", "driver")


class CompanyRolePermission(BasePermission):
    """Requires a company user whose role is in the view's `read_roles` / `write_roles`."""

    message = "Your role may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request_claims_user(request)
        if user is None or not user.company_id:
            return False
        roles = getattr(view, "read_roles", OFFICE)
        if request.method not in SAFE_METHODS:
            roles = getattr(view, "write_roles", OFFICE)
        return user.role in roles
