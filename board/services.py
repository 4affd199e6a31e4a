"""The board's access token: the admin's session becomes a short-lived API/socket token.

The board page reads only through the public API and the company socket, as any other client
would; this is the one bridge from the back-office session to those. The token is an ordinary
access token (atmr/accounts/tokens.py claims, `ACCESS_TOKEN_LIFETIME`): the API and the socket
check it the same way as a phone's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypedDict

from rest_framework_simplejwt.tokens import AccessToken

from atmr.accounts.models import Company, User
from atmr.accounts.tokens import refresh_token_for, user_check_may_sign_in
from atmr.exceptions import DomainError, NotFound


class BoardToken(TypedDict):
    access: str
    expires_at: str
    company_id: str


def board_company(*, user: User, company_id: str | None) -> Company:
    """The company whose board `user` opens: staff always their own (`company_id` ignored);
    a superuser the active one named (NotFound when unknown or not a UUID; DomainError when
    none is named and the superuser has no company of its own)."""
    if not user.is_superuser or (user.company_id is not None and not company_id):
        user_check_may_sign_in(user)
        assert user.company is not None  # user_check_may_sign_in refuses users without one
        return user.company
    if not company_id:
        raise DomainError("Pick a company.", field="company")
    try:
        return Company.objects.get(id=uuid.UUID(company_id), active=True)
    except (Company.DoesNotExist, ValueError):
        raise NotFound("Unknown company.", field="company") from None


def board_token_issue(*, user: User, company: Company) -> BoardToken:
    """An access token for `company`'s board. Staff get their own claims (refreshed from the
    user row); a superuser acts as that company's admin for the token's lifetime."""
    if user.company_id == company.id:
        access = refresh_token_for(user).access_token
    else:
        access = AccessToken.for_user(user)
        access["email"] = user.email
        access["role"] = User.Role.ADMIN
        access["company_id"] = str(company.id)
        access["driver_id"] = None
    expires = datetime.fromtimestamp(int(access["exp"]), tz=UTC)
    return {
        "access": str(access),
        "expires_at": expires.isoformat(),
        "company_id": str(company.id),
    }
