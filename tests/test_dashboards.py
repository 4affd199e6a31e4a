"""The Grafana dashboards (deploy/grafana/) and the alert rules (deploy/prometheus/) only use
metrics that /metrics exports, and their PromQL parses."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.test_prometheus_rules import promtool

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana").glob("*.json"))
RULES = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
TOKEN = "dashboards-test-token-0123456789"
# Prometheus's own series, not ATMR's.
PROMETHEUS_SERIES = {"up"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan"}


def dashboard_queries(path: Path) -> list[str]:
    board = json.loads(path.read_text())
    return [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]


def rule_queries() -> list[str]:
    return [rule["expr"] for group in RULES["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {
        rule["record"] for group in RULES["groups"] for rule in group["rules"] if "record" in rule
    }


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    tokens = re.findall(r"(?<![\w:.])[A-Za-z_:][\w:]*\b(?!\s*\()", expr)
    return {t for t in tokens if t not in _KEYWORDS}


@pytest.fixture
def exported(settings, db, client) -> set[str]:
    """Every series name /metrics declares (families with no sample yet included)."""
    settings.METRICS_TOKEN = TOKEN
    client.get("/api/companies/me")  # the HTTP middleware's families exist from here on
    body = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    names: set[str] = set()
    for family in text_string_to_metric_families(body):
        names.update(family.name + s for s in suffixes.get(family.type, [""]))
        names.update(sample.name for sample in family.samples)
    return names


def test_the_four_dashboards_exist_with_queries():
    assert [p.stem for p in DASHBOARDS] == ["api", "dispatch", "overview", "realtime"]
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] and board["title"] and board["panels"]
        assert all(panel.get("targets") for panel in board["panels"]), path.name


def test_metric_name_extraction():
    expr = (
        'histogram_quantile(0.95, sum by (le, view) (rate(foo_bucket{view!="x",a=~"b|c"}[5m])))'
        " / on() group_left sum(bar_total offset 5m) and time() - max(rec:ord:ed)"
    )
    assert metric_names(expr) == {"foo_bucket", "bar_total", "rec:ord:ed"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_metric_is_exported(path, exported):
    used = set().union(*(metric_names(q) for q in dashboard_queries(path)))
    recorded = used & {n for n in used if ":" in n}
    assert recorded <= recorded_names(), "recording rules missing from rules.yml"
    missing = used - recorded - exported - PROMETHEUS_SERIES
    assert not missing, f"{path.name} queries metrics /metrics does not export: {missing}"


def test_every_alert_rule_metric_is_exported(exported):
    used = set().union(*(metric_names(q) for q in rule_queries()))
    missing = used - recorded_names() - exported - PROMETHEUS_SERIES
    assert not missing, f"rules.yml queries metrics /metrics does not export: {missing}"


def test_dashboard_queries_parse(tmp_path):
    # promtool parses every query as a recording rule: a typo in PromQL fails here.
    queries = [q for path in DASHBOARDS for q in dashboard_queries(path)]
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool(), "check", "rules", "queries.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
