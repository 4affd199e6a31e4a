"""Every Prometheus metric ATMR exports, and the `/metrics` endpoint that serves them.

One module so that `grep atmr_` finds every name the alert rules (deploy/prometheus/) and the
dashboards (deploy/grafana/) use. HTTP request rate and latency per view and status are
django-prometheus's families (`django_http_*`, written by HttpMetricsMiddleware); the rest is
ours (`atmr_*`).

Several processes: with PROMETHEUS_MULTIPROC_DIR set (atmr/serve.py sets one per server:
gunicorn's workers share one, uvicorn's another), every process writes its values to files
there and a scrape of any worker adds them all up; gunicorn_conf.child_exit and an atexit
hook drop a dead process's live gauges. Without it (tests, `make run`) the values live in
the one process.

Hot paths (sockets, positions) only add to counters and histograms: a few memory writes.
What costs a query or a Redis call (queue depths, breaker state, stale runs, ETA age,
PostgreSQL and Redis up) is read once per scrape by `ScrapeCollector`, never per request.

`/metrics` is not public: it answers only to `Authorization: Bearer $METRICS_TOKEN`
(compared in constant time). Unset token, missing or wrong header: the same 404 as any
unknown URL, so nobody learns it exists.
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV):  # the first metric below writes its file there
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

# Request latency buckets are settings.PROMETHEUS_LATENCY_BUCKETS (django-prometheus reads
# them): with a bound at 0.15 s, the "p95 over 150 ms" alert needs no interpolation.
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# --- HTTP (besides django-prometheus's django_http_*) -------------------------------------
HTTP_REQUEST_QUERIES = Histogram(
    "atmr_http_request_queries",
    "SQL queries one HTTP request ran, by view.",
    ["view"],
    buckets=(0, 1, 2, 3, 4, 6, 8, 12, 16, 25, 50, 100),
)
CACHE_REQUESTS = Counter(
    "atmr_cache_requests_total",
    "Keys read from the shared Redis cache, by result (hit, miss).",
    ["result"],
)

# --- websockets (realtime/consumers.py) -----------------------------------------------------
WS_CONNECTIONS_OPENED = Counter(
    "atmr_ws_connections_opened_total", "Sockets accepted after authentication.", ["socket"]
)
WS_CONNECTIONS_CLOSED = Counter(
    "atmr_ws_connections_closed_total", "Accepted sockets that closed.", ["socket"]
)
WS_MESSAGES = Counter(
    "atmr_ws_messages_received_total", "Frames received, by inbound type.", ["socket", "type"]
)
WS_ACKS = Counter("atmr_ws_acks_total", "Frames answered with an ack, by type.", ["type"])
WS_ERRORS = Counter("atmr_ws_errors_total", "Frames answered with an error, by code.", ["code"])
WS_ACK_SECONDS = Histogram(
    "atmr_ws_ack_seconds",
    "From a frame's arrival to its ack (a position batch: stored and committed), by type.",
    ["type"],
    buckets=_FAST_BUCKETS,
)

# --- positions (realtime/positions.py) ------------------------------------------------------
POSITIONS_STORED = Counter(
    "atmr_positions_stored_total", "Position fixes handed to the database and committed."
)
POSITION_FLUSH_SECONDS = Histogram(
    "atmr_positions_flush_seconds",
    "One writer flush: storing every batch that arrived meanwhile in one transaction.",
    buckets=_FAST_BUCKETS,
)
POSITIONS_LAST_STORED = Gauge(
    "atmr_positions_last_stored_timestamp_seconds",
    "Unix time of the last committed position flush (newest over all processes).",
    multiprocess_mode="max",
)

# --- dispatch runs (dispatch/execution.py) and travel times (dispatch/travel.py) --------------
DISPATCH_RUNS = Counter(
    "atmr_dispatch_runs_total",
    "Dispatch runs that ended, by status (succeeded, failed; stale: failed by the sweep).",
    ["status"],
)
DISPATCH_PHASE_SECONDS = Histogram(
    "atmr_dispatch_phase_seconds",
    "Duration of a dispatch run's phase (load, matrix, solve, save).",
    ["phase"],
    buckets=_SLOW_BUCKETS,
)
TRAVEL_CELLS = Counter(
    "atmr_travel_matrix_cells_total",
    "Off-diagonal travel-matrix cells that runs asked for, by source (osrm, straight_line).",
    ["source"],
)
TRAVEL_FALLBACK_CELLS = Counter(
    "atmr_travel_fallback_cells_total",
    "Of those, cells estimated in a straight line (with source osrm: OSRM could not answer).",
    ["source"],
)
OSRM_REQUESTS = Counter(
    "atmr_osrm_requests_total",
    "OSRM attempts by outcome (ok, failed: transient error, refused: the breaker was open).",
    ["outcome"],
)

# --- Celery (signals below) ---------------------------------------------------------------
CELERY_TASK_SECONDS = Histogram(
    "atmr_celery_task_seconds",
    "Celery task run time, by task and final state.",
    ["task", "state"],
    buckets=_SLOW_BUCKETS,
)

# The families ScrapeCollector adds at scrape time (listed for the dashboards' test).
SCRAPE_METRICS = (
    "atmr_dependency_up",
    "atmr_celery_queue_length",
    "atmr_osrm_breaker_state",
    "atmr_dispatch_runs_stale",
    "atmr_eta_oldest_age_seconds",
)


# --- helpers the instrumented modules call ------------------------------------------------
def dispatch_run_observe(run: Any, *, stale: bool = False) -> None:
    """Count a run that ended and observe its phases (its *_ms fields, when they were set)."""
    DISPATCH_RUNS.labels("stale" if stale else str(run.status)).inc()
    if stale:
        return
    for phase in ("load", "matrix", "solve", "save"):
        ms = getattr(run, f"{phase}_ms", None)
        if ms is not None:
            DISPATCH_PHASE_SECONDS.labels(phase).observe(ms / 1000)


def positions_flush_observe(
    batches: Sequence[Any], results: Sequence[object], seconds: float
) -> None:
    """One committed writer flush: its duration and the fixes of the batches it stored."""
    POSITION_FLUSH_SECONDS.observe(seconds)
    fixes = sum(
        len(b.positions)
        for b, r in zip(batches, results, strict=True)
        if not isinstance(r, Exception)
    )
    POSITIONS_STORED.inc(fixes)
    POSITIONS_LAST_STORED.set(time.time())


def travel_matrix_observe(matrix: Any, *, source: str) -> None:
    """A run's travel matrix (dispatch.engine.geo.TravelMatrix) from `source` (osrm, or
    straight_line: every cell is an estimate there, by configuration)."""
    TRAVEL_CELLS.labels(source).inc(matrix.size * (matrix.size - 1))
    TRAVEL_FALLBACK_CELLS.labels(source).inc(matrix.fallback_cells)


class CountingBreaker:
    """Wraps the OSRM client's circuit breaker to count every attempt and its outcome.

    The client asks `allows_request()` before each attempt and reports the outcome through
    `record_success` / `record_failure`, so no engine code needs to know about Prometheus.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def allows_request(self) -> bool:
        allowed = bool(self.inner.allows_request())
        if not allowed:
            OSRM_REQUESTS.labels("refused").inc()
        return allowed

    def record_success(self) -> None:
        OSRM_REQUESTS.labels("ok").inc()
        self.inner.record_success()

    def record_failure(self) -> None:
        OSRM_REQUESTS.labels("failed").inc()
        self.inner.record_failure()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetricsMiddleware:
    """Per request: django-prometheus's response count by status, view and method and its
    latency histogram by view and method, plus the SQL queries it ran (by view).

    django-prometheus's own Before/After middleware pair writes 16 values a request (bodies'
    sizes, charsets, transports...); this writes the 5 the dashboards and alerts read, into
    the same families (`Metrics.get_instance()`), which in multiprocess mode is 5 file writes
    and pid checks instead of 18. Latency counts every middleware after this one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django_prometheus.middleware import Metrics

        self.get_response = get_response
        self.metrics = Metrics.get_instance()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        queries = [0]

        def counting(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
            queries[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else None) or "<unnamed view>"
        method = request.method if request.method in _HTTP_METHODS else "<invalid method>"
        status = str(response.status_code)
        self.metrics.responses_by_status_view_method.labels(status, view, method).inc()
        self.metrics.requests_latency_by_view_method.labels(view, method).observe(elapsed)
        HTTP_REQUEST_QUERIES.labels(view).observe(queries[0])
        return response


# --- Celery task durations --------------------------------------------------------------------
_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _task_started.pop(task_id or "", None)
    if started is not None and task is not None:
        elapsed = time.perf_counter() - started
        CELERY_TASK_SECONDS.labels(task.name, state or "UNKNOWN").observe(elapsed)


def celery_signals_connect() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="atmr-metrics-prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="atmr-metrics-postrun")


# --- read at scrape time ----------------------------------------------------------------------
# Celery's Redis transport keeps a queue's messages of priority p > 0 in a list of its own.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


def celery_queue_names() -> list[str]:
    from atmr.celery import app

    queues = app.conf.task_queues
    names = [q.name for q in queues] if queues else []
    return names or [app.conf.task_default_queue or "celery"]


def _celery_queue_lengths() -> dict[str, int]:
    """LLEN of each queue's lists on the broker (Redis); {} without one."""
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith(("redis://", "rediss://", "unix://")):
        return {}
    from atmr.health import _redis_client

    client = _redis_client(broker)
    names = celery_queue_names()
    pipe = client.pipeline(transaction=False)
    for name in names:
        for step in _PRIORITY_STEPS:
            pipe.llen(name if step == 0 else f"{name}{_PRIORITY_SEP}{step}")
    lengths = iter(pipe.execute())
    return {name: sum(next(lengths) for _ in _PRIORITY_STEPS) for name in names}


_BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def _breaker_state() -> int | None:
    from dispatch.travel import travel_provider

    breaker = getattr(travel_provider(), "breaker", None)
    if breaker is None:
        return None  # straight-line provider: no OSRM, no breaker
    return _BREAKER_VALUES[str(breaker.state())]


def _stale_runs() -> int:
    from django.utils import timezone

    from dispatch.models import DispatchRun

    cutoff = timezone.now() - timedelta(seconds=settings.DISPATCH_RUN_STALE_S)
    running = DispatchRun.objects.filter(status=DispatchRun.Status.RUNNING)
    return running.filter(heartbeat_at__lt=cutoff).count()


def _eta_oldest_age_s() -> float | None:
    """Age of the oldest ETA among today's trips in progress; None before ETAs exist."""
    from django.db.models import Min
    from django.utils import timezone

    from bookings.models import Booking

    if "eta_computed_at" not in {f.name for f in Booking._meta.get_fields()}:
        return None
    from dispatch.live_plan import LIVE_STATUSES

    live = list(LIVE_STATUSES)
    now = timezone.now()
    # Keyword strings: the field comes with the live day (another change); typed lookups
    # would not type-check before it lands.
    since = now - timedelta(hours=12)
    oldest = (
        Booking.objects.filter(status__in=live, scheduled_at__gte=since)
        .filter(**{"eta_computed_at__isnull": False})
        .aggregate(oldest=Min("eta_computed_at"))["oldest"]
    )
    return (now - oldest).total_seconds() if oldest else 0.0


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class ScrapeCollector(Collector):
    """What one scrape reads from PostgreSQL, Redis and the breaker's store (a few ms).

    Each reading that fails leaves its family without samples (and logs why), except the
    up-gauges, which say 0: a scrape must answer while a dependency is down.
    """

    def collect(self) -> Iterator[Metric]:
        from atmr.health import database_ok, redis_ok

        up = _gauge(
            "atmr_dependency_up",
            "1 when the dependency answered this scrape's check (SELECT 1, PING), else 0.",
            ["dependency"],
        )
        database = database_ok()
        up.add_metric(["postgresql"], 1.0 if database else 0.0)
        redis_state = redis_ok()
        if redis_state is not None:
            up.add_metric(["redis"], 1.0 if redis_state else 0.0)
        yield up
        yield from self._read(
            "atmr_celery_queue_length",
            "Messages waiting in each Celery queue (Redis list lengths).",
            _add_queue_lengths,
            ["queue"],
            bool(redis_state),
        )
        yield from self._read(
            "atmr_osrm_breaker_state",
            "The shared OSRM circuit breaker: 0 closed, 1 half-open, 2 open.",
            lambda family: _add_if(family, _breaker_state()),
        )
        yield from self._read(
            "atmr_dispatch_runs_stale",
            "Running dispatch runs whose heartbeat is older than DISPATCH_RUN_STALE_S.",
            lambda family: family.add_metric([], _stale_runs()),
            None,
            database,
        )
        yield from self._read(
            "atmr_eta_oldest_age_seconds",
            "Seconds since the oldest ETA of a trip in progress was computed.",
            lambda family: _add_if(family, _eta_oldest_age_s()),
            None,
            database,
        )

    def _read(
        self,
        name: str,
        documentation: str,
        fill: Callable[[GaugeMetricFamily], object],
        labels: list[str] | None = None,
        available: bool = True,
    ) -> Iterator[Metric]:
        family = _gauge(name, documentation, labels)
        if available:
            try:
                fill(family)
            except Exception as exc:  # a scrape reports what it can
                logger.warning("metrics: reading %s failed: %s", name, exc)
        yield family


def _add_queue_lengths(family: GaugeMetricFamily) -> None:
    for name, length in _celery_queue_lengths().items():
        family.add_metric([name], length)


def _add_if(family: GaugeMetricFamily, value: float | None) -> None:
    if value is not None:
        family.add_metric([], value)


# --- exposition ---------------------------------------------------------------------------
def exposition(*, scrape_readings: bool = True) -> bytes:
    """The text format: this process's metrics (or every process's, in multiprocess mode)
    followed by what the scrape reads now (`scrape_readings`)."""
    if multiprocess_mode():
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    if not scrape_readings:
        return generate_latest(base)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(ScrapeCollector())
    return generate_latest(base) + generate_latest(scrape)


def multiprocess_mode() -> bool:
    """Whether this process writes its values to PROMETHEUS_MULTIPROC_DIR: decided once, when
    prometheus_client was imported (the variable may have been set later, e.g. in tests)."""
    return values.ValueClass is not values.MutexValue


def authorization_ok(header: str) -> bool:
    """`header` is "Bearer <METRICS_TOKEN>" (constant-time); False when no token is set."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    return hmac.compare_digest(header.encode(), f"Bearer {expected}".encode())


def token_ok(request: HttpRequest) -> bool:
    return authorization_ok(request.headers.get("Authorization", ""))


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape: 404 (like any unknown URL) unless the bearer token matches."""
    if request.method not in ("GET", "HEAD") or not token_ok(request):
        raise Http404
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def worker_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A Celery worker's /metrics (WSGI): the same token rule, its task metrics only."""
    wanted = environ.get("PATH_INFO") == "/metrics" and environ.get("REQUEST_METHOD") == "GET"
    if not (wanted and authorization_ok(environ.get("HTTP_AUTHORIZATION", ""))):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [exposition(scrape_readings=False)]


def worker_metrics_serve(port: int, host: str = "0.0.0.0") -> Any:  # noqa: S104 (a container)
    """Serve `worker_app` from a daemon thread (WORKER_METRICS_PORT; atmr/celery.py).

    Prefork children write to PROMETHEUS_MULTIPROC_DIR, which the worker needs set so that
    this process (the pool's parent) reports their tasks.
    """
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server(host, port, worker_app, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server


def process_exit(pid: int | None = None) -> None:
    """Drop a finished process's live gauges from the shared directory (multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV) and (pid is not None or multiprocess_mode()):
        multiprocess.mark_process_dead(pid or os.getpid())


def process_exit_on_shutdown() -> None:
    """For servers without an exit hook of their own (uvicorn, Celery workers)."""
    if multiprocess_mode():
        atexit.register(process_exit, os.getpid())
