"""JWT authentication that trusts the token's claims instead of loading the user row.

Access tokens live 15 minutes, so a deactivated user keeps API access for at most that long;
refreshing re-checks the user in the database. This saves a query on every request.

A token verified once is remembered until it expires: checking the signature and claims again
cost about a third of a cached API response's CPU, and a token's bytes cannot change.

A suspended company (`Company.active = false`) loses access within `RECHECK_S` seconds: its
tokens are refused while the suspension mark (atmr/accounts/tokens.py, a cache read, no SQL)
is set, checked when a token is first seen and again every `RECHECK_S` while remembered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

from atmr.accounts.selectors import company_is_suspended


@dataclass(frozen=True)
class ClaimsUser:
    """The requesting user as the access token describes it."""

    id: str
    email: str
    role: str
    company_id: str
    driver_id: str | None

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> str:
        return self.id

    @property
    def is_office(self) -> bool:
        return self.role in ("admin", "dispatcher")

    @property
    def is_driver(self) -> bool:
        return self.role == "driver"


def request_claims_user(request: Request) -> ClaimsUser | None:
    """The caller of an API request as its access token describes it; None without a token.

    DRF's stubs type `request.user` as the User model, but ClaimsJWTAuthentication (the only
    API authentication) sets a ClaimsUser.
    """
    user: object = request.user
    return user if isinstance(user, ClaimsUser) else None


def claims_user_from_token(token: Token) -> ClaimsUser:
    try:
        return ClaimsUser(
            id=str(token["user_id"]),
            email=str(token.get("email", "")),
            role=str(token["role"]),
            company_id=str(token["company_id"]),
            driver_id=token.get("driver_id"),
        )
    except KeyError as exc:
        raise InvalidToken(f"Token has no '{exc.args[0]}' claim.") from exc


# raw token -> (expiry as a Unix time, next suspension check, user, validated token);
# per process, bounded.
_VERIFIED: dict[bytes, tuple[float, float, ClaimsUser, Token]] = {}
VERIFIED_MAX = 4096
RECHECK_S = 10.0


class ClaimsJWTAuthentication(JWTAuthentication):
    # simplejwt types the user (here and in get_user) as one of its own classes; DRF takes
    # any object as the user.
    def authenticate(self, request: Any) -> tuple[ClaimsUser, Token] | None:  # type: ignore[override]
        header = self.get_header(request)
        raw = None if header is None else self.get_raw_token(header)
        if raw is None:
            return None
        now = time.time()
        known = _VERIFIED.get(raw)
        if known is not None and known[0] > now:
            expires, recheck, user, token = known
        else:
            token = self.get_validated_token(raw)
            expires, recheck, user = float(token["exp"]), 0.0, self.get_user(token)
        if recheck <= now:
            if company_is_suspended(company_id=user.company_id):
                _VERIFIED.pop(raw, None)
                raise AuthenticationFailed("This company's account is suspended.")
            if len(_VERIFIED) >= VERIFIED_MAX:
                _VERIFIED.clear()  # rare, and each entry is cheap to rebuild
            _VERIFIED[raw] = (expires, now + RECHECK_S, user, token)
        return user, token

    def get_user(self, validated_token: Token) -> ClaimsUser:  # type: ignore[override]
        return claims_user_from_token(validated_token)
