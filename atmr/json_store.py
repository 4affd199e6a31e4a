"""A fast list's rows kept as JSON text by PostgreSQL, so a page nobody has read since the
last write is read, not written.

`JsonRows` (atmr/json_sql.py) has PostgreSQL write a page's JSON on every uncached read: some
150 expressions a row, about two thirds of the page's database CPU. A `JsonStore` keeps each
row's JSON in a table of its own (company, row id, text), written by triggers from the very
same expression whenever anything the row shows changes, so a page joins the stored texts.

- The triggers are statement-level with transition tables: a bulk ETA refresh of 400 trips
  re-writes their 400 rows in one statement. On the root table (bookings) every insert and
  update re-writes the rows touched, and the rows a reverse relation shows (a trip's return
  trip) on both sides of the change; a delete removes the rows, a TRUNCATE empties the store.
  On each related table (clients, drivers, users, vehicles, reason codes) an update re-writes
  the rows that show it only when a column they show changed (a driver's login or position
  re-writes nothing).
- Triggers catch every write, the ORM's, `QuerySet.update()`, raw SQL and foreign-key
  actions alike: nothing in Python has to remember the store.
- Concurrent writes: the refresh locks the existing rows it re-writes before reading them, so
  of two transactions writing one row the second sees the first. One race is left: a trip
  booked (or moved to a client) in the instant that client is renamed is invisible to the
  rename's trigger, and keeps the old name until its next change or the nightly audit
  (`bookings.audit_list_json`).
- Installed after `migrate` (post_migrate): the DDL is generated from the serializer, so a
  changed list shape changes its digest; `install()` compares it with the table's comment
  and, when they differ, replaces triggers and functions and re-writes every row, in one
  transaction (CREATE TRIGGER locks writers out until it commits, so no write is missed).
- The table is created by a migration (bookings 0012), so the list's query may always join
  it; the join holds only while the table's comment is this code's digest, checked inside
  that query (no round trip): code newer or older than the installed store, or a row without
  stored JSON, gets the page written per read (a second query), so the page is always right.
"""

# Every SQL name here comes from the models' _meta and the serializer, never from input.
# ruff: noqa: S608, S611
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction
from django.db.models import F, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.related import ForeignObjectRel

if TYPE_CHECKING:
    from atmr.json_sql import JsonRows

_DOLLAR = "$atmr_json$"


class JsonStore:
    """The stored JSON rows of `rows` (a `JsonRows`) in `table`, keyed by company and id."""

    def __init__(self, rows: JsonRows, table: str, *, company: str = "company_id") -> None:
        self.rows, self.table, self.company = rows, table, company

    # --- reading ------------------------------------------------------------------------
    @property
    def valid_sql(self) -> str:
        """SQL true when the database's store is this code's (its digest in the table's
        comment): an uncorrelated subquery, so PostgreSQL evaluates it once a query."""
        return (
            f"(SELECT obj_description('{self.table}'::regclass, 'pg_class'))"
            f" = 'atmr-json:{self.digest}'"
        )

    def stale(self, using: str = "default", *, queryset: QuerySet[Any] | None = None) -> list[str]:
        """Ids of rows whose stored JSON is missing or not what the row's values write now
        (an audit for tests, operators and the nightly check; empty when the triggers kept
        up). With `queryset` (of the root model), only its rows, and no search for stored
        rows whose booking is gone."""
        sql, params, ref, row = self._rows_of(
            self.model._default_manager.all() if queryset is None else queryset
        )
        orphans = (
            f" UNION ALL SELECT r.row_id::text FROM {self.table} AS r"
            f" WHERE NOT EXISTS (SELECT 1 FROM ({sql}) AS s"
            f" WHERE s.co = r.company_id AND {ref('id')} = r.row_id)"
            if queryset is None
            else ""
        )
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"SELECT {ref('id')}::text FROM ({sql}) AS s"
                f" LEFT JOIN {self.table} AS r ON r.company_id = s.co AND r.row_id = {ref('id')}"
                f" WHERE r.json IS DISTINCT FROM {row}{orphans}",
                params,
            )
            return [found for (found,) in cursor.fetchall()]

    def rewrite(self, ids: Sequence[str], using: str = "default") -> None:
        """Re-write these rows' stored JSON from their values now (the triggers' own refresh)."""
        with connections[using].cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table} WHERE row_id = ANY(%s::uuid[])", [list(ids)])
            cursor.execute(f"SELECT {self._name}_refresh(%s::uuid[])", [list(ids)])

    # --- installing ---------------------------------------------------------------------
    @cached_property
    def digest(self) -> str:
        """This code's store: a hash of its DDL (computed once: it compiles queries)."""
        return hashlib.sha256("\n".join(self.statements()).encode()).hexdigest()[:24]

    def install(self, using: str = "default", *, force: bool = False) -> bool:
        """Create or replace the store when the database's digest is not this code's (or
        `force`): DDL and a full re-write in one transaction. Whether it did."""
        if connections[using].vendor != "postgresql":
            return False
        if not force and self.installed(using) == self.digest:
            return False
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT tgname, tgrelid::regclass::text FROM pg_trigger"
                " WHERE tgname LIKE %s AND NOT tgisinternal",
                [f"{self._name}%"],
            )
            for name, on in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}" ON {on}')
            # And every function: one whose arguments changed would stay beside the new one
            # as an overload, and make the triggers' calls ambiguous.
            cursor.execute(
                "SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE %s",
                [f"{self._name}%"],
            )
            for (function,) in cursor.fetchall():
                cursor.execute(f"DROP FUNCTION {function}")
            for statement in self.statements():
                cursor.execute(statement)
            sql, ref, row = self._all_rows()
            cursor.execute(f"TRUNCATE {self.table}")
            cursor.execute(
                f"INSERT INTO {self.table} (company_id, row_id, json)"
                f" SELECT s.co, {ref('id')}, {row} FROM ({sql}) AS s"
            )
            cursor.execute(f"ANALYZE {self.table}")
            # A hex digest: safe as a literal (COMMENT takes no bound parameter).
            cursor.execute(f"COMMENT ON TABLE {self.table} IS 'atmr-json:{self.digest}'")
        return True

    def installed(self, using: str = "default") -> str | None:
        """The digest of the store the database holds (None: none installed)."""
        if connections[using].vendor != "postgresql":
            return None
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [self.table])
            found = cursor.fetchone()
        comment = found[0] if found else None
        return comment.removeprefix("atmr-json:") if comment else None

    @property
    def _name(self) -> str:
        return f"atmr_json_{self.table}"[:40]

    @property
    def model(self) -> type[Model]:
        model: type[Model] = self.rows.shape.serializer_class.Meta.model  # type: ignore[attr-defined]
        return model

    def _all_rows(self) -> tuple[str, Any, str]:
        """Every root row's values (aliases as `JsonRows` compiles them, `co` the company)
        and the JSON expression over them (`s.`), for DDL: no parameters."""
        sql, params, ref, row = self._rows_of(self.model._default_manager.all())
        if params:
            raise ValueError(f"{self.table}: the rows' query binds {params!r}")
        return sql, ref, row

    def _rows_of(self, queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...], Any, str]:
        return self.rows.select(queryset.order_by(), co=F(self.company))

    def statements(self) -> list[str]:
        """The store's DDL, from the list's shape: the refresh function and the triggers (on
        the root table and every table a row shows a column of). Its table is a migration's."""
        model, name = self.model, self._name
        root = model._meta.db_table
        pk = model._meta.pk.column
        id_type = model._meta.pk.db_type(connections["default"])
        sql, ref, row = self._all_rows()
        out = [
            # PL/pgSQL keeps the statement's plan for the session (an SQL function would plan
            # its 54-column join on every call: 5 ms a booking saved). The rows are locked
            # first: a concurrent write to one of them waits for this transaction, or this one
            # for it, and the INSERT's fresh snapshot then sees it (otherwise a client renamed
            # while a trip's status changes could leave the later upsert's older values).
            f"CREATE OR REPLACE FUNCTION {name}_refresh(ids {id_type}[], lock boolean = true)"
            f" RETURNS void LANGUAGE plpgsql AS {_DOLLAR} BEGIN IF lock THEN"
            f" PERFORM 1 FROM {root} WHERE {pk} = ANY(ids) ORDER BY {pk} FOR NO KEY UPDATE;"
            f" END IF; INSERT INTO {self.table} (company_id, row_id, json)"
            f" SELECT s.co, {ref('id')}, {row} FROM ({sql}) AS s WHERE {ref('id')} = ANY(ids)"
            f" ON CONFLICT (company_id, row_id) DO UPDATE SET json = EXCLUDED.json; END {_DOLLAR}",
        ]
        back = self._reverse_columns()  # the root's own FKs that a reverse relation shows
        targets = " UNION ".join(f"SELECT {c} FROM changed WHERE {c} IS NOT NULL" for c in back)
        own = " UNION ".join([f"SELECT {pk} FROM changed", *([targets] if back else [])])
        out += _trigger(
            name,
            "ins",
            root,
            "INSERT",
            "NEW TABLE AS changed",
            # New rows need no lock (no other transaction sees them): a standing order's
            # month of trips, or a bulk load, locks only the outbound trips of its returns.
            f"PERFORM {name}_refresh(ARRAY(SELECT {pk} FROM changed), false);"
            + (f" PERFORM {name}_refresh(ARRAY({targets}));" if back else ""),
        )
        # The trips whose return trip was (before the change) one of the rows.
        before = "".join(f" UNION SELECT {c} FROM before WHERE {c} IS NOT NULL" for c in back)
        out += _trigger(
            name,
            "upd",
            root,
            "UPDATE",
            "OLD TABLE AS before NEW TABLE AS changed",
            f"PERFORM {name}_refresh(ARRAY({own}{before}));",
        )
        out += _trigger(
            name,
            "del",
            root,
            "DELETE",
            "OLD TABLE AS before",
            f"DELETE FROM {self.table} WHERE (company_id, row_id) IN"
            f" (SELECT {self.company}, {pk} FROM before);"
            + (
                f" PERFORM {name}_refresh(ARRAY({before.removeprefix(' UNION ')}));" if back else ""
            ),
        )
        out += _trigger(name, "trunc", root, "TRUNCATE", None, f"TRUNCATE {self.table};")
        for i, (related, columns, prefix) in enumerate(self._related()):
            table, rpk = related._meta.db_table, related._meta.pk.column
            changed = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in columns)
            ids = RawSQL(
                f"SELECT n.{rpk} FROM changed AS n JOIN before AS o ON o.{rpk} = n.{rpk}"
                f" WHERE {changed}",
                (),
            )
            affected = (
                model._default_manager.filter(**{f"{prefix}__pk__in": ids})
                .order_by()
                .values_list("pk")
            )
            affected_sql, affected_params = affected.query.sql_with_params()
            if affected_params:
                raise ValueError(f"{self.table}: {prefix} binds {affected_params!r}")
            out += _trigger(
                name,
                f"r{i}",
                table,
                "UPDATE",
                "OLD TABLE AS before NEW TABLE AS changed",
                f"PERFORM {name}_refresh(ARRAY({affected_sql}));",
            )
        return out

    def _paths(self) -> list[str]:
        from atmr.json_sql import _paths

        return _paths(self.rows.shape.tree)

    def _reverse_columns(self) -> list[str]:
        """The root's FK columns behind reverse relations the row shows (a trip's
        `return_trip` is the booking whose `return_of` is the trip)."""
        out = []
        for path in self._paths():
            if "__" not in path:
                continue
            field = self.model._meta.get_field(path.split("__")[0])
            if isinstance(field, ForeignObjectRel):
                if field.related_model is not self.model or path.count("__") != 1:
                    raise NotImplementedError(
                        f"{self.table}: {path}: only a reverse relation to the root itself, one hop"
                    )
                if path.split("__")[1] not in ("pk", self.model._meta.pk.name):
                    raise NotImplementedError(f"{self.table}: {path}: a reverse relation's id only")
                column = field.field.column
                if column not in out:
                    out.append(column)
        return out

    def _related(self) -> list[tuple[type[Model], list[str], str]]:
        """Every forward-related model a row shows: (model, the columns it shows or joins
        on, the path prefix from the root)."""
        found: dict[str, tuple[type[Model], list[str]]] = {}
        for path in self._paths():
            parts = path.split("__")
            model: type[Model] = self.model
            for depth, part in enumerate(parts[:-1]):
                field = model._meta.get_field(part)
                if isinstance(field, ForeignObjectRel):
                    break  # `_reverse_columns`
                model = field.related_model  # type: ignore[assignment]
                prefix = "__".join(parts[: depth + 1])
                columns = found.setdefault(prefix, (model, []))[1]
                nxt = model._meta.get_field(parts[depth + 1])
                column = getattr(nxt, "column", None)
                if column and column != model._meta.pk.column and column not in columns:
                    columns.append(column)
        return [(m, cols, prefix) for prefix, (m, cols) in found.items() if cols]


def _trigger(
    name: str, suffix: str, table: str, event: str, refs: str | None, body: str
) -> list[str]:
    """A statement-level trigger and its PL/pgSQL function (`refs`: its transition tables)."""
    referencing = f" REFERENCING {refs}" if refs else ""
    return [
        f"CREATE OR REPLACE FUNCTION {name}_{suffix}() RETURNS trigger LANGUAGE plpgsql AS"
        f" {_DOLLAR} BEGIN {body} RETURN NULL; END {_DOLLAR}",
        f"CREATE TRIGGER {name}_{suffix} AFTER {event} ON {table}{referencing}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}_{suffix}()",
    ]
