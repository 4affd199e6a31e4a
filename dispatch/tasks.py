"""Celery entry points for dispatch: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from dispatch import services


@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    # Idempotent: a re-delivered message for a run that is no longer queued does nothing.
    services.run_execute(run_id)


@shared_task(ignore_result=True)
def fail_stale_runs() -> int:
    return services.runs_fail_stale()
