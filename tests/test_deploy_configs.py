"""The production shape (docker-compose.yml, deploy/): configs that can be checked here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _services() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs Debian's haproxy package")
def test_haproxy_config_is_valid():
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(ROOT / "deploy/haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_proxy_reaches_every_web_and_asgi_process():
    config = (ROOT / "deploy/haproxy.cfg").read_text()
    apps = [name for name in _services() if name.startswith(("web", "asgi"))]
    assert len(apps) >= 4
    for name in apps:
        assert f"server {name} {name}:" in config


def test_every_queue_has_a_worker_and_every_process_the_same_shards():
    services = _services()
    queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    consumed = {
        s["command"].split(" -Q ")[1].split()[0]
        for s in services.values()
        if "celery -A atmr worker" in str(s.get("command"))
    }
    assert consumed == queues
    app = services["web1"]["environment"]
    assert app["DB_PREPARED_STATEMENTS"] == "0" and "pgbouncer:6432" in app["DATABASE_URL"]
    assert len(app["REDIS_CHANNEL_URLS"].split(",")) == 2
    pgbouncer = (ROOT / "deploy/pgbouncer/pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in pgbouncer
