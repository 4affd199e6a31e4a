"""The day simulator behind `manage.py simulate_day`: drivers' phones driving a day's plan.

`day.py` reads the day (the applied plan, else the assigned trips by time), `script.py` turns
each driver's day and the injected delays into drives and messages in simulated time (pure),
`phone.py` is a driver's phone (API log-in, `ws/driver/`), `runner.py` plays the scripts in
accelerated time, and this module puts them together with a server to talk to: the one at
`url`, or one started in this process on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime

import httpx
import uvicorn
from django.conf import settings

from atmr.accounts.models import Company
from dispatch.engine.geo import Location
from dispatch.engine.osrm import OsrmClient, OsrmError
from dispatch.simulator.day import day_load
from dispatch.simulator.democlock import DemoClock, demo_clock
from dispatch.simulator.runner import Playback, Summary, play
from dispatch.simulator.script import (
    Delay,
    Leg,
    Router,
    Script,
    delays_choose,
    script_build,
    straight_leg,
)

__all__ = ["Delay", "SimulationSetup", "Summary", "simulate", "simulation_prepare"]


@dataclass(frozen=True)
class SimulationSetup:
    scripts: list[Script]
    delays: list[Delay]
    run_id: str | None  # the applied run followed, None: trips by time
    start: datetime
    router: str  # "osrm" or "straight_line"


class LegRouter:
    """Legs over OSRM's roads when OSRM_URL is set (straight lines where it fails), else
    straight lines; each pair asked once."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.client = OsrmClient(url, timeout_s=timeout_s) if url else None
        self.cache: dict[tuple[Location, Location], Leg] = {}
        self.fallbacks = 0

    def __call__(self, a: Location, b: Location) -> Leg:
        if (a, b) not in self.cache:
            self.cache[a, b] = self._leg(a, b)
        return self.cache[a, b]

    def _leg(self, a: Location, b: Location) -> Leg:
        if self.client is None or a == b:
            return straight_leg(a, b)
        try:
            seconds, _, points = self.client.route_path(a, b)
        except OsrmError:
            self.fallbacks += 1
            return straight_leg(a, b)
        return Leg(seconds, (a, *points, b))


def simulation_prepare(
    *,
    company: Company,
    day: date,
    delays: int,
    seed: int,
    start: datetime | None,
    until: datetime | None = None,
    explicit_delays: list[Delay] | None = None,
    router: Router | None = None,
) -> SimulationSetup:
    """Read the day and script every driver with trips to drive (synchronous: ORM, OSRM).

    `start` None: when the first driver sets off; delays fall on pick-ups within `start` and
    `until`. Raises ValueError when there is nothing to
    simulate."""
    days, run = day_load(company=company, day=day)
    if not days:
        raise ValueError(f"{company.name} has no assigned trips still to drive on {day}.")
    routes = router or LegRouter(settings.OSRM_URL, settings.OSRM_TIMEOUT_S)
    chosen = explicit_delays
    if chosen is None:
        chosen = delays_choose(days, count=delays, seed=seed, after=start, before=until)
    scripts = [script_build(d, delays=chosen, router=routes) for d in days]
    begins = [s.begins for s in scripts if s.begins is not None]
    return SimulationSetup(
        scripts=scripts,
        delays=chosen,
        run_id=str(run.id) if run else None,
        start=start or min(begins),
        router="osrm" if settings.OSRM_URL else "straight_line",
    )


def simulate(
    setup: SimulationSetup,
    *,
    company: Company,
    speed: float,
    until: datetime | None,
    max_seconds: float,
    password: str,
    url: str | None,
    log: Callable[[str], None],
    demo_clock_on: bool = True,
) -> Summary:
    """Play `setup` against `url` (or an in-process server); blocks until it stops.

    The in-process server runs the demo clock (`democlock.py`) unless `demo_clock_on` is
    False; a server at `url` keeps its own (real) time."""
    in_sim_time = url is None and demo_clock_on
    if in_sim_time:
        with demo_clock(setup.start, speed) as clock:
            return _simulate_sync(
                setup, company, speed, until, max_seconds, password, url, log, clock
            )
    return _simulate_sync(setup, company, speed, until, max_seconds, password, url, log, None)


def _simulate_sync(
    setup: SimulationSetup,
    company: Company,
    speed: float,
    until: datetime | None,
    max_seconds: float,
    password: str,
    url: str | None,
    log: Callable[[str], None],
    clock: DemoClock | None,
) -> Summary:
    playback = Playback(
        scripts=setup.scripts,
        start=setup.start,
        until=until,
        speed=speed,
        max_seconds=max_seconds,
        tz=company.tz,
        password=password,
        log=log,
        server_in_sim_time=clock is not None,
        on_clock=(lambda c: clock.follow(c.start, c.real_start)) if clock else None,
    )
    return asyncio.run(_simulate(playback, url))


async def _simulate(playback: Playback, url: str | None) -> Summary:
    async with _server(url) as base:
        ws = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return await play(playback, http_url=base, ws_url=f"{ws}/ws/driver/")


@contextlib.asynccontextmanager
async def _server(url: str | None) -> AsyncIterator[str]:
    """`url` after checking it answers, or a server started here for the duration."""
    if url:
        await _check_reachable(url)
        yield url
        return
    server = _QuietServer(
        uvicorn.Config(
            "atmr.asgi:application",
            host="127.0.0.1",
            port=_free_port(),
            lifespan="off",
            log_level="warning",
            ws_max_size=65536,
            ws_per_message_deflate=False,
        )
    )
    # The phones call this server on loopback; it is this process's own, so its host is
    # allowed whatever ALLOWED_HOSTS says (restored after).
    allowed = settings.ALLOWED_HOSTS
    settings.ALLOWED_HOSTS = [*allowed, "127.0.0.1"]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("The in-process server stopped before it listened.")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        settings.ALLOWED_HOSTS = allowed


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: SIGINT belongs to the simulation, which stops
    its phones first and then this server."""

    @functools.wraps(uvicorn.Server.capture_signals)
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _check_reachable(url: str) -> None:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
            response = await http.get("/api/health")
    except httpx.HTTPError as exc:
        raise ConnectionError(f"No server answers at {url}: {exc!r}") from exc
    if response.status_code >= 500:
        raise ConnectionError(f"The server at {url} answers {response.status_code} on /api/health.")
