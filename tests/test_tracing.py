"""Traces (atmr/tracing.py): one trace from `POST /api/dispatch/run` through the Celery task
to the saved run, recorded by an in-memory exporter in one process, and across processes into
a real Celery worker exporting over OTLP/HTTP; and nothing at all when tracing is off."""

from __future__ import annotations

import gzip
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connections
from django.utils import timezone
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from atmr import tracing
from atmr.celery import app as celery_app
from dispatch.models import DispatchRun
from tests.factories import ZURICH, BookingFactory, DriverFactory, at
from tests.processes import celery_worker_start, free_port


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert tracing.tracing_setup(provider=provider)
    connections.close_all()  # connections opened from now on are the instrumented kind
    try:
        yield exporter
    finally:
        tracing.tracing_teardown()
        connections.close_all()


@pytest.fixture
def eve():
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, tzinfo=ZURICH), tick=True):
        yield


def _statement(span) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("db.statement") or attributes.get("db.query.text") or "")


def _ancestors(span, by_id) -> list:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


@pytest.mark.django_db(transaction=True)
def test_one_trace_from_the_run_request_through_the_task_to_the_saved_run(
    spans, eve, company, dispatcher_client
):
    DriverFactory(company=company)
    BookingFactory(company=company, scheduled_at=at(9))
    spans.clear()

    # A real commit (no test transaction): the run is enqueued on commit, inside the request,
    # and the eager task runs there.
    response = dispatcher_client.post(
        "/api/dispatch/run", {"date": "2026-12-01", "mode": "suggest"}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["status"] == DispatchRun.Status.SUCCEEDED

    finished = spans.get_finished_spans()
    assert len({s.context.trace_id for s in finished}) == 1, sorted(s.name for s in finished)
    by_id = {s.context.span_id: s for s in finished}
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert request.parent is None
    assert request.name == "POST api/dispatch/run"
    (task,) = [s for s in finished if s.name == "run/dispatch.tasks.execute_run"]
    assert request in _ancestors(task, by_id)
    if connections["default"].vendor != "postgresql":
        return  # queries are traced through psycopg's instrumentation; SQLite has none
    # The run's final save (routes, status, finished_at), inside the task.
    saves = [
        s
        for s in finished
        if _statement(s).startswith('UPDATE "dispatch_dispatchrun"') and '"routes"' in _statement(s)
    ]
    assert saves and all(task in _ancestors(s, by_id) for s in saves)
    # Queries are traced with their database and never their parameters.
    assert all("%s" in _statement(s) or "$" in _statement(s) for s in saves)


@pytest.mark.django_db
def test_tracing_is_off_without_an_endpoint(monkeypatch, dispatcher_client):
    monkeypatch.delenv(tracing.ENDPOINT_ENV, raising=False)
    assert tracing.tracing_setup() is False
    assert not any("opentelemetry" in m for m in settings.MIDDLEWARE)
    assert tracing.current_trace_id() is None
    assert dispatcher_client.get("/api/companies/me").status_code == 200


def test_an_endpoint_turns_tracing_on(monkeypatch):
    monkeypatch.setenv(tracing.ENDPOINT_ENV, "http://127.0.0.1:9/otlp-test")
    from opentelemetry import trace

    original = trace._TRACER_PROVIDER
    try:
        assert tracing.tracing_setup() is True
        assert any("opentelemetry" in m for m in settings.MIDDLEWARE)
        assert tracing.tracing_setup() is False  # once per process
    finally:
        tracing.tracing_teardown()
        made = trace._TRACER_PROVIDER
        if made is not original and made is not None:
            made.shutdown()  # its batch thread and exporter session
        trace._TRACER_PROVIDER = original
    assert not any("opentelemetry" in m for m in settings.MIDDLEWARE)


@dataclass(frozen=True)
class Received:
    """A span as an OTLP/HTTP exporter sent it (ids as hex, as the SDK prints them)."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    attributes: dict[str, object]


class OtlpReceiver(ThreadingHTTPServer):
    """The smallest OTLP/HTTP trace collector: POST /v1/traces with an ExportTraceServiceRequest
    (protobuf, maybe gzipped), on loopback."""

    daemon_threads = True

    def __init__(self, port: int) -> None:
        self.spans: list[Received] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _OtlpHandler)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.spans)


class _OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        request = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans += [
                    Received(
                        service=resource.get("service.name", ""),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        attributes={
                            a.key: getattr(a.value, a.value.WhichOneof("value") or "string_value")
                            for a in span.attributes
                        },
                    )
                    for span in scope_spans.spans
                ]
        with self.server.lock:
            self.server.spans += spans
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the test reports what it missed


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver(free_port())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# Seconds for what takes one or two on an idle machine: generous, for a loaded one.
WORKER_DEADLINE_S = 120


@pytest.mark.skipif(
    connections["default"].vendor != "postgresql" or not settings.REDIS_URL,
    reason="a worker process needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL), as in CI",
)
@pytest.mark.django_db(transaction=True)
def test_the_request_trace_continues_in_a_real_worker_to_the_saved_run(
    spans, otlp_receiver, company, dispatcher_client
):
    """Propagation over the broker: the web side (this process, in-memory exporter) puts the
    trace context in the task message; a prefork worker, as in production, with its own
    connection pool, exports its spans over OTLP/HTTP to `otlp_receiver`."""
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    worker = celery_worker_start(
        log,
        queues="dispatch",
        pool="prefork",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_receiver.server_port}",
        OTEL_SERVICE_NAME="atmr-worker-test",
        OTEL_BSP_SCHEDULE_DELAY="200",  # ms: export within the test's patience
        DB_POOL_MAX_SIZE="2",  # the production connection pool, not the tests' plain one
    )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        tomorrow = timezone.now().astimezone(ZURICH).date() + timedelta(days=1)
        nine = datetime.combine(tomorrow, datetime.min.time(), tzinfo=ZURICH) + timedelta(hours=9)
        DriverFactory(company=company)
        BookingFactory(company=company, scheduled_at=nine)
        spans.clear()

        response = dispatcher_client.post(
            "/api/dispatch/run", {"date": tomorrow.isoformat(), "mode": "suggest"}, format="json"
        )
        assert response.status_code == 202, response.content
        assert response.json()["status"] == DispatchRun.Status.QUEUED
        run_id = response.json()["id"]

        local = spans.get_finished_spans()
        (request,) = [s for s in local if s.kind == SpanKind.SERVER]
        trace_id = format(request.context.trace_id, "032x")
        # The message leaves inside the request's trace: the producer span carries the context.
        (publish,) = [s for s in local if s.name == "apply_async/dispatch.tasks.execute_run"]
        assert publish.context.trace_id == request.context.trace_id
        publish_id = format(publish.context.span_id, "016x")

        def the_save(received: list[Received]) -> list[Received]:
            return [
                s
                for s in received
                if s.attributes.get("db.statement", "").startswith('UPDATE "dispatch_dispatchrun"')
                and '"routes"' in s.attributes["db.statement"]
            ]

        deadline = time.monotonic() + WORKER_DEADLINE_S
        while not the_save(otlp_receiver.received()):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"no saved run exported within {WORKER_DEADLINE_S} s; spans "
                    f"{sorted({s.name for s in otlp_receiver.received()})}; worker log:\n"
                    f"{log.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        assert DispatchRun.objects.get(id=run_id).status == DispatchRun.Status.SUCCEEDED

        received = otlp_receiver.received()
        assert {s.service for s in received} == {"atmr-worker-test"}
        # The worker's task span continues the request's trace, under the message's span.
        # (Matched by trace: a message an earlier test left unacknowledged may run here too.)
        tasks = [s for s in received if s.name == "run/dispatch.tasks.execute_run"]
        (task,) = [s for s in tasks if s.trace_id == trace_id]
        assert task.parent_id == publish_id
        assert task.attributes.get("celery.task_name") == "dispatch.tasks.execute_run"
        # The run's final save (routes, status) is a query of that task, in the same trace.
        by_id = {s.span_id: s for s in received}
        for save in the_save(received):
            chain, span = [], save
            while span.parent_id in by_id:
                span = by_id[span.parent_id]
                chain.append(span.span_id)
            assert save.trace_id == trace_id and task.span_id in chain
            assert run_id not in save.attributes["db.statement"]  # parameters are not exported
    finally:
        celery_app.conf.task_always_eager = eager
        worker.terminate()
        worker.wait(timeout=30)
        log.unlink(missing_ok=True)
