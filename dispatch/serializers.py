from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atmr.fields import CompanyObjectField, DayField
from dispatch.models import DispatchRun
from drivers.models import Driver


class RunStartInputSerializer(serializers.Serializer):
    date = DayField()
    mode = serializers.ChoiceField(choices=DispatchRun.Mode.choices, default=DispatchRun.Mode.AUTO)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `from` is a Python keyword: declared here rather than as a class attribute.
        fields["from"] = serializers.ChoiceField(
            choices=["now"],
            required=False,
            help_text="`now`: re-plan today from now (required for today, refused for another "
            "day): what is under way stays, drivers start where they are.",
        )
        return fields


class InsertionSerializer(serializers.Serializer):
    driver = serializers.UUIDField(source="driver_id")
    driver_name = serializers.CharField()
    position = serializers.IntegerField(
        help_text="Where the pick-up goes in the driver's remaining stops (0: before the next)."
    )
    dropoff_position = serializers.IntegerField(
        help_text="Where the drop-off goes, counting the pick-up already inserted."
    )
    extra_drive_seconds = serializers.IntegerField()
    lateness_caused_seconds = serializers.IntegerField(
        help_text="Lateness added to the driver's other patients (against their windows)."
    )
    delay_caused_seconds = serializers.IntegerField(
        help_text="How much later the driver's other patients are picked up, in all."
    )
    pickup_at = serializers.DateTimeField()
    dropoff_at = serializers.DateTimeField()


class InsertInputSerializer(serializers.Serializer):
    driver = CompanyObjectField(Driver)
    position = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=1000,
        help_text="A proposal's `position`; without it, wherever it fits best for that driver.",
    )


class InsertOutputSerializer(serializers.Serializer):
    booking = serializers.UUIDField(source="booking_id")
    insertion = InsertionSerializer()


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


class MovedTripSerializer(serializers.Serializer):
    booking = serializers.UUIDField()
    from_driver = serializers.UUIDField()
    to_driver = serializers.UUIDField()


class EtaChangeSerializer(serializers.Serializer):
    booking = serializers.UUIDField()
    before = serializers.DateTimeField(
        allow_null=True, help_text="Planned pick-up before the run; null for a new trip."
    )
    after = serializers.DateTimeField()
    change_seconds = serializers.IntegerField(allow_null=True)


class DroppedTripSerializer(serializers.Serializer):
    booking = serializers.UUIDField()
    driver = serializers.UUIDField(help_text="The driver who has it; applying withdraws it.")
    version = serializers.DateTimeField()


class RunDiffSerializer(serializers.Serializer):
    moved = MovedTripSerializer(many=True, default=list)
    eta_changes = EtaChangeSerializer(many=True, default=list)
    unassigned = DroppedTripSerializer(many=True, default=list)


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
    "from_now",
    "planned_from",
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
    diff = serializers.SerializerMethodField(
        help_text="A re-plan from now: trips moved, pick-up changes, trips it has no place for."
    )

    class Meta:
        model = DispatchRun
        fields = [*_SUMMARY_FIELDS, "routes", "unassigned", "skipped", "waiting", "diff"]

    @extend_schema_field(RunDiffSerializer)
    def get_diff(self, run: DispatchRun) -> dict[str, Any]:
        diff = run.diff or {}
        return {key: diff.get(key, []) for key in ("moved", "eta_changes", "unassigned")}
