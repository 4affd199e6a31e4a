"""A fast list's page written as JSON by PostgreSQL itself, from SQL compiled once per filter
shape.

`RowShape` (atmr/row_shapes.py) writes a page from `.values_list()` rows in Python. Profiled on
the bookings list's database path, Django *compiling* the 45-column query on every request
cost about three times PostgreSQL's execution, and shaping the rows in Python another fifth of
the request. Here the ORM compiles each filter shape's query once, with sentinel values in
place of the request's: the SQL text is kept with where each parameter goes, and PostgreSQL
writes the page's rows as one JSON text (`||` of each value's JSON, in the serializer's key
order), so Python handles neither the query nor the rows.

The JSON is byte for byte what the Python path and orjson write (tests/test_json_sql.py and
tests/test_list_performance_contract.py): strings through `to_json` (the same escapes as
orjson), UUIDs as text, datetimes in UTC with "Z" and microseconds only when any (the API's
current time zone is UTC; in another zone callers keep the Python path), decimals with the
field's places, dates as ISO, and floats as orjson writes them (`46.0`, `0.00001`, `1e-7`:
PostgreSQL writes `46`, `1e-05`, `1e-07`).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection
from django.db.models import (
    BooleanField,
    DateField,
    F,
    FloatField,
    IntegerField,
    QuerySet,
    TimeField,
)

from atmr.json_store import JsonStore
from atmr.row_shapes import Col, RowShape, _Obj

# A computed field written by SQL of its own: given `ref(column path) -> the column's SQL`,
# the field's JSON text (a `null`, a number, a quoted string...).
SqlField = Callable[[Callable[[str], str]], str]
# How a caller builds its queryset: the filter shape (anything hashable that decides the
# SQL's structure: which filters, booleans, ordering) and the parameter values.
Build = Callable[[Hashable, Mapping[str, Any]], QuerySet[Any]]

_MAX_SHAPES = 512  # filter shapes kept per list (a list has a few dozen in practice)


def json_float(column: str) -> str:
    """A float8 column as orjson writes it: positional from 1e-5 to 1e16 with at least one
    decimal (`46.0`), otherwise scientific without a zero-padded exponent (`1e-7`, `1e+16`);
    NaN and infinities as `null`. PostgreSQL's shortest text has the same digits, so only the
    notation is rewritten, and only for the rare value PostgreSQL writes in scientific form."""
    text = f"{column}::text"
    scientific = (
        "(SELECT CASE"  # noqa: S608 - our columns, no input
        " WHEN e BETWEEN -5 AND -1 THEN s || '0.' || repeat('0', -e - 1) || ds"
        " WHEN e BETWEEN 0 AND 15"
        "  THEN s || rpad(ds, e + 1, '0') || '.' || coalesce(nullif(substr(ds, e + 2), ''), '0')"
        " ELSE s || m[2] || coalesce('.' || m[3], '') || 'e' || m[4] || ltrim(m[5], '0') END"
        f" FROM regexp_match({text}, '^(-?)(\\d)(?:\\.(\\d+))?e([-+])(\\d+)$') AS m,"
        " LATERAL (SELECT m[1] AS s, m[2] || coalesce(m[3], '') AS ds,"
        " (m[4] || m[5])::int AS e) AS p)"
    )
    return (
        f"CASE WHEN {column} IS NULL THEN 'null'"
        f" WHEN NOT ({column} > '-Infinity' AND {column} < 'Infinity') THEN 'null'"
        f" WHEN strpos({text}, 'e') > 0 THEN {scientific}"
        f" WHEN strpos({text}, '.') = 0 THEN {text} || '.0'"
        f" ELSE {text} END"
    )


def json_datetime(column: str) -> str:
    """A timestamptz as DRF writes it in UTC: `2026-12-01T08:00:00Z`, `...08:00:00.120000Z`.

    One `to_char` with the microseconds, dropped when they are all zero (the text before them
    holds no `.`): about a third less than testing the fraction and formatting it apart."""
    stamp = f"to_char(({column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"""coalesce('"' || replace({stamp}, '.000000', '') || 'Z"', 'null')"""


def _quoted(text_sql: str) -> str:
    return f"""coalesce('"' || {text_sql} || '"', 'null')"""


def _key(name: str) -> str:
    """A key's JSON text, safe inside an SQL literal (serializer field names)."""
    text = orjson.dumps(name).decode()
    if "'" in text or "%" in text or "\\" in text:
        raise ValueError(f"{name!r}: not a plain field name")
    return text


@dataclass(frozen=True)
class _Compiled:
    page_sql: str
    count_sql: str
    # Per parameter of the inner query: (name, index in a tuple value or None) or a constant.
    slots: tuple[tuple[str, int | None] | tuple[None, Any], ...]
    count_slots: tuple[tuple[str, int | None] | tuple[None, Any], ...]
    # With a ready store (atmr/json_store.py): the page from the stored rows, its slots.
    stored_sql: str | None = None
    stored_slots: tuple[tuple[str, int | None] | tuple[None, Any], ...] = ()


class JsonRows:
    """The JSON rows of `shape` for querysets built by `build`, on PostgreSQL.

    `fields`: computed fields written by SQL of their own (`SqlField`), in place of the
    column `shape` reads for them.
    """

    def __init__(
        self,
        shape: RowShape,
        build: Build,
        *,
        fields: Mapping[str, SqlField] | None = None,
        store: str | None = None,
    ) -> None:
        self.shape, self.build, self.fields = shape, build, dict(fields or {})
        # The rows' JSON kept by PostgreSQL in this table (atmr/json_store.py).
        self.store = JsonStore(self, store) if store else None
        self._cache: dict[Hashable, _Compiled] = {}
        self._lock = threading.Lock()

    @staticmethod
    def usable() -> bool:
        return connection.vendor == "postgresql"

    def page(
        self, key: Hashable, params: Mapping[str, Any], *, offset: int, limit: int, keep: int
    ) -> tuple[int, str, list[str]]:
        """Rows `offset` to `offset + limit` of the filtered, ordered list: how many there
        are, the JSON text of the first `keep` of them (comma-separated, no brackets), and
        those rows' ids. One query (a second when a row has no stored JSON, none should)."""
        compiled = self._compiled(key, params)
        with connection.cursor() as cursor:
            if compiled.stored_sql is not None:
                values = [*_bind(compiled.stored_slots, params), limit, offset]
                cursor.execute(compiled.stored_sql, [keep, keep, keep, *values])
                found, text, ids, missing = cursor.fetchone()
                if not missing:
                    return found, text, ids.split(",") if ids else []
            values = [*_bind(compiled.slots, params), limit, offset]
            cursor.execute(compiled.page_sql, [keep, keep, *values])
            found, text, ids = cursor.fetchone()
        return found, text, ids.split(",") if ids else []

    def count(self, key: Hashable, params: Mapping[str, Any]) -> int:
        compiled = self._compiled(key, params)
        with connection.cursor() as cursor:
            cursor.execute(compiled.count_sql, _bind(compiled.count_slots, params))
            return int(cursor.fetchone()[0])

    # --- compiling ------------------------------------------------------------------------
    def _compiled(self, key: Hashable, params: Mapping[str, Any]) -> _Compiled:
        full_key = (key, _signature(params))
        compiled = self._cache.get(full_key)
        if compiled is None:
            compiled = self._compile(key, params)
            with self._lock:
                if len(self._cache) >= _MAX_SHAPES:
                    self._cache.clear()  # rare: shapes come from a handful of query params
                self._cache[full_key] = compiled
        return compiled

    def _compile(self, key: Hashable, params: Mapping[str, Any]) -> _Compiled:
        sentinels, where = _sentinels(params)
        queryset = self.build(key, sentinels)
        inner_sql, inner_params, ref, row = self.select(queryset)
        count_query = queryset.order_by().values_list("pk").query
        count_sql, count_params = count_query.get_compiler(connection=connection).as_sql()
        compiled = _Compiled(
            _page_sql(inner_sql, row, ref("id")),
            f"SELECT count(*) FROM ({count_sql}) AS t",  # noqa: S608 - our columns, no input
            _slots(inner_params, where),
            _slots(count_params, where),
        )
        if self.store is None:
            return compiled
        # The stored rows need only the ids, in order: the filters' and ordering's joins stay,
        # the 54 columns and their expressions go.
        ids = queryset.values(i=F("pk"), co=F(self.store.company))
        ids_sql, ids_params = ids.query.get_compiler(connection=connection).as_sql()
        stored_sql = _page_sql(
            ids_sql,
            "r.json",
            "s.i",
            join=f" LEFT JOIN {self.store.table} AS r ON r.company_id = s.co AND r.row_id = s.i"
            f" AND {self.store.valid_sql}",
            extra=", count(*) FILTER (WHERE s.n <= %s AND r.json IS NULL)",
        )
        return replace(compiled, stored_sql=stored_sql, stored_slots=_slots(ids_params, where))

    def select(
        self, queryset: QuerySet[Any], **extra: Any
    ) -> tuple[str, tuple[Any, ...], Callable[[str], str], str]:
        """`queryset`'s SQL selecting every column the shape reads (and `extra`, by name), its
        parameters, `ref(path)` (a column's SQL outside it, as `s`) and the row's JSON."""
        root = self.shape.tree
        paths = _paths(root)
        aliases = {path: f"c{i}" for i, path in enumerate(paths)}
        selected = queryset.values(**{alias: F(path) for path, alias in aliases.items()}, **extra)
        compiler = selected.query.get_compiler(connection=connection)
        inner_sql, inner_params = compiler.as_sql()
        types = {alias: expr.output_field for expr, _, alias in compiler.select}

        def ref(path: str) -> str:
            return f"s.{aliases[path]}"

        return inner_sql, tuple(inner_params), ref, self._object(root, ref, types, aliases)

    def _object(
        self, node: _Obj, ref: Callable[[str], str], types: dict[str, Any], aliases: dict
    ) -> str:
        """The object's JSON text: one `concat()` of keys and values (a chain of `||` copies
        the growing text at every step: three times the cost on a 54-column row)."""
        parts = []
        for i, (name, sub) in enumerate(node.fields.items()):
            if node is self.shape.tree and name in self.fields:
                value = self.fields[name](ref)
            elif isinstance(sub, Col):
                value = _value(sub, ref(sub.column), types[aliases[sub.column]])
            else:
                value = self._object(sub, ref, types, aliases)
            parts += [f"'{'{' if i == 0 else ','}{_key(name)}:'", value]
        body = _concat([*parts, "'}'"]) if parts else "'{}'"
        if node.null_when is None:
            return body
        return f"(CASE WHEN {ref(node.null_when.column)} IS NULL THEN 'null' ELSE {body} END)"


def _page_sql(inner_sql: str, row: str, row_id: str, *, join: str = "", extra: str = "") -> str:
    """How many rows `inner_sql` (LIMIT and OFFSET bound last) has, and the first `%s` rows'
    JSON and ids, in its order (`%s` twice, then `extra`'s)."""
    return (
        f"SELECT count(*), coalesce(string_agg(CASE WHEN s.n <= %s THEN {row} END, ','"  # noqa: S608 - our columns, no input
        f" ORDER BY s.n), ''), coalesce(string_agg(CASE WHEN s.n <= %s THEN {row_id}::text END,"
        f" ',' ORDER BY s.n), ''){extra}"
        f" FROM (SELECT row_number() OVER () AS n, t.* FROM ({inner_sql} LIMIT %s OFFSET %s)"
        f" AS t) AS s{join}"
    )


def _concat(parts: list[str]) -> str:
    """`concat()` of `parts`, nested past PostgreSQL's 100 arguments."""
    if len(parts) <= _MAX_ARGS:
        return f"concat({', '.join(parts)})"
    chunks = [parts[i : i + _MAX_ARGS] for i in range(0, len(parts), _MAX_ARGS)]
    return _concat([_concat(chunk) for chunk in chunks])


_MAX_ARGS = 100


def _paths(node: _Obj) -> list[str]:
    found: list[str] = []
    for sub in node.fields.values():
        for path in [sub.column] if isinstance(sub, Col) else _paths(sub):
            if path not in found:
                found.append(path)
    if node.null_when is not None and node.null_when.column not in found:
        found.append(node.null_when.column)
    return found


def _value(col: Col, sql: str, field: Any) -> str:
    if col.kind == "datetime":
        return json_datetime(sql)
    if col.kind == "uuid":
        return _quoted(f"{sql}::text")
    if col.kind == "decimal":
        return _quoted(f"round({sql}, {int(col.places)})::text")
    if col.kind == "time":  # `.isoformat()`: only dates have a fixed SQL form here
        if isinstance(field, DateField) and not isinstance(field, TimeField):
            return _quoted(f"to_char({sql}, 'YYYY-MM-DD')")
        raise TypeError(f"{col.column}: no JSON SQL for {type(field).__name__}")
    if isinstance(field, FloatField):
        return json_float(sql)
    # `to_json` looks its argument's type up on every call: only text needs its escaping.
    if isinstance(field, BooleanField):
        return f"(CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' ELSE 'null' END)"
    if isinstance(field, IntegerField):
        return f"coalesce({sql}::text, 'null')"
    return f"coalesce(to_json({sql})::text, 'null')"


# --- parameters -----------------------------------------------------------------------------
def _signature(params: Mapping[str, Any]) -> tuple[tuple[str, object], ...]:
    return tuple(
        (name, len(value) if isinstance(value, tuple) else type(value).__name__)
        for name, value in sorted(params.items())
    )


_COUNTER = itertools.count(1)


def _sentinel(value: Any) -> Any:
    n = next(_COUNTER)
    if isinstance(value, uuid.UUID):
        return uuid.uuid4()
    if isinstance(value, datetime):
        return datetime(1900, 1, 1, tzinfo=UTC).replace(microsecond=n % 1_000_000, second=n % 60)
    if isinstance(value, str):
        return f"\x01sentinel-{n}-{uuid.uuid4().hex}"
    raise TypeError(f"no sentinel for {type(value).__name__}: make it part of the shape")


def _sentinels(
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[Any, tuple[str, int | None]]]:
    values: dict[str, Any] = {}
    where: dict[Any, tuple[str, int | None]] = {}
    for name, value in params.items():
        if isinstance(value, tuple):
            items = tuple(_sentinel(v) for v in value)
            values[name] = items
            where.update({item: (name, i) for i, item in enumerate(items)})
        else:
            values[name] = _sentinel(value)
            where[values[name]] = (name, None)
    return values, where


def _slots(
    compiled: tuple[Any, ...] | list[Any], where: dict[Any, tuple[str, int | None]]
) -> tuple[tuple[str, int | None] | tuple[None, Any], ...]:
    """Where each of the compiled query's parameters comes from. Every sentinel must be
    among them: one the ORM turned into SQL text would bind the first request's value for
    good, so that fails here, on the first use of a shape, rather than answering wrongly."""
    slots: list[tuple[str, int | None] | tuple[None, Any]] = []
    for param in compiled:
        try:
            slot = where.get(param)
        except TypeError:  # unhashable: a constant
            slot = None
        slots.append(slot if slot is not None else (None, param))
    missing = set(where.values()) - {slot for slot in slots if slot[0] is not None}
    if missing:
        raise ValueError(f"parameters the compiled query does not bind: {sorted(missing)}")
    return tuple(slots)


def _bind(
    slots: tuple[tuple[str, int | None] | tuple[None, Any], ...], params: Mapping[str, Any]
) -> list[Any]:
    out = []
    for name, where in slots:
        if name is None:
            out.append(where)
        elif where is None:
            out.append(params[name])
        else:
            out.append(params[name][where])
    return out
