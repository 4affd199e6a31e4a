"""A trigram GIN index on `search_text` for `GET /api/places?search=` (LIKE '%word%').

PostgreSQL only: SQLite has no trigram index, and at a few thousand places its scan of one
short text column is fast enough (bench/places_bench.py). Elsewhere this is a no-op.
"""

from __future__ import annotations

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS place_search_trgm ON places_place "
    "USING gin (search_text gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS place_search_trgm"]


def _run(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("places", "0001_initial")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
