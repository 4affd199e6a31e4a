"""Addresses to coordinates through a Nominatim-compatible `/search` API (`GEOCODER_URL`).

Optional: without `GEOCODER_URL` (or when it fails) an address needs its coordinates typed.
Answers are cached in Django's cache (Redis in production, shared by every process), found
ones for `GEOCODER_CACHE_S`, "nothing found" for an hour; failures are not cached, so the
next save tries again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache

from places.models import search_normalise

logger = logging.getLogger(__name__)

NOT_FOUND_CACHE_S = 3600
_NOT_FOUND = "-"
# Nominatim's usage policy asks every client to name itself.
USER_AGENT = "ATMR patient-transport dispatch"


@dataclass(frozen=True)
class Coordinates:
    lat: float
    lon: float


def geocode(address: str) -> Coordinates | None:
    """The first match for `address`, or None: no geocoder set, nothing found, or it failed
    (timeout after `GEOCODER_TIMEOUT_S`, HTTP error, an answer that is not a position)."""
    base = settings.GEOCODER_URL
    if not base or not address.strip():
        return None
    key = _cache_key(base, address)
    cached = cache.get(key)
    if cached == _NOT_FOUND:
        return None
    if cached is not None:
        return Coordinates(*cached)
    try:
        found = _search(base, address)
    except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
        logger.warning("Geocoder %s failed for an address: %s", base, exc)
        return None
    if found is None:
        cache.set(key, _NOT_FOUND, NOT_FOUND_CACHE_S)
    else:
        cache.set(key, (found.lat, found.lon), settings.GEOCODER_CACHE_S)
    return found


def _cache_key(base: str, address: str) -> str:
    # Hashed: an address is personal data (a patient's home), and keys have a length limit.
    digest = hashlib.sha256(f"{base}\n{search_normalise(address)}".encode()).hexdigest()
    return f"geocode:v1:{digest}"


def _search(base: str, address: str) -> Coordinates | None:
    response = httpx.get(
        f"{base.rstrip('/')}/search",
        params={"format": "jsonv2", "q": address, "limit": 1},
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=settings.GEOCODER_TIMEOUT_S,
    )
    response.raise_for_status()
    results = response.json()
    if not isinstance(results, list):
        raise ValueError("the answer is not a list of places")
    if not results:
        return None
    lat, lon = float(results[0]["lat"]), float(results[0]["lon"])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"position out of range: {lat}, {lon}")
    return Coordinates(lat, lon)
