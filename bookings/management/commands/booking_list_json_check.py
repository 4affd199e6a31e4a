"""`manage.py booking_list_json_check [--repair]`: is the bookings list's stored JSON
(atmr/json_store.py) this code's, and does every row hold what its values write now?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bookings.serializers import BOOKING_JSON_ROWS


class Command(BaseCommand):
    help = (
        "Check the bookings list's stored JSON rows (PostgreSQL): the installed shape and "
        "every row against its values. Exits with an error when they differ; --repair "
        "re-installs the store and re-writes every row."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Re-install and re-write.")

    def handle(self, *args: Any, **options: Any) -> None:
        store = BOOKING_JSON_ROWS.store
        if store is None or connection.vendor != "postgresql":
            raise CommandError("The stored JSON rows exist on PostgreSQL only.")
        if options["repair"]:
            store.install(force=True)
            self.stdout.write("Re-installed the store and re-wrote every row.")
        installed = store.installed()
        if installed != store.digest:
            raise CommandError(
                f"The database holds shape {installed or 'none'}, this code {store.digest}: "
                "run migrate (or --repair). Until then lists write their JSON per read."
            )
        stale = store.stale()
        if stale:
            shown = ", ".join(stale[:10])
            raise CommandError(f"{len(stale)} rows differ from their values ({shown}): --repair.")
        self.stdout.write(f"Shape {installed}: every row is up to date.")
