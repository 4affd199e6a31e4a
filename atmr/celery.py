"""The Celery app. Without REDIS_URL tasks run eagerly in-process (see settings)."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init, worker_process_init, worker_process_shutdown

from atmr.metrics import celery_signals_connect as metrics_signals_connect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmr.settings")

app = Celery("atmr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task durations (atmr/metrics.py) in whichever process runs the task, eager ones included.
metrics_signals_connect()

# Periodic jobs live here so one file shows everything beat runs.
app.conf.beat_schedule = {
    # A run whose process died is failed within DISPATCH_RUN_STALE_S (45 s) + 15 s.
    "dispatch-fail-stale-runs": {"task": "dispatch.tasks.fail_stale_runs", "schedule": 15.0},
    # Every active driver's ETAs once a minute, besides positions and trip changes
    # (dispatch/eta_schedule.py).
    "dispatch-refresh-etas": {"task": "dispatch.refresh_etas", "schedule": 60.0},
    # Standing orders' trips booked up to each company's horizon (bookings/orders/services.py).
    "bookings-materialise-standing-orders": {
        "task": "bookings.materialise_standing_orders",
        "schedule": crontab(hour=2, minute=7),
    },
    # Driver positions older than 30 days: whole days dropped nightly (drivers/locations.py).
    "drivers-prune-locations": {
        "task": "drivers.prune_locations",
        "schedule": crontab(hour=3, minute=17),
    },
    # The positions' day partitions for the coming week (drivers/partitions.py); hourly, so a
    # failed run (a lock timeout) is retried long before the day it prepares.
    "drivers-ensure-location-partitions": {
        "task": "drivers.ensure_location_partitions",
        "schedule": crontab(minute=11),
    },
    # Yesterday's positions rewritten in (company, driver, time) order, so that one driver's
    # day is read from a few dozen pages, not one page per fix (drivers/partitions.py). After
    # the retention drop (less to read), at night (a full day is a few minutes of I/O); a
    # night that failed is caught up by the next.
    "drivers-sort-location-partitions": {
        "task": "drivers.sort_location_partitions",
        "schedule": crontab(hour=3, minute=47),
    },
    # The bookings list's stored JSON rows of recent trips against their values (repairs any
    # the triggers missed; none should be).
    "bookings-audit-list-json": {
        "task": "bookings.audit_list_json",
        "schedule": crontab(hour=4, minute=23),
    },
    # Each company's shifts for its horizon from the drivers' rosters (drivers/rosters.py).
    "drivers-generate-shifts": {
        "task": "drivers.generate_shifts",
        "schedule": crontab(hour=2, minute=41),
    },
    # Unpaid invoices past due become overdue and get reminders 1-3 (billing/invoicing.py).
    "billing-send-reminders": {
        "task": "billing.send_reminders",
        "schedule": crontab(hour=5, minute=23),
    },
}


@worker_init.connect
def _serve_worker_metrics(**_: object) -> None:
    # Task durations of this worker on :WORKER_METRICS_PORT/metrics (atmr/metrics.py).
    port = os.environ.get("WORKER_METRICS_PORT")
    if port:
        from atmr.metrics import worker_metrics_serve

        worker_metrics_serve(int(port))


@worker_process_shutdown.connect  # a prefork child ends: its live gauges go
def _metrics_process_exit(**_: object) -> None:
    from atmr.metrics import process_exit

    process_exit()


@worker_init.connect  # solo and threads pools
@worker_process_init.connect  # each prefork child
def _preload_solver(**_: object) -> None:
    # Web processes import the solver lazily (it weighs ~100 MB); workers load it up front so
    # the first run's solve phase does not pay the import (the package itself loads it lazily).
    import dispatch.engine.solver.orchestrate  # noqa: F401
