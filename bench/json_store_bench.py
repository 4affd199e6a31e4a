"""What the bookings list's stored JSON rows (atmr/json_store.py) cost writers, and what they
save a reader, on PostgreSQL (bounded).

On a database holding bookings (`make bench` leaves 10 k in its `atmr_bench`), in transactions
that are rolled back, with the store's triggers and then without them:
- an ETA refresh: one UPDATE of 400 trips' ETA columns from arrays (as dispatch/eta.py);
- 400 trips booked in one statement (`bulk_create`, as standing orders book theirs);
- one booking saved (its notes changed through `save()`);
- a client renamed (its trips' rows re-written);
and a page of 50 rows read from the stored rows against written per read (the page query
alone, 200 executions). Prints medians in ms. Installing the store (a full re-write) is timed
once. Nothing is kept: every round rolls back.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/atmr_bench .venv/bin/python \\
        bench/json_store_bench.py
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.django_env import django_setup

if TYPE_CHECKING:
    from atmr.json_store import JsonStore

ROUNDS = 15


class _Rollback(Exception):
    pass


def _timed(fn: Callable[[], object]) -> float:
    """`fn`'s ms in a transaction (or savepoint) rolled back, deferred FK checks included."""
    from django.db import connection, transaction

    began = elapsed = 0.0
    try:
        with transaction.atomic():
            began = time.perf_counter()
            fn()
            with connection.cursor() as cursor:  # the deferred FK checks, as a commit runs them
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            elapsed = (time.perf_counter() - began) * 1000
            raise _Rollback
    except _Rollback:
        return elapsed


def _without_store(store: JsonStore, fn: Callable[[], object]) -> list[float]:
    """`fn` timed ROUNDS times with the store's triggers dropped (in a transaction rolled
    back: they come back). Not by `session_replication_role`: setting it empties
    PostgreSQL's plan cache, which the triggers' own plans then pay for."""
    from django.db import connection, transaction

    times = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgname, tgrelid::regclass::text FROM pg_trigger"
                " WHERE tgname LIKE 'atmr_json_%%' AND NOT tgisinternal"
            )
            for name, on in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}" ON {on}')
            times = [_timed(fn) for _ in range(ROUNDS)]
            raise _Rollback
    except _Rollback:
        return times


def main() -> None:
    django_setup("json_store_bench.sqlite3")
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from bookings.models import Booking, Client
    from bookings.serializers import BOOKING_JSON_ROWS

    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database with bookings (make bench's)")
    store = BOOKING_JSON_ROWS.store
    assert store is not None
    began = time.perf_counter()
    store.install(force=True)
    install_s = time.perf_counter() - began
    total = Booking.objects.count()
    biggest = Booking.objects.values("company_id").annotate(n=Count("id")).order_by("-n").first()
    assert biggest is not None, "needs bookings"
    company_id = biggest["company_id"]
    trips = list(Booking.objects.order_by("scheduled_at", "id")[:400])
    client = Client.objects.filter(bookings__isnull=False).first()
    assert client is not None and len(trips) == 400, "needs 400 bookings"
    now = timezone.now()

    ids = [trip.pk for trip in trips]

    def eta_refresh() -> None:  # dispatch/eta.py's statement, without its company and status
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE bookings_booking AS b SET eta_pickup = v.pickup, eta_computed_at = %s,"
                " lateness = v.lateness FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[])"
                " AS v(id, pickup, lateness) WHERE b.id = v.id",
                [
                    now,
                    ids,
                    [now + timedelta(minutes=i) for i in range(len(ids))],
                    ["late" if i % 7 == 0 else "on_time" for i in range(len(ids))],
                ],
            )

    def bulk_insert() -> None:  # as a standing order's materialising books a month of trips
        copies = []
        for trip in trips:
            copy = Booking(
                **{f.attname: getattr(trip, f.attname) for f in Booking._meta.concrete_fields}
            )
            copy.pk, copy.return_of_id, copy.standing_order_id = uuid.uuid4(), None, None
            copies.append(copy)
        Booking.objects.bulk_create(copies)

    def one_save() -> None:
        trips[0].notes = "Gate B" if trips[0].notes != "Gate B" else "Gate C"
        trips[0].save()

    def rename() -> None:
        Client.objects.filter(pk=client.pk).update(last_name="Renamed")

    renamed_rows = Booking.objects.filter(client=client).count()
    print(f"{total:,} bookings; install (full re-write) {install_s:.2f} s")
    for name, fn in (
        ("ETA refresh, 400 trips", eta_refresh),
        ("400 trips booked in one statement", bulk_insert),
        ("one booking saved", one_save),
        (f"client renamed ({renamed_rows} trips)", rename),
    ):
        on = [_timed(fn) for _ in range(ROUNDS)]
        off = _without_store(store, fn)
        print(
            f"{name}: {statistics.median(off):.2f} ms without the store,"
            f" {statistics.median(on):.2f} ms with it (medians of {ROUNDS})"
        )
    first = Booking.objects.filter(company_id=company_id).order_by("scheduled_at").first()
    assert first is not None
    _page(BOOKING_JSON_ROWS, store, company_id, first.scheduled_at)


def _page(rows, store, company_id, day_of) -> None:
    """The page query alone (50 rows), from the store and written per read."""
    from zoneinfo import ZoneInfo

    from atmr.accounts.models import Company
    from bookings.selectors import BookingListFilter, day_bounds

    tz = ZoneInfo(Company.objects.get(pk=company_id).timezone)
    by = BookingListFilter(between=day_bounds(day_of.astimezone(tz).date(), tz))
    shape, params = by.shape(), {"company_id": company_id, **by.params()}
    found = []
    for stored in (rows.store, None):
        rows.store, rows._cache = stored, {}
        times = []
        for i in range(200):
            began = time.perf_counter()
            rows.page(shape, params, offset=0, limit=51, keep=50)
            if i >= 10:  # after psycopg prepared the statement
                times.append((time.perf_counter() - began) * 1000)
        found.append(statistics.median(times))
    rows.store, rows._cache = store, {}
    print(
        f"page of 50 rows: {found[0]:.3f} ms from the store, {found[1]:.3f} ms written per read"
        " (medians of 190, round trip included)"
    )


if __name__ == "__main__":
    main()
