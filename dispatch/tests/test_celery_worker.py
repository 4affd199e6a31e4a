"""A dispatch run queued through Redis and executed by a real Celery worker process.

Needs PostgreSQL and Redis (the worker is another process: it must see the test database
and the broker), as in CI; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from atmr.celery import app as celery_app
from dispatch import services
from dispatch.models import DispatchRun
from tests.factories import BookingFactory, DriverFactory, at
from tests.processes import child_database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="a worker process needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL), as in CI",
    ),
]


@pytest.fixture
def worker(transactional_db):
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CONN_MAX_AGE": "0",
    }
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "atmr",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield log
    finally:
        celery_app.conf.task_always_eager = eager
        process.terminate()
        process.wait(timeout=20)
        log.unlink(missing_ok=True)


def test_worker_executes_a_queued_run(worker, company):
    DriverFactory(company=company)
    trip = BookingFactory(company=company, scheduled_at=at(9))
    run = services.run_start(company=company, service_date=at(9).date(), mode="auto")
    # A deadline, not a wait: a worker starting on a loaded machine may need a while.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status not in DispatchRun.ACTIVE:
            break
        time.sleep(0.2)
    assert run.status == DispatchRun.Status.SUCCEEDED, worker.read_text()[-3000:]
    trip.refresh_from_db()
    assert trip.status == "assigned" and run.assigned_count == 1
