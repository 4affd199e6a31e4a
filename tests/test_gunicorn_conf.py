"""The production HTTP server's settings, on a real gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from atmr.serve import wait_until_up
from tests.processes import free_port

pytestmark = pytest.mark.real_clock  # other processes run on the machine's clock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_thread_gunicorn():
    """gunicorn on our config, shrunk to one worker with one thread: the easiest to starve."""
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "PORT": str(port), "WEB_WORKERS": "1", "WEB_THREADS": "1"}
    cmd = [sys.executable, "-m", "gunicorn", "atmr.wsgi:application"]
    cmd += ["-c", "python:atmr.gunicorn_conf"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", timeout_s=30)
    except RuntimeError:
        proc.kill()
        raise
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_silent_connections_do_not_hold_the_worker_threads(one_thread_gunicorn):
    port = one_thread_gunicorn
    # Clients that connect and say nothing (yet): without deferred accept, the only thread
    # would block reading the first of them and the request below would never be served.
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        url = f"http://127.0.0.1:{port}/api/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            assert response.read() == b'{"status":"ok"}'
    finally:
        for sock in silent:
            sock.close()


def test_worker_init_freezes_the_loaded_objects():
    import gc

    from atmr import gunicorn_conf

    gc.unfreeze()
    try:
        gunicorn_conf.post_worker_init(worker=None)
        # Django's and the URL conf's objects are out of the collector's way now.
        assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()
