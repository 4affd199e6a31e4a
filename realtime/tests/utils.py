"""Helpers for socket tests: connecting, reading typed messages, recording queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from channels.testing import WebsocketCommunicator
from django.db.backends.utils import CursorWrapper

from atmr.asgi import application

# Waiting for something that should come: as long as a loaded 2-core machine may need (a
# passing test never waits for it). Checks that nothing comes (`receive_nothing`) keep their
# short waits: on a slow machine they can only pass wrongly, never fail wrongly.
TIMEOUT_S = 30.0


class Communicator(WebsocketCommunicator):
    """Channels' test communicator with generous timeouts instead of its 1 s defaults."""

    async def connect(self, timeout: float = TIMEOUT_S) -> Any:
        return await super().connect(timeout)

    async def receive_output(self, timeout: float = TIMEOUT_S) -> Any:
        # The stock method only notices a crashed application when its timeout ends: with a
        # generous timeout, wait for the output or the application's end, whichever is first.
        if not self.future.done():
            getter = asyncio.ensure_future(self.output_queue.get())
            await asyncio.wait(
                {getter, self.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if getter.done():
                return getter.result()
            getter.cancel()  # leaves any message in the queue for the call below
            # Nothing came in time, or the application ended: the stock method returns what
            # is queued, raises the application's error, or cancels it and times out.
            timeout = 0
        return await super().receive_output(timeout)

    async def receive_from(self, timeout: float = TIMEOUT_S) -> Any:
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout: float = TIMEOUT_S) -> Any:
        return await super().receive_json_from(timeout)

    async def disconnect(self, code: int = 1000, timeout: float = TIMEOUT_S) -> None:
        await super().disconnect(code, timeout)


@asynccontextmanager
async def socket(
    path: str, token: str | None = None, headers: list[tuple[bytes, bytes]] | None = None
) -> AsyncIterator[Communicator]:
    """A communicator on `path`; with a token it must be accepted and greeted with hello."""
    url = f"{path}?token={token}" if token else path
    communicator = Communicator(application, url, headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def open_socket(path: str, token: str) -> Communicator:
    """Connect and consume the hello (caller disconnects)."""
    communicator = Communicator(application, f"{path}?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "hello", hello
    return communicator


async def receive_type(communicator: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    """The next message of type `kind`, skipping others (e.g. an ack racing a broadcast)."""
    for _ in range(10):
        message = await communicator.receive_json_from(timeout=TIMEOUT_S)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


class QueryRecorder:
    """Records SQL run on any thread while active: consumers query from worker threads."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self._original: Any = None

    def statements(self) -> list[str]:
        """Data statements only: no BEGIN / SAVEPOINT / SET, which vary by database."""
        data = ("SELECT", "INSERT", "UPDATE", "DELETE")
        return [q for q in self.sql if q.split()[0].upper() in data]

    async def __aenter__(self) -> QueryRecorder:
        original = self._original = CursorWrapper._execute_with_wrappers
        recorder = self

        def recording(self: CursorWrapper, sql: str, *args: Any, **kwargs: Any) -> Any:
            recorder.sql.append(sql)
            return original(self, sql, *args, **kwargs)

        CursorWrapper._execute_with_wrappers = recording  # type: ignore[method-assign]
        return self

    async def __aexit__(self, *exc: object) -> None:
        CursorWrapper._execute_with_wrappers = self._original  # type: ignore[method-assign]
