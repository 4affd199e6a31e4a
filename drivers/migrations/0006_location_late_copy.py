# The trigger function of the nightly sort of a closed day (drivers/partitions.py,
# location_partition_sort): while the day is copied in key order, each fix written to it late
# is copied into the table named by the trigger's argument. PostgreSQL only.

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION drivers_location_late_copy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I SELECT ($1).*', TG_ARGV[0]) USING NEW;
    RETURN NULL;
END
$$
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)  # `%I` is format()'s, not a parameter


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS drivers_location_late_copy()")


class Migration(migrations.Migration):
    dependencies = [("drivers", "0005_driverlocation_partitioned")]

    operations = [migrations.RunPython(create, drop)]
