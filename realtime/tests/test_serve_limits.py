"""The websocket limits of PROTOCOL.md hold in the production command (atmr/serve.py).

A real uvicorn started from serve.py's own command line and environment: frames over
`--ws-max-size` are refused by the server before the app sees them, and per-message deflate
is never negotiated, so a small compressed frame cannot inflate to megabytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from atmr import serve
from realtime.tests.test_e2e_server import _wait_for_port
from tests.processes import child_database_url, free_port

pytestmark = pytest.mark.real_clock  # other processes run on the machine's clock

BASE_DIR = Path(settings.BASE_DIR)


def test_the_built_command_bounds_frames_and_turns_compression_off():
    command = serve.uvicorn_command(serve.Shape(ws_port=8131))
    text = " ".join(command)
    assert f"--ws-max-size {serve.WS_MAX_SIZE}" in text
    assert "--ws-per-message-deflate false" in text
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    asgis = [s["command"] for name, s in compose["services"].items() if name.startswith("asgi")]
    assert asgis  # every websocket process behind the proxy
    for asgi in asgis:
        assert f"--ws-max-size {serve.WS_MAX_SIZE}" in asgi
        assert "--ws-per-message-deflate false" in asgi


@pytest.fixture
def served_ws(transactional_db) -> Iterator[str]:
    port = free_port()
    shape = serve.Shape(ws_port=port, asgi_workers=1)
    # The test process's key, so that its tokens verify in the server.
    base = {**os.environ, "SECRET_KEY": settings.SECRET_KEY}
    env = serve.serving_env(shape, base) | {"DATABASE_URL": child_database_url()}
    env["DB_POOL_MAX_SIZE"] = "0"
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            serve.uvicorn_command(shape),
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


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the server process cannot see SQLite's in-memory test database; runs on PostgreSQL",
)
async def test_served_sockets_refuse_compression_and_oversize_frames(served_ws, driver_token):
    headers = {"Authorization": f"Bearer {driver_token}"}
    async with connect(
        f"{served_ws}/ws/driver/", additional_headers=headers, compression="deflate"
    ) as phone:
        async with asyncio.timeout(10):
            assert json.loads(await phone.recv())["type"] == "hello"
        # The client offered permessage-deflate; the server did not take it.
        assert phone.response.headers.get("Sec-WebSocket-Extensions") is None
        await phone.send("x" * (serve.WS_MAX_SIZE + 1))
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await phone.recv()
        frame = closed.value.rcvd
        assert frame is not None and frame.code == 1009
        # The server's limit, not the app's smaller one (the app closes without a reason).
        assert str(serve.WS_MAX_SIZE) in frame.reason
