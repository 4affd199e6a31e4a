"""Celery queues (atmr/settings.py): every task is routed by name; urgent runs go first."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

from atmr.celery import app as celery_app
from dispatch.tasks import RUN_PRIORITY_PLANNED, RUN_PRIORITY_URGENT

# Where each task must go. A new task fails test_every_task_has_a_route until it is added
# to CELERY_TASK_ROUTES and here: dispatch runs only on `dispatch`, the rest on `background`.
EXPECTED = {
    "dispatch.tasks.execute_run": "dispatch",
    "dispatch.tasks.fail_stale_runs": "dispatch",
    "dispatch.tasks.propose_insertions": "dispatch",
    "dispatch.refresh_etas": "background",
    "dispatch.refresh_driver_etas": "background",
    "billing.send_reminders": "background",
    "billing.company_reminders": "background",
    "bookings.materialise_standing_orders": "background",
    "bookings.audit_list_json": "background",
    "drivers.prune_locations": "background",
    "drivers.ensure_location_partitions": "background",
    "drivers.sort_location_partitions": "background",
    "drivers.generate_shifts": "background",
}


def _our_tasks() -> set[str]:
    celery_app.loader.import_default_modules()
    return {name for name in celery_app.tasks if not name.startswith("celery.")}


def test_every_task_has_a_route():
    routed = set(settings.CELERY_TASK_ROUTES)
    assert _our_tasks() - routed == set(), "add a route in CELERY_TASK_ROUTES"
    assert routed - _our_tasks() == set(), "a route names no task"
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled <= routed


@pytest.mark.parametrize(("name", "queue"), sorted(EXPECTED.items()))
def test_each_task_goes_to_its_queue(name, queue):
    assert celery_app.amqp.router.route({}, name)["queue"].name == queue


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis broker (CI)")
def test_an_urgent_run_overtakes_planned_ones_on_redis():
    queue = f"priority-test-{uuid.uuid4().hex}"
    for run, priority in (("planned-1", RUN_PRIORITY_PLANNED), ("planned-2", RUN_PRIORITY_PLANNED)):
        celery_app.send_task("dispatch.tasks.execute_run", (run,), queue=queue, priority=priority)
    celery_app.send_task(
        "dispatch.tasks.execute_run", ("urgent",), queue=queue, priority=RUN_PRIORITY_URGENT
    )
    order = []
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue)
        try:
            for _ in range(3):
                message = simple.get(timeout=10)
                order.append(message.headers["argsrepr"])
                message.ack()
        finally:
            simple.queue.delete()
            simple.close()
    assert order == ["('urgent',)", "('planned-1',)", "('planned-2',)"]
