"""Dispatch runs: start one, execute it (load, matrix, solve, check, save), apply a plan."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, UUIDField, Value, When
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.list_cache import lists_changed
from bookings.models import Booking
from dispatch import adapters, selectors
from dispatch.engine.checker import check_plan
from dispatch.engine.geo import Location
from dispatch.engine.plan import Plan
from dispatch.errors import RunActive, RunNotApplicable
from dispatch.models import DispatchRun, RunAssignment
from dispatch.travel import travel_provider, travel_source
from realtime.events import build_assignment, build_dispatch_run
from realtime.groups import group_for_company_dispatch, group_for_driver
from realtime.publish import publish, publish_many_on_commit, publish_on_commit

logger = logging.getLogger(__name__)
# A run still "running" this long after it started lost its worker.
STALE_AFTER = timedelta(minutes=15)


def _summary(run: DispatchRun) -> str:
    if run.status == DispatchRun.Status.FAILED:
        return run.error
    if run.status == DispatchRun.Status.SUCCEEDED:
        return f"{run.assigned_count} planned, {run.unassigned_count} unassigned"
    return ""


def _announce(run: DispatchRun) -> None:
    """Tell the company's dispatchers where the run stands, once the change is committed."""
    done = run.status in (DispatchRun.Status.SUCCEEDED, DispatchRun.Status.FAILED)
    event = build_dispatch_run(
        run_id=str(run.id), status=run.status, progress=1.0 if done else 0.0, detail=_summary(run)
    )
    publish_on_commit(group_for_company_dispatch(run.company_id), event)


def _progress(run: DispatchRun, fraction: float, detail: str, say: Callable[[str], None]) -> None:
    say(detail)
    event = build_dispatch_run(
        run_id=str(run.id), status=DispatchRun.Status.RUNNING, progress=fraction, detail=detail
    )
    publish(group_for_company_dispatch(run.company_id), event)


def run_start(
    *, company: Company, service_date: date, mode: str, by: Any = None, enqueue: bool = True
) -> DispatchRun:
    """Queue a run for a company's day; raises RunActive (with its id) if one is active.

    The database's partial unique index is the arbiter, so two racing starts cannot both win.
    """
    try:
        with transaction.atomic():
            run = DispatchRun.objects.create(
                company=company, service_date=service_date, mode=mode, created_by_id=by
            )
            _announce(run)
            if enqueue:
                from dispatch.tasks import execute_run

                transaction.on_commit(lambda: execute_run.delay(str(run.id)))
    except IntegrityError:
        active = selectors.run_active(company_id=company.id, service_date=service_date)
        raise RunActive(
            "A dispatch run for this day is already active.",
            run=str(active.id) if active else None,
        ) from None
    return run


def _claim(run_id: str) -> bool:
    """queued -> running, once: a re-delivered task finds nothing to claim."""
    now = timezone.now()
    return bool(
        DispatchRun.objects.filter(id=run_id, status=DispatchRun.Status.QUEUED).update(
            status=DispatchRun.Status.RUNNING, started_at=now
        )
    )


def run_execute(run_id: str, *, progress: Callable[[str], None] | None = None) -> DispatchRun:
    """Plan the run's day. Idempotent: a run that is not queued is returned untouched."""
    if not _claim(run_id):
        return DispatchRun.objects.get(id=run_id)
    run = DispatchRun.objects.select_related("company").get(id=run_id)
    say = progress or (lambda _: None)
    try:
        _plan_day(run, say)
    except Exception as exc:  # recorded on the row: a failed run must never stay "running"
        logger.exception("Dispatch run %s failed", run_id)
        run.status, run.error, run.finished_at = DispatchRun.Status.FAILED, str(exc), timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        _announce(run)
    return run


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _plan_day(run: DispatchRun, say: Callable[[str], None]) -> None:
    company = run.company
    started = time.perf_counter()
    conf = selectors.dispatch_settings_get(company_id=company.id)
    bookings = selectors.day_bookings(company_id=company.id, day=run.service_date, tz=company.tz)
    drivers = selectors.shift_drivers(company_id=company.id)
    depot = Location(company.lat or 46.52, company.lon or 6.63)
    day = adapters.day_locations(bookings, drivers, depot)
    clock = adapters.DayClock(run.service_date, company.tz)
    run.load_ms, run.bookings_count, run.drivers_count = _ms(started), len(bookings), len(drivers)
    _progress(run, 0.2, f"loaded {len(bookings)} bookings and {len(drivers)} drivers", say)

    started = time.perf_counter()
    matrix = travel_provider().matrix(day.locations)
    run.matrix_ms, run.fallback_share = _ms(started), matrix.fallback_share
    run.travel_source = travel_source()
    detail = f"travel matrix {matrix.size}x{matrix.size}, {matrix.fallback_share:.0%} estimated"
    _progress(run, 0.4, detail, say)

    started = time.perf_counter()
    problem = adapters.build_problem(day, matrix, clock, conf)
    plan = adapters.solve_day(problem, time_limit_s=conf.solver_time_limit_s) if bookings else None
    violations = check_plan(problem, plan) if plan else []
    run.solve_ms = _ms(started)
    if violations:  # never apply a plan the independent checker rejects
        raise RuntimeError(f"Plan failed the check: {violations[0]}")
    _progress(run, 0.9, "plan checked", say)

    started = time.perf_counter()
    _save_plan(run, plan, clock, day)
    run.save_ms = _ms(started)
    run.save(update_fields=["save_ms"])


def _plan_rows(
    run: DispatchRun, plan: Plan, clock: adapters.DayClock, day: adapters.DayInput
) -> list[RunAssignment]:
    by_id = {str(b.id): b for b in day.bookings}
    vehicles = {str(d.id): d.default_vehicle_id for d in day.drivers}
    return [
        RunAssignment(
            run=run,
            company_id=run.company_id,
            booking_id=booking_id,
            driver_id=driver_id,
            vehicle_id=vehicles[driver_id],
            pickup_eta=pickup,
            dropoff_eta=dropoff,
            booking_version=by_id[booking_id].updated_at,
            is_new=by_id[booking_id].status == Booking.Status.PENDING,
        )
        for booking_id, (driver_id, pickup, dropoff) in adapters.planned_times(plan, clock).items()
    ]


@transaction.atomic
def _save_plan(
    run: DispatchRun, plan: Plan | None, clock: adapters.DayClock, day: adapters.DayInput
) -> None:
    if plan is not None:
        rows = RunAssignment.objects.bulk_create(_plan_rows(run, plan, clock, day))
        run.routes = adapters.plan_routes(plan, clock, day)
        run.unassigned = [
            {"booking": u.request_id, "reason": str(u.reason)} for u in plan.unassigned
        ]
        run.drive_seconds, run.distance_metres = plan.drive_seconds, plan.distance_metres
        run.assigned_count, run.unassigned_count = len(rows), len(run.unassigned)
    run.status, run.finished_at = DispatchRun.Status.SUCCEEDED, timezone.now()
    run.save()
    if run.mode == DispatchRun.Mode.AUTO:
        _apply(run)
    _announce(run)


def _apply(run: DispatchRun) -> None:
    """Give the run's new trips to their drivers. Caller holds the transaction.

    A booking edited (or assigned by hand) since the run loaded it is left alone and listed
    in `run.skipped`: the dispatcher's later word wins over the plan.
    """
    now = timezone.now()
    planned = list(
        run.assignments.filter(is_new=True).values_list(
            "booking_id", "driver_id", "vehicle_id", "booking_version"
        )
    )
    # Lock the rows, then keep those still pending and unchanged since the run read them.
    current = dict(
        Booking.objects.select_for_update()
        .filter(id__in=[p[0] for p in planned], status=Booking.Status.PENDING)
        .values_list("id", "updated_at")
    )
    fresh = [p for p in planned if current.get(p[0]) == p[3]]
    skipped = [p[0] for p in planned if current.get(p[0]) != p[3]]
    assigned = [p[0] for p in fresh]
    if fresh:
        uuid = UUIDField()
        Booking.objects.filter(id__in=assigned).update(
            status=Booking.Status.ASSIGNED,
            driver_id=Case(*[When(id=b, then=Value(d)) for b, d, _, _ in fresh], output_field=uuid),
            vehicle_id=Case(
                *[When(id=b, then=Value(v)) for b, _, v, _ in fresh], output_field=uuid
            ),
            updated_at=now,
        )
        lists_changed(run.company_id)  # update() sends no signal
    publish_many_on_commit(
        (group_for_driver(booking.driver_id), build_assignment(booking, "assigned"))
        for booking in Booking.objects.filter(id__in=assigned)
    )
    run.skipped, run.applied_at = [str(b) for b in skipped], now
    run.save(update_fields=["skipped", "applied_at"])


@transaction.atomic
def run_apply(*, run: DispatchRun) -> DispatchRun:
    """Apply a reviewed `suggest` plan, once."""
    locked = DispatchRun.objects.select_for_update().get(id=run.id)
    if locked.status != DispatchRun.Status.SUCCEEDED or locked.applied_at is not None:
        raise RunNotApplicable(
            f"Only a succeeded run that was not applied yet can be applied (this one is "
            f"{locked.status}{', applied' if locked.applied_at else ''})."
        )
    _apply(locked)
    _announce(locked)
    return locked


def runs_fail_stale(*, now: Any = None) -> int:
    """Mark runs whose worker died as failed, so the day can be dispatched again."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    return DispatchRun.objects.filter(
        status=DispatchRun.Status.RUNNING, started_at__lt=cutoff
    ).update(
        status=DispatchRun.Status.FAILED,
        finished_at=timezone.now(),
        error="The worker stopped before finishing; start the run again.",
    )
