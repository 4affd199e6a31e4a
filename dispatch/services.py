"""Dispatch runs: start one, apply a reviewed plan. Execution lives in `dispatch.execution`."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.localtime import day_range_error, format_local
from dispatch import execution, selectors
from dispatch.errors import (
    RunActive,
    RunDayOutOfRange,
    RunDayPast,
    RunFromNow,
    RunNotApplicable,
    RunSuperseded,
)
from dispatch.models import DispatchRun
from dispatch.run_effects import run_announce, run_assignments_apply
from dispatch.tasks import execute_run_enqueue


def run_start(
    *,
    company: Company,
    service_date: date,
    mode: str,
    by: Any = None,
    enqueue: bool = True,
    from_now: bool = False,
) -> DispatchRun:
    """Queue a run for a company's day (today or later in its zone).

    Today can only be re-planned from now (`from_now`): part of it is over, and a plan of the
    whole day would put pick-ups in the past. Raises RunFromNow (400, field `from`) for
    today without it and for another day with it, RunDayPast (400, field service_date) for a
    past day and RunActive (409, with its id) if a run of the day is active. A running run
    whose process died is failed first, so its day is free again. The database's partial
    unique index is the arbiter, so two racing starts cannot both win.
    """
    today = timezone.now().astimezone(company.tz).date()
    if service_date < today:
        raise RunDayPast(
            f"service_date {service_date.isoformat()} is in the past (today is "
            f"{today.isoformat()} in {company.tz}); only today or a later day can be dispatched.",
            field="service_date",
        )
    too_far = day_range_error(service_date, today=today)
    if too_far:
        raise RunDayOutOfRange(f"service_date: {too_far}", field="service_date")
    if service_date == today and not from_now:
        raise RunFromNow(
            f"{today.isoformat()} is today in {company.tz}: part of it is over, so it can only "
            'be re-planned from now (send "from": "now").',
            field="from",
        )
    if from_now and service_date != today:
        raise RunFromNow(
            f"Only today ({today.isoformat()} in {company.tz}) can be re-planned from now; "
            f'plan {service_date.isoformat()} as a whole day (leave out "from").',
            field="from",
        )
    execution.runs_fail_stale(company_id=company.id, service_date=service_date)
    try:
        with transaction.atomic():
            run = DispatchRun.objects.create(
                company=company,
                service_date=service_date,
                mode=mode,
                created_by_id=by,
                from_now=from_now,
            )
            run_announce(run)
            if enqueue:
                urgent = service_date == today  # re-planning the day being driven
                transaction.on_commit(lambda: execute_run_enqueue(str(run.id), urgent=urgent))
    except IntegrityError:
        active = selectors.run_active(company_id=company.id, service_date=service_date)
        raise RunActive(
            "A dispatch run for this day is already active.",
            run=str(active.id) if active else None,
        ) from None
    return run


@transaction.atomic
def run_apply(*, run: DispatchRun) -> DispatchRun:
    """Apply a reviewed `suggest` plan, once, unless a newer run superseded it.

    Raises RunNotApplicable (409) for a run that did not succeed or was applied, and
    RunSuperseded (409, naming the newer run) when another run of the day succeeded after
    it or was applied after it loaded the day (see selectors.run_superseding).
    """
    locked = DispatchRun.objects.select_for_update().select_related("company").get(id=run.id)
    if locked.status != DispatchRun.Status.SUCCEEDED or locked.applied_at is not None:
        raise RunNotApplicable(
            f"Only a succeeded run that was not applied yet can be applied (this one is "
            f"{locked.status}{', applied' if locked.applied_at else ''})."
        )
    newer = selectors.run_superseding(run=locked)
    if newer is not None:
        raise RunSuperseded(_superseded_detail(locked, newer), run=str(newer.id))
    run_assignments_apply(locked)
    run_announce(locked)
    return locked


def _superseded_detail(run: DispatchRun, newer: DispatchRun) -> str:
    tz = run.company.tz
    if newer.applied_at is not None:
        what = f"was applied at {format_local(newer.applied_at, tz, with_date=True)}"
    else:
        done = newer.finished_at or newer.created_at
        what = f"planned the day again at {format_local(done, tz, with_date=True)}"
    return (
        f"Run {newer.id} {what}, so this plan is out of date: review and apply that run, "
        f"or start a new one."
    )
