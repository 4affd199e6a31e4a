"""Which drivers a position batch may refresh: at most one refresh per driver per 30 s,
decided in Redis so every server process agrees (dispatch/eta_schedule.py)."""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

POSITION_COALESCE_S = 30
_COALESCE_KEY = "eta:due:{}"


def positions_claim(driver_ids: list[str]) -> list[bool]:
    """For each driver, whether this call set its coalescing key (it was not refreshed for a
    position within 30 s). Redis: one pipeline of `SET NX EX`; when Redis fails every driver
    counts as due (one refresh too many beats a minute of stale ETAs). Other caches (local
    development): `add`."""
    backend = getattr(cache, "_cache", None)
    if not hasattr(backend, "get_client"):
        return [cache.add(_COALESCE_KEY.format(d), 1, POSITION_COALESCE_S) for d in driver_ids]
    try:
        pipe = backend.get_client(write=True).pipeline(transaction=False)  # type: ignore[union-attr]
        for driver_id in driver_ids:
            key = cache.make_and_validate_key(_COALESCE_KEY.format(driver_id))
            pipe.set(key, 1, nx=True, ex=POSITION_COALESCE_S)
        return [bool(done) for done in pipe.execute()]
    except Exception:
        logger.warning("ETA coalescing: Redis failed, every driver of the flush is due")
        return [True] * len(driver_ids)


def recently_refreshed(driver_ids: list[str]) -> set[str]:
    """Those of `driver_ids` a position refreshed within the last 30 s (one cache read)."""
    keys = {_COALESCE_KEY.format(d): d for d in driver_ids}
    try:
        return {keys[k] for k in cache.get_many(list(keys))}
    except Exception:  # a cache outage: refresh them all
        logger.exception("Reading the ETA coalescing keys failed")
        return set()
