"""Executing a dispatch run: load, matrix, solve, check, save; and noticing runs that died.

Liveness: while a run executes, a thread beats `heartbeat_at` every DISPATCH_HEARTBEAT_S
seconds. VROOM holds the GIL for its whole search (measured: a beating thread starved for
8.6 s on a 300-trip day), so the solve runs in a forked child process and this process keeps
beating. A running run whose heartbeat is older than DISPATCH_RUN_STALE_S lost its process
(a killed worker, a restarted server) and is failed by `runs_fail_stale`, which beat runs
every 15 s and every start of a run for the same day runs first.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import logging
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from atmr import metrics
from atmr.localtime import format_local
from bookings.models import Booking
from dispatch import adapters, live, reasons, selectors
from dispatch.engine.checker import check_plan
from dispatch.engine.geo import Location
from dispatch.engine.live import Replan, Thresholds, replan
from dispatch.engine.plan import Plan
from dispatch.engine.problem import Problem
from dispatch.models import DispatchRun, RunAssignment, UnassignedTrip
from dispatch.run_effects import run_announce, run_assignments_apply, run_progress_publish
from dispatch.travel import travel_provider, travel_source
from drivers.rosters import shifts_generate

logger = logging.getLogger(__name__)

# The solver child gets its time limit plus this before it is presumed hung and killed.
SOLVE_GRACE_S = 60.0


def _claim(run_id: str) -> bool:
    """queued -> running, once: a re-delivered task finds nothing to claim."""
    now = timezone.now()
    return bool(
        DispatchRun.objects.filter(id=run_id, status=DispatchRun.Status.QUEUED).update(
            status=DispatchRun.Status.RUNNING, started_at=now, heartbeat_at=now
        )
    )


def run_execute(run_id: str, *, progress: Callable[[str], None] | None = None) -> DispatchRun:
    """Plan the run's day. Idempotent: a run that is not queued is returned untouched."""
    if not _claim(run_id):
        return DispatchRun.objects.get(id=run_id)
    run = DispatchRun.objects.select_related("company").get(id=run_id)
    say = progress or (lambda _: None)
    with _heartbeat(run.id):
        try:
            _plan_day(run, say)
        except Exception as exc:  # recorded on the row: a failed run must never stay "running"
            logger.exception("Dispatch run %s failed", run_id)
            _fail(run, str(exc))
    metrics.dispatch_run_observe(run)
    return run


def _fail(run: DispatchRun, error: str) -> None:
    run.status, run.error, run.finished_at = DispatchRun.Status.FAILED, error, timezone.now()
    updated = DispatchRun.objects.filter(id=run.id, status=DispatchRun.Status.RUNNING).update(
        status=run.status, error=error, finished_at=run.finished_at
    )
    if updated:  # else the stale sweep failed it already and told the office
        run_announce(run)


@contextlib.contextmanager
def _heartbeat(run_id: UUID) -> Iterator[None]:
    """Beat `heartbeat_at` from a thread while the body runs.

    The thread has its own database connection (closed when it ends); a beat that fails
    is logged and retried at the next one: a missed beat must not fail the run.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.DISPATCH_HEARTBEAT_S):
                try:
                    DispatchRun.objects.filter(id=run_id, status=DispatchRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError as exc:
                    logger.warning("Dispatch run %s: heartbeat failed: %s", run_id, exc)
        finally:
            connections.close_all()

    # The caller's context: the beats' queries belong to the run's trace (atmr/tracing.py).
    thread = threading.Thread(
        target=contextvars.copy_context().run,
        args=(beat,),
        name=f"dispatch-heartbeat-{run_id}",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _progress(run: DispatchRun, fraction: float, detail: str, say: Callable[[str], None]) -> None:
    say(detail)
    run.progress, run.progress_detail = fraction, detail
    DispatchRun.objects.filter(id=run.id).update(
        progress=fraction, progress_detail=detail, heartbeat_at=timezone.now()
    )
    run_progress_publish(run, fraction, detail)


def _plan_day(run: DispatchRun, say: Callable[[str], None]) -> None:
    if run.from_now:
        _replan_from_now(run, say)
        return
    company = run.company
    started = time.perf_counter()
    conf = selectors.dispatch_settings_get(company_id=company.id)
    bookings = selectors.day_bookings(company_id=company.id, day=run.service_date, tz=company.tz)
    # The roster's shifts of a day beyond the horizon (or before the nightly job) are made now.
    shifts_generate(company=company, first=run.service_date, last=run.service_date)
    drivers = selectors.shift_drivers(company_id=company.id, day=run.service_date, tz=company.tz)
    waiting = selectors.day_will_call_waiting(
        company_id=company.id, day=run.service_date, tz=company.tz
    )
    run.waiting = [{"booking": booking_id} for booking_id in waiting]  # saved with the plan
    depot = Location(company.lat or 46.52, company.lon or 6.63)
    day = adapters.day_locations(bookings, drivers, depot)
    clock = adapters.DayClock(run.service_date, company.tz)
    run.load_ms, run.bookings_count, run.drivers_count = _ms(started), len(bookings), len(drivers)
    _progress(run, 0.2, f"loaded {len(bookings)} bookings and {len(drivers)} drivers", say)

    started = time.perf_counter()
    matrix = travel_provider().matrix(day.locations)
    run.matrix_ms, run.fallback_share = _ms(started), matrix.fallback_share
    run.travel_source = travel_source()
    metrics.travel_matrix_observe(matrix, source=run.travel_source)
    detail = f"travel matrix {matrix.size}x{matrix.size}, {matrix.fallback_share:.0%} estimated"
    _progress(run, 0.4, detail, say)

    started = time.perf_counter()
    problem = adapters.build_problem(day, matrix, clock, conf)
    plan = solve_off_gil(problem, time_limit_s=conf.solver_time_limit_s) if bookings else None
    violations = check_plan(problem, plan) if plan else []
    run.solve_ms = _ms(started)
    if violations:  # never apply a plan the independent checker rejects
        first = violations[0]
        raise RuntimeError(
            f"The plan failed the safety check ({first.kind}"
            f"{f', booking {first.request_id}' if first.request_id else ''}); nothing was saved."
        )
    _progress(run, 0.9, "plan checked", say)

    started = time.perf_counter()
    if _save_plan(run, plan, clock, day, problem):
        run.save_ms = _ms(started)
        run.save(update_fields=["save_ms"])


def _replan_from_now(run: DispatchRun, say: Callable[[str], None]) -> None:
    """Today from now (see dispatch/live.py and dispatch/engine/live.py): what is under way
    stays, a trip changes driver only for the company's threshold; the diff is stored."""
    company = run.company
    started = time.perf_counter()
    conf = selectors.dispatch_settings_get(company_id=company.id)
    lead = timedelta(minutes=conf.replan_lead_minutes)
    inp = live.live_load(company=company, now=timezone.now(), lead=lead)
    locations = inp.locations
    run.planned_from = inp.ready
    DispatchRun.objects.filter(id=run.id).update(planned_from=inp.ready)
    run.waiting = [
        {"booking": b}
        for b in selectors.day_will_call_waiting(
            company_id=company.id, day=inp.clock.day, tz=company.tz
        )
    ]
    run.load_ms, run.bookings_count = _ms(started), len(inp.bookings)
    run.drivers_count = len(inp.shifts)
    _progress(run, 0.2, f"loaded {len(inp.bookings)} trips and {len(inp.shifts)} drivers", say)

    started = time.perf_counter()
    matrix = travel_provider().matrix(locations)
    run.matrix_ms, run.fallback_share = _ms(started), matrix.fallback_share
    run.travel_source = travel_source()
    _progress(run, 0.4, f"travel matrix {matrix.size}x{matrix.size}", say)

    started = time.perf_counter()
    day = live.live_day(inp, matrix, conf)
    limits = Thresholds(
        lateness_s=conf.move_saves_lateness_minutes * 60, drive_s=conf.move_saves_drive_minutes * 60
    )
    limit = conf.solver_time_limit_s
    result: Replan = off_gil(
        lambda: replan(day, time_limit_s=limit, thresholds=limits), time_limit_s=limit
    )
    violations = check_plan(day.problem, result.plan)
    run.solve_ms = _ms(started)
    if violations:
        first = violations[0]
        raise RuntimeError(
            f"The plan failed the safety check ({first.kind}"
            f"{f', booking {first.request_id}' if first.request_id else ''}); nothing was saved."
        )
    run.diff = live.run_diff(inp, day, result)
    _progress(run, 0.9, "plan checked", say)
    started = time.perf_counter()
    if _save_plan(run, result.plan, inp.clock, inp.day_input(), day.problem):
        run.save_ms = _ms(started)
        run.save(update_fields=["save_ms"])


def _plan_rows(
    run: DispatchRun, plan: Plan, clock: adapters.DayClock, day: adapters.DayInput
) -> list[RunAssignment]:
    """One row per planned trip; new ones (pending, or moved from the driver who has it
    now) are what applying writes."""
    by_id = {str(b.id): b for b in day.bookings}
    vehicles = {str(s.driver_id): s.vehicle_id for s in day.shifts}
    rows = []
    for booking_id, (driver_id, pickup, dropoff) in adapters.planned_times(plan, clock).items():
        booking = by_id[booking_id]
        moved = booking.status == Booking.Status.ASSIGNED and str(booking.driver_id) != driver_id
        rows.append(
            RunAssignment(
                run=run,
                company_id=run.company_id,
                booking_id=booking_id,
                driver_id=driver_id,
                vehicle_id=vehicles[driver_id],
                pickup_eta=pickup,
                dropoff_eta=dropoff,
                booking_version=booking.updated_at,
                is_new=booking.status == Booking.Status.PENDING or moved,
                previous_driver_id=booking.driver_id if moved else None,
            )
        )
    return rows


@transaction.atomic
def _save_plan(
    run: DispatchRun,
    plan: Plan | None,
    clock: adapters.DayClock,
    day: adapters.DayInput,
    problem: Problem,
) -> bool:
    """Store the plan (and apply it in `auto` mode); False if the run is no longer running.

    Locks the run row: a run the stale sweep failed meanwhile (this process stalled past
    the threshold) must not come back to life beside a newer run of its day.
    """
    if not DispatchRun.objects.select_for_update().filter(
        id=run.id, status=DispatchRun.Status.RUNNING
    ):
        logger.warning("Dispatch run %s was failed while it planned; plan dropped", run.id)
        return False
    if plan is not None:
        rows = RunAssignment.objects.bulk_create(_plan_rows(run, plan, clock, day))
        by_id = {str(b.id): b for b in day.bookings}
        run.routes = adapters.plan_routes(plan, clock, day)
        causes = {
            u.request_id: adapters.unassigned_cause(problem, u.request_id, u.reason)
            for u in plan.unassigned
        }
        unassigned: list[UnassignedTrip] = [
            {
                "booking": rid,
                "reason": cause,
                "detail": reasons.unassigned_words(cause, by_id.get(rid), clock.tz),
            }
            for rid, cause in causes.items()
        ]
        run.unassigned = unassigned
        run.drive_seconds, run.distance_metres = plan.drive_seconds, plan.distance_metres
        run.assigned_count, run.unassigned_count = len(rows), len(run.unassigned)
    run.status, run.finished_at = DispatchRun.Status.SUCCEEDED, timezone.now()
    run.progress, run.progress_detail = 1.0, "done"
    run.save()
    if run.mode == DispatchRun.Mode.AUTO:
        run_assignments_apply(run)
    run_announce(run)
    return True


# --- solving in a child process -------------------------------------------------------------
def solve_off_gil(problem: Problem, *, time_limit_s: float) -> Plan:
    """`adapters.solve_day` in a forked child, so this process's threads keep running."""
    plan: Plan = off_gil(
        lambda: adapters.solve_day(problem, time_limit_s=time_limit_s), time_limit_s=time_limit_s
    )
    return plan


def off_gil(call: Callable[[], object], *, time_limit_s: float) -> Any:
    """`call()` (a solve) in a forked child, so this process's threads keep running; its
    result comes back pickled.

    The child dies with this process (Linux parent-death signal): a killed worker leaves no
    solver burning CPU. Where fork is impossible the call runs here.
    """
    if not hasattr(os, "fork"):
        return call()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        logger.warning("Cannot fork the solver (%s); solving in this process", exc)
        return call()
    if pid == 0:  # the child: solve, send the pickled outcome, and leave without cleanup
        try:
            os.close(read_fd)
            _solve_child(write_fd, call)
        finally:
            os._exit(0)
    os.close(write_fd)
    return _solve_result(pid, read_fd, time_limit_s + SOLVE_GRACE_S)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _solve_child(write_fd: int, call: Callable[[], object]) -> None:
    _die_with_parent()
    try:
        outcome: tuple[str, object] = ("plan", call())
    except BaseException as exc:  # sent to the parent, which records it on the run
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    with os.fdopen(write_fd, "wb") as out:
        out.write(pickle.dumps(outcome))


def _solve_result(pid: int, read_fd: int, timeout_s: float) -> Any:
    """Read the child's outcome and reap it; the child is killed past `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    with os.fdopen(read_fd, "rb", buffering=0) as source:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([source], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise RuntimeError(f"The solver did not answer within {timeout_s:.0f} s.")
            chunk = source.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError(f"The solver process stopped unexpectedly (status {status}).")
    # Our own forked child wrote these bytes to a pipe only we hold: trusted input.
    kind, value = pickle.loads(b"".join(chunks))  # noqa: S301
    if kind == "error":
        raise RuntimeError(f"The solver failed: {value}")
    return value  # unpickled: Any, our own child sent what its call returned


# --- runs whose process died ----------------------------------------------------------------
def runs_fail_stale(
    *,
    company_id: UUID | str | None = None,
    service_date: date | None = None,
    now: datetime | None = None,
) -> int:
    """Fail running runs whose heartbeat stopped, so their day can be dispatched again.

    Without `company_id` it sweeps every company (the beat task: a system job, no tenant).
    Each run is failed by a conditional update on its last heartbeat, so a run that beats
    again meanwhile is left alone. Returns how many runs were failed.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.DISPATCH_RUN_STALE_S)
    silent = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    stale = DispatchRun.objects.filter(silent, status=DispatchRun.Status.RUNNING)
    if company_id is not None:
        stale = stale.filter(company_id=company_id)
    if service_date is not None:
        stale = stale.filter(service_date=service_date)
    failed = 0
    for run in stale.select_related("company"):
        last = run.heartbeat_at or run.started_at or run.created_at
        run.error = (
            f"The worker running it stopped (last heartbeat at "
            f"{format_local(last, run.company.tz, with_date=True)}); start the run again."
        )
        run.status, run.finished_at = DispatchRun.Status.FAILED, timezone.now()
        with transaction.atomic():
            if DispatchRun.objects.filter(
                id=run.id, status=DispatchRun.Status.RUNNING, heartbeat_at=run.heartbeat_at
            ).update(status=run.status, error=run.error, finished_at=run.finished_at):
                failed += 1
                run_announce(run)
                metrics.dispatch_run_observe(run, stale=True)
    return failed
