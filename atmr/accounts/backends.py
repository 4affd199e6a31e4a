"""Log-in by e-mail and password for every door (API log-in, the back-office).

A user of a suspended company (`Company.active` off) may not authenticate, and a back-office
session already open stops working at its next request (Django re-reads the session's user
through `get_user`). The refusal's reason is left on the request, so the API can say
"suspended" instead of "wrong password" to someone who knows the password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from atmr.accounts.models import User

COMPANY_INACTIVE = "company_inactive"


class CompanyUserBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kw: Any
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kw)
        if user is None and request is not None and password is not None:
            email = username or kw.get(User.USERNAME_FIELD)
            suspended = User.objects.filter(
                email__iexact=email or "", is_active=True, company__active=False
            ).first()
            if suspended is not None and suspended.check_password(password):
                request.auth_refusal = COMPANY_INACTIVE
        return user

    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return user.company_id is None or user.company.active

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = User.objects.select_related("company").get(pk=user_id)
        except (User.DoesNotExist, ValueError):
            return None
        return user if self.user_can_authenticate(user) else None
