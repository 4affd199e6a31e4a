"""Helpers for tests that start another process (a server, a worker) on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection


def child_database_url() -> str:
    """The test database (once pytest-django has set it up) as a DATABASE_URL for a child."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def celery_worker_start(
    log: Path, *, queues: str = "dispatch", pool: str = "solo", **extra_env: str
) -> subprocess.Popen:
    """A Celery worker of this project on the test database and the broker of REDIS_URL (the
    test's own Redis db), writing its output to `log`. The caller terminates it."""
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CONN_MAX_AGE": "0",
        **extra_env,
    }
    command = [sys.executable, "-m", "celery", "-A", "atmr", "worker", f"--pool={pool}"]
    if pool == "prefork":
        command.append("--concurrency=1")
    command += [f"--queues={queues}", "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
