"""Issuing tokens: the claims every request relies on are written here and only here."""

from __future__ import annotations

from rest_framework_simplejwt.tokens import RefreshToken

from atmr.accounts.models import User


def token_claims(user: User) -> dict[str, str | None]:
    driver = getattr(user, "driver_profile", None)
    return {
        "email": user.email,
        "role": user.role,
        "company_id": str(user.company_id) if user.company_id else None,
        "driver_id": str(driver.id) if driver else None,
    }


def refresh_token_for(user: User) -> RefreshToken:
    token = RefreshToken.for_user(user)
    for key, value in token_claims(user).items():
        token[key] = value
    return token
