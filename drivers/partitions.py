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

import re
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

TABLE = "drivers_driverlocation"
DEFAULT_PARTITION = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")
# DDL on the parent waits for running queries; never queue the phones' inserts behind it for
# longer than this: the next beat run tries again.
LOCK_TIMEOUT = "2s"


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
    milliseconds; `LOCK_TIMEOUT` keeps it from waiting long behind a running query).
    """
    dropped = []
    for day in location_partition_days():
        if day >= before:
            break
        location_partition_drop(day)
        dropped.append(day)
    return dropped


def location_partition_drop(day: date) -> None:
    """Detach and drop one day's partition (all its fixes) in a short transaction of its own."""
    name = partition_name(day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # Deferred foreign-key checks of rows written earlier in the same transaction
        # (tests, a shell) would forbid the DROP: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
