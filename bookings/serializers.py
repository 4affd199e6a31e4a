from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atmr.fields import CompanyDateTimeField, CompanyObjectField, DayField
from atmr.row_shapes import Col, RowShape
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from bookings.models import Booking, Client, Mobility
from bookings.services import Place
from drivers.models import Driver
from places.serializers import PlaceField


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
    # Without both, the address is geocoded on save (GEOCODER_URL), else a 400
    # `coordinates_required` (bookings.services.booking_stops_resolve).
    lat = serializers.FloatField(validators=LATITUDE_VALIDATORS, required=False)
    lon = serializers.FloatField(validators=LONGITUDE_VALIDATORS, required=False)

    def to_internal_value(self, data: Any) -> Place:
        values = super().to_internal_value(data)
        if ("lat" in values) != ("lon" in values):
            missing = "lon" if "lat" in values else "lat"
            raise serializers.ValidationError({missing: "Give lat and lon together."})
        return Place(**values)


class PlaceOutputSerializer(serializers.Serializer):
    address = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()


class BookingOutputSerializer(serializers.ModelSerializer):
    client = ClientSummarySerializer()
    driver = DriverSummarySerializer(allow_null=True)
    vehicle = VehicleRefSerializer(allow_null=True)
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
            "pickup_place",
            "dropoff_place",
            "geocoded",
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


def _check_stops(attrs: dict[str, Any], *, dropoff_required: bool) -> None:
    for stop in ("pickup", "dropoff"):
        if stop in attrs and f"{stop}_place" in attrs:
            raise serializers.ValidationError(
                {f"{stop}_place": f"Give either {stop} or {stop}_place, not both."}
            )
    if dropoff_required and "dropoff" not in attrs and "dropoff_place" not in attrs:
        raise serializers.ValidationError({"dropoff": "Give dropoff or dropoff_place."})


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
    pickup = PlaceSerializer(
        required=False, help_text="Neither this nor pickup_place: the client's home."
    )
    dropoff = PlaceSerializer(required=False, help_text="Or dropoff_place.")
    pickup_place = PlaceField(required=False, help_text="A place's id instead of `pickup`.")
    dropoff_place = PlaceField(required=False, help_text="A place's id instead of `dropoff`.")
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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _check_stops(attrs, dropoff_required=True)
        return super().validate(attrs)


class BookingUpdateInputSerializer(serializers.Serializer):
    pickup = PlaceSerializer(required=False)
    dropoff = PlaceSerializer(required=False)
    pickup_place = PlaceField(required=False, help_text="A place's id instead of `pickup`.")
    dropoff_place = PlaceField(required=False, help_text="A place's id instead of `dropoff`.")
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
        _check_stops(attrs, dropoff_required=False)
        _check_times(attrs)
        return attrs


class BookingCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


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
