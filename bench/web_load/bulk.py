"""Filler rows for the scale measurement: many companies, clients and bookings over two years,
generated inside PostgreSQL (INSERT ... SELECT generate_series), about 1 M rows in a minute."""

from __future__ import annotations

from typing import Any

import psycopg

FILLER_PREFIX = "Bench Filler "
FILLER_COMPANIES = 200
CLIENTS_PER_COMPANY = 10
BATCH = 200_000

_COMPANIES = """
INSERT INTO accounts_company (id, name, address, phone, timezone, active,
    window_before_minutes, window_after_minutes, created_at, updated_at, lat, lon,
    will_call_window_minutes, canton, order_horizon_days)
SELECT gen_random_uuid(), %(prefix)s || lpad(g::text, 4, '0'), '', '', 'Europe/Zurich', true,
    10, 15, now(), now(), 46.5, 6.6, 30, 'VD', 14
FROM generate_series(1, %(companies)s::int) g
ON CONFLICT (name) DO NOTHING
"""

_CLIENTS = """
INSERT INTO bookings_client (id, company_id, first_name, last_name, phone, address, lat, lon,
    mobility, notes, created_at, updated_at)
SELECT gen_random_uuid(), c.id, 'Bench', 'Client ' || g, '', '', 46.5, 6.6, 'walks', '',
    now(), now()
FROM accounts_company c CROSS JOIN generate_series(1, %(per)s::int) g
WHERE c.name LIKE %(like)s
  AND NOT EXISTS (SELECT 1 FROM bookings_client x WHERE x.company_id = c.id)
"""

# Spread over 730 days around today and 10 hours of each day, round-robin over the clients.
_BOOKINGS = """
WITH cl AS (
    SELECT id, company_id, (row_number() OVER (ORDER BY id)) - 1 AS k
    FROM bookings_client
    WHERE company_id IN (SELECT id FROM accounts_company WHERE name LIKE %(like)s)
), n AS (SELECT count(*) AS total FROM cl),
rows AS (
    SELECT g, date_trunc('day', now()) - interval '365 days'
        + ((g * 7919) %% 730) * interval '1 day'
        + interval '6 hours' + (g %% 600) * interval '1 minute' AS ts
    FROM generate_series(%(start)s::bigint, %(stop)s::bigint) g
)
INSERT INTO bookings_booking (id, company_id, client_id, pickup_address, pickup_lat, pickup_lon,
    dropoff_address, dropoff_lat, dropoff_lon, scheduled_at, pickup_earliest, pickup_latest,
    passengers, mobility, status, price, notes, cancel_reason, created_at, updated_at)
SELECT gen_random_uuid(), cl.company_id, cl.id, 'Rue du Bench 1, Lausanne', 46.52, 6.63,
    'CHUV, Lausanne', 46.525, 6.642, rows.ts, rows.ts - interval '10 minutes',
    rows.ts + interval '15 minutes', 1, 'walks',
    (ARRAY['pending','assigned','completed','cancelled'])[1 + rows.g %% 4]::varchar,
    42.50, '', '', now(), now()
FROM rows, n, cl
WHERE cl.k = rows.g %% n.total
  AND (rows.g %% 4 <> 1)  -- no "assigned" without a driver (a check constraint)
"""


def _count(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None  # count(*) always answers one row
    return int(row[0])


def booking_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return _count(conn, "SELECT count(*) FROM bookings_booking")


def grow_to(dsn: str, total: int, say: object = print) -> int:
    """Adds filler bookings until the table holds at least `total` rows; returns the count."""
    like = FILLER_PREFIX + "%"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_COMPANIES, {"prefix": FILLER_PREFIX, "companies": FILLER_COMPANIES})
        conn.execute(_CLIENTS, {"per": CLIENTS_PER_COMPANY, "like": like})
        have = _count(conn, "SELECT count(*) FROM bookings_booking")
        start = _count(
            conn,
            "SELECT count(*) FROM bookings_booking b JOIN accounts_company c "
            "ON c.id = b.company_id WHERE c.name LIKE %s",
            (like,),
        )
        # A quarter of the generated numbers are skipped (see the WHERE), so ask for 4/3.
        while have < total:
            want = min(BATCH, total - have)
            stop = start + want * 4 // 3 + 1
            conn.execute(_BOOKINGS, {"like": like, "start": start, "stop": stop})
            start = stop + 1
            have = _count(conn, "SELECT count(*) FROM bookings_booking")
            say(f"  bookings in the table: {have:,}")  # type: ignore[operator]
        conn.execute("ANALYZE bookings_booking")
        conn.execute("ANALYZE bookings_client")
        return have


def shrink_to_demo(dsn: str) -> None:
    """Removes every filler booking (the demo company's rows stay)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM bookings_booking WHERE company_id IN "
            "(SELECT id FROM accounts_company WHERE name LIKE %s)",
            (FILLER_PREFIX + "%",),
        )
        conn.execute("VACUUM ANALYZE bookings_booking")
