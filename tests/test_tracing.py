"""Traces (atmr/tracing.py): one trace from `POST /api/dispatch/run` through the Celery task
to the saved run, recorded by an in-memory exporter; and nothing at all when tracing is off."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from django.conf import settings
from django.db import connections
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from atmr import tracing
from dispatch.models import DispatchRun
from tests.factories import ZURICH, BookingFactory, DriverFactory, at


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
