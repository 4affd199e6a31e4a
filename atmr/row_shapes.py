"""Fast lists: a list endpoint's JSON read straight from `.values_list()` rows.

The output serializer is the one declaration of a list's shape (keys, order, nesting,
formats; it also documents the OpenAPI schema and answers single objects). `RowShape` reads
it once and derives the columns to fetch and a function that writes each row exactly as the
serializer would, without model instances or a serializer per row (50 bookings: 10 ms of
CPU through models and the serializer, 2 ms as rows). tests/test_list_performance_contract.py
keeps both byte for byte identical.

Formats follow DRF: UUIDs as strings; datetimes in the current time zone with "Z" for UTC
(read as the database's text, see `iso_from_db_text`); decimals as strings with the field's
places; times as ISO 8601. Fields a serializer computes (`SerializerMethodField`) say which
columns they read through `methods=`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import Expression, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from rest_framework import serializers


@dataclass(frozen=True)
class Col:
    """One value: a column path (`client__first_name`) and how it is written."""

    column: str
    kind: str = "plain"  # "plain", "uuid", "datetime", "time" or "decimal"
    nullable: bool = False
    places: int = 2  # decimals only


# A `methods=` entry: a column path (written as is), a `Col`, or an object of those.
MethodSpec = str | Col | Mapping[str, "MethodSpec"]


@dataclass(frozen=True)
class _Obj:
    fields: dict[str, Col | _Obj]
    null_when: Col | None = None  # the whole object is null when this column is


def iso_datetime(value: datetime | None, tz: tzinfo) -> str | None:
    """Like DRF's DateTimeField: ISO 8601 in `tz`, "Z" for UTC, microseconds when any."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_from_db_text(text: str | None, tz: tzinfo) -> str | None:
    """`iso_datetime` for a datetime the database wrote as text in UTC: PostgreSQL writes
    "2026-12-01 08:00:00.5+00" (fraction trimmed), SQLite "2026-12-01 08:00:00.500000".
    Parsing datetimes into Python objects and formatting them back cost more than the rest
    of a 50-row list."""
    if text is None:
        return None
    if text.endswith("+00") and str(tz) == "UTC":
        text = text[:-3]
    elif text[-6] in "+-" or str(tz) != "UTC":
        # another offset or zone: take the slow path (a text without an offset is in UTC)
        moment = datetime.fromisoformat(text)
        return iso_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC), tz)
    day, _, clock = text.partition(" ")
    if "." in clock:
        whole, _, fraction = clock.partition(".")
        clock = f"{whole}.{fraction:0<6}"
    return f"{day}T{clock}Z"


class RowShape:
    """The fast list of `serializer_class` (built on first use: fields need the app registry)."""

    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        *,
        methods: Mapping[str, MethodSpec] | None = None,
    ) -> None:
        self.serializer_class = serializer_class
        self.methods = dict(methods or {})

    @property
    def columns(self) -> tuple[str | Expression, ...]:
        return self._compiled[0]

    def data(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        """The serializer's output for every row of an already scoped, filtered (and sliced)
        queryset: one query with the joins the columns need, no model instances."""
        return self.rows_data(list(queryset.values_list(*self.columns)))

    def rows_data(self, rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """The serializer's output for rows of `columns`."""
        return self._compiled[1](rows, timezone.get_current_timezone())

    @cached_property
    def tree(self) -> _Obj:
        """The shape as nested objects of columns (atmr/json_sql.py writes it in SQL)."""
        return _Obj(
            {
                name: self._node(name, field)
                for name, field in self.serializer_class().fields.items()
            }
        )

    @cached_property
    def _compiled(self) -> tuple[tuple[str | Expression, ...], Callable[..., list[dict]]]:
        return _compile(self.tree)

    def _node(self, name: str, field: serializers.Field, prefix: str = "") -> Col | _Obj:
        if isinstance(field, serializers.SerializerMethodField):
            if name not in self.methods:
                raise TypeError(f"{self.serializer_class.__name__}.{name}: give its columns")
            return _method_node(self.methods[name])
        source = field.source
        if not isinstance(source, str):  # set by binding, which `.fields` has done
            raise TypeError(f"{name}: an unbound field")
        path = prefix + source.replace(".", "__")
        if isinstance(field, serializers.BaseSerializer):
            if not isinstance(field, serializers.Serializer):
                raise TypeError(f"{name}: no fast form for {type(field).__name__}")
            fields = {n: self._node(n, f, path + "__") for n, f in field.fields.items()}
            ident = fields.get("id")
            if not field.allow_null:
                return _Obj(fields)
            if not isinstance(ident, Col):
                raise TypeError(f"{name}: a nullable nested object needs an `id` field")
            return _Obj(fields, ident)
        return _leaf(name, field, path)


def _method_node(spec: MethodSpec) -> Col | _Obj:
    if isinstance(spec, str):
        return Col(spec)
    if isinstance(spec, Col):
        return spec
    return _Obj({name: _method_node(sub) for name, sub in spec.items()})


_PLAIN = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.IntegerField,
    serializers.FloatField,
    serializers.BooleanField,
)


def _leaf(name: str, field: serializers.Field, path: str) -> Col:
    nullable = bool(field.allow_null)
    if isinstance(field, serializers.UUIDField | serializers.PrimaryKeyRelatedField):
        return Col(path, "uuid", nullable)
    if isinstance(field, serializers.DateTimeField):
        return Col(path, "datetime", nullable)
    if isinstance(field, serializers.TimeField):
        return Col(path, "time", nullable)
    if isinstance(field, serializers.DecimalField) and field.decimal_places is not None:
        return Col(path, "decimal", nullable, field.decimal_places)
    if isinstance(field, _PLAIN):
        return Col(path, "plain", nullable)
    raise TypeError(f"{name}: no fast form for {type(field).__name__}")


def _compile(root: _Obj) -> tuple[tuple[str | Expression, ...], Callable[..., list[dict]]]:
    """Columns and a function writing one dict literal per row. The function is generated
    Python source, the same code one would write by hand for each list: looping over field
    specs per value instead costs about twice as much on the hottest reads."""
    columns: list[str | Expression] = []
    variables: dict[tuple[str, bool], str] = {}
    constants: dict[str, Any] = {"_dt": iso_from_db_text}

    def var(col: Col) -> str:
        key = (col.column, col.kind == "datetime")  # datetimes are read as text
        if key not in variables:
            variables[key] = f"c{len(columns)}"
            columns.append(_as_text(col.column) if key[1] else col.column)
        return variables[key]

    def value(col: Col) -> str:
        v = var(col)
        if col.kind == "plain":
            return v
        if col.kind == "datetime":
            return f"_dt({v}, tz)"  # None stays None
        if col.kind == "uuid":
            text = f"str({v})"
        elif col.kind == "time":
            text = f"{v}.isoformat()"
        else:
            quantum = f"_q{col.places}"
            constants[quantum] = Decimal(1).scaleb(-col.places)
            text = f'f"{{{v}.quantize({quantum}):f}}"'
        return f"(None if {v} is None else {text})" if col.nullable else text

    def obj(node: _Obj) -> str:
        items = ", ".join(
            f"{name!r}: {value(sub) if isinstance(sub, Col) else obj(sub)}"
            for name, sub in node.fields.items()
        )
        if node.null_when is None:
            return f"{{{items}}}"
        return f"(None if {var(node.null_when)} is None else {{{items}}})"

    body = obj(root)
    names = ", ".join(variables.values())
    source = f"def rows_data(rows, tz):\n    return [{body} for ({names},) in rows]\n"
    # Our own source, built from serializer field names and column paths, never from input.
    exec(compile(source, "<row_shapes>", "exec"), constants)  # noqa: S102
    return tuple(columns), constants["rows_data"]


def _as_text(column: str) -> Cast:
    return Cast(column, output_field=TextField())
