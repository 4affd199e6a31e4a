"""The `clock` marker (root conftest) pins "now" for a test, frozen unless tick=True."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import SUITE_NOW

MOMENT = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)


@pytest.mark.clock(MOMENT)
def test_clock_marker_freezes_now_at_the_moment():
    assert timezone.now() == MOMENT
    time.sleep(0.01)
    assert timezone.now() == MOMENT


@pytest.mark.clock(MOMENT, tick=True)
def test_clock_marker_with_tick_starts_at_the_moment_and_runs():
    first = timezone.now()
    assert MOMENT <= first < datetime(2031, 5, 4, 4, tzinfo=UTC)
    time.sleep(0.01)
    assert timezone.now() > first


def test_without_a_marker_the_clock_starts_at_the_suites_moment_and_runs():
    first = timezone.now()
    assert SUITE_NOW <= first < SUITE_NOW + timedelta(hours=1)
    time.sleep(0.01)
    assert timezone.now() > first


@pytest.mark.real_clock
def test_real_clock_marker_leaves_the_machines_clock():
    assert abs(timezone.now().timestamp() - time.time()) < 1
    assert timezone.now() > SUITE_NOW + timedelta(hours=1)
