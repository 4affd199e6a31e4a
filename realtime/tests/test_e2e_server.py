"""End to end: a real uvicorn process, real sockets (the `websockets` client), the real layer.

The server runs in a subprocess on a free loopback port against the test database, so it
needs PostgreSQL: pytest-django's SQLite test database lives in this process's memory.
With REDIS_URL set, the server's events go through the Redis pub/sub layer.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from drivers.models import DriverLocation
from tests.processes import child_database_url, free_port

BASE_DIR = Path(settings.BASE_DIR)
pytestmark = [
    pytest.mark.real_clock,  # other processes run on the machine's clock
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the server process cannot see SQLite's in-memory test database; "
        "runs on PostgreSQL (DATABASE_URL), as in CI",
    ),
]


# Deadlines for what must happen: generous, so a loaded machine only makes a test slower.
START_S = 60.0
RECEIVE_S = 30.0


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server did not listen within {START_S} s:\n{log.read_text()}")


@pytest.fixture
def server_url(transactional_db) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": child_database_url(), "CONN_MAX_AGE": "0"}
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "atmr.asgi:application",
                "--host=127.0.0.1",
                f"--port={port}",
                "--lifespan=off",
                "--ws-max-size=65536",
                "--log-level=warning",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, Path(log.name))
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        Path(log.name).unlink(missing_ok=True)


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_S):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


@database_sync_to_async
def _stored(driver_id: object) -> list[tuple[float, datetime]]:
    rows = DriverLocation.objects.filter(driver_id=driver_id).order_by("recorded_at")
    return list(rows.values_list("lat", "recorded_at"))


async def test_driver_positions_reach_the_dispatcher_and_are_stored(
    server_url, driver, driver_token, dispatcher_token
):
    now = datetime.now(UTC).replace(microsecond=0)
    fixes = [
        {"lat": 46.50 + i / 100, "lon": 6.63, "ts": (now - timedelta(seconds=10 - i)).isoformat()}
        for i in range(3)
    ]
    async with (
        connect(f"{server_url}/ws/company/?token={dispatcher_token}") as office,
        connect(
            f"{server_url}/ws/driver/",
            additional_headers={"Authorization": f"Bearer {driver_token}"},
        ) as phone,
    ):
        assert (await _next(office, "hello"))["role"] == "dispatcher"
        assert (await _next(phone, "hello"))["driver_id"] == str(driver.id)
        batch = {"type": "location_batch", "id": "e2e-1", "positions": fixes}
        await phone.send(json.dumps(batch))
        ack = await _next(phone, "ack")
        position = await _next(office, "driver_position")
        await phone.send(json.dumps(batch))  # a phone re-sending after a lost ack
        assert (await _next(phone, "ack"))["id"] == "e2e-1"

    assert ack == {"type": "ack", "id": "e2e-1", "of": "location_batch", "accepted": 3}
    assert position["driver_id"] == str(driver.id) and position["lat"] == 46.52
    stored = await _stored(driver.id)
    assert [lat for lat, _ in stored] == [46.50, 46.51, 46.52]
    assert stored[-1][1] == now - timedelta(seconds=8)


async def test_real_server_closes_with_the_documented_codes(server_url, driver_token):
    async with connect(f"{server_url}/ws/driver/?token=garbage") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), RECEIVE_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async with connect(f"{server_url}/ws/company/?token={driver_token}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), RECEIVE_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    async with connect(f"{server_url}/ws/driver/?token={driver_token}", max_size=None) as ws:
        await _next(ws, "hello")
        await ws.send("x" * 100_000)  # over uvicorn's --ws-max-size
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), RECEIVE_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
