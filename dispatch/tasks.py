"""Celery entry points for dispatch: ids in, one call; and the seam that queues a run."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections

from dispatch import execution

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    # Idempotent: a re-delivered message for a run that is no longer queued does nothing.
    execution.run_execute(run_id)


@shared_task(ignore_result=True)
def fail_stale_runs() -> int:
    return execution.runs_fail_stale()


def execute_run_enqueue(run_id: str) -> None:
    """Have the run executed: by a worker, or without one (eager tasks) in a background
    thread of this process, so the request that started it answers at once.

    Tests keep eager execution in-line (DISPATCH_EAGER_IN_THREAD is off under tests).
    """
    if execute_run.app.conf.task_always_eager and settings.DISPATCH_EAGER_IN_THREAD:
        threading.Thread(
            target=_execute_in_thread, args=(run_id,), name=f"dispatch-run-{run_id}", daemon=True
        ).start()
    else:
        execute_run.delay(run_id)


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
