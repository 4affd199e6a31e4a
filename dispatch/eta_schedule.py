"""When ETAs are recomputed: on position batches (coalesced), on trip changes, every minute.

- Positions: `etas_positions_schedule` is called by the positions writer after each flush
  with the drivers that moved. It returns at once: the coalescing (a Redis `SET NX EX` per
  driver, one pipeline per flush: dispatch/eta_coalesce.py) and the enqueueing run on a
  thread of their own, never on the socket's path. A driver recomputed less than 30 s ago
  is skipped; the others of one flush go to one task per company (one refresh, a constant
  number of queries).
- Trip changes (status, driver, times): `etas_refresh_on_commit` from the booking services.
- Beat: `dispatch.tasks.refresh_etas` every minute for every company with trips under way.

With a worker (REDIS_URL) these are Celery tasks. With eager tasks (no worker) refreshes run
on two background threads of this process, so neither a request nor a socket waits for them;
tests (DISPATCH_EAGER_IN_THREAD off) run them in-line. ETAs are best effort: a refresh that
cannot be queued is logged, and the minute's beat catches up.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connections, transaction

from dispatch.eta_coalesce import positions_claim

logger = logging.getLogger(__name__)
REFRESH_TASK = "dispatch.refresh_driver_etas"

# Coalescing and enqueueing after a flush; and, with eager tasks, the refreshes themselves.
_scheduler = ThreadPoolExecutor(1, thread_name_prefix="eta-schedule")
# Two: one refresh's queries overlap another's computing.
REFRESH_THREADS = 2
_refresher = ThreadPoolExecutor(REFRESH_THREADS, thread_name_prefix="eta-refresh")


def etas_positions_schedule(moved: Iterable[tuple[str, str]]) -> Future[int]:
    """Schedule ETA refreshes for `moved` (company id, driver id) pairs. Non-blocking; the
    future gives how many drivers were due (tests wait on it)."""
    return _scheduler.submit(_due_in_thread, list(moved))


def _due_in_thread(moved: list[tuple[str, str]]) -> int:
    try:
        return etas_positions_due(moved)
    finally:
        connections.close_all()  # this thread's, opened only when refreshes run in-line


def etas_positions_due(moved: list[tuple[str, str]]) -> int:
    """Refresh the drivers of `moved` not refreshed for a position in the last 30 s (a
    `SET NX EX` each, one round trip for all, shared by every process); return how many."""
    pairs = list(dict.fromkeys(moved))
    due: dict[str, list[str]] = defaultdict(list)
    claims = positions_claim([d for _, d in pairs])
    for (company_id, driver_id), claimed in zip(pairs, claims, strict=True):
        if claimed:
            due[company_id].append(driver_id)
    for company_id, driver_ids in due.items():
        etas_refresh_enqueue(company_id, driver_ids, why="position")
    return sum(len(d) for d in due.values())


def etas_refresh_on_commit(company_id: UUID | str, driver_ids: Iterable[UUID | str | None]) -> None:
    """Refresh these drivers' ETAs once the surrounding transaction commits (None ignored)."""
    wanted = sorted({str(d) for d in driver_ids if d})
    if wanted:
        transaction.on_commit(lambda: etas_refresh_enqueue(str(company_id), wanted))


def etas_refresh_enqueue(
    company_id: str, driver_ids: list[str] | None, *, why: str = "change"
) -> None:
    """A refresh of these drivers (None: all the company's) by a worker, or without one on the
    background thread (in-line under tests). `why`: see eta.company_etas_refresh."""
    if not current_app.conf.task_always_eager:
        # By name: dispatch.tasks imports this module (the minute's beat enqueues through it).
        try:
            current_app.send_task(REFRESH_TASK, args=[company_id, driver_ids, why])
        except Exception:  # after a commit: a broker outage must not fail the request
            logger.exception("Could not queue the ETA refresh of company %s", company_id)
    elif settings.DISPATCH_EAGER_IN_THREAD:
        _refresh_soon((company_id, why), driver_ids)
    else:
        _refresh(company_id, driver_ids, why)


# Without a worker: what is waiting for the background thread, merged per company (None: all
# its drivers), so that under load one refresh serves every request that came meanwhile. The
# minute's refresh comes in chunks (`dispatch.tasks.refresh_etas`), taken one per round after
# everything else, so a position's refresh never waits behind the whole fleet's.
_pending: dict[tuple[str, str], set[str] | None] = {}
_beat_chunks: deque[tuple[str, list[str] | None]] = deque()
_pending_lock = threading.Lock()
_drains = 0  # queued or running


def _refresh_soon(key: tuple[str, str], driver_ids: list[str] | None) -> None:
    with _pending_lock:
        if key[1] == "beat":
            _beat_chunks.append((key[0], driver_ids))
        elif driver_ids is None:
            _pending[key] = None
        elif key not in _pending:
            _pending[key] = set(driver_ids)
        elif (waiting := _pending[key]) is not None:
            waiting.update(driver_ids)
        _queue_drain()


def _queue_drain() -> None:
    """Have one more `_drain` run unless every refresh thread has one. Caller holds the lock;
    a drain that finishes queues the next when work is left, so none is lost."""
    global _drains
    if _drains < REFRESH_THREADS:
        _drains += 1
        _refresher.submit(_drain)


def _drain() -> None:
    global _drains
    try:
        with _pending_lock:
            work = dict(_pending)
            _pending.clear()
            chunk = _beat_chunks.popleft() if _beat_chunks else None
        for (company_id, why), driver_ids in work.items():
            wanted = None if driver_ids is None else sorted(driver_ids)
            _refresh_in_thread(company_id, wanted, why)
        if chunk is not None:
            _refresh_in_thread(chunk[0], chunk[1], "beat")
    finally:
        with _pending_lock:
            _drains -= 1
            if _pending or _beat_chunks:
                _queue_drain()


def _refresh(company_id: str, driver_ids: list[str] | None, why: Any) -> None:
    # Imported here: the booking services and the sockets import this module at start-up,
    # the ETAs bring the dispatch selectors and adapters.
    from dispatch.eta import company_etas_refresh

    company_etas_refresh(company_id=company_id, driver_ids=driver_ids, why=why)


def _refresh_in_thread(company_id: str, driver_ids: list[str] | None, why: Any) -> None:
    close_old_connections()
    try:
        _refresh(company_id, driver_ids, why)
    except Exception:
        logger.exception("ETA refresh of company %s failed", company_id)
    finally:
        close_old_connections()
