"""JWT authentication that trusts the token's claims instead of loading the user row.

Access tokens live 15 minutes, so a deactivated user keeps API access for at most that long;
refreshing re-checks the user in the database. This saves a query on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken


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


def claims_user_from_token(token: Any) -> ClaimsUser:
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


class ClaimsJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Any) -> ClaimsUser:  # type: ignore[override]
        return claims_user_from_token(validated_token)
