"""Helpers for tests that start another process (a server, a worker) on the test database."""

from __future__ import annotations

import socket

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
