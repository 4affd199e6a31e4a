"""The alert rules and the scrape config in deploy/prometheus/ pass Prometheus's own checks.

`promtool` comes with Debian's `prometheus` package, which .ci/run installs. Outside CI a
machine without it skips these (saying why); in CI (CI=true) a missing promtool fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("promtool is missing in CI: .ci/run installs Debian's prometheus package")
    pytest.skip("promtool not installed (apt-get install prometheus); CI runs these")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120
    )


def test_rules_are_valid():
    result = run("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests_pass():
    result = run("test", "rules", "tests.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests_can_fail(tmp_path):
    # The same tests against a rule file whose latency threshold was loosened must fail:
    # promtool really evaluates the expectations.
    rules = (DEPLOY / "rules.yml").read_text().replace("> 0.15", "> 0.5")
    (tmp_path / "rules.yml").write_text(rules)
    shutil.copy(DEPLOY / "tests.yml", tmp_path / "tests.yml")
    result = subprocess.run(
        [promtool(), "test", "rules", "tests.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ApiLatencyP95High" in result.stdout + result.stderr


def test_example_scrape_config_is_valid(tmp_path):
    # credentials_file must exist for the check: point it at a throwaway token file.
    token = tmp_path / "token"
    token.write_text("example-token")
    config = (DEPLOY / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/atmr_metrics_token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(DEPLOY / "rules.yml", tmp_path / "rules.yml")
    result = subprocess.run(
        [promtool(), "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
