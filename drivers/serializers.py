from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from atmr.fields import CompanyObjectField, LocalTimeField
from atmr.row_shapes import RowShape
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from drivers.models import Driver, Vehicle


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
