from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from atmr.fields import (
    CompanyDateTimeField,
    CompanyObjectField,
    DayField,
    LocalTimeField,
    company_zone,
)
from atmr.row_shapes import RowShape
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from drivers.models import Absence, Driver, DriverLocation, RosterEntry, Shift, Vehicle
from drivers.rosters import MAX_BREAK_MINUTES, break_times, local_moment, shift_times_error


class VehicleOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vehicle
        fields = ["id", "plate", "label", "seats", "wheelchair_places", "stretcher", "active"]


class VehicleInputSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=20)
    # DRF's metaclass takes declared fields off the class, so this never shadows Field.label;
    # the stubs cannot see that (typeddjango/djangorestframework-stubs#78).
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=100, required=False, allow_blank=True
    )
    seats = serializers.IntegerField(min_value=0, max_value=60, default=4)
    wheelchair_places = serializers.IntegerField(min_value=0, max_value=10, default=0)
    stretcher = serializers.BooleanField(default=False)
    active = serializers.BooleanField(default=True)


class VehicleSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    plate = serializers.CharField()
    seats = serializers.IntegerField()
    wheelchair_places = serializers.IntegerField()
    stretcher = serializers.BooleanField()


class DriverOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    default_vehicle = VehicleSummarySerializer(allow_null=True)
    shift_start = LocalTimeField(allow_null=True)
    shift_end = LocalTimeField(allow_null=True)

    class Meta:
        model = Driver
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "status",
            "default_vehicle",
            "shift_start",
            "shift_end",
            "home_lat",
            "home_lon",
            "last_lat",
            "last_lon",
            "last_seen_at",
            "active",
        ]


# --- fast list output -----------------------------------------------------------------------
# The lists write the output serializers above straight from `.values_list()` rows
# (atmr/row_shapes.py): the serializers are the one declaration of each list's shape.
DRIVER_LIST = RowShape(DriverOutputSerializer)
VEHICLE_LIST = RowShape(VehicleOutputSerializer)


def driver_list_data(queryset: QuerySet[Driver]) -> list[dict[str, Any]]:
    """`DriverOutputSerializer` output for a scoped (and sliced) queryset: one query joining
    the user and the default vehicle, no model instances."""
    return DRIVER_LIST.data(queryset)


def vehicle_list_data(queryset: QuerySet[Vehicle]) -> list[dict[str, Any]]:
    """`VehicleOutputSerializer` output for a scoped (and sliced) queryset."""
    return VEHICLE_LIST.data(queryset)


class _DriverFieldsSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=Driver.Status.choices, required=False)
    default_vehicle = CompanyObjectField(Vehicle, required=False, allow_null=True)
    shift_start = LocalTimeField(required=False, allow_null=True)
    shift_end = LocalTimeField(required=False, allow_null=True)
    home_lat = serializers.FloatField(
        required=False, allow_null=True, validators=LATITUDE_VALIDATORS
    )
    home_lon = serializers.FloatField(
        required=False, allow_null=True, validators=LONGITUDE_VALIDATORS
    )
    active = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("shift_start", getattr(self.instance, "shift_start", None))
        end = attrs.get("shift_end", getattr(self.instance, "shift_end", None))
        if start and end and start >= end:
            raise serializers.ValidationError({"shift_end": "The shift must end after it starts."})
        return attrs


class DriverCreateInputSerializer(_DriverFieldsSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(
        required=False, write_only=True, min_length=8, style={"input_type": "password"}
    )


class DriverUpdateInputSerializer(_DriverFieldsSerializer):
    pass


# --- rosters, shifts, absences ----------------------------------------------------------------
def _listed(detail: Any) -> Any:
    """DRF reports a nested list's errors as {index: errors}; JSON wants string keys, and
    clients read a list (one entry per item, {} for the good ones), as DRF used to send."""
    if isinstance(detail, dict):
        if detail and all(isinstance(k, int) for k in detail):
            return [_listed(detail.get(i, {})) for i in range(max(detail) + 1)]
        return {k: _listed(v) for k, v in detail.items()}
    return detail


def _times_error(attrs: dict[str, Any]) -> None:
    """The roster rule (drivers/rosters.py) as a 400 naming the field."""
    error = shift_times_error(start=attrs["start"], end=attrs["end"], **break_times(attrs))
    if error:
        raise serializers.ValidationError({error[0]: error[1]})


class _BreakFields(serializers.Serializer):
    vehicle = CompanyObjectField(
        Vehicle, required=False, allow_null=True, help_text="Empty: the driver's default vehicle."
    )
    break_earliest = LocalTimeField(required=False, allow_null=True, help_text="Break from.")
    break_latest = LocalTimeField(required=False, allow_null=True, help_text="Break over by.")
    break_minutes = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_BREAK_MINUTES, default=0
    )


class RosterEntryInputSerializer(_BreakFields):
    """One weekday of the week. An end at or before the start is on the next day."""

    weekday = serializers.IntegerField(min_value=1, max_value=7, help_text="ISO: 1 Monday.")
    start = LocalTimeField()
    end = LocalTimeField(help_text="At or before the start: the next day (a night shift).")

    def validate(self, attrs: dict) -> dict:
        _times_error(attrs)
        return attrs


class RosterInputSerializer(serializers.Serializer):
    # DRF hands max_length to the ListSerializer (3.14+); the stubs do not know the keyword.
    entries = RosterEntryInputSerializer(many=True, max_length=7)  # type: ignore[call-arg]

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_listed(exc.detail)) from None

    def validate_entries(self, entries: list[dict]) -> list[dict]:
        weekdays = [e["weekday"] for e in entries]
        if len(set(weekdays)) != len(weekdays):
            raise serializers.ValidationError("Each weekday may appear once.")
        return entries


class RosterEntryOutputSerializer(serializers.ModelSerializer):
    start = LocalTimeField()
    end = LocalTimeField()
    vehicle = VehicleSummarySerializer(allow_null=True)
    break_earliest = LocalTimeField(allow_null=True)
    break_latest = LocalTimeField(allow_null=True)

    class Meta:
        model = RosterEntry
        fields = [
            "weekday",
            "start",
            "end",
            "vehicle",
            "break_earliest",
            "break_latest",
            "break_minutes",
        ]


class RosterOutputSerializer(serializers.Serializer):
    driver = serializers.UUIDField()
    entries = RosterEntryOutputSerializer(many=True)


class ShiftOutputSerializer(serializers.ModelSerializer):
    driver = serializers.UUIDField(source="driver_id")
    driver_name = serializers.CharField(source="driver.user.full_name")
    start = CompanyDateTimeField()
    end = CompanyDateTimeField()
    vehicle = VehicleSummarySerializer(allow_null=True)
    break_earliest = CompanyDateTimeField(allow_null=True)
    break_latest = CompanyDateTimeField(allow_null=True)

    class Meta:
        model = Shift
        fields = [
            "id",
            "driver",
            "driver_name",
            "date",
            "start",
            "end",
            "vehicle",
            "break_earliest",
            "break_latest",
            "break_minutes",
            "edited",
        ]


class ShiftCreateInputSerializer(_BreakFields):
    """A day's shift in wall-clock times of the company's zone."""

    driver = CompanyObjectField(Driver)
    date = DayField(help_text="The local day the shift starts.")
    start = LocalTimeField()
    end = LocalTimeField(help_text="At or before the start: the next day (a night shift).")

    def validate(self, attrs: dict) -> dict:
        _times_error(attrs)
        return attrs


class ShiftUpdateInputSerializer(_BreakFields):
    """Any of the day's times or its vehicle; `break_minutes: 0` removes the break."""

    start = LocalTimeField(required=False)
    end = LocalTimeField(required=False, help_text="At or before the start: the next day.")
    break_minutes = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_BREAK_MINUTES
    )


class ShiftListQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/shifts`."""

    date = DayField(required=False, help_text="The local day the shifts start, YYYY-MM-DD.")
    on = DayField(
        required=False,
        help_text="The shifts on during this local day, YYYY-MM-DD: those that start that day "
        "and the night shift of the day before while it runs past midnight.",
    )
    driver = serializers.UUIDField(required=False)


class AbsenceListQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/absences`."""

    driver = serializers.UUIDField(required=False, help_text="One driver's absences.")


class AbsenceInputSerializer(serializers.Serializer):
    """Whole days (`start_date`..`end_date`, both included) or part days with times."""

    driver = CompanyObjectField(Driver)
    kind = serializers.ChoiceField(choices=Absence.Kind.choices)
    start_date = DayField()
    end_date = DayField(help_text="Included.")
    start_time = LocalTimeField(required=False, help_text="Default: the start of the day.")
    end_time = LocalTimeField(required=False, help_text="Default: the end of the end day.")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": "The absence ends before it starts."})
        tz = company_zone(self.context)
        starts_at = local_moment(attrs["start_date"], attrs.get("start_time") or time.min, tz)
        if attrs.get("end_time") is None:
            ends_at = local_moment(attrs["end_date"] + timedelta(days=1), time.min, tz)
        else:
            ends_at = local_moment(attrs["end_date"], attrs["end_time"], tz)
        if ends_at <= starts_at:
            raise serializers.ValidationError({"end_time": "The absence ends before it starts."})
        return {
            "driver": attrs["driver"],
            "kind": attrs["kind"],
            "starts_at": starts_at,
            "ends_at": ends_at,
            "note": attrs["note"],
        }


class AbsenceOutputSerializer(serializers.ModelSerializer):
    driver = serializers.UUIDField(source="driver_id")
    driver_name = serializers.CharField(source="driver.user.full_name")
    starts_at = CompanyDateTimeField()
    ends_at = CompanyDateTimeField()

    class Meta:
        model = Absence
        fields = ["id", "driver", "driver_name", "kind", "starts_at", "ends_at", "note"]


# --- positions --------------------------------------------------------------------------------
class DriverLocationOutputSerializer(serializers.ModelSerializer):
    """One fix of a driver's track (`GET /api/drivers/{id}/track`)."""

    class Meta:
        model = DriverLocation
        fields = ["recorded_at", "lat", "lon", "speed", "heading", "accuracy"]
        read_only_fields = fields


class DriverTrackQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/drivers/{id}/track`."""

    day = DayField(help_text="The company's local day, YYYY-MM-DD.")


# The track is written from `.values_list()` rows (or by PostgreSQL, drivers/locations.py), never
# through model instances: 2,880 fixes a day cost 20 ms as instances and a serializer per row.
LOCATION_TRACK = RowShape(DriverLocationOutputSerializer)
