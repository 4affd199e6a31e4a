"""simulate_day end to end: phones log in over the API and drive over real sockets against a
server started in this process (uvicorn, PostgreSQL, the real channel layer).

The server runs in the test's process on the test database, so these tests need PostgreSQL
(the server's threads cannot see SQLite's in-memory test database) and real time: they are
kept short with a high speed and a small day.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from bookings.models import Booking
from dispatch.models import DispatchRun
from dispatch.simulator import simulate, simulation_prepare
from dispatch.simulator.script import NO_SHOW, NOT_READY, Delay
from drivers.models import Driver, DriverLocation
from realtime.positions import LOCATION_WRITER_THREADS, _location_writers
from tests.factories import BookingFactory, DriverFactory

PASSWORD = "pw-correct-horse"  # the factories' password
pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the in-process server's threads cannot see SQLite's in-memory test database",
    ),
]
LAUSANNE = [(46.5250, 6.6400), (46.5100, 6.6200), (46.5300, 6.6000), (46.5200, 6.6500)]


@pytest.fixture
def server_test(transactional_db):
    """The server's sync thread and position writers keep connections to the test database,
    which would keep PostgreSQL from dropping it."""
    yield
    asyncio.run(database_sync_to_async(connections.close_all)())
    barrier = threading.Barrier(LOCATION_WRITER_THREADS)

    def close() -> None:
        barrier.wait(timeout=30)
        connections.close_all()

    for future in [_location_writers.submit(close) for _ in range(LOCATION_WRITER_THREADS)]:
        future.result(timeout=60)
    # Django's ASGI handler runs each HTTP request (the log-ins) in a thread of its own, whose
    # connection (CONN_MAX_AGE without the pool, as in tests) outlives it; only this test
    # process uses the test database.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def _today(company, hour: int, minute: int = 0) -> datetime:
    day = timezone.now().astimezone(company.tz).date()
    return datetime.combine(day, datetime.min.time(), tzinfo=company.tz).replace(
        hour=hour, minute=minute
    )


def _trip(company, driver, hour: int, minute: int, pickup, dropoff) -> Booking:
    at = _today(company, hour, minute)
    return BookingFactory(
        company=company,
        driver=driver,
        vehicle=driver.default_vehicle,
        status="assigned",
        scheduled_at=at,
        pickup_lat=pickup[0],
        pickup_lon=pickup[1],
        dropoff_lat=dropoff[0],
        dropoff_lon=dropoff[1],
    )


def _stop(kind, booking, where, arrival, service_start, departure):
    return {
        "kind": kind,
        "booking": str(booking.id) if booking else None,
        "arrival": arrival.isoformat(),
        "service_start": service_start.isoformat(),
        "departure": departure.isoformat(),
        "seats_load": 0,
        "wheelchair_load": 0,
        "lat": where[0],
        "lon": where[1],
    }


@pytest.fixture
def small_day(company):
    """Two drivers, two trips each: `planned` follows an applied run, `by_time` has none."""
    # The server's no-show wait runs in real time; the simulated patient's wait is sped up.
    company.no_show_wait_minutes = 0
    company.save(update_fields=["no_show_wait_minutes"])
    planned = DriverFactory(company=company, user__email="planned@example.test")
    by_time = DriverFactory(company=company, user__email="bytime@example.test")
    p1, p2, d1, d2 = LAUSANNE
    a1 = _trip(company, planned, 9, 0, p1, d1)
    a2 = _trip(company, planned, 9, 40, p2, d2)
    b1 = _trip(company, by_time, 9, 10, d1, p2)
    b2 = _trip(company, by_time, 9, 50, d2, p1)
    t = lambda h, m: _today(company, h, m)  # noqa: E731
    home = (planned.home_lat, planned.home_lon)
    stops = [
        _stop("start", None, home, t(8, 45), t(8, 45), t(8, 50)),
        _stop("pickup", a1, p1, t(8, 58), t(9, 0), t(9, 2)),
        _stop("dropoff", a1, d1, t(9, 10), t(9, 10), t(9, 12)),
        _stop("pickup", a2, p2, t(9, 20), t(9, 40), t(9, 42)),
        _stop("dropoff", a2, d2, t(9, 50), t(9, 50), t(9, 52)),
        _stop("end", None, home, t(10, 0), t(10, 0), t(10, 0)),
    ]
    route = {"driver": str(planned.id), "driver_name": "P", "vehicle": "", "stops": stops}
    DispatchRun.objects.create(
        company=company,
        service_date=t(9, 0).date(),
        status=DispatchRun.Status.SUCCEEDED,
        applied_at=timezone.now(),
        routes=[route],
    )
    return planned, by_time, (a1, a2, b1, b2)


def test_a_simulated_day_reaches_the_server_through_the_phones_protocol(
    server_test, company, small_day, monkeypatch
):
    # Access tokens that expire during the run: the server closes the sockets with 4401, the
    # phones refresh their token and reconnect, losing nothing.
    monkeypatch.setattr(AccessToken, "lifetime", timedelta(seconds=2))
    planned, by_time, (a1, a2, b1, b2) = small_day
    delays = [Delay(str(a2.id), NOT_READY, 20), Delay(str(b1.id), NO_SHOW)]
    setup = simulation_prepare(
        company=company,
        day=a1.scheduled_at.date(),
        delays=0,
        seed=0,
        start=None,
        explicit_delays=delays,
    )
    lines: list[str] = []

    summary = simulate(
        setup,
        company=company,
        speed=1200,
        until=None,
        max_seconds=60,
        password=PASSWORD,
        url=None,
        log=lines.append,
    )

    # The planned driver leaves for its 09:00 pick-up 8 minutes ahead (the plan's leg).
    assert setup.run_id is not None and setup.start == _today(company, 8, 52)
    assert summary.errors == [] and summary.refused == {}, lines
    assert summary.stopped == "day played to the end"
    statuses = dict(Booking.objects.filter(company=company).values_list("id", "status"))
    assert statuses == {
        a1.id: "completed",
        a2.id: "completed",
        b1.id: "no_show",
        b2.id: "completed",
    }
    assert Booking.objects.get(id=b1.id).cancel_code.code == "no_show"
    # Positions went through the socket's writer: stored, and the driver's last one set.
    for driver in (planned, by_time):
        assert DriverLocation.objects.filter(driver=driver).count() >= 3
        assert Driver.objects.get(id=driver.id).last_seen_at is not None
    assert summary.positions == DriverLocation.objects.filter(company=company).count()
    # The patient not ready 20 minutes shifts the pick-up (planned 09:40 + 2 min loading)
    # and the drop-off after it.
    acked = {(b, s): at for at, _, b, s in summary.acked}
    assert acked[str(a2.id), "on_board"] == _today(company, 10, 2)
    assert acked[str(a2.id), "completed"] == _today(company, 9, 52) + timedelta(minutes=20)
    assert len(summary.delays) == 2 and summary.arrived_supported is not None
    assert summary.reconnects >= 1
    assert any("no_show" in line for line in lines)


def _interrupting_stdout() -> io.StringIO:
    """Output that presses Ctrl-C (SIGINT to this process) when the first trip starts."""

    class Out(io.StringIO):
        pressed = False

        def write(self, text: str) -> int:
            if "en_route" in text and not self.pressed:
                self.pressed = True
                os.kill(os.getpid(), signal.SIGINT)
            return super().write(text)

    return Out()


def test_ctrl_c_stops_cleanly_with_a_summary(server_test, company, small_day):
    *_, (a1, _, _, b2) = small_day
    out = _interrupting_stdout()

    call_command(
        "simulate_day",
        "--company",
        company.name,
        "--password",
        PASSWORD,
        "--speed",
        "60",
        "--delays",
        "0",
        stdout=out,
    )

    text = out.getvalue()
    assert "stopped: interrupted (Ctrl-C)" in text
    assert "errors: 0" in text
    # Stopped early: the first trip started, the last is untouched.
    assert Booking.objects.get(id=a1.id).status == "en_route"
    assert Booking.objects.get(id=b2.id).status == "assigned"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_max_seconds_bounds_the_run(server_test, company, small_day):
    out = io.StringIO()

    call_command(
        "simulate_day",
        "--company",
        company.name,
        "--password",
        PASSWORD,
        "--speed",
        "1",
        "--max-seconds",
        "1",
        stdout=out,
    )

    assert "stopped: --max-seconds 1 reached" in out.getvalue()
    # At real pace only the first trip could start (its en_route is the simulation's start).
    untouched = Booking.objects.filter(company=company, status="assigned").count()
    assert untouched >= 3


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--date", "2026-13-01"], "--date"),
        (["--date", "2020-01-01"], "--date"),
        (["--speed", "0"], "--speed"),
        (["--speed", "fast"], "--speed"),
        (["--speed", "nan"], "--speed"),
        (["--delays", "-1"], "--delays"),
        (["--delays", "1000"], "--delays"),
        (["--seed", "x"], "--seed"),
        (["--until", "25:00"], "--until"),
        (["--until", "now"], "--until"),
        (["--from", "9h"], "--from"),
        (["--max-seconds", "0"], "--max-seconds"),
        (["--url", "ftp://host"], "--url"),
        (["--url", "http://127.0.0.1:9/api"], "--url"),
        (["--company", "Nobody Transports"], "--company"),
        (["--from", "10:00", "--until", "09:00"], "--until"),
    ],
)
def test_bad_arguments_name_the_option(company, small_day, args, option):
    with pytest.raises(CommandError, match=option):
        call_command("simulate_day", "--company", company.name, *args, stdout=io.StringIO())


def test_a_server_that_does_not_answer_is_named(company, small_day):
    with pytest.raises(CommandError, match="--url: No server answers"):
        call_command(
            "simulate_day",
            "--company",
            company.name,
            "--url",
            "http://127.0.0.1:9",
            stdout=io.StringIO(),
        )


def test_a_day_without_assigned_trips_says_so(company):
    with pytest.raises(CommandError, match="no assigned trips"):
        call_command("simulate_day", "--company", company.name, stdout=io.StringIO())
