"""The Celery app. Without REDIS_URL tasks run eagerly in-process (see settings)."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmr.settings")

app = Celery("atmr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

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
    # Driver positions older than 30 days, deleted nightly in batches (drivers/locations.py).
    "drivers-prune-locations": {
        "task": "drivers.prune_locations",
        "schedule": crontab(hour=3, minute=17),
    },
    # Each company's shifts for its horizon from the drivers' rosters (drivers/rosters.py).
    "drivers-generate-shifts": {
        "task": "drivers.generate_shifts",
        "schedule": crontab(hour=2, minute=41),
    },
}


@worker_init.connect  # solo and threads pools
@worker_process_init.connect  # each prefork child
def _preload_solver(**_: object) -> None:
    # Web processes import the solver lazily (it weighs ~100 MB); workers load it up front so
    # the first run's solve phase does not pay the import.
    import dispatch.engine.solver  # noqa: F401
