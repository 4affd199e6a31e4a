"""Socket authentication: the API's JWT access token, checked once when the socket opens.

The token comes from the `Authorization: Bearer <token>` handshake header (phones; keeps it
out of access logs), the `Sec-WebSocket-Protocol` header as the pair `atmr.bearer, <token>`
(browsers: `new WebSocket(url, ["atmr.bearer", token])`, also out of URLs and logs), or the
`?token=<token>` query string (kept for older clients). Its
claims (see atmr/accounts/tokens.py) are trusted as the API trusts them: no user query. The
company is read (cached) once at connect: a suspended company's users may not open sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_get

# Close codes (also in realtime/PROTOCOL.md).
CLOSE_UNAUTHENTICATED = 4401  # missing, malformed, badly signed or expired token
CLOSE_FORBIDDEN = 4403  # valid token, but this role may not open this endpoint

# Browsers cannot set handshake headers but can offer subprotocols: this one, then the token.
BEARER_SUBPROTOCOL = "atmr.bearer"


class SocketAuthError(Exception):
    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SocketUser:
    """Who is on the socket, as the access token says; kept for the socket's lifetime."""

    id: str
    email: str
    role: str
    company_id: str
    driver_id: str | None
    expires_at: datetime

    @property
    def is_driver(self) -> bool:
        return self.role == "driver"

    @property
    def is_office(self) -> bool:
        return self.role in ("admin", "dispatcher")


def bearer_subprotocol(scope: dict[str, Any]) -> str | None:
    """The token offered as the subprotocol after `atmr.bearer`, if the client did so."""
    offered = list(scope.get("subprotocols") or ())
    if BEARER_SUBPROTOCOL in offered:
        at = offered.index(BEARER_SUBPROTOCOL)
        if at + 1 < len(offered) and offered[at + 1].strip():
            return str(offered[at + 1]).strip()
    return None


def token_from_scope(scope: dict[str, Any]) -> str | None:
    offered = bearer_subprotocol(scope)
    if offered:
        return offered
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    tokens = query.get("token")
    return tokens[0] if tokens else None


def authenticate_scope(scope: dict[str, Any]) -> SocketUser:
    """The socket's user from its access token; raises SocketAuthError (4401) when invalid."""
    raw = token_from_scope(scope)
    if not raw:
        raise SocketAuthError(CLOSE_UNAUTHENTICATED, "No access token.")
    try:
        # simplejwt annotates this argument as a Token, but it takes (and decodes) the raw str.
        token = AccessToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise SocketAuthError(CLOSE_UNAUTHENTICATED, str(exc)) from exc
    try:
        user_id, role, company_id = token["user_id"], token["role"], token["company_id"]
    except KeyError as exc:
        raise SocketAuthError(CLOSE_UNAUTHENTICATED, f"Token has no {exc.args[0]!r}.") from exc
    if not company_id:
        raise SocketAuthError(CLOSE_FORBIDDEN, "Only company users may open sockets.")
    driver_id = token.get("driver_id")
    return SocketUser(
        id=str(user_id),
        email=str(token.get("email", "")),
        role=str(role),
        company_id=str(company_id),
        driver_id=str(driver_id) if driver_id else None,
        expires_at=datetime.fromtimestamp(int(token["exp"]), tz=UTC),
    )


def socket_company_check(user: SocketUser) -> None:
    """Raises SocketAuthError (4403) when the user's company is suspended or gone."""
    try:
        company = company_get(company_id=user.company_id)
    except (Company.DoesNotExist, ValueError):
        raise SocketAuthError(CLOSE_UNAUTHENTICATED, "Unknown company.") from None
    if not company.active:
        raise SocketAuthError(CLOSE_FORBIDDEN, "This company's account is suspended.")


async def authenticate_socket(scope: dict[str, Any]) -> SocketUser:
    """authenticate_scope, then the company check (one cached read, off the event loop)."""
    user = authenticate_scope(scope)
    await database_sync_to_async(socket_company_check)(user)
    return user
