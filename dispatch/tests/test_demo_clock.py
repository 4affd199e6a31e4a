"""The demo clock of simulate_day's in-process server: the server lives in simulated time, so
an injected delay at high speed raises `late_risk` for that trip; outside the simulation the
clock is the real one (PostgreSQL, the real channel layer, a server in this process)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone

from bookings.models import Booking
from dispatch.simulator import simulate, simulation_prepare
from dispatch.simulator.democlock import DemoClockRefused, demo_clock, demo_clock_active
from dispatch.simulator.script import NOT_READY, Delay
from drivers.models import DriverLocation
from realtime.groups import group_for_company_dispatch

from .test_simulate_day import PASSWORD, _today, server_test, small_day  # noqa: F401

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the in-process server's threads cannot see SQLite's in-memory test database",
    ),
]


class _Office:
    """What the office group receives over the real channel layer, on a loop of its own."""

    def __init__(self, company_id: str) -> None:
        self.group = group_for_company_dispatch(company_id)
        self.events: list[dict] = []
        self.stop, self.ready = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    async def _listen(self) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self.ready.set()
        while not self.stop.is_set():
            try:
                self.events.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except TimeoutError:
                continue
        await layer.group_discard(self.group, channel)

    def __enter__(self) -> _Office:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _late_risks(events: list, booking_id: str) -> list[dict]:
    found = []
    for event in events:
        body = event.get("event", event)
        if body.get("type") == "late_risk" and body["booking"]["id"] == booking_id:
            found.append(body)
    return found


def test_a_delay_at_high_speed_raises_late_risk_in_simulated_time(
    server_test,  # noqa: F811
    company,
    small_day,  # noqa: F811
):
    planned, _, (a1, a2, _, _) = small_day
    # Not ready 25 minutes at a 09:40 pick-up for a 10:00 appointment (about 10 minutes'
    # drive): the drop-off's ETA slides past the appointment as simulated time passes.
    Booking.objects.filter(id=a2.id).update(appointment_at=_today(company, 10, 0))
    setup = simulation_prepare(
        company=company,
        day=a1.scheduled_at.date(),
        delays=0,
        seed=0,
        start=None,
        explicit_delays=[Delay(str(a2.id), NOT_READY, 25)],
    )
    lines: list[str] = []
    with _Office(str(company.id)) as office:
        summary = simulate(
            setup,
            company=company,
            speed=300,
            until=None,
            max_seconds=25,
            password=PASSWORD,
            url=None,
            log=lines.append,
        )
    assert summary.errors == [], lines
    risks = _late_risks(office.events, str(a2.id))
    assert risks, [e.get("event", e).get("type") for e in office.events]
    assert {r["lateness"] for r in risks} & {"at_risk", "late"}
    # Computed in simulated time: the ETAs it reports are around the delayed pick-up (09:40
    # plus the wait), not at the real hour of the test.
    eta = datetime.fromisoformat(risks[0]["eta_pickup"] or risks[0]["eta_dropoff"])
    assert _today(company, 9, 30) <= eta <= _today(company, 11, 0)
    # Positions are stamped with their simulated moment.
    stamps = DriverLocation.objects.filter(driver=planned).values_list("recorded_at", flat=True)
    assert stamps and all(_today(company, 8, 50) <= s <= _today(company, 10, 30) for s in stamps)
    # And the clock is the real one again.
    assert not demo_clock_active()
    assert abs(timezone.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_the_demo_clock_is_inactive_outside_the_simulation_and_refused_in_production(settings):
    assert not demo_clock_active()
    assert abs(timezone.now() - datetime.now(UTC)) < timedelta(seconds=5)
    start = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    with demo_clock(start, 3600) as clock:
        assert demo_clock_active() and timezone.now() == start  # standing still until followed
        with pytest.raises(DemoClockRefused), demo_clock(start, 60):  # never two at once
            pass
    assert not demo_clock_active() and clock.now() == start
    assert abs(timezone.now() - datetime.now(UTC)) < timedelta(seconds=5)
    settings.DEBUG, settings.TESTING = False, False
    with pytest.raises(DemoClockRefused, match="DEBUG is off"), demo_clock(start, 60):
        pass
    assert not demo_clock_active()
