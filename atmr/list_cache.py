"""Cache of the hot lists' rendered pages (bookings, drivers, vehicles, clients), per company,
invalidated on every write.

Office screens poll these lists far more often than they change. Each company has a version
number; every write that can change what the list shows (a booking, or the client, driver,
vehicle or driver's name it embeds) bumps it, which retires every cached page at once. Model
saves bump through signals (the admin writes too); the few conditional `update()`s in services
call `lists_changed` themselves. Pages also expire after `PAGE_TTL_S`, which bounds how stale
a page could be if some future write path forgot to bump.

ETA refreshes (dispatch/eta.py: every driver's trips, every <= 30 s) change only the ETA and
lateness columns, which only the bookings list shows, and they retire none of its pages. Each
refresh writes, once committed, every trip's new ETA keys as the list writes them (a
"fragment") under a second, per-company ETA version it bumps (`etas_written`); a cached page
keeps the ETA version it was built under and the ids of its rows, and a reader that finds a
newer version overlays the fragments written since (one more round trip, no query). A
fragment is tagged with the version its refresh took after committing, so a page built from
the database under that version or a later one already holds it, and an older page takes it.
Pages whose *rows* depend on the ETAs (the bookings list filtered by `late=`) are retired by
the ETA version instead. Fragments outlive the pages (`ETA_TTL_S` > `PAGE_TTL_S`). Position
updates bump nothing (bookings/signals.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.core.cache import cache
from django.db import transaction

PAGE_TTL_S = 60
# A fragment must outlive every page built before it was written.
ETA_TTL_S = 5 * PAGE_TTL_S
_VERSION = "lists:version:{}"
_ETA_VERSION = "lists:etas:{}"
_ETA = "lists:eta:{}:{}"
# A page is current when every version it was built under still is: (lists, etas).
Version = tuple[int, int]
# How a list's pages depend on ETAs: not at all, by their rows (retired by an ETA refresh), or
# by the ETA keys of each row, between these two marks (overlaid).
EtaMode = Literal["none", "retire", "overlay"]
EtaSpan = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Lookup:
    """What `page_get` read: the versions, the current page if any, and the `also` keys."""

    version: Version
    body: bytes | None
    also: dict[str, Any]


def lists_changed(company_id: object) -> None:
    """Retire the company's cached pages now, and again once the transaction commits: a reader
    between the write and the commit could otherwise cache the old page under the new version.
    """
    _bump(company_id)
    transaction.on_commit(lambda: _bump(company_id))


def etas_written(company_id: object, fragments: Mapping[str, bytes]) -> None:
    """Once the transaction commits: bump the company's ETA version and store each trip's
    fragment (its ETA keys as the list writes them) tagged with it. A reader between the bump
    and the store overlays what it finds, and the next reader the rest; nothing is cached in
    between, so no page keeps an old ETA."""

    def publish() -> None:
        tag = _bump(company_id, _ETA_VERSION)
        entries = {_ETA.format(company_id, key): (tag, f) for key, f in fragments.items()}
        cache.set_many(entries, ETA_TTL_S)

    transaction.on_commit(publish)


def _bump(company_id: object, template: str = _VERSION) -> int:
    key = template.format(company_id)
    try:
        return cache.incr(key)
    except ValueError:  # first write since the cache was emptied
        if cache.add(key, 1, timeout=None):
            return 1
        return cache.incr(key)


def page_key(company_id: object, viewer: str, url: str) -> str:
    """`viewer` tells apart what different callers may see (a driver: only its own trips)."""
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    return f"lists:page:{company_id}:{viewer}:{digest}"


def page_get(
    company_id: object,
    key: str,
    *,
    etas: EtaMode = "none",
    span: EtaSpan | None = None,
    also: Sequence[str] = (),
    fresh: bool = False,
) -> Lookup:
    """The company's current versions and the page cached under `key` if it is still current,
    with its rows' ETA keys overlaid when `etas="overlay"` (between the marks of `span`).
    `also`: other keys to read in the same round trip (what a miss will need). `fresh`: the
    caller builds the page anew whatever is stored (`Cache-Control: no-cache`), so the stored
    page (the whole page's bytes) is not read; only the versions and `also`.

    One round trip, two when an overlaid page is older than the last ETA refresh.
    """
    version_key = _VERSION.format(company_id)
    eta_key = _ETA_VERSION.format(company_id)
    keys = [version_key, *also] if fresh else [version_key, key, *also]
    if etas != "none":
        keys.append(eta_key)
    found = cache.get_many(keys)
    version = (found.pop(version_key, None) or 0, found.pop(eta_key, None) or 0)
    stored = found.pop(key, None)
    body = None
    # (A page stored by an older release is a pair: taken as a miss.)
    if stored is not None and len(stored) == 3 and stored[0][0] == version[0]:
        if stored[0][1] == version[1]:
            body = stored[1]
        elif etas == "overlay" and span is not None:
            body = _overlay(company_id, stored, span)
    return Lookup(version, body, found)


def _overlay(company_id: object, stored: Any, span: EtaSpan) -> bytes | None:
    (_, built_under), body, ids = stored
    entries = cache.get_many([_ETA.format(company_id, i) for i in ids])
    newer = {}
    for key, (tag, fragment) in entries.items():
        if tag > built_under:
            newer[key.rsplit(":", 1)[1]] = fragment
    if not newer:
        return body
    start_mark, end_mark = span
    pieces: list[bytes] = []
    position = cursor = 0
    for booking_id in ids:
        start = body.find(start_mark, cursor)
        end = body.find(end_mark, start) if start >= 0 else -1
        if end < 0:  # not a page of this shape: build it anew
            return None
        cursor = end
        fragment = newer.get(booking_id)
        if fragment is not None:
            pieces += [body[position:start], fragment]
            position = end
    pieces.append(body[position:])
    return b"".join(pieces)


def page_set(
    key: str,
    version: Version,
    body: bytes,
    ttl_s: int = PAGE_TTL_S,
    ids: Sequence[str] | None = None,
) -> None:
    """`version` is the one `page_get` read before the page was built: a write since then has
    bumped it, so the page is already stale and no reader will take it. `ids`: the rows' ids,
    in order, for a page whose ETA keys are overlaid."""
    cache.set(key, (version, body, tuple(ids) if ids is not None else None), ttl_s)
