"""drivers/partitions.py: the positions' day partitions on PostgreSQL (routing, retention)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
import time_machine
from django.db import OperationalError, connection

from drivers import partitions
from drivers.locations import (
    DriverBatch,
    Position,
    location_batch_store,
    location_batches_store,
    location_prune,
    location_track_day,
)
from drivers.models import DriverLocation
from drivers.partitions import (
    DEFAULT_PARTITION,
    SORTED_MARK,
    is_partitioned,
    location_partition_days,
    location_partition_drop,
    location_partition_sort,
    location_partitions_ensure,
    location_partitions_sort,
    partition_name,
)
from tests.factories import DriverFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="partitions exist on PostgreSQL only",
    ),
]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _store(driver, *at: datetime) -> None:
    positions = [Position(lat=46.5, lon=6.6, recorded_at=t) for t in at]
    location_batch_store(company_id=driver.company_id, driver_id=driver.id, positions=positions)


def _where(at: datetime) -> str:
    """The partition a stored fix lives in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM drivers_driverlocation WHERE recorded_at = %s",
            [at],
        )
        return cursor.fetchone()[0]


@time_machine.travel(NOW, tick=False)
def test_beat_creates_the_coming_week_once():
    assert is_partitioned()
    location_partitions_ensure(days_ahead=7)
    days = location_partition_days()
    assert {TODAY + timedelta(days=n) for n in range(-1, 8)} <= set(days)
    assert location_partitions_ensure(days_ahead=7) == []  # idempotent


@time_machine.travel(NOW, tick=False)
def test_fixes_go_to_their_days_partition_or_the_default_one(driver):
    location_partitions_ensure(days_ahead=2)
    far_past, far_future = datetime(2001, 1, 1, tzinfo=UTC), NOW + timedelta(days=200)
    _store(driver, NOW, NOW - timedelta(days=1), far_past, far_future)
    assert _where(NOW) == partition_name(TODAY)
    assert _where(NOW - timedelta(days=1)) == partition_name(TODAY - timedelta(days=1))
    assert _where(far_past) == _where(far_future) == DEFAULT_PARTITION
    assert DriverLocation.objects.count() == 4  # none lost


@time_machine.travel(NOW, tick=False)
def test_creating_a_day_moves_its_fixes_out_of_the_default_partition(driver):
    later = NOW + timedelta(days=20)
    assert partition_name(later.date()) not in {
        partition_name(d) for d in location_partition_days()
    }
    _store(driver, later, later + timedelta(days=1))
    assert _where(later) == DEFAULT_PARTITION
    created = location_partitions_ensure(days_ahead=20)
    assert later.date() in created
    assert _where(later) == partition_name(later.date())
    assert _where(later + timedelta(days=1)) == DEFAULT_PARTITION
    assert DriverLocation.objects.count() == 2


@time_machine.travel(NOW, tick=False)
def test_retention_drops_whole_old_days_and_nothing_else(driver, other_company):
    location_partitions_ensure(days_ahead=1, days_back=32)
    old_day = NOW - timedelta(days=31)  # 31 Oct: its whole day is older than 30 days
    edge = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # older than 30 days, but its day is not
    _store(driver, old_day, edge, NOW - timedelta(days=29), NOW, datetime(2001, 1, 1, tzinfo=UTC))
    before = location_partition_days()

    pruned = location_prune(older_than=timedelta(days=30))

    after = location_partition_days()
    assert date(2026, 10, 31) in before and date(2026, 10, 31) not in after
    assert after == [d for d in before if d >= date(2026, 11, 1)]
    assert pruned.days == len(before) - len(after) and pruned.rows == 1  # the 2001 fix
    kept = sorted(DriverLocation.objects.values_list("recorded_at", flat=True))
    assert kept == [edge, NOW - timedelta(days=29), NOW]


@time_machine.travel(NOW, tick=False)
def test_a_drop_stopped_after_its_detach_is_finished_by_the_next_retention(driver):
    location_partitions_ensure(days_ahead=1, days_back=32)
    stuck, old = date(2026, 10, 30), date(2026, 10, 31)
    _store(driver, datetime(2026, 10, 30, 8, tzinfo=UTC), datetime(2026, 10, 31, 8, tzinfo=UTC))
    with connection.cursor() as cursor:  # a run that stopped between detach and drop
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"ALTER TABLE drivers_driverlocation DETACH PARTITION {partition_name(stuck)}"
        )
    assert stuck not in location_partition_days()

    location_prune(older_than=timedelta(days=30))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s), to_regclass(%s)", [partition_name(stuck), partition_name(old)]
        )
        assert cursor.fetchone() == (None, None)
    assert old not in location_partition_days()
    assert list(DriverLocation.objects.values_list("recorded_at", flat=True)) == []


@time_machine.travel(NOW, tick=False)
def test_a_drivers_day_reads_only_that_days_partition(driver):
    location_partitions_ensure(days_ahead=1)
    _store(driver, NOW, NOW - timedelta(days=1))
    track = location_track_day(company_id=driver.company_id, driver_id=driver.id, day=TODAY)
    assert [f.recorded_at for f in track] == [NOW]
    plan = track.explain()
    assert partition_name(TODAY) in plan
    assert partition_name(TODAY - timedelta(days=1)) not in plan
    assert DEFAULT_PARTITION not in plan


# --- the nightly sort of a closed day ---------------------------------------------------------
YESTERDAY = TODAY - timedelta(days=1)


def _phones_write_a_day(drivers, fixes: int) -> None:
    """As the phones write: every flush holds one fix of each driver, so on disk a driver's
    fixes are interleaved with everyone else's."""
    start = datetime.combine(YESTERDAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    for n in range(fixes):
        at = start + timedelta(seconds=15 * n, microseconds=n)
        location_batches_store(
            batches=[
                DriverBatch(str(d.company_id), str(d.id), [Position(46.5 + n * 1e-5, 6.6, at)])
                for d in drivers
            ]
        )


def _physical(name: str) -> list[tuple[str, str, datetime]]:
    """The day's keys in the order of their rows on disk."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT company_id::text, driver_id::text, recorded_at FROM {name} ORDER BY ctid"  # noqa: S608
        )
        return cursor.fetchall()


def _count_and_checksum(name: str) -> tuple[int, str]:
    """Every column of every row, ids included, in key order."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY company_id, driver_id, "  # noqa: S608
            f"recorded_at)) FROM {name} AS t"
        )
        return cursor.fetchone()


def _pages_of(name: str, driver_id) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(DISTINCT (ctid::text::point)[0]) FROM {name} WHERE driver_id = %s",  # noqa: S608
            [driver_id],
        )
        return cursor.fetchone()[0]


def _fresh_days() -> None:
    # A partition kept from an earlier test (transactional tests truncate rows, not tables)
    # may carry the sorted mark: start from new, empty days.
    for day in (YESTERDAY, TODAY):
        if day in location_partition_days():
            location_partition_drop(day)
    location_partitions_ensure(days_ahead=1)


def _a_closed_day(company, *, drivers: int, fixes: int) -> list:
    """Yesterday as `drivers` phones of `company` wrote it (interleaved), on fresh days."""
    _fresh_days()
    made = [DriverFactory(company=company) for _ in range(drivers)]
    _phones_write_a_day(made, fixes=fixes)
    return made


@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_the_nightly_sort_makes_a_closed_days_drivers_contiguous_and_keeps_every_fix(
    company, other_company
):
    _fresh_days()
    drivers = [DriverFactory(company=company) for _ in range(5)] + [
        DriverFactory(company=other_company)
    ]
    _phones_write_a_day(drivers, fixes=300)
    _store(drivers[0], NOW)  # today: open, left alone
    name = partition_name(YESTERDAY)
    before, checksum = _physical(name), _count_and_checksum(name)
    assert before != sorted(before)  # interleaved, as written
    interleaved_pages = _pages_of(name, drivers[0].id)

    assert location_partitions_sort() == [YESTERDAY]

    after = _physical(name)
    assert after == sorted(before)  # every fix, in key order on disk
    assert _count_and_checksum(name) == checksum == (1800, checksum[1])
    assert _pages_of(name, drivers[0].id) < interleaved_pages / 3
    assert YESTERDAY in location_partition_days()  # attached again, under its own name
    assert partitions._is_sorted(name) and not partitions._is_sorted(partition_name(TODAY))
    assert DriverLocation.objects.filter(recorded_at__date=TODAY).count() == 1
    track = location_track_day(company_id=company.id, driver_id=drivers[0].id, day=YESTERDAY)
    assert track.count() == 300
    with connection.cursor() as cursor:  # nothing of the swap is left behind
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE %s", [f"{name}_%"])
        assert {r[0] for r in cursor.fetchall()} == {f"{name}_pkey"}
        cursor.execute(f"SELECT obj_description('{name}'::regclass, 'pg_class')")
        assert cursor.fetchone()[0] == SORTED_MARK
        # The copy's key and foreign keys became the parent's (adopted, not added twice).
        cursor.execute(
            "SELECT contype, conparentid <> 0 FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype IN ('p', 'f') ORDER BY contype",
            [name],
        )
        assert cursor.fetchall() == [("f", True), ("f", True), ("p", True)]

    # Idempotent: a sorted day is not rewritten again.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_filenode(%s)", [name])
        filenode = cursor.fetchone()[0]
        assert location_partitions_sort() == []
        assert location_partition_sort(YESTERDAY) is False
        cursor.execute("SELECT pg_relation_filenode(%s)", [name])
        assert cursor.fetchone()[0] == filenode
    assert _physical(name) == after and _count_and_checksum(name) == checksum
    midnight = datetime.combine(YESTERDAY, datetime.min.time(), tzinfo=UTC)
    _store(drivers[1], midnight)  # a fix even later: it goes to the sorted day
    assert _where(midnight) == name


@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_a_fix_written_to_the_day_while_it_is_sorted_is_kept(company, monkeypatch):
    drivers = _a_closed_day(company, drivers=3, fixes=20)
    late = datetime.combine(YESTERDAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23)
    build = partitions._sorted_copy_build

    def build_then_a_late_batch_arrives(name, day):
        build(name, day)  # the copy is made: this fix is not in it
        _store(drivers[1], late, late + timedelta(seconds=1))

    monkeypatch.setattr(partitions, "_sorted_copy_build", build_then_a_late_batch_arrives)
    assert location_partition_sort(YESTERDAY) is True

    name = partition_name(YESTERDAY)
    assert _count_and_checksum(name)[0] == 62
    rows = _physical(name)
    assert rows[:60] == sorted(rows[:60])  # the copy, in key order; the late pair after it
    assert [at for _, _, at in rows[60:]] == [late, late + timedelta(seconds=1)]
    assert DriverLocation.objects.filter(driver=drivers[1], recorded_at__gte=late).count() == 2


@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_a_failed_sort_leaves_the_day_as_it_was(company, monkeypatch):
    _a_closed_day(company, drivers=3, fixes=20)
    name = partition_name(YESTERDAY)
    before, checksum = _physical(name), _count_and_checksum(name)

    def swap_times_out(name, day):
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr(partitions, "_sorted_copy_swap", swap_times_out)
    with pytest.raises(OperationalError):
        location_partition_sort(YESTERDAY)

    assert _physical(name) == before and _count_and_checksum(name) == checksum
    assert not partitions._is_sorted(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE %s", [f"{name}_%"])
        assert {r[0] for r in cursor.fetchall()} == {f"{name}_pkey"}
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
            [name, "location_late_copy"],
        )
        assert cursor.fetchone()[0] == 0
    monkeypatch.undo()
    assert location_partition_sort(YESTERDAY) is True  # the next night catches up
    assert _physical(name) == sorted(before)


@time_machine.travel(NOW, tick=False)
def test_only_a_closed_day_is_sorted():
    location_partitions_ensure(days_ahead=1)
    with pytest.raises(ValueError, match="not closed"):
        location_partition_sort(TODAY)


@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_the_swap_waits_for_a_reader_of_the_day_and_tries_again(company, monkeypatch):
    _a_closed_day(company, drivers=2, fixes=10)
    name = partition_name(YESTERDAY)
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "50ms")
    monkeypatch.setattr(partitions, "SWAP_PAUSE_S", 0.0)
    swap_once, attempts = partitions._swap_once, []

    def blocked_once(name, day):
        attempts.append(1)
        if len(attempts) > 1:
            return swap_once(name, day)
        # A reader of the day in another session holds its lock through the first attempt.
        with psycopg.connect(**_libpq_params(), autocommit=False) as reader:
            reader.execute(f"SELECT count(*) FROM {name}")  # noqa: S608
            return swap_once(name, day)

    monkeypatch.setattr(partitions, "_swap_once", blocked_once)
    assert location_partition_sort(YESTERDAY) is True
    assert len(attempts) == 2
    assert partitions._is_sorted(name) and _count_and_checksum(name)[0] == 20


def _libpq_params() -> dict:
    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"],
    }
