from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atmr.fields import CompanyDateTimeField, CompanyObjectField, DayField
from atmr.row_shapes import Col, RowShape
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from bookings.models import Booking, Client, Mobility, ReasonCode
from bookings.reasons import ReasonCodeInvalid, reason_code_choose
from bookings.services import Place
from drivers.models import Driver


# --- output ---------------------------------------------------------------------------------
class ClientSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    mobility = serializers.CharField()


class DriverSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    phone = serializers.CharField()


class VehicleRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    plate = serializers.CharField()


class PlaceSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=300)
    lat = serializers.FloatField(validators=LATITUDE_VALIDATORS)
    lon = serializers.FloatField(validators=LONGITUDE_VALIDATORS)

    def to_internal_value(self, data: Any) -> Place:
        return Place(**super().to_internal_value(data))


class PlaceOutputSerializer(serializers.Serializer):
    address = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()


class ReasonCodeRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class BookingOutputSerializer(serializers.ModelSerializer):
    client = ClientSummarySerializer()
    driver = DriverSummarySerializer(allow_null=True)
    vehicle = VehicleRefSerializer(allow_null=True)
    cancel_code = ReasonCodeRefSerializer(
        allow_null=True, help_text="Why it was cancelled or not made (null otherwise)."
    )
    pickup = serializers.SerializerMethodField()
    dropoff = serializers.SerializerMethodField()
    return_trip = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "status",
            "client",
            "driver",
            "vehicle",
            "pickup",
            "dropoff",
            "scheduled_at",
            "pickup_earliest",
            "pickup_latest",
            "appointment_at",
            "passengers",
            "urgent",
            "mobility",
            "return_of",
            "return_trip",
            "price",
            "notes",
            "cancel_reason",
            "created_at",
            "updated_at",
            "cancel_code",
            "cancelled_late",
            "cancelled_at",
        ]

    def _place(self, booking: Booking, prefix: str) -> dict[str, Any]:
        return {
            "address": getattr(booking, f"{prefix}_address"),
            "lat": getattr(booking, f"{prefix}_lat"),
            "lon": getattr(booking, f"{prefix}_lon"),
        }

    @extend_schema_field(PlaceOutputSerializer)
    def get_pickup(self, booking: Booking) -> dict[str, Any]:
        return self._place(booking, "pickup")

    @extend_schema_field(PlaceOutputSerializer)
    def get_dropoff(self, booking: Booking) -> dict[str, Any]:
        return self._place(booking, "dropoff")

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_return_trip(self, booking: Booking) -> str | None:
        trip = getattr(booking, "return_trip", None)
        return str(trip.id) if trip else None


class ClientOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = [
            "id",
            "first_name",
            "last_name",
            "phone",
            "address",
            "lat",
            "lon",
            "mobility",
            "notes",
            "created_at",
        ]


# --- fast list output -----------------------------------------------------------------------
# The hot lists write the output serializers above straight from `.values_list()` rows
# (atmr/row_shapes.py): the serializers are the one declaration of each list's shape.
BOOKING_LIST = RowShape(
    BookingOutputSerializer,
    methods={
        "pickup": {"address": "pickup_address", "lat": "pickup_lat", "lon": "pickup_lon"},
        "dropoff": {"address": "dropoff_address", "lat": "dropoff_lat", "lon": "dropoff_lon"},
        "return_trip": Col("return_trip__id", "uuid", nullable=True),
    },
)
CLIENT_LIST = RowShape(ClientOutputSerializer)


def booking_list_data(queryset: QuerySet[Booking]) -> list[dict[str, Any]]:
    """`BookingOutputSerializer` output for a scoped, filtered, sliced queryset: one query
    joining client, driver, user, vehicle and return trip, no model instances."""
    return BOOKING_LIST.data(queryset)


def client_list_data(queryset: QuerySet[Client]) -> list[dict[str, Any]]:
    """`ClientOutputSerializer` output for a scoped, filtered, sliced queryset."""
    return CLIENT_LIST.data(queryset)


# --- input ----------------------------------------------------------------------------------
class ClientInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    lat = serializers.FloatField(required=False, allow_null=True, validators=LATITUDE_VALIDATORS)
    lon = serializers.FloatField(required=False, allow_null=True, validators=LONGITUDE_VALIDATORS)
    mobility = serializers.ChoiceField(choices=Mobility.choices, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Half a position is no position: dispatch and the demo seeding need both or neither.
        if ("lat" in attrs) != ("lon" in attrs) or (attrs.get("lat") is None) != (
            attrs.get("lon") is None
        ):
            missing = "lat" if attrs.get("lat") is None else "lon"
            raise serializers.ValidationError({missing: "Give lat and lon together."})
        return attrs


def _check_times(attrs: dict[str, Any]) -> None:
    scheduled = attrs.get("scheduled_at")
    earliest, latest = attrs.get("pickup_earliest"), attrs.get("pickup_latest")
    if scheduled and earliest and earliest > scheduled:
        raise serializers.ValidationError(
            {"pickup_earliest": "Must be at or before the scheduled time."}
        )
    if scheduled and latest and latest < scheduled:
        raise serializers.ValidationError(
            {"pickup_latest": "Must be at or after the scheduled time."}
        )
    appointment = attrs.get("appointment_at")
    if appointment and scheduled and appointment <= (earliest or scheduled):
        raise serializers.ValidationError({"appointment_at": "Must be after the pick-up time."})


class TripTimesSerializer(serializers.Serializer):
    # Without an offset, times are the company's local time (see CompanyDateTimeField).
    scheduled_at = CompanyDateTimeField()
    pickup_earliest = CompanyDateTimeField(required=False)
    pickup_latest = CompanyDateTimeField(required=False)
    appointment_at = CompanyDateTimeField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _check_times(attrs)
        return attrs


class BookingCreateInputSerializer(TripTimesSerializer):
    client = CompanyObjectField(Client)
    pickup = PlaceSerializer()
    dropoff = PlaceSerializer()
    passengers = serializers.IntegerField(min_value=1, max_value=8, default=1)
    urgent = serializers.BooleanField(default=False)
    mobility = serializers.ChoiceField(choices=Mobility.choices, required=False)
    price = serializers.DecimalField(
        max_digits=9, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    return_trip = TripTimesSerializer(required=False, help_text="Creates the trip back too.")
    record_past = serializers.BooleanField(
        default=False,
        help_text="Record a trip that already happened: a pick-up more than 24 h ago is "
        "refused without it.",
    )


class BookingUpdateInputSerializer(serializers.Serializer):
    pickup = PlaceSerializer(required=False)
    dropoff = PlaceSerializer(required=False)
    scheduled_at = CompanyDateTimeField(required=False)
    pickup_earliest = CompanyDateTimeField(required=False)
    pickup_latest = CompanyDateTimeField(required=False)
    appointment_at = CompanyDateTimeField(required=False, allow_null=True)
    passengers = serializers.IntegerField(min_value=1, max_value=8, required=False)
    urgent = serializers.BooleanField(required=False)
    mobility = serializers.ChoiceField(choices=Mobility.choices, required=False)
    price = serializers.DecimalField(
        max_digits=9, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": "Nothing to change."})
        _check_times(attrs)
        return attrs


class ReasonCodeChoiceField(serializers.CharField):
    """A reason code a person chooses, by id or by code (`patient_cancelled`): active, of the
    caller's company (`company_id` in the context), not a system code, fitting `kind`."""

    def __init__(self, *, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> ReasonCode:
        value = super().run_validation(data)
        try:
            return reason_code_choose(
                company_id=self.context["company_id"], value=value, kind=self.kind
            )
        except ReasonCodeInvalid as exc:
            raise serializers.ValidationError(exc.detail) from None


class BookingCancelInputSerializer(serializers.Serializer):
    code = ReasonCodeChoiceField(
        kind=ReasonCode.Kind.CANCELLATION,
        help_text="A cancellation reason code of your company: its id or its code "
        "(`GET /api/reason-codes?kind=cancellation`).",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=300, default="", help_text="Optional text."
    )


class BookingAssignInputSerializer(serializers.Serializer):
    driver = CompanyObjectField(Driver)


class BookingListQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/bookings`."""

    date = DayField(required=False, help_text="A local day (company time zone), YYYY-MM-DD.")
    status = serializers.MultipleChoiceField(
        choices=Booking.Status.choices, required=False, help_text="Repeat for several."
    )
    driver = serializers.UUIDField(required=False)
    client = serializers.UUIDField(required=False)
    ordering = serializers.ChoiceField(
        choices=["scheduled_at", "-scheduled_at"], required=False, default="scheduled_at"
    )
    cancel_code = serializers.CharField(
        required=False,
        max_length=100,
        help_text="A reason code's id or code (system codes such as `series_ended` too).",
    )
    cancelled_late = serializers.BooleanField(required=False, allow_null=True, default=None)


# --- reason codes -------------------------------------------------------------------------------
class ReasonCodeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["id", "code", "label", "kind", "active", "system", "ordering"]


class ReasonCodeCreateInputSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]
    kind = serializers.ChoiceField(choices=ReasonCode.Kind.choices, default=ReasonCode.Kind.BOTH)
    active = serializers.BooleanField(default=True)
    ordering = serializers.IntegerField(min_value=0, max_value=32767, default=100)


class ReasonCodeUpdateInputSerializer(serializers.Serializer):
    code = serializers.CharField(required=False, max_length=100, help_text="Fixed: refused.")
    label = serializers.CharField(max_length=100, required=False)  # type: ignore[assignment]
    kind = serializers.ChoiceField(choices=ReasonCode.Kind.choices, required=False)
    active = serializers.BooleanField(required=False)
    ordering = serializers.IntegerField(min_value=0, max_value=32767, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": "Nothing to change."})
        return attrs


class ReasonCodeListQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/reason-codes`."""

    kind = serializers.ChoiceField(
        choices=ReasonCode.Kind.choices,
        required=False,
        help_text="Codes that fit a cancellation, a no-show (codes of kind `both` included), "
        "or both.",
    )
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
