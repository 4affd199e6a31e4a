"""Login throttles: per client IP and per e-mail, so neither spraying nor guessing scales.

The client IP is the peer's address unless the peer is a proxy we trust: `X-Forwarded-For` is
whatever the sender wrote, so taking it from anyone would let an attacker pick a fresh
"address" for every guess. Trusted proxies are `TRUSTED_PROXIES` (addresses or CIDRs; the
header is then read from the right, skipping trusted hops) or, when only the count is known,
`NUM_PROXIES` (the address that many hops from the right, as DRF counts).
"""

from __future__ import annotations

import hashlib
import ipaddress
from functools import cache
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(proxies: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: str, networks: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: Any) -> str:
    """The caller's address, from `X-Forwarded-For` only when a trusted proxy sent it."""
    meta = request.META
    peer = str(meta.get("REMOTE_ADDR", ""))
    header = str(meta.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    networks = _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not hops:
        return peer
    if networks:
        if not _is_trusted(peer, networks):
            return peer
        for hop in reversed(hops):
            if not _is_trusted(hop, networks):
                return hop if _valid(hop) else peer
        return hops[0] if _valid(hops[0]) else peer
    count = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    if count > 0:
        hop = hops[-min(count, len(hops))]
        return hop if _valid(hop) else peer
    return peer


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


class LoginIpThrottle(SimpleRateThrottle):
    scope = "login_ip"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


class LoginEmailThrottle(SimpleRateThrottle):
    scope = "login_email"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        email = data.get("email")
        if not isinstance(email, str) or not email.strip():
            return None  # not an address: the serializer refuses it, the IP throttle counts it
        # Hashed: any text the caller sends becomes a short key of safe characters.
        ident = hashlib.sha256(email.strip().lower()[:254].encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
