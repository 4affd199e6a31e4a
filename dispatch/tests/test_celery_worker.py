"""Dispatch runs queued through Redis and executed by a real Celery worker process.

Needs PostgreSQL and Redis (the worker is another process: it must see the test database
and the broker), as in CI; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from atmr.celery import app as celery_app
from bookings.models import Booking
from dispatch import execution, selectors, services
from dispatch.models import DispatchRun
from tests.factories import ZURICH, BookingFactory, ClientFactory, DriverFactory
from tests.processes import celery_worker_start

pytestmark = [
    pytest.mark.real_clock,  # other processes run on the machine's clock
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="a worker process needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL), as in CI",
    ),
]
# Deadlines for things that take seconds on an idle machine: generous, for a loaded one.
DEADLINE_S = 120


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., tuple[subprocess.Popen, Path]]]:
    """Starts a solo-pool worker on the test database (extra env as keywords)."""
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(**extra_env: str) -> tuple[subprocess.Popen, Path]:
        log = Path(tempfile.mkstemp(suffix=".log")[1])
        # A dispatch worker, as in production.
        process = celery_worker_start(log, queues="dispatch", **extra_env)
        started.append((process, log))
        return process, log

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = eager
        for process, log in started:
            process.terminate()
            process.wait(timeout=20)
            log.unlink(missing_ok=True)


def _wait_for(condition: Callable[[], object], what: str, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DEADLINE_S} s; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _tomorrow() -> datetime:
    """Nine o'clock tomorrow in Zurich: a day a run may be started for, whatever today is."""
    today = timezone.now().astimezone(ZURICH).date()
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=ZURICH)


def test_worker_executes_a_queued_run(start_worker, company):
    _, log = start_worker()
    DriverFactory(company=company)
    nine = _tomorrow() + timedelta(hours=9)
    trip = BookingFactory(company=company, scheduled_at=nine)
    run = services.run_start(company=company, service_date=nine.date(), mode="auto")

    def finished() -> bool:
        run.refresh_from_db()
        return run.status not in DispatchRun.ACTIVE

    _wait_for(finished, "finished run", log)
    assert run.status == DispatchRun.Status.SUCCEEDED, log.read_text()[-3000:]
    trip.refresh_from_db()
    assert trip.status == "assigned" and run.assigned_count == 1


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _long_day(company, day: datetime, trips: int) -> None:
    """A day big enough that VROOM searches for several seconds."""
    for _ in range(15):
        DriverFactory(company=company)
    client = ClientFactory(company=company)
    Booking.objects.bulk_create(
        BookingFactory.build(
            company=company,
            client=client,
            scheduled_at=day + timedelta(hours=7 + i % 10, minutes=(i * 7) % 60),
            pickup_lat=46.50 + (i * 37 % 100) / 1000,
            pickup_lon=6.60 + (i * 53 % 100) / 1000,
            dropoff_lat=46.50 + (i * 71 % 100) / 1000,
            dropoff_lon=6.60 + (i * 29 % 100) / 1000,
        )
        for i in range(trips)
    )


def test_a_killed_worker_fails_its_run_and_frees_the_day(start_worker, company, settings):
    # Short beats and threshold so the test waits seconds, not the production 45 s (whose
    # arithmetic test_runs.py checks); the mechanism is the same.
    settings.DISPATCH_RUN_STALE_S = 10
    worker, log = start_worker(DISPATCH_HEARTBEAT_S="1", DISPATCH_RUN_STALE_S="10")
    day = _tomorrow()
    _long_day(company, day, trips=450)
    conf = selectors.dispatch_settings_get(company_id=company.id)
    conf.solver_time_limit_s = 120  # the solve must still be going when the worker dies
    conf.save()
    run = services.run_start(company=company, service_date=day.date(), mode="auto")

    def row() -> DispatchRun:
        return DispatchRun.objects.get(id=run.id)

    _wait_for(lambda: row().progress_detail.startswith("travel matrix"), "solve phase", log)
    solving = row()
    # The worker keeps beating while the solver works (in a child, off the GIL).
    _wait_for(lambda: row().heartbeat_at > solving.heartbeat_at, "heartbeat mid-solve", log)
    assert execution.runs_fail_stale() == 0  # a beating run is alive
    assert row().status == "running" and row().progress_detail.startswith("travel matrix")
    # The child is forked once the problem is built, which may outlast a beat on a busy machine.
    _wait_for(lambda: _children(worker.pid), "solver child process of the worker", log)
    solvers = _children(worker.pid)

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=DEADLINE_S)
    # The solver dies with its worker instead of burning a core for the rest of its limit.
    _wait_for(lambda: not any(_alive(pid) for pid in solvers), "solver exit", log)
    # What the beat task does every 15 s: the run goes silent, then is failed.
    _wait_for(lambda: execution.runs_fail_stale() == 1, "stale run failed", log)
    dead = row()
    assert dead.status == "failed" and "worker running it stopped" in dead.error
    assert dead.finished_at is not None
    assert not Booking.objects.filter(company=company, status="assigned").exists()
    # The day is free again.
    again = services.run_start(company=company, service_date=day.date(), mode="auto", enqueue=False)
    assert again.status == "queued"
