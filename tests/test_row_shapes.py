"""A fast list takes its shape from its output serializer: a field added there appears in the
list with the serializer's format, and a field the fast path cannot write fails loudly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from atmr.row_shapes import RowShape
from bookings.serializers import BOOKING_LIST
from drivers.models import Vehicle
from tests.factories import VehicleFactory


class _VehicleBrief(serializers.ModelSerializer):
    class Meta:
        model = Vehicle
        fields = ["plate", "id", "seats"]


@pytest.mark.django_db
def test_the_serializer_alone_declares_the_columns_and_the_output(company):
    VehicleFactory(company=company, plate="VD 1", seats=3)
    shape = RowShape(_VehicleBrief)
    assert shape.columns == ("plate", "id", "seats")
    queryset = Vehicle.objects.filter(company=company)
    assert shape.data(queryset) == [dict(row) for row in _VehicleBrief(queryset, many=True).data]


def test_a_computed_field_without_columns_is_refused():
    class WithMethod(_VehicleBrief):
        badge = serializers.SerializerMethodField()

        class Meta(_VehicleBrief.Meta):
            fields = [*_VehicleBrief.Meta.fields, "badge"]

    with pytest.raises(TypeError, match=r"WithMethod\.badge: give its columns"):
        RowShape(WithMethod).columns  # noqa: B018 - the shape is built on first use


def test_a_field_with_no_fast_form_is_refused():
    class WithJson(serializers.Serializer):
        extra = serializers.JSONField()

    with pytest.raises(TypeError, match="extra: no fast form for JSONField"):
        RowShape(WithJson).columns  # noqa: B018


def test_the_booking_list_reads_each_column_once():
    names = [getattr(c, "source_expressions", [c])[0] for c in BOOKING_LIST.columns]
    names = [getattr(n, "name", n) for n in names]
    # 33 + will_call, released_at, ready_link_version + standing_order, occurrence_date
    # + cancel_code (id, code, label), cancelled_late, cancelled_at
    # + pickup_place, dropoff_place, geocoded
    # + eta_pickup, eta_dropoff, eta_computed_at, eta_source, lateness, ride_too_long,
    #   arrived_at, no_show_after (the live day)
    assert len(names) == len(set(names)) == 54


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01 08:00:00+00",
        "2026-12-01 08:00:00.5+00",
        "2026-12-01 08:00:00.500000",
        "2026-12-01 09:30:00.25+01:30",
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Zurich"])
def test_a_database_text_is_written_as_iso_datetime_writes_it_in_any_zone(text, zone):
    """The fast path writes "Z" only for UTC; in another zone the offset is the zone's."""
    from zoneinfo import ZoneInfo

    from atmr.row_shapes import iso_datetime, iso_from_db_text

    moment = datetime.fromisoformat(text)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    tz = ZoneInfo(zone)
    assert iso_from_db_text(text, tz) == iso_datetime(moment, tz)
