from __future__ import annotations

from rest_framework import serializers

from atmr.fields import DayField
from dispatch.models import DispatchRun


class RunStartInputSerializer(serializers.Serializer):
    date = DayField()
    mode = serializers.ChoiceField(choices=DispatchRun.Mode.choices, default=DispatchRun.Mode.AUTO)


class RunListQuerySerializer(serializers.Serializer):
    date = DayField(required=False)


class StopSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["start", "pickup", "dropoff", "break", "end"])
    booking = serializers.UUIDField(allow_null=True)
    arrival = serializers.DateTimeField()
    service_start = serializers.DateTimeField()
    departure = serializers.DateTimeField()
    seats_load = serializers.IntegerField()
    wheelchair_load = serializers.IntegerField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()


class RouteSerializer(serializers.Serializer):
    driver = serializers.UUIDField()
    driver_name = serializers.CharField()
    vehicle = serializers.UUIDField()
    stops = StopSerializer(many=True)


class UnassignedSerializer(serializers.Serializer):
    booking = serializers.UUIDField()
    reason = serializers.ChoiceField(
        choices=["no_equipment", "no_capacity", "window_unreachable", "no_room"]
    )
    detail = serializers.CharField(
        required=False, help_text="The reason in words, times in the company's zone."
    )


class WaitingSerializer(serializers.Serializer):
    booking = serializers.UUIDField()


_SUMMARY_FIELDS = [
    "id",
    "service_date",
    "mode",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "applied_at",
    "load_ms",
    "matrix_ms",
    "solve_ms",
    "save_ms",
    "bookings_count",
    "drivers_count",
    "assigned_count",
    "unassigned_count",
    "drive_seconds",
    "distance_metres",
    "fallback_share",
    "travel_source",
    "error",
]


class RunSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = DispatchRun
        fields = _SUMMARY_FIELDS


class RunDetailSerializer(serializers.ModelSerializer):
    routes = RouteSerializer(many=True)
    unassigned = UnassignedSerializer(many=True)
    skipped = serializers.ListField(child=serializers.UUIDField())
    waiting = WaitingSerializer(
        many=True, help_text="Will-call returns of the day not released yet: not planned."
    )

    class Meta:
        model = DispatchRun
        fields = [*_SUMMARY_FIELDS, "routes", "unassigned", "skipped", "waiting"]
