"""A driver's phone, as the app does it: log in over the API (JWT), open `ws/driver/` with the
access token in the handshake, send messages with ids and wait for their `ack` or `error`.

It refreshes its token and reconnects when the server closes the socket with 4401 (token
expired) or the connection drops, and re-sends what was not answered: position batches are
idempotent on the server (same `ts`, same fix), a status already applied is refused as an
invalid step, which the caller sees as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ANSWER_TIMEOUT_S = 30.0  # a loaded server is slow, not dead
# Under the server's per-socket limit (30 frames in a burst, 10 per second: close 4429), which
# a phone catching up with a day already under way (`--from`) would otherwise hit.
BURST, PER_SECOND = 20.0, 8.0
LOGIN_ATTEMPTS = 8
RECONNECTS = 3


class PhoneError(Exception):
    """The phone could not log in or reach the server."""


class Refused(Exception):
    """The server answered `error`: `code`, `field`, `detail` as in realtime/PROTOCOL.md."""

    def __init__(self, answer: dict[str, Any], *, resent: bool = False) -> None:
        super().__init__(answer.get("detail", ""))
        self.resent = resent  # the refused message had been sent before a reconnection
        self.code = str(answer.get("code", ""))
        self.field = answer.get("field")
        self.detail = str(answer.get("detail", ""))


class Phone:
    def __init__(self, *, http: httpx.AsyncClient, ws_url: str, email: str, password: str) -> None:
        self.http, self.ws_url, self.email, self.password = http, ws_url, email, password
        self.access = self.refresh = ""
        self.driver_id: str | None = None
        self.socket: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.received: Counter[str] = Counter()  # server events by type (assignment, …)
        self.withdrawn: set[str] = set()  # bookings the office took away meanwhile
        self.tokens, self.refilled = BURST, time.monotonic()
        self.reconnects = 0

    async def login(self) -> None:
        """POST /api/auth/login; a 429 (log-in throttle) waits as the server says and retries."""
        body = {"email": self.email, "password": self.password}
        for _ in range(LOGIN_ATTEMPTS):
            response = await self.http.post("/api/auth/login", json=body)
            if response.status_code == 429:
                await asyncio.sleep(min(60.0, float(response.headers.get("Retry-After") or 5)))
                continue
            if response.status_code != 200:
                raise PhoneError(
                    f"log-in of {self.email}: HTTP {response.status_code} {response.text[:200]}"
                )
            data = response.json()
            self.access, self.refresh = data["access"], data["refresh"]
            self.driver_id = data["user"]["driver_id"]
            if not self.driver_id:
                raise PhoneError(f"{self.email} is not a driver's log-in.")
            return
        raise PhoneError(f"log-in of {self.email}: still throttled after {LOGIN_ATTEMPTS} tries")

    async def connect(self) -> None:
        """Open the socket and wait for its `hello`; an access token that expired meanwhile
        (closed with 4401) is refreshed once."""
        for attempt in range(2):
            socket = await connect(
                self.ws_url,
                additional_headers={"Authorization": f"Bearer {self.access}"},
                open_timeout=ANSWER_TIMEOUT_S,
            )
            try:
                async with asyncio.timeout(ANSWER_TIMEOUT_S):
                    hello = orjson.loads(await socket.recv())
            except ConnectionClosed:
                if socket.close_code == 4401 and attempt == 0:
                    await self._refresh()
                    continue
                raise PhoneError(f"{self.email}: socket closed with {socket.close_code}") from None
            if hello.get("type") != "hello":
                await socket.close()
                raise PhoneError(f"{self.email}: no hello but {hello}")
            self.socket = socket
            self.reader = asyncio.create_task(self._read(socket))
            return
        raise PhoneError(f"{self.email}: the socket refuses even a fresh token")

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send `message` with a fresh id; its `ack`. Raises Refused on an `error` answer and
        PhoneError when the server stays unreachable (after RECONNECTS reconnections)."""
        message = {**message, "id": f"sim-{next(self.ids)}"}
        failure: BaseException | None = None
        for attempt in range(RECONNECTS + 1):
            try:
                if attempt:
                    await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
                    await self._reconnect()
                answer = await self._exchange(message)
            except (ConnectionClosed, OSError, TimeoutError, httpx.HTTPError, PhoneError) as exc:
                failure = exc
                continue
            if answer["type"] == "error":
                raise Refused(answer, resent=attempt > 0)
            return answer
        raise PhoneError(f"{self.email}: {message['type']} not answered: {failure!r}")

    async def booking_status(self, booking_id: str) -> str | None:
        """The booking's status as the API shows it to this driver (None: not found)."""
        for _ in range(2):
            headers = {"Authorization": f"Bearer {self.access}"}
            try:
                response = await self.http.get(f"/api/bookings/{booking_id}", headers=headers)
            except httpx.HTTPError:
                return None
            if response.status_code == 401:
                await self._refresh()
                continue
            return str(response.json()["status"]) if response.status_code == 200 else None
        return None

    async def close(self) -> None:
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.socket.close(), 5.0)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        self.socket = self.reader = None

    async def _exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.socket is None or self.reader is None or self.reader.done():
            raise ConnectionError(f"{self.email}: not connected")
        await self._pace()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[message["id"]] = future
        try:
            await self.socket.send(orjson.dumps(message).decode())
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                return await future
        finally:
            self.waiting.pop(message["id"], None)

    async def _pace(self) -> None:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * PER_SECOND)
        self.refilled = now
        if self.tokens < 1.0:
            await asyncio.sleep((1.0 - self.tokens) / PER_SECOND)
            self.tokens, self.refilled = 1.0, time.monotonic()
        self.tokens -= 1.0

    async def _read(self, socket: ClientConnection) -> None:
        """Route answers to their senders, count the rest; when the socket closes, fail every
        message still waiting (its sender reconnects and sends it again)."""
        failure: Exception = ConnectionError(f"{self.email}: the socket closed")
        try:
            async for frame in socket:
                event = orjson.loads(frame)
                kind = event.get("type", "")
                answered = kind in ("ack", "error")
                future = self.waiting.get(str(event.get("id"))) if answered else None
                if future is not None and not future.done():
                    future.set_result(event)
                    continue
                self.received[kind] += 1
                if kind == "assignment" and event.get("action") == "withdrawn":
                    self.withdrawn.add(str(event["booking"]["id"]))
        except ConnectionClosed as exc:  # closed with a code other than 1000/1001 (4401, …)
            failure = exc
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(failure)

    async def _reconnect(self) -> None:
        code = self.socket.close_code if self.socket is not None else None
        await self.close()
        self.reconnects += 1
        if code == 4401:  # the access token expired: refresh it, as the protocol says
            await self._refresh()
        await self.connect()

    async def _refresh(self) -> None:
        """POST /api/auth/refresh for a new access token; a log-in when that fails."""
        response = await self.http.post("/api/auth/refresh", json={"refresh": self.refresh})
        if response.status_code != 200:
            await self.login()
        else:
            self.access = response.json()["access"]
