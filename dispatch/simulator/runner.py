"""Play the scripts against a server in accelerated time: one phone per driver, real sockets.

Simulated time runs `speed` times faster than the real clock from `start` (`--from`, by
default when the first driver sets off): a step at simulated moment `t` is sent at real moment
`real_start + (t - start) / speed`. A server at `--url` is not told about
simulated time: positions are stamped with the real moment they stand for and statuses are
recorded when they arrive, as from a real phone. The in-process server instead runs a demo
clock (`democlock.py`, `server_in_sim_time`): positions carry their simulated moment. Steps
before `start` are sent at once, in order (catching up with a day already under way); fixes
before it are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import httpx

from dispatch.simulator.phone import Phone, PhoneError, Refused
from dispatch.simulator.script import Script, Step

MAX_BATCH = 50  # realtime/protocol.py's MAX_POSITIONS
NO_SHOW_RETRY_S = 10.0  # real seconds between no-show attempts the server refused as early
STOP_GRACE_S = 5.0  # real seconds phones get to finish what they sent once stopping
LOGINS_AT_ONCE = 4
PROGRESS_SIM, PROGRESS_REAL_S = (
    timedelta(minutes=15),
    10.0,
)  # log-ins hash passwords on purpose slowly; do not queue 30 at once


@dataclass(frozen=True)
class Sent:
    """A message a phone sent (benches time the server's reaction from it): the real moment
    (monotonic) and the simulated one, the driver, `positions` (with the last fix) or the
    status with its booking."""

    real: float
    sim: datetime
    email: str
    kind: str  # "positions" or a booking status
    where: tuple[float, float] | None = None
    booking: str | None = None


@dataclass
class Summary:
    drivers: int = 0
    positions: int = 0  # fixes acknowledged (stored)
    batches: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # acknowledged, by status
    refused: Counter[str] = field(default_factory=Counter)  # "status: code"
    delays: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)  # server events, by type
    reconnects: int = 0
    arrived_supported: bool | None = None  # None: never tried
    no_shows_waiting: set[str] = field(default_factory=set)
    # (simulated moment, driver e-mail, booking, status) of every acknowledged status
    acked: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)  # every batch and status, as sent
    stopped: str = ""
    reached: datetime | None = None
    real_seconds: float = 0.0

    def lines(self, tz: tzinfo) -> list[str]:
        reached = f"{self.reached.astimezone(tz):%H:%M}" if self.reached else "-"
        arrived = {None: "not tried", True: "accepted", False: "not accepted by this server"}
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "none"
        refused = ", ".join(f"{k} ×{v}" for k, v in sorted(self.refused.items())) or "none"
        received = ", ".join(f"{k} {v}" for k, v in sorted(self.received.items())) or "none"
        lines = [
            f"stopped: {self.stopped} at simulated {reached} after {self.real_seconds:.1f} s",
            f"drivers: {self.drivers}",
            f"positions: {self.positions} stored in {self.batches} batches",
            f"statuses: {statuses}",
            f"refused: {refused}",
            f"`arrived`: {arrived[self.arrived_supported]}",
            f"delays injected: {len(self.delays)}",
            *(f"  {d}" for d in self.delays),
            f"server events received: {received}",
            f"reconnections: {self.reconnects}",
        ]
        if self.no_shows_waiting:
            lines.append(
                f"no-shows refused as too early (the server's wait is in real time): "
                f"{len(self.no_shows_waiting)}"
            )
        lines.append(f"errors: {len(self.errors)}")
        lines.extend(f"  {e}" for e in self.errors[:20])
        return lines


@dataclass(frozen=True)
class Playback:
    scripts: Sequence[Script]
    start: datetime  # simulated moment that maps to the real start
    until: datetime | None  # simulated moment to stop at
    speed: float
    max_seconds: float
    tz: tzinfo  # of the log
    password: str
    log: Callable[[str], None]
    # The server lives in simulated time too (the in-process server's demo clock): positions
    # are stamped with their simulated moment, and `on_clock` is told when the clock starts.
    server_in_sim_time: bool = False
    on_clock: Callable[[SimClock], None] | None = None


class SimClock:
    def __init__(self, start: datetime, speed: float, *, sim_stamps: bool = False) -> None:
        self.start, self.speed, self.sim_stamps = start, speed, sim_stamps
        self.real_start = time.monotonic()
        self.wall_start = datetime.now(UTC)

    def real_at(self, at: datetime) -> float:
        return self.real_start + (at - self.start).total_seconds() / self.speed

    def wall(self, at: datetime) -> datetime:
        """The moment positions of simulated moment `at` are stamped with: the real moment it
        stands for, or `at` itself when the server runs a demo clock."""
        if self.sim_stamps:
            return at
        return self.wall_start + (at - self.start) / self.speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.real_start) * self.speed)


def fix_interval_s(speed: float) -> float:
    """Simulated seconds between fixes: a phone's 15 s, coarser when faster, so a phone sends
    at most about two fixes per real second."""
    return max(15.0, speed * 0.5)


def batch_interval_s(speed: float) -> float:
    """Real seconds between batches: a phone's 15 s at real pace, every second when faster."""
    return max(1.0, 15.0 / speed)


async def play(
    playback: Playback,
    *,
    http_url: str,
    ws_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Summary:
    """Run every script until done, `until`, `max_seconds` or SIGINT; always closes the sockets.
    `transport`: the API's, when not the network's (tests)."""
    return await _Simulation(playback, http_url, ws_url, transport).run()


class _Simulation:
    def __init__(
        self,
        playback: Playback,
        http_url: str,
        ws_url: str,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.p, self.http_url, self.ws_url = playback, http_url, ws_url
        self.transport = transport
        self.summary = Summary(drivers=len(playback.scripts))
        self.stop = asyncio.Event()
        self.phones: list[Phone] = []
        self.retries: set[asyncio.Task[None]] = set()
        self.acked: dict[str, str] = {}  # booking -> last status the server took
        self.clock = SimClock(
            playback.start, playback.speed, sim_stamps=playback.server_in_sim_time
        )

    def halt(self, why: str) -> None:
        if not self.stop.is_set():
            self.summary.stopped = why
            self.stop.set()

    async def run(self) -> Summary:
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        on_main = threading.current_thread() is threading.main_thread()
        if on_main:
            loop.add_signal_handler(signal.SIGINT, self._interrupt, loop)
        watchdog = asyncio.create_task(self._watchdog())
        try:
            async with httpx.AsyncClient(
                base_url=self.http_url, timeout=60.0, transport=self.transport
            ) as http:
                await self._until_stopped(asyncio.create_task(self._work(http)))
        finally:
            watchdog.cancel()
            for task in self.retries:
                task.cancel()
            await asyncio.gather(*(phone.close() for phone in self.phones))
            for phone in self.phones:
                self.summary.received.update(phone.received)
                self.summary.reconnects += phone.reconnects
            if on_main:
                loop.remove_signal_handler(signal.SIGINT)
        self.summary.reached = min(self.clock.now(), self.p.until or self.clock.now())
        self.summary.real_seconds = time.monotonic() - began
        return self.summary

    async def _work(self, http: httpx.AsyncClient) -> None:
        pairs = await self._log_in(http)
        if not pairs and self.p.scripts:
            self.halt("no phone could log in")
        self.clock = SimClock(  # log-ins took real time
            self.p.start, self.p.speed, sim_stamps=self.p.server_in_sim_time
        )
        if self.p.on_clock is not None:
            self.p.on_clock(self.clock)
        ticker = asyncio.create_task(self._progress())
        try:
            await asyncio.gather(*(self._drive(script, phone) for script, phone in pairs))
        finally:
            ticker.cancel()
        self.halt("until reached" if self.p.until else "day played to the end")

    async def _progress(self) -> None:
        """A line every PROGRESS_SIM simulated (at least PROGRESS_REAL_S real seconds apart)."""
        every = max(PROGRESS_SIM.total_seconds() / self.p.speed, PROGRESS_REAL_S)
        while await self._sleep_until(time.monotonic() + every):
            done = sum(self.summary.statuses.values())
            self.p.log(
                f"{self.clock.now().astimezone(self.p.tz):%H:%M:%S}  progress: "
                f"{self.summary.positions} positions, {done} statuses, "
                f"{len(self.summary.delays)} delays, {len(self.summary.errors)} errors"
            )

    async def _until_stopped(self, work: asyncio.Task[None]) -> None:
        """Wait for `work`; once stopping, phones end at their next step, and one still
        waiting for the server after STOP_GRACE_S is cut off."""
        stopping = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                await asyncio.wait({work}, timeout=STOP_GRACE_S)
            if not work.done():
                work.cancel()
                self.summary.errors.append("phones still waiting for the server were cut off")
            with contextlib.suppress(asyncio.CancelledError):
                await work
        finally:
            stopping.cancel()
            if not work.done():  # cancelled from outside (a second Ctrl-C)
                work.cancel()

    def _interrupt(self, loop: asyncio.AbstractEventLoop) -> None:
        """Ctrl-C stops cleanly; a second one while stopping is Python's KeyboardInterrupt."""
        if self.stop.is_set():
            loop.remove_signal_handler(signal.SIGINT)
            raise KeyboardInterrupt
        self.p.log("stopping (Ctrl-C again to force)")
        self.halt("interrupted (Ctrl-C)")

    async def _watchdog(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.p.max_seconds)
            return
        self.halt(f"--max-seconds {self.p.max_seconds:g} reached")

    async def _log_in(self, http: httpx.AsyncClient) -> list[tuple[Script, Phone]]:
        """Every driver's phone logged in and connected; a phone that cannot is left out (an
        error in the summary), the others play on."""
        gate = asyncio.Semaphore(LOGINS_AT_ONCE)

        async def start(script: Script) -> Phone:
            phone = Phone(
                http=http, ws_url=self.ws_url, email=script.day.email, password=self.p.password
            )
            self.phones.append(phone)  # closed at the end whatever happens
            async with gate:
                await phone.login()
            await phone.connect()
            return phone

        results = await asyncio.gather(*(start(s) for s in self.p.scripts), return_exceptions=True)
        pairs = []
        for script, result in zip(self.p.scripts, results, strict=True):
            if isinstance(result, Phone):
                pairs.append((script, result))
            else:
                self.summary.errors.append(f"{script.day.email}: {result}")
        self.p.log(f"{len(pairs)} of {len(results)} phones logged in and connected")
        return pairs

    async def _sleep_until(self, real: float) -> bool:
        """Wait for real moment `real` (monotonic); False when the simulation is stopping."""
        delay = real - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
        return not self.stop.is_set()

    def _timeline(self, script: Script) -> list[tuple[datetime, Step | None]]:
        """The script's steps and its fixes (None), in time order, within start..until."""
        until = self.p.until
        items: list[tuple[datetime, Step | None]] = [
            (s.at, s) for s in script.steps if until is None or s.at <= until
        ]
        begins, ends = script.begins, script.ends
        if begins is not None and ends is not None:
            at, last = max(begins, self.p.start), min(ends, until) if until else ends
            step = timedelta(seconds=fix_interval_s(self.p.speed))
            while at <= last:
                items.append((at, None))
                at += step
        items.sort(key=lambda item: (item[0], item[1] is not None))
        return items

    async def _drive(self, script: Script, phone: Phone) -> None:
        buffer: list[dict[str, Any]] = []
        flushed = time.monotonic()
        batch_every = batch_interval_s(self.p.speed)
        try:
            for at, step in self._timeline(script):
                if not await self._sleep_until(self.clock.real_at(at)):
                    break
                if step is None:
                    buffer.append(self._fix(script, at))
                    if len(buffer) >= MAX_BATCH or time.monotonic() - flushed >= batch_every:
                        await self._flush(phone, buffer)
                        buffer, flushed = [], time.monotonic()
                    continue
                await self._flush(phone, buffer)
                buffer = []
                await self._step(script, phone, step)
            await self._flush(phone, buffer)
        except Exception as exc:  # one phone's failure must not end the others' day
            self.summary.errors.append(f"{script.day.email}: {exc}")
            self._log(script, self.clock.now(), f"phone gave up: {exc!r}")

    def _fix(self, script: Script, at: datetime) -> dict[str, Any]:
        where, speed, heading = script.position_at(at)
        ts = self.clock.wall(at).isoformat(timespec="milliseconds")
        fix: dict[str, Any] = {"lat": round(where.lat, 6), "lon": round(where.lon, 6), "ts": ts}
        fix["speed"], fix["accuracy"] = round(min(speed, 200.0), 1), 10
        if heading is not None:
            fix["heading"] = round(heading, 1)
        return fix

    async def _flush(self, phone: Phone, buffer: list[dict[str, Any]]) -> None:
        if not buffer:
            return
        last = buffer[-1]
        self.summary.sent.append(
            Sent(
                time.monotonic(),
                self.clock.now(),
                phone.email,
                "positions",
                (last["lat"], last["lon"]),
            )
        )
        try:
            ack = await phone.send({"type": "location_batch", "positions": buffer})
        except Refused as exc:
            self.summary.errors.append(f"{phone.email}: positions refused: {exc.code} {exc.field}")
            return
        self.summary.positions += int(ack.get("accepted", 0))
        self.summary.batches += 1

    async def _step(self, script: Script, phone: Phone, step: Step) -> None:
        if step.status is None:
            if step.delay:
                self.summary.delays.append(
                    f"{step.at.astimezone(self.p.tz):%H:%M} {script.day.name}: {step.text}"
                )
            self._log(script, step.at, step.text)
            return
        assert step.booking is not None  # a status step names its booking
        if step.booking in phone.withdrawn:
            self._log(script, step.at, f"{step.status} skipped: trip withdrawn by the office")
            return
        if step.status == "arrived" and self.summary.arrived_supported is False:
            return
        await self._send_status(script, phone, step)

    async def _send_status(self, script: Script, phone: Phone, step: Step) -> None:
        booking, status = step.booking or "", step.status or ""
        message = {"type": "booking_status", "booking_id": booking, "status": status}
        if status == "no_show":
            message["reason"] = "Simulated no-show (simulate_day)."
        self.summary.sent.append(
            Sent(time.monotonic(), self.clock.now(), phone.email, status, booking=booking)
        )
        try:
            await phone.send(message)
        except Refused as exc:
            # A status sent again after a reconnection may have been applied the first time
            # (its ack lost with the socket): the API says.
            if not (exc.resent and await phone.booking_status(booking) == status):
                self._refused(script, phone, step, exc)
                return
        if status == "arrived":
            self.summary.arrived_supported = True
        self.acked[booking] = status
        self.summary.statuses[status] += 1
        self.summary.acked.append((step.at, script.day.email, booking, status))
        self._log(script, step.at, f"{status} {script.day.labels.get(booking, booking[:8])}")

    def _refused(self, script: Script, phone: Phone, step: Step, exc: Refused) -> None:
        booking = step.booking or ""
        en_route = self.acked.get(booking, script.day.statuses.get(booking)) == "en_route"
        unknown = exc.code in ("invalid_transition", "invalid_field")
        if step.status == "arrived" and en_route and unknown:
            # Refused for a trip en route (acknowledged, or so when the day was read): this
            # server has no `arrived` yet.
            if self.summary.arrived_supported is None:
                self.summary.arrived_supported = False
                self._log(script, step.at, "the server does not take `arrived`; going on without")
            return
        if step.status == "no_show" and self.acked.get(booking) == "arrived":
            # The server's no-show wait runs in real time: keep asking while driving on.
            self.summary.no_shows_waiting.add(booking)
            task = asyncio.create_task(self._retry_no_show(script, phone, step))
            self.retries.add(task)
            task.add_done_callback(self.retries.discard)
            return
        self.summary.refused[f"{step.status}: {exc.code}"] += 1
        self._log(script, step.at, f"{step.status} refused: {exc.code}: {exc.detail}")

    async def _retry_no_show(self, script: Script, phone: Phone, step: Step) -> None:
        booking = step.booking or ""
        while await self._sleep_until(time.monotonic() + NO_SHOW_RETRY_S):
            try:
                await phone.send(
                    {"type": "booking_status", "booking_id": booking, "status": "no_show"}
                )
            except Refused:
                continue
            except PhoneError:
                return
            self.summary.no_shows_waiting.discard(booking)
            self.summary.statuses["no_show"] += 1
            self._log(
                script, self.clock.now(), f"no_show {script.day.labels.get(booking, booking[:8])}"
            )
            return

    def _log(self, script: Script, at: datetime, text: str) -> None:
        self.p.log(f"{at.astimezone(self.p.tz):%H:%M:%S}  {script.day.name[:22]:<22}  {text}")
