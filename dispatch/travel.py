"""The travel-time provider this process uses, built once from settings."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.cache import cache

from atmr.metrics import CountingBreaker
from dispatch.engine.travel import MatrixProvider, OsrmMatrixProvider, StraightLineProvider
from dispatch.engine.travel.providers import PairProvider


@functools.cache
def _provider_for(
    url: str, timeout_s: float, max_table_size: int
) -> OsrmMatrixProvider | StraightLineProvider:
    if not url:
        return StraightLineProvider()
    # Django's cache is shared by every process (Redis in production), so the travel-time
    # cache and the circuit breaker's state are too.
    provider = OsrmMatrixProvider(
        url, store=cache, timeout_s=timeout_s, max_table_size=max_table_size
    )
    # Counts every OSRM attempt and its outcome (atmr_osrm_requests_total); same breaker.
    provider.client.breaker = CountingBreaker(provider.breaker)
    return provider


def travel_provider() -> MatrixProvider:
    return _provider_for(settings.OSRM_URL, settings.OSRM_TIMEOUT_S, settings.OSRM_MAX_TABLE_SIZE)


def travel_pairs_provider() -> PairProvider:
    """The same provider, for callers that need a few legs rather than a matrix (ETAs)."""
    return _provider_for(settings.OSRM_URL, settings.OSRM_TIMEOUT_S, settings.OSRM_MAX_TABLE_SIZE)


def travel_source() -> str:
    return "osrm" if settings.OSRM_URL else "straight_line"
