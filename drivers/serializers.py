from __future__ import annotations

from datetime import datetime, time, tzinfo
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from atmr.fields import CompanyObjectField, LocalTimeField
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from drivers.models import Driver, Vehicle


class VehicleOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vehicle
        fields = ["id", "plate", "label", "seats", "wheelchair_places", "stretcher", "active"]


class VehicleInputSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=20)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)
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
# The lists skip a serializer per row and shape `.values_list()` rows into exactly what the
# output serializers above write (tests/test_list_performance_contract.py keeps them equal).
def _iso_datetime(value: datetime | None, tz: tzinfo) -> str | None:
    """Like DRF's DateTimeField: ISO 8601 in `tz`, "Z" for UTC, microseconds when any."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _iso_time(value: time | None) -> str | None:
    """Like `LocalTimeField`: HH:MM:SS."""
    return None if value is None else value.strftime("%H:%M:%S")


def driver_list_data(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """`DriverOutputSerializer` output for rows of `drivers.selectors.DRIVER_ROW_COLUMNS`."""
    tz = timezone.get_current_timezone()
    out = []
    for (
        id_,
        email,
        first_name,
        last_name,
        phone,
        status,
        vehicle_id,
        plate,
        seats,
        wheelchair_places,
        stretcher,
        shift_start,
        shift_end,
        home_lat,
        home_lon,
        last_lat,
        last_lon,
        last_seen_at,
        active,
    ) in rows:
        vehicle = None
        if vehicle_id is not None:
            vehicle = {
                "id": str(vehicle_id),
                "plate": plate,
                "seats": seats,
                "wheelchair_places": wheelchair_places,
                "stretcher": stretcher,
            }
        out.append(
            {
                "id": str(id_),
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "phone": phone,
                "status": status,
                "default_vehicle": vehicle,
                "shift_start": _iso_time(shift_start),
                "shift_end": _iso_time(shift_end),
                "home_lat": home_lat,
                "home_lon": home_lon,
                "last_lat": last_lat,
                "last_lon": last_lon,
                "last_seen_at": _iso_datetime(last_seen_at, tz),
                "active": active,
            }
        )
    return out


def vehicle_list_data(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """`VehicleOutputSerializer` output for rows of `drivers.selectors.VEHICLE_ROW_COLUMNS`."""
    return [
        {
            "id": str(id_),
            "plate": plate,
            "label": label,
            "seats": seats,
            "wheelchair_places": wheelchair_places,
            "stretcher": stretcher,
            "active": active,
        }
        for id_, plate, label, seats, wheelchair_places, stretcher, active in rows
    ]


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

    def validate(self, attrs: dict) -> dict:
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
