"""Celery entry points for dispatch: ids in, one call; and the seam that queues a run."""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction

from bookings.models import Booking
from dispatch import execution, insertion

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    # Idempotent: a re-delivered message for a run that is no longer queued does nothing.
    execution.run_execute(run_id)


@shared_task(ignore_result=True)
def propose_insertions(booking_id: str) -> None:
    # Harmless twice: a trip no longer pending is left alone, proposals are recomputed.
    insertion.insertions_propose(booking_id=booking_id)


def insertions_on_commit(booking: Booking) -> None:
    """Queue proposals for `booking` (`insertion_proposed`, dispatch/insertion.py) once the
    caller's transaction commits, when it is a pending trip of today."""
    if not insertion.insertable_today(booking):
        return
    booking_id = str(booking.id)
    transaction.on_commit(
        lambda: propose_insertions.apply_async((booking_id,), priority=RUN_PRIORITY_URGENT)
    )


@shared_task(ignore_result=True)
def fail_stale_runs() -> int:
    return execution.runs_fail_stale()


# Redis broker priorities (settings: priority_steps): the lowest number is served first.
RUN_PRIORITY_URGENT = 0  # re-planning today, the day being driven
RUN_PRIORITY_PLANNED = 5  # a later day (the default priority of every task)


def execute_run_enqueue(run_id: str, *, urgent: bool = False) -> None:
    """Have the run executed: by a worker, or without one (eager tasks) in a background
    thread of this process, so the request that started it answers at once. An urgent run
    overtakes the planned ones waiting on the `dispatch` queue.

    Tests keep eager execution in-line (DISPATCH_EAGER_IN_THREAD is off under tests).
    """
    if execute_run.app.conf.task_always_eager and settings.DISPATCH_EAGER_IN_THREAD:
        # In a copy of this context: the run's spans join the request's trace (atmr/tracing.py).
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run,
            args=(_execute_in_thread, run_id),
            name=f"dispatch-run-{run_id}",
            daemon=True,
        ).start()
    else:
        priority = RUN_PRIORITY_URGENT if urgent else RUN_PRIORITY_PLANNED
        execute_run.apply_async((run_id,), priority=priority)


def _execute_in_thread(run_id: str) -> None:
    try:
        execution.run_execute(run_id)
    except Exception:  # run_execute records failures on the run; this is the last resort
        logger.exception("Dispatch run %s: background execution failed", run_id)
    finally:
        connections.close_all()  # this thread's own connections


@shared_task(name="dispatch.refresh_driver_etas", ignore_result=True)
def refresh_driver_etas(
    company_id: str, driver_ids: list[str] | None = None, why: Any = "change"
) -> int:
    """Recompute the ETAs of these drivers (None: all the company's with trips left today;
    see company_etas_refresh for `why`). Idempotent: a second run computes the same from
    the same state."""
    from dispatch.eta import company_etas_refresh

    found = company_etas_refresh(company_id=company_id, driver_ids=driver_ids, why=why)
    return len(found)


# Drivers per task of the minute's refresh: short transactions, and a position's refresh
# never waits behind a whole fleet's.
BEAT_CHUNK = 200


@shared_task(name="dispatch.refresh_etas", ignore_result=True)
def refresh_etas() -> int:
    """The minute's beat: the drivers with trips under way today of every company, in chunks
    of `BEAT_CHUNK` (one task each); returns the number of companies."""
    from dispatch.eta_schedule import etas_refresh_enqueue
    from dispatch.live_plan import live_companies, live_driver_ids

    companies = live_companies()
    for company_id in companies:
        drivers = live_driver_ids(company_id=company_id)
        for i in range(0, len(drivers), BEAT_CHUNK):
            etas_refresh_enqueue(company_id, drivers[i : i + BEAT_CHUNK], why="beat")
    return len(companies)
