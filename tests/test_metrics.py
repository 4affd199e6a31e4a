"""/metrics: who may read it, and that each instrumented path shows up in it (atmr/metrics.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import redis
import time_machine
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from atmr import metrics
from dispatch import execution
from dispatch.models import DispatchRun
from dispatch.tasks import fail_stale_runs
from tests.factories import ZURICH, BookingFactory, DriverFactory, at

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
def scrape(settings, db):
    """Read /metrics as Prometheus does; returns {(name, sorted labels): value}."""
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content[:200]
        assert response["Content-Type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return read


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- who may read it ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("configured", "header"),
    [
        ("", f"Bearer {TOKEN}"),  # unset: no token opens it
        ("", "Bearer "),
        (TOKEN, None),
        (TOKEN, "Bearer wrong-token"),
        (TOKEN, TOKEN),  # no scheme
        (TOKEN, f"Bearer {TOKEN}x"),
    ],
)
def test_metrics_is_a_plain_404_without_the_right_token(settings, client, configured, header):
    settings.METRICS_TOKEN = configured
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 404
    # Exactly what any unknown URL answers: nothing tells that /metrics exists.
    assert response.content == client.get("/no-such-page").content


def test_metrics_refuses_other_methods_even_with_the_token(settings, client):
    settings.METRICS_TOKEN = TOKEN
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


# --- HTTP ---------------------------------------------------------------------------------
def test_a_request_is_counted_by_view_and_status_with_its_latency_and_queries(
    scrape, dispatcher_client
):
    before = scrape()
    assert dispatcher_client.get("/api/companies/me").status_code == 200
    assert dispatcher_client.get(f"/api/bookings/{uuid.uuid4()}").status_code == 404
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    responses = "django_http_responses_total_by_status_view_method_total"
    assert delta(responses, status="200", view="company-me", method="GET") == 1
    assert delta(responses, status="404", view="booking-detail", method="GET") == 1
    latency = "django_http_requests_latency_seconds_by_view_method"
    assert delta(f"{latency}_count", view="company-me", method="GET") == 1
    # The 150 ms alert's bucket exists.
    assert (f"{latency}_bucket", (("le", "0.15"), ("method", "GET"), ("view", "company-me"))) in (
        after
    )
    assert delta("atmr_http_request_queries_count", view="company-me") == 1
    assert delta("atmr_http_request_queries_sum", view="company-me") >= 1


def test_health_probes_are_not_counted(scrape, client):
    before = scrape()
    assert client.get("/api/health").status_code == 200
    after = scrape()
    name = "django_http_responses_total_by_status_view_method_total"

    def total(samples) -> float:
        return sum(v for (n, _), v in samples.items() if n == name)

    # Only the first scrape (counted once it had answered) went through the middleware.
    assert total(after) - total(before) == 1


def test_cache_hits_and_misses_are_counted(scrape, settings):
    if not settings.REDIS_URL:
        pytest.skip("the shared cache is Redis only with REDIS_URL (CI sets it)")
    before = scrape()
    cache.set("metrics-test-key", 1)
    cache.get("metrics-test-key")
    cache.get("metrics-test-missing")
    cache.get_many(["metrics-test-key", "metrics-test-missing", "metrics-test-missing-2"])
    after = scrape()
    name = "atmr_cache_requests_total"
    # Between the scrapes: these reads only (a scrape itself reads no cache key).
    assert value(after, name, result="hit") - value(before, name, result="hit") == 2
    assert value(after, name, result="miss") - value(before, name, result="miss") == 3


# --- read at scrape time ------------------------------------------------------------------
def test_dependencies_are_reported_up(scrape, settings):
    samples = scrape()
    assert value(samples, "atmr_dependency_up", dependency="postgresql") == 1
    if settings.REDIS_URL:
        assert value(samples, "atmr_dependency_up", dependency="redis") == 1


def test_a_dead_redis_reads_as_down_and_the_scrape_still_answers(scrape, settings, monkeypatch):
    monkeypatch.setattr(metrics, "_celery_queue_lengths", lambda: 1 / 0)
    monkeypatch.setattr("atmr.health.redis_ok", lambda: False)
    samples = scrape()
    assert value(samples, "atmr_dependency_up", dependency="redis") == 0
    assert value(samples, "atmr_dependency_up", dependency="postgresql") == 1


def test_celery_queue_depth_is_the_redis_list_length(scrape, settings, monkeypatch):
    if not settings.REDIS_URL:
        pytest.skip("queue depth is read from the Redis broker (CI sets REDIS_URL)")
    queue = f"metrics-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(metrics, "celery_queue_names", lambda: [queue])
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        broker.rpush(queue, "a", "b")
        broker.rpush(f"{queue}\x06\x163", "urgent")  # a priority list of the same queue
        assert value(scrape(), "atmr_celery_queue_length", queue=queue) == 3
    finally:
        broker.delete(queue, f"{queue}\x06\x163")


def test_breaker_state_is_absent_without_osrm_and_read_from_the_store_with_it(scrape, settings):
    settings.OSRM_URL = ""
    assert ("atmr_osrm_breaker_state", ()) not in scrape()
    settings.OSRM_URL = "http://127.0.0.1:9/metrics-test"  # never called: state only
    from dispatch.travel import travel_provider

    breaker = travel_provider().breaker  # type: ignore[attr-defined]
    assert value(scrape(), "atmr_osrm_breaker_state") == 0
    breaker._open(breaker._clock())
    try:
        assert value(scrape(), "atmr_osrm_breaker_state") == 2
    finally:
        breaker.record_success()


def test_eta_age_family_is_exported_and_empty_until_bookings_have_etas(scrape, db):
    response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert b"# TYPE atmr_eta_oldest_age_seconds gauge" in response.content
    from bookings.models import Booking

    has_etas = "eta_computed_at" in {f.name for f in Booking._meta.get_fields()}
    assert (("atmr_eta_oldest_age_seconds", ()) in scrape()) is has_etas


# --- dispatch, OSRM, Celery ---------------------------------------------------------------
@pytest.fixture
def eve():
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, tzinfo=ZURICH), tick=True):
        yield


def test_a_run_is_counted_with_its_phases_and_matrix_cells(
    scrape, eve, company, dispatcher_client, django_capture_on_commit_callbacks
):
    DriverFactory(company=company)
    BookingFactory(company=company, scheduled_at=at(9))
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        response = dispatcher_client.post(
            "/api/dispatch/run", {"date": "2026-12-01", "mode": "suggest"}, format="json"
        )
    assert response.status_code == 202
    assert DispatchRun.objects.get().status == DispatchRun.Status.SUCCEEDED
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("atmr_dispatch_runs_total", status="succeeded") == 1
    for phase in ("load", "matrix", "solve", "save"):
        assert delta("atmr_dispatch_phase_seconds_count", phase=phase) == 1
    # Depot, pick-up, drop-off and the driver's start: off-diagonal cells of a 3x3 or more.
    cells = delta("atmr_travel_matrix_cells_total", source="straight_line")
    assert cells >= 6
    # Without OSRM every cell is an estimate, by configuration: not an OSRM fall-back.
    assert delta("atmr_travel_fallback_cells_total", source="straight_line") == cells
    assert delta("atmr_travel_fallback_cells_total", source="osrm") == 0
    task = "dispatch.tasks.execute_run"
    assert delta("atmr_celery_task_seconds_count", task=task, state="SUCCESS") == 1


def test_a_stale_run_shows_in_the_gauge_then_is_counted_when_swept(scrape, eve, company):
    old = timezone.now() - timedelta(minutes=10)
    DispatchRun.objects.create(
        company=company,
        service_date=datetime(2026, 12, 1).date(),
        status=DispatchRun.Status.RUNNING,
        started_at=old,
        heartbeat_at=old,
    )
    before = scrape()
    assert value(before, "atmr_dispatch_runs_stale") == 1
    assert fail_stale_runs.delay().get() == 1
    after = scrape()
    assert value(after, "atmr_dispatch_runs_stale") == 0
    name = "atmr_dispatch_runs_total"
    assert value(after, name, status="stale") - value(before, name, status="stale") == 1
    task = "dispatch.tasks.fail_stale_runs"
    count = "atmr_celery_task_seconds_count"
    assert value(after, count, task=task, state="SUCCESS") > value(
        before, count, task=task, state="SUCCESS"
    )
    assert execution.runs_fail_stale() == 0


class _FakeBreaker:
    def __init__(self, allows: bool) -> None:
        self.allows, self.successes, self.failures = allows, 0, 0

    def allows_request(self) -> bool:
        return self.allows

    def record_success(self) -> None:
        self.successes += 1

    def record_failure(self) -> None:
        self.failures += 1


def test_counting_breaker_counts_each_outcome_and_passes_it_on():
    name = "atmr_osrm_requests_total"

    def count(outcome: str) -> float:
        return metrics.OSRM_REQUESTS.labels(outcome)._value.get()

    before = {o: count(o) for o in ("ok", "failed", "refused")}
    inner = _FakeBreaker(allows=False)
    counting = metrics.CountingBreaker(inner)
    assert counting.allows_request() is False
    counting.record_success()
    counting.record_failure()
    counting.record_failure()
    assert (inner.successes, inner.failures) == (1, 2)
    assert {o: count(o) - before[o] for o in before} == {"ok": 1, "failed": 2, "refused": 1}
    assert name == metrics.OSRM_REQUESTS._name + "_total"


def test_osrm_provider_reports_through_the_counting_breaker(settings):
    settings.OSRM_URL = "http://127.0.0.1:9/metrics-wrap-test"
    from dispatch.travel import travel_provider

    provider = travel_provider()
    assert isinstance(provider.client.breaker, metrics.CountingBreaker)  # type: ignore[attr-defined]
    assert provider.client.breaker.inner is provider.breaker  # type: ignore[attr-defined]


def test_a_worker_serves_its_task_metrics_behind_the_same_token(settings):
    import urllib.error
    import urllib.request

    from tests.processes import free_port

    settings.METRICS_TOKEN = TOKEN
    port = free_port()
    server = metrics.worker_metrics_serve(port, host="127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
            assert refused.value.code == 404
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            body = response.read().decode()
        assert "# TYPE atmr_celery_task_seconds histogram" in body
        assert "atmr_dependency_up" not in body  # scrape-time readings stay with the web
    finally:
        server.shutdown()
        server.server_close()
