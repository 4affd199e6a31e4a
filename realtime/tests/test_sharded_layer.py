"""Realtime over several hosts: two Redis shards (REDIS_CHANNEL_URLS), two ASGI processes.

A driver's position sent to one uvicorn process reaches a dispatcher connected to the other,
through the channel layer sharded over two Redis servers that this test starts on loopback.
Also atmr/channel_hosts.py (parsing the variable).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from channels_redis.utils import _consistent_hash
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect

from atmr.channel_hosts import channel_layer_hosts
from realtime.groups import group_for_company_dispatch
from tests.processes import child_database_url

pytestmark = pytest.mark.real_clock  # other processes run on the machine's clock

BASE_DIR = Path(settings.BASE_DIR)
SHARD_PORTS = (6391, 6392)
SERVER_PORTS = (8180, 8181)
START_S, RECEIVE_S = 60.0, 30.0
PREFIX = "shardtest"


def test_hosts_parse_urls_and_sentinels():
    hosts = channel_layer_hosts(
        "redis://10.0.0.1:6379/0, sentinel://:s3cret@s1:26379+s2:26380/main/2"
    )
    assert hosts == [
        "redis://10.0.0.1:6379/0",
        {
            "master_name": "main",
            "sentinels": [("s1", 26379), ("s2", 26380)],
            "db": 2,
            "password": "s3cret",
        },
    ]


@pytest.mark.parametrize("value", ["", " , ", "http://x:1", "sentinel://s1/", "sentinel://s1:x/m"])
def test_bad_hosts_fail_at_startup(value):
    with pytest.raises(ImproperlyConfigured, match="REDIS_CHANNEL_URLS"):
        channel_layer_hosts(value)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on {port} within {START_S} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _start(args: list[str], port: int, env: dict[str, str] | None = None) -> tuple[Any, Path]:
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_port(port, process, Path(log.name))
    except BaseException:
        _stop(process)
        raise
    return process, Path(log.name)


@pytest.fixture
def shards() -> Iterator[list[str]]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (Debian's redis-server package, as in CI)")
    started = []
    try:
        for port in SHARD_PORTS:
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
            started.append(_start([*args, "--save", "", "--appendonly", "no"], port))
        yield [f"redis://127.0.0.1:{port}/0" for port in SHARD_PORTS]
    finally:
        for process, log in started:
            _stop(process)
            log.unlink(missing_ok=True)


@pytest.fixture
def servers(transactional_db, shards) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "CONN_MAX_AGE": "0",
        "REDIS_URL": os.environ.get("REDIS_URL") or shards[0],
        "REDIS_CHANNEL_URLS": ",".join(shards),
        "CHANNELS_PREFIX": PREFIX,
    }
    started = []
    try:
        for port in SERVER_PORTS:
            args = [sys.executable, "-m", "uvicorn", "atmr.asgi:application"]
            args += ["--host=127.0.0.1", f"--port={port}", "--lifespan=off", "--log-level=warning"]
            started.append(_start(args, port, env))
        yield [f"ws://127.0.0.1:{port}" for port in SERVER_PORTS]
    finally:
        for process, log in started:
            _stop(process)
            log.unlink(missing_ok=True)


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_S):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the servers cannot see SQLite's in-memory test database; runs on PostgreSQL",
)
async def test_a_position_sent_to_one_process_reaches_a_dispatcher_on_the_other(
    servers, shards, driver, driver_token, dispatcher_token
):
    phone_server, office_server = servers
    fix = {"lat": 46.51, "lon": 6.63, "ts": datetime.now(UTC).replace(microsecond=0).isoformat()}
    async with (
        connect(f"{office_server}/ws/company/?token={dispatcher_token}") as office,
        connect(f"{phone_server}/ws/driver/?token={driver_token}") as phone,
    ):
        await _next(office, "hello")
        await _next(phone, "hello")
        await phone.send(json.dumps({"type": "location_batch", "id": "s-1", "positions": [fix]}))
        assert (await _next(phone, "ack"))["id"] == "s-1"
        position = await _next(office, "driver_position")

        # The office's group lives on the shard its name hashes to, and only there: the layer
        # did shard (and did not fall back to REDIS_URL).
        group = f"{PREFIX}__group__{group_for_company_dispatch(driver.company_id)}"
        subscribed = [redis.Redis(port=port).pubsub_numsub(group)[0][1] for port in SHARD_PORTS]
    assert position["driver_id"] == str(driver.id) and position["lat"] == 46.51
    expected = _consistent_hash(group, len(SHARD_PORTS))
    assert subscribed[expected] == 1 and subscribed[1 - expected] == 0
    assert position["recorded_at"] == datetime.fromisoformat(fix["ts"]).isoformat()
