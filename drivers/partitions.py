"""Day partitions of the positions table on PostgreSQL (drivers_driverlocation).

The table is range-partitioned on `recorded_at`, one partition per UTC day named
`drivers_driverlocation_pYYYYMMDD`, plus a DEFAULT partition that catches a fix whose day has
no partition (a phone with a wrong clock, a day not yet created), so no fix is ever lost.
Beat creates the coming days ahead (`location_partitions_ensure`); retention detaches and drops
whole days (`location_partitions_drop`), which costs milliseconds and leaves no dead rows,
where a batched DELETE of a day took minutes and bloated the table. See drivers/migrations/
0005_driverlocation_partitioned.py for how the table was converted. SQLite keeps a plain table:
every function here is a no-op there.
"""

from __future__ import annotations

import logging
import re
import time as clock
from datetime import UTC, date, datetime, time, timedelta

from django.db import OperationalError, connection, transaction
from django.utils import timezone

TABLE = "drivers_driverlocation"
DEFAULT_PARTITION = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")
# DDL on the parent waits for running queries; never queue the phones' inserts behind it for
# longer than this: the next beat run tries again.
LOCK_TIMEOUT = "2s"

logger = logging.getLogger(__name__)


def partition_name(day: date) -> str:
    """The partition holding fixes recorded on `day` (UTC)."""
    return f"{TABLE}_p{day:%Y%m%d}"


def day_start(day: date) -> datetime:
    """Midnight UTC starting `day`: a partition's lower bound (inclusive)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def is_partitioned() -> bool:
    """True on PostgreSQL once the positions table is partitioned."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def location_partition_days() -> list[date]:
    """The days that have a partition, oldest first (the DEFAULT partition not included)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [r[0] for r in cursor.fetchall()]
    days = [
        date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) for n in names if (m := _NAME.match(n))
    ]
    return sorted(days)


def location_partitions_ensure(*, days_ahead: int = 7, days_back: int = 1) -> list[date]:
    """Create the missing partitions from today - days_back to today + days_ahead (UTC).

    Returns the days created. Idempotent. Each day is created as a plain table, filled with
    that day's fixes the DEFAULT partition caught meanwhile, and attached: attaching takes a
    SHARE UPDATE EXCLUSIVE lock on the parent, so inserts go on while it runs.
    """
    if not is_partitioned():
        return []
    today = timezone.now().astimezone(UTC).date()
    existing = set(location_partition_days())
    wanted = [today + timedelta(days=n) for n in range(-days_back, days_ahead + 1)]
    created = [day for day in wanted if day not in existing]
    for day in created:
        _partition_create(day)
    return created


def _partition_create(day: date) -> None:
    name, low, high = partition_name(day), day_start(day), day_start(day + timedelta(days=1))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        # Names are ours (constants and a date), never input.
        move = (
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608
            "WHERE recorded_at >= %s AND recorded_at < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        )
        cursor.execute(move, [low, high])
        # DDL takes no bound parameters (server-side binding): the bounds are our own dates.
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )


def location_partitions_drop(*, before: date) -> list[date]:
    """Detach and drop every day partition of a day before `before`; return the days dropped.

    Each day in its own short transaction (the detach holds the parent's lock for
    milliseconds; `LOCK_TIMEOUT` keeps it from waiting long behind a running query). A day
    detached by a run that stopped before dropping it is dropped too.
    """
    dropped = []
    for day in location_partition_days():
        if day >= before:
            break
        location_partition_drop(day)
        dropped.append(day)
    for day in _detached_days():
        if day < before:
            _table_drop(partition_name(day))
            dropped.append(day)
    return sorted(dropped)


def location_partition_drop(day: date) -> None:
    """Detach one day's partition (all its fixes) in a short transaction of its own, then drop
    it: its foreign keys first, then the table (`_table_drop`), so that unlinking a day's
    gigabytes at commit holds no lock on the drivers' table, which the phones update."""
    name = partition_name(day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # Deferred foreign-key checks of rows written earlier in the same transaction
        # (tests, a shell) would forbid the detach: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
    _table_drop(name)


def _detached_days() -> list[date]:
    """Days whose table exists but is not a partition (a drop that stopped half-way)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition "
            "AND relname LIKE %s",
            [f"{TABLE}_p%"],
        )
        names = [r[0] for r in cursor.fetchall()]
    return sorted(
        date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) for n in names if (m := _NAME.match(n))
    )


# --- the nightly sort of a closed day ---------------------------------------------------------
# The phones' fixes arrive interleaved (10,000 drivers, one fix each every 15 s), so one
# driver's fixes of a day lie one per heap page: its track read 2,900 pages. Once the day is
# closed, its partition is rewritten in key order, so that one driver's day is a few dozen
# contiguous pages. Rewritten as a copy swapped in, not with CLUSTER: CLUSTER holds ACCESS
# EXCLUSIVE on the day for the whole rewrite (minutes at 29 M rows), which would stall every
# reader of that day and, through one late fix routed there, the phones' shared insert.
SORTED_MARK = "sorted by (company_id, driver_id, recorded_at)"
_COLUMNS = "id, lat, lon, speed, heading, accuracy, recorded_at, received_at, company_id, driver_id"
_KEY = "company_id, driver_id, recorded_at"
SWAP_ATTEMPTS, SWAP_PAUSE_S = 5, 10.0
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout
_FOREIGN_KEYS = (("company_id", "accounts_company"), ("driver_id", "drivers_driver"))
# The copy and its key: memory for this session's statements only.
_SORT_WORK_MEM = "256MB"
_SORT_MAINTENANCE_WORK_MEM = "512MB"


def location_partitions_sort(*, days_back: int = 3) -> list[date]:
    """Sort the closed days of the last `days_back` days that are not sorted yet (beat,
    nightly); return the days sorted. A night that failed (a lock timeout) is caught up by the
    next one. Idempotent."""
    if not is_partitioned():
        return []
    today = timezone.now().astimezone(UTC).date()
    days = [d for d in location_partition_days() if today - timedelta(days=days_back) <= d < today]
    return [day for day in days if location_partition_sort(day)]


def location_partition_sort(day: date) -> bool:
    """Rewrite a closed day's partition in key order; True when it did, False when there was
    nothing to do (SQLite, no such partition, already sorted, no fixes). Every fix is kept,
    ids included.

    1. A trigger on the day's partition copies every fix written from now on (a phone's late
       batch) into `<day>_late`.
    2. `<day>_sorted` is filled with the day's rows in key order (the day is read, not locked:
       phones and readers go on), keyed, given a CHECK of the day's bounds and the foreign keys
       (added NOT VALID, then validated: the drivers' table is never locked against the phones'
       updates for the join), so that ATTACH needs neither a scan nor a join; then vacuumed
       (visibility map, frozen) and analysed.
    3. One short transaction (`LOCK_TIMEOUT`; tried up to `SWAP_ATTEMPTS` times): DETACH the
       day (ACCESS EXCLUSIVE on the parent: inserts wait, for milliseconds), add the late
       fixes, swap the names, ATTACH the copy; readers see the old day or the sorted one, never
       a gap.
    4. The old day and the late fixes' table are dropped (their own transaction, so that the
       files' unlinking happens outside the swap's lock).
    A run that fails leaves the day as it was; its leftovers are dropped on the way out.
    """
    if not is_partitioned():
        return False
    if day >= timezone.now().astimezone(UTC).date():
        raise ValueError(f"{day} is not closed yet: only a past day is sorted")
    name = partition_name(day)
    if day not in location_partition_days() or _is_sorted(name) or _is_empty(name):
        return False
    _sort_leftovers_drop(name)
    try:
        _late_fixes_capture(name)
        _sorted_copy_build(name, day)
        _sorted_copy_swap(name, day)
    finally:
        _sort_leftovers_drop(name)
    return True


def _is_sorted(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [name])
        return cursor.fetchone()[0] == SORTED_MARK


def _is_empty(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {name})")  # noqa: S608 - ours
        return cursor.fetchone()[0]


def _sort_leftovers_drop(name: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP TRIGGER IF EXISTS location_late_copy ON {name}")
    for table in (f"{name}_sorted", f"{name}_unsorted", f"{name}_late"):
        _table_drop(table)


def _table_drop(table: str) -> None:
    """Drop a detached or never attached copy of a day, if it exists, without stalling the
    phones: its foreign keys go first, each in a statement of its own (dropping one locks the
    referenced table, which the phones' update of their drivers needs, for milliseconds),
    then the table, whose files are unlinked at commit holding a lock on nothing else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'f'",
            [table],
        )
        foreign_keys = [row[0] for row in cursor.fetchall()]
    for constraint in foreign_keys:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _late_fixes_capture(name: str) -> None:
    # SHARE ROW EXCLUSIVE on the day for the time of the statement: waits for a running
    # insert into it to commit, after which every insert fires the trigger.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"CREATE TABLE {name}_late (LIKE {TABLE})")
        cursor.execute(
            f"CREATE TRIGGER location_late_copy AFTER INSERT ON {name} FOR EACH ROW "
            f"EXECUTE FUNCTION drivers_location_late_copy('{name}_late')"
        )


def _sorted_copy_build(name: str, day: date) -> None:
    sorted_name = f"{name}_sorted"
    seconds: dict[str, float] = {}
    began = clock.perf_counter()

    def lap(step: str) -> None:
        nonlocal began
        now = clock.perf_counter()
        seconds[step] = round(now - began, 2)
        began = now

    low, high = day_start(day), day_start(day + timedelta(days=1))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{_SORT_WORK_MEM}'")
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{_SORT_MAINTENANCE_WORK_MEM}'")
        cursor.execute(
            f"CREATE TABLE {sorted_name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        # Names are ours (constants and a date), never input.
        cursor.execute(
            f"INSERT INTO {sorted_name} ({_COLUMNS}) "  # noqa: S608
            f"SELECT {_COLUMNS} FROM {name} ORDER BY {_KEY}"
        )
        lap("copy")
        cursor.execute(
            f"ALTER TABLE {sorted_name} ADD CONSTRAINT {sorted_name}_key PRIMARY KEY ({_KEY})"
        )
        lap("key")
        # What ATTACH would otherwise check under the swap's lock: the day's bounds (a scan)
        # and the two foreign keys (a join each). Made like the parent's, ATTACH adopts them.
        cursor.execute(
            f"ALTER TABLE {sorted_name} ADD CONSTRAINT {sorted_name}_bounds CHECK "
            f"(recorded_at >= '{low.isoformat()}' AND recorded_at < '{high.isoformat()}')"
        )
        # NOT VALID here: adding a foreign key locks the referenced table against the phones'
        # update of their drivers' last positions (SHARE ROW EXCLUSIVE), until this commits,
        # so not for the join that validates it.
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        for column, target in _FOREIGN_KEYS:
            cursor.execute(
                f"ALTER TABLE {sorted_name} ADD CONSTRAINT {sorted_name}_{column}_fk "
                f"FOREIGN KEY ({column}) REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED "
                "NOT VALID"
            )
    # Validating takes ROW SHARE on the referenced table only: the phones' updates go on.
    with transaction.atomic(), connection.cursor() as cursor:
        for column, _ in _FOREIGN_KEYS:
            cursor.execute(
                f"ALTER TABLE {sorted_name} VALIDATE CONSTRAINT {sorted_name}_{column}_fk"
            )
    lap("foreign_keys")
    with connection.cursor() as cursor:
        if connection.in_atomic_block:  # a test's or a shell's transaction: no VACUUM there
            cursor.execute(f"ANALYZE {sorted_name}")
        else:
            cursor.execute(f"VACUUM (FREEZE, ANALYZE) {sorted_name}")
    lap("vacuum")
    logger.info("Positions of %s copied in key order: %s", name, seconds, extra={"steps": seconds})


def _sorted_copy_swap(name: str, day: date) -> None:
    """The swap, tried again a few times when a lock is not had within `LOCK_TIMEOUT` (a
    long read of the day, a running insert): the copy took minutes to build."""
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            _swap_once(name, day)
            return
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            if attempt == SWAP_ATTEMPTS:
                raise
            logger.warning("Positions of %s: swap %d waited too long, again", name, attempt)
            clock.sleep(SWAP_PAUSE_S)


def _swap_once(name: str, day: date) -> None:
    low, high = day_start(day), day_start(day + timedelta(days=1))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND x.indisprimary",
            [name],
        )
        (old_key,) = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
        # The parent is locked: no fix is being written. The late ones join the sorted day.
        cursor.execute(
            f"INSERT INTO {name}_sorted ({_COLUMNS}) "  # noqa: S608
            f"SELECT {_COLUMNS} FROM {name}_late ON CONFLICT ({_KEY}) DO NOTHING"
        )
        cursor.execute(f"ALTER TABLE {name} RENAME TO {name}_unsorted")
        cursor.execute(f"ALTER INDEX {old_key} RENAME TO {name}_unsorted_key")
        cursor.execute(f"ALTER TABLE {name}_sorted RENAME TO {name}")
        cursor.execute(f"ALTER INDEX {name}_sorted_key RENAME TO {old_key}")
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_sorted_bounds")
        cursor.execute(f"COMMENT ON TABLE {name} IS '{SORTED_MARK}'")
