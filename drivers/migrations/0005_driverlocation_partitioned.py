# Positions become a table partitioned by day on PostgreSQL (drivers/partitions.py); SQLite
# keeps a plain table and only gets the key and index changes.
#
# PostgreSQL: a partitioned copy is built beside the old table, with one partition per UTC day
# from 30 days back (the retention) to 7 days ahead and a DEFAULT partition for every other
# day; the rows are copied (INSERT ... SELECT, before any index exists on the copy, which is
# the fast order), the old table is dropped and the copy takes its name, then the key and the
# foreign keys are added. The migration's transaction holds the old table's lock throughout:
# at 30 days of 10,000 drivers (about 870 M rows) plan a maintenance window, or create the
# partitioned table beside the old one and attach the old one as a single partition instead.

from datetime import UTC, datetime, time, timedelta

import django.db.models.deletion
from django.db import migrations, models

TABLE = "drivers_driverlocation"
COLUMNS = (
    "id, lat, lon, speed, heading, accuracy, recorded_at, received_at, company_id, driver_id"
)
DAYS_BACK, DAYS_AHEAD = 30, 7


class SqliteOnly(migrations.operations.base.Operation):
    """Changes the state everywhere, the schema only where the table is not rebuilt by hand."""

    reduces_to_sql = False

    def __init__(self, operation):
        self.operation = operation
        self.reversible = operation.reversible

    def deconstruct(self):
        return (self.__class__.__name__, [self.operation], {})

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (SQLite; PostgreSQL: see the partitioning step)"


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    execute(f"CREATE SEQUENCE {TABLE}_id_seq_part")
    execute(
        f"SELECT setval('{TABLE}_id_seq_part', COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, "
        "false)"
    )
    execute(
        f"""CREATE TABLE {TABLE}_part (
            id bigint NOT NULL DEFAULT nextval('{TABLE}_id_seq_part'),
            lat double precision NOT NULL,
            lon double precision NOT NULL,
            speed double precision NULL,
            heading double precision NULL,
            accuracy double precision NULL,
            recorded_at timestamp with time zone NOT NULL,
            received_at timestamp with time zone NOT NULL,
            company_id uuid NOT NULL,
            driver_id uuid NOT NULL,
            CONSTRAINT driver_location_in_range CHECK (
                lat >= -90 AND lat <= 90 AND lon >= -180 AND lon <= 180)
        ) PARTITION BY RANGE (recorded_at)"""
    )
    execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE}_part DEFAULT")
    today = datetime.now(UTC).date()
    for n in range(-DAYS_BACK, DAYS_AHEAD + 1):
        day = today + timedelta(days=n)
        low = datetime.combine(day, time.min, tzinfo=UTC)
        execute(
            f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE}_part "
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{(low + timedelta(days=1)).isoformat()}')"
        )
    execute(f"INSERT INTO {TABLE}_part ({COLUMNS}) SELECT {COLUMNS} FROM {TABLE}")
    execute(f"DROP TABLE {TABLE}")
    execute(f"ALTER TABLE {TABLE}_part RENAME TO {TABLE}")
    execute(f"ALTER SEQUENCE {TABLE}_id_seq_part RENAME TO {TABLE}_id_seq")
    # Owned, so Django's sequence reset (pg_get_serial_sequence) finds it.
    execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
    execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT driver_location_once "
        "PRIMARY KEY (company_id, driver_id, recorded_at)"
    )
    execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_company_id_fk FOREIGN KEY (company_id) "
        "REFERENCES accounts_company (id) DEFERRABLE INITIALLY DEFERRED"
    )
    execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_driver_id_fk FOREIGN KEY (driver_id) "
        "REFERENCES drivers_driver (id) DEFERRABLE INITIALLY DEFERRED"
    )
    execute(f"ANALYZE {TABLE}")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_part")
    execute(f"ALTER TABLE {TABLE}_part RENAME CONSTRAINT driver_location_once TO dlo_part")
    execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY NONE")
    execute(f"ALTER SEQUENCE {TABLE}_id_seq RENAME TO {TABLE}_id_seq_part")
    execute(
        f"CREATE TABLE {TABLE} (LIKE {TABLE}_part INCLUDING CONSTRAINTS, "
        "PRIMARY KEY (id))"
    )
    execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP DEFAULT")
    execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {TABLE}_part")
    execute(f"DROP TABLE {TABLE}_part")
    execute(f"DROP SEQUENCE {TABLE}_id_seq_part")
    execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
    execute(
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
        f"COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
    )
    execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT driver_location_once "
        "UNIQUE (driver_id, recorded_at)"
    )
    execute(f"CREATE INDEX driver_location_recorded ON {TABLE} (recorded_at)")
    execute(f"CREATE INDEX {TABLE}_company_id_idx ON {TABLE} (company_id)")
    for column, target in (("company_id", "accounts_company"), ("driver_id", "drivers_driver")):
        execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_{column}_fk FOREIGN KEY ({column}) "
            f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("drivers", "0004_rosters"),
    ]

    operations = [
        SqliteOnly(migrations.RemoveConstraint(model_name="driverlocation", name="driver_location_once")),
        SqliteOnly(migrations.RemoveIndex(model_name="driverlocation", name="driver_location_recorded")),
        SqliteOnly(
            migrations.AlterField(
                model_name="driverlocation",
                name="company",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="+",
                    to="accounts.company",
                ),
            )
        ),
        SqliteOnly(
            migrations.AlterField(
                model_name="driverlocation",
                name="driver",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="locations",
                    to="drivers.driver",
                ),
            )
        ),
        SqliteOnly(
            migrations.AddConstraint(
                model_name="driverlocation",
                constraint=models.UniqueConstraint(
                    fields=("company", "driver", "recorded_at"),
                    name="driver_location_once",
                    violation_error_message="This position fix is stored already.",
                ),
            )
        ),
        migrations.RunPython(partition, unpartition),
    ]
