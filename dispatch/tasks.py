"""Celery entry points for dispatch: ids in, one call; and the seam that queues a run."""

from __future__ import annotations

import contextvars
import logging
import threading

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
