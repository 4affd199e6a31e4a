"""The demo clock: the in-process server of `simulate_day` living in simulated time.

While `demo_clock(...)` is entered, `django.utils.timezone.now` (which Django's own
`auto_now` fields, the booking services, the socket protocol, the ETAs, the no-show wait and
the re-plan all call) returns `sim_start + (real - real_start) × speed`: ETAs, lateness and
`recorded_at` of positions are then in the same time as the simulated phones. Before
`follow()` starts it, the clock stands still at `sim_start` (the phones are logging in).

It is only for the process that runs the simulation: `simulate_day` enters it around the
server it starts itself (never with `--url`), refuses to when the process looks like a
deployment (a Celery worker or a server would have set DEBUG off and no simulation runs
there), and restores everything on exit. Inside it:
- the ETA refreshes and insertion proposals run in this process (Celery's eager mode with
  the background threads), not on a worker that keeps real time;
- the ETA coalescing of position batches is scaled to the speed (30 simulated seconds, at
  least 1 real second), so a delay shows up in the ETAs within about one real second;
- what stays in real time: JWT expiry (simplejwt reads the system clock both when issuing and
  when checking), Redis TTLs (the throttles, the coalescing key's TTL), the partition
  maintenance; no SQL in the project uses the database's `now()`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

_REAL_NOW = timezone.now
_lock = threading.Lock()
_active: DemoClock | None = None


class DemoClockRefused(RuntimeError):
    pass


class DemoClock:
    def __init__(self, sim_start: datetime, speed: float) -> None:
        self.sim_start, self.speed = sim_start, speed
        self.real_start: float | None = None  # monotonic; None: standing still

    def follow(self, sim_start: datetime, real_start: float) -> None:
        """From now on, simulated `sim_start` is monotonic moment `real_start`."""
        self.sim_start, self.real_start = sim_start, real_start

    def now(self) -> datetime:
        if self.real_start is None:
            return self.sim_start
        return self.sim_start + timedelta(seconds=(time.monotonic() - self.real_start) * self.speed)


def demo_clock_active() -> bool:
    """Whether this process's `timezone.now` is a demo clock."""
    return _active is not None and timezone.now is not _REAL_NOW


def _refusal() -> str | None:
    if _active is not None:
        return "a demo clock is already running in this process"
    if timezone.now is not _REAL_NOW:
        return "django.utils.timezone.now is already replaced"
    if not settings.DEBUG and not getattr(settings, "TESTING", False):
        return "DEBUG is off: the demo clock is for demos and tests (DEBUG=1), never production"
    return None


@contextlib.contextmanager
def demo_clock(sim_start: datetime, speed: float) -> Iterator[DemoClock]:
    """This process in simulated time for the duration (see the module's docstring)."""
    global _active
    from celery import current_app

    from dispatch import eta_coalesce

    with _lock:
        why = _refusal()
        if why:
            raise DemoClockRefused(f"Demo clock refused: {why}.")
        clock = DemoClock(sim_start, speed)
        saved = (
            current_app.conf.task_always_eager,
            settings.DISPATCH_EAGER_IN_THREAD,
            eta_coalesce.POSITION_COALESCE_S,
        )
        _active = clock
        timezone.now = clock.now
        current_app.conf.task_always_eager = True
        settings.DISPATCH_EAGER_IN_THREAD = True
        eta_coalesce.POSITION_COALESCE_S = max(1, round(eta_coalesce.POSITION_COALESCE_S / speed))
    try:
        yield clock
    finally:
        with _lock:
            timezone.now = _REAL_NOW
            (
                current_app.conf.task_always_eager,
                settings.DISPATCH_EAGER_IN_THREAD,
                eta_coalesce.POSITION_COALESCE_S,
            ) = saved
            _active = None
