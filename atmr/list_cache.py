"""Cache of the hot lists' rendered pages (bookings, drivers, vehicles, clients), per company,
invalidated on every write.

Office screens poll these lists far more often than they change. Each company has a version
number; every write that can change what the list shows (a booking, or the client, driver,
vehicle or driver's name it embeds) bumps it, which retires every cached page at once. Model
saves bump through signals (the admin writes too); the few conditional `update()`s in services
call `lists_changed` themselves. Pages also expire after `PAGE_TTL_S`, which bounds how stale
a page could be if some future write path forgot to bump.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db import transaction

PAGE_TTL_S = 60
_VERSION = "lists:version:{}"


def _version(company_id: object) -> int:
    return cache.get(_VERSION.format(company_id)) or 0


def lists_changed(company_id: object) -> None:
    """Retire the company's cached pages now, and again once the transaction commits: a reader
    between the write and the commit could otherwise cache the old page under the new version.
    """
    _bump(company_id)
    transaction.on_commit(lambda: _bump(company_id))


def _bump(company_id: object) -> None:
    key = _VERSION.format(company_id)
    try:
        cache.incr(key)
    except ValueError:  # first write since the cache was emptied
        cache.add(key, 1, timeout=None)


def page_key(company_id: object, viewer: str, url: str) -> str:
    """`viewer` tells apart what different callers may see (a driver: only its own trips)."""
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    return f"lists:page:{company_id}:{_version(company_id)}:{viewer}:{digest}"


def page_get(key: str) -> bytes | None:
    return cache.get(key)


def page_set(key: str, body: bytes) -> None:
    cache.set(key, body, PAGE_TTL_S)
