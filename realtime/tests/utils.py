"""Helpers for socket tests: connecting, reading typed messages, recording queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from atmr.asgi import application


@asynccontextmanager
async def socket(
    path: str, token: str | None = None, headers: list[tuple[bytes, bytes]] | None = None
) -> AsyncIterator[WebsocketCommunicator]:
    """A communicator on `path`; with a token it must be accepted and greeted with hello."""
    url = f"{path}?token={token}" if token else path
    communicator = WebsocketCommunicator(application, url, headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def open_socket(path: str, token: str) -> WebsocketCommunicator:
    """Connect and consume the hello (caller disconnects)."""
    communicator = WebsocketCommunicator(application, f"{path}?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "hello", hello
    return communicator


async def receive_type(communicator: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    """The next message of type `kind`, skipping others (e.g. an ack racing a broadcast)."""
    for _ in range(10):
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


class QueryRecorder:
    """Records SQL run on the thread that database_sync_to_async uses (the consumers')."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def statements(self) -> list[str]:
        """Data statements only: no BEGIN / SAVEPOINT / RELEASE, which vary by database."""
        return [
            q for q in self.sql if q.split()[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE")
        ]

    async def __aenter__(self) -> QueryRecorder:
        await database_sync_to_async(lambda: connection.execute_wrappers.append(self))()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await database_sync_to_async(lambda: connection.execute_wrappers.remove(self))()
