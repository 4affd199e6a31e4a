"""Gunicorn settings for the HTTP API and admin: `gunicorn -c python:atmr.gunicorn_conf`.

One file for `make serve`, `make bench`, the Dockerfile and docker-compose. Sizes come from the
environment (WEB_WORKERS, WEB_THREADS, PORT); the database pool per worker matches the threads
(atmr/settings.py reads DB_POOL_MAX_SIZE, which serve.py sets).
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

bind = f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Behind the reverse proxy (or a client with think time) connections idle longer than
# gunicorn's 2 s default keep-alive; closing them turns the next request into an error.
keepalive = 75
# Seconds a connected client may stay silent before the kernel hands it to gunicorn anyway.
DEFER_ACCEPT_S = 30

# The workers' metrics add up in one directory (atmr/metrics.py); set here, in the master, so
# that every worker inherits it before it imports prometheus_client.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="atmr-metrics-"))


def on_starting(server) -> None:
    """Start from an empty metrics directory: a previous run's files would add to this one."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def when_ready(server) -> None:
    """Accept a connection only once its first request bytes have arrived.

    gthread gives every accepted connection to a pool thread, which then blocks reading the
    first request. A client that connects and waits (a phone on a bad network, a browser's
    pre-connect, a load test's think time) would hold one of the few threads for that long and
    stall everyone behind it; TCP_DEFER_ACCEPT keeps such connections in the kernel instead.
    """
    option = getattr(socket, "TCP_DEFER_ACCEPT", None)
    if option is None:  # not Linux: nothing to tune
        return
    for listener in server.LISTENERS:
        raw = getattr(listener, "sock", None)
        if raw is not None and raw.family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, option, DEFER_ACCEPT_S)


def post_worker_init(worker) -> None:
    """Load what the first requests would, then move it all out of the garbage collector's way.

    A worker holds some 140,000 long-lived objects (Django, DRF, the URL conf); a full
    collection walks every one of them, about 30-60 ms with the GIL held, which every request
    in that worker waits out: the p99 of the cached lists. Frozen objects are never scanned.
    """
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view, serializer and schema)
    gc.collect()
    gc.freeze()


def child_exit(server, worker) -> None:
    """A worker ended: drop its live gauges from PROMETHEUS_MULTIPROC_DIR (atmr/metrics.py).

    Its counters and histograms stay in the directory: totals must not go backwards.
    """
    from atmr.metrics import process_exit

    process_exit(worker.pid)
