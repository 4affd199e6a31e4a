"""The table of the bookings list's stored JSON rows (atmr/json_store.py), on PostgreSQL.

Created here so that every migrated database has it and the list's query may always join
it; its triggers and rows are installed after `migrate` (bookings/apps.py), from the list's
shape, and replaced when that shape changes. Not a model: only PostgreSQL's triggers write it.
"""

from django.db import migrations


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE TABLE IF NOT EXISTS bookings_booking_json (company_id uuid NOT NULL,"
            " row_id uuid NOT NULL, json text NOT NULL, PRIMARY KEY (company_id, row_id))"
        )


def _drop(apps, schema_editor):
    """The table, and the triggers and functions that write it (named after it)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DO $$ DECLARE t record; BEGIN"
        " FOR t IN SELECT tgname, tgrelid::regclass::text AS rel FROM pg_trigger"
        "  WHERE tgname LIKE 'atmr_json_bookings_booking_json%' AND NOT tgisinternal LOOP"
        "  EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel); END LOOP;"
        " FOR t IN SELECT oid::regprocedure::text AS fn FROM pg_proc"
        "  WHERE proname LIKE 'atmr_json_bookings_booking_json%' LOOP"
        "  EXECUTE 'DROP FUNCTION ' || t.fn; END LOOP; END $$"
    )
    schema_editor.execute("DROP TABLE IF EXISTS bookings_booking_json")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0011_booking_picked_up_at_insert_before")]

    operations = [migrations.RunPython(_create, _drop)]
