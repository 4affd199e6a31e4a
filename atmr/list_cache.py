"""Cache of the hot lists' rendered pages (bookings, drivers, vehicles, clients), per company,
invalidated on every write.

Office screens poll these lists far more often than they change. Each company has a version
number; every write that can change what the list shows (a booking, or the client, driver,
vehicle or driver's name it embeds) bumps it, which retires every cached page at once. Model
saves bump through signals (the admin writes too); the few conditional `update()`s in services
call `lists_changed` themselves. Pages also expire after `PAGE_TTL_S`, which bounds how stale
a page could be if some future write path forgot to bump.

ETA refreshes (dispatch/eta.py: every driver's trips, every <= 30 s) change only the ETA and
lateness columns, which only the bookings list shows: they bump a second, separate version
(`etas_changed`) that only lists declaring `etas=True` read, so the drivers, vehicles, clients
and places pages survive them. Position updates bump nothing (bookings/signals.py).
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db import transaction

PAGE_TTL_S = 60
_VERSION = "lists:version:{}"
_ETA_VERSION = "lists:etas:{}"
# A page is current when every version it was built under still is: (lists, etas).
Version = tuple[int, int]


def lists_changed(company_id: object) -> None:
    """Retire the company's cached pages now, and again once the transaction commits: a reader
    between the write and the commit could otherwise cache the old page under the new version.
    """
    _bump(company_id)
    transaction.on_commit(lambda: _bump(company_id))


def etas_changed(company_id: object) -> None:
    """Retire the pages that show ETAs or lateness (the bookings list) and only those; now and
    once the transaction commits, as `lists_changed`."""
    _bump(company_id, _ETA_VERSION)
    transaction.on_commit(lambda: _bump(company_id, _ETA_VERSION))


def _bump(company_id: object, template: str = _VERSION) -> None:
    key = template.format(company_id)
    try:
        cache.incr(key)
    except ValueError:  # first write since the cache was emptied
        cache.add(key, 1, timeout=None)


def page_key(company_id: object, viewer: str, url: str) -> str:
    """`viewer` tells apart what different callers may see (a driver: only its own trips)."""
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    return f"lists:page:{company_id}:{viewer}:{digest}"


def page_get(company_id: object, key: str, *, etas: bool = False) -> tuple[Version, bytes | None]:
    """The company's current versions and the page cached under `key` if it is still current.
    `etas`: the page shows ETAs or lateness, so an ETA refresh retires it too.

    One round trip: the page is stored with the versions it was built under, and all are
    read together.
    """
    version_key = _VERSION.format(company_id)
    eta_key = _ETA_VERSION.format(company_id)
    found = cache.get_many([version_key, eta_key, key] if etas else [version_key, key])
    version = (found.get(version_key) or 0, found.get(eta_key) or 0)
    stored = found.get(key)
    if stored is not None and stored[0] == version:
        return version, stored[1]
    return version, None


def page_set(key: str, version: Version, body: bytes, ttl_s: int = PAGE_TTL_S) -> None:
    """`version` is the one `page_get` read before the page was built: a write since then has
    bumped it, so the page is already stale and no reader will take it."""
    cache.set(key, (version, body), ttl_s)
