"""The positions writer: stores drivers' position batches a few milliseconds at a time and
fans them out to the office.

Position batches are most of the socket traffic (10,000 phones: ~670 batches/s). One
transaction per batch cost four round trips and the ORM's per-row work for three rows;
instead each process coalesces: sockets hand their validated batch to `location_writer` and
wait, one writer thread stores everything that arrived meanwhile in one transaction of three
statements (drivers/locations.py), then wakes them. Group commit: no wait at all when idle,
bigger transactions under load. The fan-out goes through realtime/publish.py like every
other event, one layer message per company per flush.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync

from atmr import metrics
from dispatch.eta_schedule import etas_positions_schedule
from drivers.locations import DriverBatch, Position, StoreResult, location_batches_store
from realtime.events import build_driver_position
from realtime.groups import group_for_company_dispatch
from realtime.publish import apublish_batch
from realtime.schemas import DriverPositionEvent

logger = logging.getLogger(__name__)

LOCATION_WRITER_THREADS = 1
LOCATION_FLUSH_DELAY_S = 0.002  # lets the frames already read by the loop join one flush
LOCATION_FLUSH_MAX_BATCHES = 500
_location_writers = ThreadPoolExecutor(LOCATION_WRITER_THREADS, thread_name_prefix="locations")


def _store_batches_sync(batches: list[DriverBatch]) -> list[StoreResult]:
    return location_batches_store(batches=batches)


_store_batches = DatabaseSyncToAsync(
    _store_batches_sync, thread_sensitive=False, executor=_location_writers
)


class LocationWriter:
    """Per process: stores the position batches of all its sockets, a few ms' worth at a time.

    `store()` returns only once the batch is committed (or raises), so a phone's `ack` always
    means "stored": it may re-send anything unacknowledged, duplicates are skipped by the
    database (drivers/locations.py). Flushes run one at a time; batches arriving during a
    flush go into the next. After each flush, one layer message per company carries all its
    moved drivers' `driver_position` events (`publish.apublish_batch`), in flush order.
    """

    def __init__(self, *, delay_s: float, max_batches: int) -> None:
        self.delay_s, self.max_batches = delay_s, max_batches
        self.pending: list[tuple[DriverBatch, asyncio.Future[StoreResult]]] = []
        self.task: asyncio.Task[None] | None = None

    async def store(self, batch: DriverBatch) -> Position | None:
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            # A new event loop (tests run one per test): what a dead loop left is moot.
            self.pending = [(b, f) for b, f in self.pending if f.get_loop() is loop]
            self.task = loop.create_task(self._drain())
        future: asyncio.Future[StoreResult] = loop.create_future()
        self.pending.append((batch, future))
        result = await future
        if isinstance(result, Exception):
            raise result
        return result

    async def _drain(self) -> None:
        while True:
            await asyncio.sleep(self.delay_s)
            if not self.pending:
                return
            taken = self.pending[: self.max_batches]
            del self.pending[: self.max_batches]
            try:
                await self._flush(taken)
            finally:
                for _, future in taken:  # a bug or a cancelled loop must not leave sockets hanging
                    if not future.done():
                        future.set_exception(RuntimeError("Position batch not stored."))

    async def _flush(self, taken: list[tuple[DriverBatch, asyncio.Future[StoreResult]]]) -> None:
        batches = [b for b, _ in taken]
        started = time.perf_counter()
        try:
            results = await _store_batches(batches)
        except Exception as exc:
            logger.exception("Storing %d position batches failed", len(batches))
            results = [exc] * len(batches)
        else:
            metrics.positions_flush_observe(batches, results, time.perf_counter() - started)
        for (_, future), result in zip(taken, results, strict=True):
            if not future.done():  # a socket closed meanwhile: its batch is stored all the same
                future.set_result(result)
        moved = [
            (b.company_id, b.driver_id)
            for b, r in zip(batches, results, strict=True)
            if isinstance(r, Position)
        ]
        if moved:  # returns at once: coalescing and ETAs run off the loop (dispatch/eta_schedule)
            etas_positions_schedule(moved)
        await positions_publish(batches, results)


async def positions_publish(batches: list[DriverBatch], results: Sequence[object]) -> None:
    """One layer message per company with a `driver_position` event per stored batch."""
    by_company: dict[str, list[DriverPositionEvent]] = {}
    for batch, result in zip(batches, results, strict=True):
        if isinstance(result, Position):
            event = build_driver_position(batch.driver_id, result)
            by_company.setdefault(batch.company_id, []).append(event)
    for company_id, events in by_company.items():
        await apublish_batch(group_for_company_dispatch(company_id), events)


location_writer = LocationWriter(
    delay_s=LOCATION_FLUSH_DELAY_S, max_batches=LOCATION_FLUSH_MAX_BATCHES
)
