"""The travel-time provider this process uses, built once from settings."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.cache import cache

from atmr.metrics import CountingBreaker
from dispatch.engine.travel import MatrixProvider, OsrmMatrixProvider, StraightLineProvider
from dispatch.engine.travel.providers import GroupsProvider, PairProvider


@functools.cache
def _provider_for(
    url: str, timeout_s: float, max_table_size: int, algorithm: str = "ch"
) -> OsrmMatrixProvider | StraightLineProvider:
    if not url:
        return StraightLineProvider()
    # Django's cache is shared by every process (Redis in production), so the travel-time
    # cache and the circuit breaker's state are too.
    provider = OsrmMatrixProvider(
        url,
        store=cache,
        timeout_s=timeout_s,
        max_table_size=max_table_size,
        one_to_many=algorithm == "mld",
    )
    # Counts every OSRM attempt and its outcome (atmr_osrm_requests_total); same breaker.
    provider.client.breaker = CountingBreaker(provider.breaker)
    return provider


def _provider() -> OsrmMatrixProvider | StraightLineProvider:
    return _provider_for(
        settings.OSRM_URL,
        settings.OSRM_TIMEOUT_S,
        settings.OSRM_MAX_TABLE_SIZE,
        settings.OSRM_ALGORITHM,
    )


def travel_provider() -> MatrixProvider:
    return _provider()


def travel_pairs_provider() -> PairProvider:
    """The same provider, for callers that need a few legs rather than a matrix (ETAs)."""
    return _provider()


def travel_matrices_provider() -> GroupsProvider:
    """The same provider, for callers that need several small matrices at once (insertion
    proposals: one per candidate driver) in one cache read and one OSRM fetch."""
    return _provider()


def travel_source() -> str:
    return "osrm" if settings.OSRM_URL else "straight_line"
