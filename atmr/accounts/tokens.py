"""Issuing tokens: the claims every request relies on are written here and only here.

Claims always come from the user row as it is now: at log-in and at every refresh (a refresh
never copies the old token's role, company or driver), so a role or company change, a
deactivated user or a suspended company takes effect at the next refresh at the latest.
"""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from atmr.accounts.models import User
from atmr.exceptions import Unauthorized


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


def user_check_may_sign_in(user: User | None) -> User:
    """The user if it may hold tokens now; else Unauthorized (401) saying why."""
    if user is None or not user.is_active:
        raise Unauthorized("This account is disabled or no longer exists.", code="user_inactive")
    company = user.company
    if company is None:
        raise Unauthorized("This account belongs to no company.", code="no_company")
    if not company.active:
        raise Unauthorized("This company's account is suspended.", code="company_inactive")
    return user


def tokens_refresh(*, refresh: str) -> dict[str, Any]:
    """A new access token whose claims are read from the database now.

    Raises Unauthorized for a bad, expired or blacklisted refresh token, and for a user who
    was deleted, deactivated or whose company was suspended since.
    """
    try:
        # Checks the blacklist too. simplejwt annotates the argument as a Token; it is the
        # encoded token, as its own serializers pass it.
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError as exc:
        raise Unauthorized(exc.args[0], code="token_not_valid") from exc
    user_id = token.payload.get("user_id")
    user = (
        None
        if user_id is None
        else User.objects.select_related("company", "driver_profile").filter(id=user_id).first()
    )
    user = user_check_may_sign_in(user)
    access = token.access_token
    for key, value in token_claims(user).items():
        access[key] = value
    return {"access": str(access)}
