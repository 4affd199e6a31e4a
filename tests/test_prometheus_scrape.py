"""A real Prometheus (Debian's package) scrapes a real ATMR and counts a request made to it.

ATMR runs as `make serve` runs it (atmr/serve.py: gunicorn with two workers in multiprocess
mode, and uvicorn) on the test database; Prometheus runs on loopback with a temporary config
and data directory and a 1 s scrape interval, and is killed at the end. Everything is read
back through Prometheus's HTTP API, as a dashboard or an alert would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from atmr import serve
from tests.processes import child_database_url, free_port

pytestmark = pytest.mark.real_clock  # other processes run on the machine's clock

TOKEN = "scrape-test-token-0123456789abcdef"
WAIT_S = 60.0  # generous: a loaded machine; a passing test waits a few scrape intervals


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("prometheus is missing in CI: .ci/run installs Debian's prometheus package")
    pytest.skip("prometheus not installed (apt-get install prometheus); CI runs this")


@pytest.fixture
def atmr_server(transactional_db, tmp_path) -> Iterator[serve.Stack]:
    if not settings.REDIS_URL:
        pytest.skip("the served stack needs Redis (REDIS_URL; CI sets it)")
    shape = serve.Shape(port=free_port(), ws_port=free_port(), workers=2, threads=2)
    base = {**os.environ, "SECRET_KEY": settings.SECRET_KEY}
    env = serve.serving_env(shape, base) | {
        "DATABASE_URL": child_database_url(),
        "DB_POOL_MAX_SIZE": "0",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    stack = serve.start(shape, env, log_dir=tmp_path / "logs")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def prometheus(atmr_server, tmp_path) -> Iterator[str]:
    binary = prometheus_binary()
    port = free_port()
    shape = atmr_server.shape

    def job(name: str, target_port: int, token: str) -> dict[str, object]:
        return {
            "job_name": name,
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "metrics_path": "/metrics",
            "authorization": {"type": "Bearer", "credentials": token},
            "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
        }

    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            job("atmr-web", shape.port, TOKEN),
            job("atmr-ws", shape.ws_port, TOKEN),
            job("wrong-token", shape.port, "not-the-token"),
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        serve.wait_until_up(f"{url}/-/ready", timeout_s=WAIT_S)
        yield url
    except RuntimeError:
        pytest.fail(f"prometheus did not start: {Path(log.name).read_text()[-2000:]}")
    finally:
        process.kill()
        process.wait(timeout=20)
        log.close()


def query(prometheus_url: str, promql: str) -> list[dict[str, object]]:
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_for(prometheus_url: str, promql: str, expected: float) -> float:
    """The query's single value once it equals `expected` (else the last one seen)."""
    deadline = time.monotonic() + WAIT_S
    seen = None
    while time.monotonic() < deadline:
        result = query(prometheus_url, promql)
        if result:
            seen = float(result[0]["value"][1])  # type: ignore[index]
            if seen == expected:
                return seen
        time.sleep(0.5)
    return seen if seen is not None else float("nan")


@pytest.mark.django_db(transaction=True)
def test_prometheus_counts_a_request_made_to_atmr(atmr_server, prometheus):
    # Both servers are scraped with the token; a scrape with a wrong one finds nothing.
    assert wait_for(prometheus, 'up{job="atmr-web"}', 1) == 1
    assert wait_for(prometheus, 'up{job="atmr-ws"}', 1) == 1
    assert wait_for(prometheus, 'up{job="wrong-token"}', 0) == 0

    series = (
        'django_http_responses_total_by_status_view_method_total{view="company-me",job="atmr-web"}'
    )
    counted = f"sum({series}) or vector(0)"
    assert wait_for(prometheus, counted, 0) == 0
    for _ in range(3):  # two workers: the counts of both add up in one scrape
        request = urllib.request.Request(
            f"http://127.0.0.1:{atmr_server.shape.port}/api/companies/me"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 (loopback)
        assert refused.value.code == 401

    assert wait_for(prometheus, counted, 3) == 3
    by_status = query(prometheus, f"sum by (status) ({series})")
    assert [(r["metric"]["status"], r["value"][1]) for r in by_status] == [("401", "3")]
    # The scrape-time readings arrive too.
    assert wait_for(prometheus, 'min(atmr_dependency_up{dependency="postgresql"})', 1) == 1
