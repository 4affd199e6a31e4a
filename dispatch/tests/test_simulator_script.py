"""The simulator's scripts (pure): what a driver does and when, delays, positions on the way."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.engine.geo import Location
from dispatch.simulator.script import (
    NO_SHOW,
    NO_SHOW_WAIT,
    NOT_READY,
    TRAFFIC,
    Delay,
    DriverDay,
    Leg,
    Move,
    Stop,
    delays_choose,
    script_build,
)

ZURICH = ZoneInfo("Europe/Zurich")
HOME, P1, D1, P2, D2 = (Location(46.50 + i / 100, 6.60) for i in range(5))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=ZURICH)


def ten_minutes(a: Location, b: Location) -> Leg:
    return Leg(0.0 if a == b else 600.0, (a, b))


def two_trips(**statuses: str) -> DriverDay:
    """Start at 08:00 at home; trip a picked up at 09:00, trip b at 10:00 (plan order)."""
    stops = (
        Stop("start", None, HOME, None, 0, seq=0, departure=at(8)),
        Stop("pickup", "a", P1, at(9), 120, seq=1, planned_leg_s=900),
        Stop("dropoff", "a", D1, None, 120, seq=2, planned_leg_s=900),
        Stop("pickup", "b", P2, at(10), 120, seq=3, planned_leg_s=900),
        Stop("dropoff", "b", D2, None, 120, seq=4, planned_leg_s=900),
    )
    return DriverDay(
        "d1",
        "d1@x.test",
        "Driver One",
        stops,
        statuses={"a": "assigned", "b": "assigned", **statuses},
    )


def statuses(script) -> list[tuple[str, str, datetime]]:
    return [(s.booking, s.status, s.at) for s in script.steps if s.status]


def test_a_driver_leaves_just_in_time_and_sends_each_step_at_its_stop():
    script = script_build(two_trips(), delays=[], router=ten_minutes)

    assert statuses(script) == [
        ("a", "en_route", at(8, 45)),  # 15 min plan leg before the 09:00 pick-up
        ("a", "arrived", at(9)),
        ("a", "on_board", at(9, 2)),
        ("a", "completed", at(9, 19)),  # 15 min drive, 2 min unloading
        ("b", "en_route", at(9, 45)),  # waits at the drop-off, then leaves in time
        ("b", "arrived", at(10)),
        ("b", "on_board", at(10, 2)),
        ("b", "completed", at(10, 19)),
    ]
    assert [(m.start, m.end) for m in script.moves][:2] == [
        (at(8, 45), at(9)),
        (at(9, 2), at(9, 17)),
    ]


def test_not_ready_shifts_the_pickup_and_what_follows():
    delays = [Delay("a", NOT_READY, 30)]
    script = script_build(two_trips(), delays=delays, router=ten_minutes)
    times = {(b, s): t for b, s, t in statuses(script)}

    assert times["a", "on_board"] == at(9, 32)
    assert times["a", "completed"] == at(9, 49)
    assert times["b", "en_route"] == at(9, 49)  # late now: leaves at once
    assert times["b", "on_board"] == at(10, 6)
    notes = [s for s in script.steps if s.delay]
    assert [n.delay for n in notes] == [NOT_READY] and notes[0].at == at(9)


def test_a_no_show_waits_then_skips_its_dropoff_and_drives_on():
    script = script_build(two_trips(), delays=[Delay("a", NO_SHOW)], router=ten_minutes)
    steps = statuses(script)

    assert ("a", "no_show", at(9) + NO_SHOW_WAIT) in steps
    assert not [s for s in steps if s[0] == "a" and s[1] in ("on_board", "completed")]
    # P1 -> P2 is not a leg of the plan: the router's 10 minutes, leaving in time for 10:00.
    assert ("b", "en_route", at(9, 50)) in steps
    assert [m.path for m in script.moves][1] == (P1, P2)


def test_traffic_makes_the_drive_to_the_pickup_longer():
    script = script_build(two_trips(), delays=[Delay("b", TRAFFIC, 20)], router=ten_minutes)
    times = {(b, s): t for b, s, t in statuses(script)}

    assert times["b", "en_route"] == at(9, 45)
    assert times["b", "arrived"] == at(10, 20)
    assert times["b", "completed"] == at(10, 39)


def test_steps_already_done_are_not_sent_again():
    script = script_build(two_trips(a="on_board", b="completed"), delays=[], router=ten_minutes)

    assert [(b, s) for b, s, _ in statuses(script)] == [("a", "completed")]
    # The patient is aboard: straight to the drop-off (not a leg of the plan: the router's).
    assert script.moves[0].path == (HOME, D1)


def test_positions_follow_the_path_at_constant_speed():
    move = Move.along(
        at(9), at(9, 10), (Location(46.0, 6.0), Location(46.1, 6.0), Location(46.1, 6.1))
    )
    script_day = two_trips()
    script = script_build(script_day, delays=[], router=ten_minutes)

    halfway, speed, heading = move.point_at(at(9, 5))
    # Half the distance, on the first (longer) segment: distance, not points, sets the pace.
    share = (move.metres / 2) / move.cumulative_m[1]
    assert halfway.lat == pytest.approx(46.0 + 0.1 * share) and halfway.lon == 6.0
    assert speed == pytest.approx(move.metres / 600)
    assert heading == pytest.approx(0.0, abs=1.0)  # due north on the first segment
    assert move.point_at(at(9, 10))[0] == Location(46.1, 6.1)
    assert script.position_at(at(7)) == (HOME, 0.0, None)  # before leaving
    assert script.position_at(at(9, 1))[0] == P1  # standing at the pick-up
    middle = script.position_at(
        at(
            8,
            52,
        )
        + timedelta(seconds=30)
    )[0]
    assert HOME.lat < middle.lat < P1.lat


def test_delays_are_reproducible_by_seed_and_stay_in_the_window():
    days = [
        two_trips(),
        DriverDay(
            "d2",
            "d2@x.test",
            "Two",
            (
                two_trips().stops[0],
                Stop("pickup", "c", P1, at(11), 60),
                Stop("dropoff", "c", D1, None, 60),
            ),
            statuses={"c": "assigned"},
        ),
    ]

    first = delays_choose(days, count=3, seed=5)
    assert first == delays_choose(days, count=3, seed=5)
    assert sorted(d.kind for d in first) == sorted([TRAFFIC, NOT_READY, NO_SHOW])
    assert len({d.booking for d in first}) == 3
    assert all(10 <= d.minutes <= 25 for d in first if d.kind != NO_SHOW)
    assert len(delays_choose(days, count=10, seed=5)) == 3  # only three pick-ups
    window = delays_choose(days, count=3, seed=5, after=at(9, 30), before=at(10, 30))
    assert [d.booking for d in window] == ["b"]
    seeds = {tuple(delays_choose(days, count=2, seed=s)) for s in range(10)}
    assert len(seeds) > 1


def test_started_trips_get_no_delay():
    days = [two_trips(a="en_route")]

    assert [d.booking for d in delays_choose(days, count=2, seed=1)] == ["b"]
