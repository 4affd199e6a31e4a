from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atmr.fields import CompanyDateTimeField, CompanyObjectField, DayField, LocalTimeField
from atmr.json_sql import JsonRows
from atmr.row_shapes import Col, RowShape, iso_datetime
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from bookings.models import Booking, Client, Mobility, ReasonCode
from bookings.reasons import ReasonCodeInvalid, reason_code_choose
from bookings.selectors import booking_list_build
from bookings.services import Place, place_stop
from bookings.will_call import DEFAULT_READY_IN_MINUTES, MAX_READY_IN_MINUTES, ready_link_url
from drivers.models import Driver
from places.serializers import PlaceField

# --- output ---------------------------------------------------------------------------------
# The ETA columns, one run of keys in the list's rows: an ETA refresh writes them for the
# list's cached pages to overlay (atmr/list_cache.py, dispatch/eta.py).
BOOKING_ETA_FIELDS = (
    "eta_pickup",
    "eta_dropoff",
    "eta_computed_at",
    "eta_source",
    "lateness",
    "ride_too_long",
)


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


def _stop(obj: Any, prefix: str) -> dict[str, Any]:
    """A booking's or standing order's `pickup`/`dropoff` as PlaceOutputSerializer shows it."""
    return {
        "address": getattr(obj, f"{prefix}_address"),
        "lat": getattr(obj, f"{prefix}_lat"),
        "lon": getattr(obj, f"{prefix}_lon"),
    }


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
    ready_link = serializers.SerializerMethodField(
        help_text="A will-call return's link for the clinic's \"patient ready\" page (no log-in; "
        "expires at the end of its service day); null otherwise, and for drivers."
    )
    occurrence_date = serializers.SerializerMethodField()

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
            "will_call",
            "released_at",
            "ready_link",
            "price",
            "notes",
            "cancel_reason",
            "created_at",
            "updated_at",
            "standing_order",
            "occurrence_date",
            "cancel_code",
            "cancelled_late",
            "cancelled_at",
            "pickup_place",
            "dropoff_place",
            "geocoded",
            *BOOKING_ETA_FIELDS,
            "arrived_at",
            "no_show_after",
        ]

    @extend_schema_field(PlaceOutputSerializer)
    def get_pickup(self, booking: Booking) -> dict[str, Any]:
        return _stop(booking, "pickup")

    @extend_schema_field(PlaceOutputSerializer)
    def get_dropoff(self, booking: Booking) -> dict[str, Any]:
        return _stop(booking, "dropoff")

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_return_trip(self, booking: Booking) -> str | None:
        trip = getattr(booking, "return_trip", None)
        return str(trip.id) if trip else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_occurrence_date(self, booking: Booking) -> str | None:
        """The standing order's day this trip was booked for (a method field: the fast list
        writes it as an ISO date through `Col(kind="time")`, which calls `.isoformat()`)."""
        day = booking.occurrence_date
        return day.isoformat() if day else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_ready_link(self, booking: Booking) -> str | None:
        request = self.context.get("request")
        if not booking.will_call or _is_driver(request):
            return None
        return ready_link_url(
            booking_id=booking.id, version=booking.ready_link_version, request=request
        )


def _is_driver(request: Any) -> bool:
    return getattr(getattr(request, "user", None), "role", None) == "driver"


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
        # Replaced by the link in `booking_list_data` (a link is no column).
        "ready_link": "ready_link_version",
        "occurrence_date": Col("occurrence_date", "time", nullable=True),  # .isoformat()
    },
)
CLIENT_LIST = RowShape(ClientOutputSerializer)


def _ready_link_sql(ref: Callable[[str], str]) -> str:
    """A will-call return's link as a mark `booking_list_json_links` replaces (signing stays in
    Python): `!id.version!` where JSON has a value, so no string can hold it."""
    return (
        f"CASE WHEN {ref('will_call')} THEN '!' || {ref('id')}::text || '.' ||"
        f" {ref('ready_link_version')}::text || '!' ELSE 'null' END"
    )


# PostgreSQL writes the same list's JSON itself (atmr/json_sql.py), and keeps each row's in
# `bookings_booking_json` as the row changes (atmr/json_store.py).
BOOKING_JSON_ROWS = JsonRows(
    BOOKING_LIST,
    booking_list_build,
    fields={"ready_link": _ready_link_sql},
    store="bookings_booking_json",
)
_LINK_MARK = re.compile(r'"ready_link":!([0-9a-f-]{36})\.(\d+)!')


def booking_list_json_links(text: str, request: Any = None) -> str:
    """`BOOKING_JSON_ROWS`' text with its ready-link marks replaced as `booking_list_data`
    writes the links (null for drivers)."""
    if '"ready_link":!' not in text:
        return text
    driver = _is_driver(request)

    def link(match: re.Match[str]) -> str:
        if driver:
            return '"ready_link":null'
        url = ready_link_url(booking_id=match[1], version=int(match[2]), request=request)
        return '"ready_link":' + orjson.dumps(url).decode()

    return _LINK_MARK.sub(link, text)


def _eta_span() -> tuple[bytes, bytes]:
    fields = list(BookingOutputSerializer.Meta.fields)
    first = fields.index(BOOKING_ETA_FIELDS[0])
    after = first + len(BOOKING_ETA_FIELDS)
    if tuple(fields[first:after]) != BOOKING_ETA_FIELDS or after >= len(fields):
        raise TypeError("BookingOutputSerializer: the ETA fields must follow each other")
    return f'"{fields[first]}":'.encode(), f',"{fields[after]}":'.encode()


BOOKING_ETA_SPAN = _eta_span()


def booking_eta_fragment(
    *,
    eta_pickup: datetime | None,
    eta_dropoff: datetime | None,
    eta_computed_at: datetime | None,
    eta_source: str,
    lateness: str,
    ride_too_long: bool,
) -> bytes:
    """A row's ETA keys and values exactly as the list writes them (`BOOKING_ETA_SPAN`; the
    API writes UTC whatever zone is active, atmr/timezones.py)."""
    tz = UTC
    values = {
        "eta_pickup": iso_datetime(eta_pickup, tz),
        "eta_dropoff": iso_datetime(eta_dropoff, tz),
        "eta_computed_at": iso_datetime(eta_computed_at, tz),
        "eta_source": eta_source,
        "lateness": lateness,
        "ride_too_long": ride_too_long,
    }
    return orjson.dumps(values)[1:-1]


def booking_list_data(queryset: QuerySet[Booking], request: Any = None) -> list[dict[str, Any]]:
    """`BookingOutputSerializer` output for a scoped, filtered, sliced queryset: one query
    joining client, driver, user, vehicle and return trip, no model instances. `request`
    makes will-call returns' ready links absolute (and hides them from drivers), as the
    serializer's context does."""
    rows = BOOKING_LIST.data(queryset)
    driver = _is_driver(request)
    for row in rows:
        version = row["ready_link"]
        row["ready_link"] = (
            ready_link_url(booking_id=row["id"], version=version, request=request)
            if row["will_call"] and not driver
            else None
        )
    return rows


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


class ReturnTripSerializer(TripTimesSerializer):
    """The trip back: its times, or `{"will_call": true}` (no time until the clinic releases
    it)."""

    scheduled_at = CompanyDateTimeField(required=False)
    will_call = serializers.BooleanField(
        default=False, help_text="Return when the clinic says the patient is ready: no times."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("will_call"):
            timed = [str(name) for name in self.fields if name != "will_call" and name in attrs]
            if timed:
                raise serializers.ValidationError(
                    {timed[0]: "A will-call return has no time: leave the times out."}
                )
            return attrs
        attrs.pop("will_call", None)
        if "scheduled_at" not in attrs:
            raise serializers.ValidationError(
                {"scheduled_at": "Give the return's time, or set will_call."}
            )
        return super().validate(attrs)


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
    return_trip = ReturnTripSerializer(required=False, help_text="Creates the trip back too.")
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


class BookingStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[
            Booking.Status.EN_ROUTE,
            Booking.Status.ARRIVED,
            Booking.Status.ON_BOARD,
            Booking.Status.COMPLETED,
            Booking.Status.NO_SHOW,
        ],
        help_text="The trip's next status. Drivers: one step at a time (en_route, arrived, "
        "on_board, completed; no_show from arrived once the company's wait is over).",
    )
    code = ReasonCodeChoiceField(
        kind=ReasonCode.Kind.NO_SHOW,
        required=False,
        help_text="With no_show only: a no-show reason code of your company, its id or its code "
        "(default `no_show`).",
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
    late = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: trips under way whose ETAs make them late or at risk; false: the others.",
    )
    will_call = serializers.ChoiceField(
        choices=["waiting", "released", "all"],
        required=False,
        help_text="Only will-call returns: `waiting` for the clinic (not released, not under "
        "way), `released`, or `all`.",
    )


class BookingReadyInputSerializer(serializers.Serializer):
    in_minutes = serializers.IntegerField(
        min_value=0,
        max_value=MAX_READY_IN_MINUTES,
        default=DEFAULT_READY_IN_MINUTES,
        help_text="When the patient will be ready, in minutes from now.",
    )


class ReadyLinkQrQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/bookings/{id}/ready-link/qr`."""

    image = serializers.ChoiceField(choices=["svg", "png"], default="svg", help_text="Default svg.")


# --- standing orders ------------------------------------------------------------------------
def _renamed(fields: dict[str, Any], python_name: str, api_name: str) -> dict[str, Any]:
    """`fields` with `python_name` published as `api_name` (a Python keyword: `return`,
    `from`), in the same place."""
    return {(api_name if name == python_name else name): f for name, f in fields.items()}


class WeekdaysField(serializers.ListField):
    """ISO weekdays. Errors are one list of messages: DRF's per-item errors are keyed by the
    item's index, an int key the JSON renderer refuses."""

    child = serializers.IntegerField(min_value=1, max_value=7)

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            # DRF keys the items' errors by their index, an int; the stub says str keys.
            detail: dict[int, Any] = (
                cast("dict[int, Any]", exc.detail)
                if isinstance(exc.detail, dict)
                else {0: exc.detail}
            )
            raise serializers.ValidationError(
                [f"Item {i + 1}: {' '.join(map(str, msgs))}" for i, msgs in detail.items()]
            ) from None


class ReturnLegSerializer(serializers.Serializer):
    time = LocalTimeField(required=False, help_text="The return's local pick-up time.")
    will_call = serializers.BooleanField(
        required=False, help_text="True: the clinic says when the patient is ready."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("will_call") and "time" in attrs:
            raise serializers.ValidationError({"time": "A will-call return has no time."})
        if not attrs.get("will_call") and "time" not in attrs:
            raise serializers.ValidationError(
                {"time": "Give the return's time, or will_call: true."}
            )
        return attrs


class StandingOrderInputSerializer(serializers.Serializer):
    """A standing order as `POST /api/standing-orders` takes it (PATCH: any of the fields but
    the client)."""

    client = CompanyObjectField(Client)
    pickup = PlaceSerializer(
        required=False, allow_null=True, help_text="Without it: the client's home."
    )
    dropoff = PlaceSerializer(required=False)
    pickup_place = PlaceField(required=False, help_text="A place's id instead of `pickup`.")
    dropoff_place = PlaceField(required=False, help_text="A place's id instead of `dropoff`.")
    weekdays = WeekdaysField(
        allow_empty=False,
        max_length=7,
        help_text="ISO weekdays: 1 (Monday) to 7 (Sunday).",
    )
    every_weeks = serializers.ChoiceField(choices=[1, 2], default=1)
    pickup_time = LocalTimeField(required=False, allow_null=True)
    appointment_time = LocalTimeField(required=False, allow_null=True)
    return_ = ReturnLegSerializer(
        required=False,
        allow_null=True,
        help_text='null (no return), {"time": "HH:MM"} or {"will_call": true}.',
    )
    mobility = serializers.ChoiceField(
        choices=Mobility.choices, required=False, help_text="Without it: the client's."
    )
    passengers = serializers.IntegerField(min_value=1, max_value=8, default=1)
    urgent = serializers.BooleanField(default=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    start_date = DayField()
    end_date = DayField(required=False, allow_null=True, help_text="Last day (inclusive).")
    occurrences = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        allow_null=True,
        help_text="Number of trips instead of an end date (skipped days do not count).",
    )
    holidays = serializers.ChoiceField(choices=["skip", "keep"], default="skip")

    def get_fields(self) -> dict[str, Any]:
        return _renamed(super().get_fields(), "return_", "return")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _check_stops(attrs, dropoff_required=not self.partial)
        # A place given by id becomes the order's stop (name and address, its coordinates).
        for stop in ("pickup", "dropoff"):
            place = attrs.pop(f"{stop}_place", None)
            if place is not None:
                attrs[stop] = place_stop(place)
        if "weekdays" in attrs:
            attrs["weekdays"] = sorted(set(attrs["weekdays"]))
        if "return" in attrs:
            leg = attrs.pop("return") or {}
            attrs["return_leg"] = (
                "will_call" if leg.get("will_call") else "fixed" if "time" in leg else "none"
            )
            attrs["return_time"] = leg.get("time")
        if not self.partial:
            self._check_complete(attrs)
        end, start = attrs.get("end_date"), attrs.get("start_date")
        if end and start and end < start:
            raise serializers.ValidationError({"end_date": "Must not be before start_date."})
        return attrs

    def _check_complete(self, attrs: dict[str, Any]) -> None:
        if attrs.get("pickup_time") is None and attrs.get("appointment_time") is None:
            raise serializers.ValidationError(
                {"pickup_time": "Give a pick-up time or an appointment time."}
            )
        if attrs.get("end_date") is None and attrs.get("occurrences") is None:
            raise serializers.ValidationError(
                {"end_date": "Give an end date or a number of occurrences."}
            )
        if attrs.get("end_date") is not None and attrs.get("occurrences") is not None:
            raise serializers.ValidationError(
                {"occurrences": "Give an end date or a number of occurrences, not both."}
            )


class StandingOrderUpdateInputSerializer(StandingOrderInputSerializer):
    client = None  # type: ignore[assignment]  # an order keeps its client

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": "Nothing to change."})
        return super().validate(attrs)


class StandingOrderPauseOutputSerializer(serializers.Serializer):
    from_ = serializers.DateField(source="first_day")
    to = serializers.DateField(source="last_day")
    reason = serializers.CharField()

    def get_fields(self) -> dict[str, Any]:
        return _renamed(super().get_fields(), "from_", "from")


class ReturnLegOutputSerializer(serializers.Serializer):
    time = LocalTimeField(required=False)
    will_call = serializers.BooleanField(required=False)


class StandingOrderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client = ClientSummarySerializer()
    pickup = serializers.SerializerMethodField()
    dropoff = serializers.SerializerMethodField()
    weekdays = serializers.ListField(child=serializers.IntegerField())
    every_weeks = serializers.IntegerField()
    pickup_time = LocalTimeField(allow_null=True)
    appointment_time = LocalTimeField(allow_null=True)
    return_ = serializers.SerializerMethodField(method_name="get_return")
    mobility = serializers.CharField()
    passengers = serializers.IntegerField()
    urgent = serializers.BooleanField()
    notes = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    occurrences = serializers.IntegerField(allow_null=True)
    holidays = serializers.CharField()
    skipped_dates = serializers.SerializerMethodField()
    pauses = serializers.SerializerMethodField()
    ended_at = CompanyDateTimeField(allow_null=True)
    end_reason = serializers.CharField()
    created_at = CompanyDateTimeField()
    updated_at = CompanyDateTimeField()

    def get_fields(self) -> dict[str, Any]:
        return _renamed(super().get_fields(), "return_", "return")

    @extend_schema_field(PlaceOutputSerializer)
    def get_pickup(self, order: Any) -> dict[str, Any]:
        return _stop(order, "pickup")

    @extend_schema_field(PlaceOutputSerializer)
    def get_dropoff(self, order: Any) -> dict[str, Any]:
        return _stop(order, "dropoff")

    @extend_schema_field(ReturnLegOutputSerializer(allow_null=True))
    def get_return(self, order: Any) -> dict[str, Any] | None:
        if order.return_leg == "fixed":
            return {"time": order.return_time.strftime("%H:%M:%S")}
        if order.return_leg == "will_call":
            return {"will_call": True}
        return None

    @extend_schema_field(serializers.ListField(child=serializers.DateField()))
    def get_skipped_dates(self, order: Any) -> list[str]:
        return [e.first_day.isoformat() for e in order.exceptions.all() if e.kind == "skip"]

    @extend_schema_field(StandingOrderPauseOutputSerializer(many=True))
    def get_pauses(self, order: Any) -> list[dict[str, Any]]:
        pauses = [e for e in order.exceptions.all() if e.kind == "pause"]
        data = StandingOrderPauseOutputSerializer(pauses, many=True).data
        # many=True builds a ListSerializer, whose data is a list; the stub types the one-item one.
        return cast("list[dict[str, Any]]", data)


class UnassignedTripSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    occurrence_date = serializers.DateField()
    scheduled_at = CompanyDateTimeField()
    is_return = serializers.SerializerMethodField()

    @extend_schema_field(serializers.BooleanField())
    def get_is_return(self, booking: Booking) -> bool:
        return booking.return_of_id is not None


class StandingOrderUpdateOutputSerializer(StandingOrderOutputSerializer):
    unassigned = UnassignedTripSerializer(
        many=True,
        help_text="Trips of this edit taken from their driver (their times or places changed).",
    )


class StandingOrderSkipInputSerializer(serializers.Serializer):
    date = DayField(help_text="A day of the order, local.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class StandingOrderPauseInputSerializer(serializers.Serializer):
    from_ = DayField(help_text="First day paused.")
    to = DayField(help_text="Last day paused (inclusive).")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")

    def get_fields(self) -> dict[str, Any]:
        return _renamed(super().get_fields(), "from_", "from")


class StandingOrderUnskipInputSerializer(serializers.Serializer):
    date = DayField(help_text="A skipped day of the order, today or later (local).")


class StandingOrderUnpauseInputSerializer(serializers.Serializer):
    from_ = DayField(help_text="First day of the pause, as listed in `pauses`.")
    to = DayField(help_text="Last day of the pause, as listed in `pauses`.")

    def get_fields(self) -> dict[str, Any]:
        return _renamed(super().get_fields(), "from_", "from")


class StandingOrderEndInputSerializer(serializers.Serializer):
    date = DayField(
        required=False, help_text="The last day with trips (default: today); later ones cancel."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class StandingOrderListQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/standing-orders`."""

    client = serializers.UUIDField(required=False)
    active = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="true: not ended; false: ended."
    )


class OccurrenceQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/standing-orders/{id}/occurrences`."""

    from_ = DayField(required=False, help_text="First day (default: today).")
    to = DayField(required=False, help_text="Last day (default: four weeks on; at most a year).")

    def get_fields(self) -> dict[str, Any]:
        return _renamed(super().get_fields(), "from_", "from")


class OccurrenceOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    skipped = serializers.CharField(
        allow_null=True, help_text='Why no trip: "holiday", "skipped" or "paused"; null: a trip.'
    )
    holiday = serializers.CharField(allow_null=True, help_text="The public holiday that day.")
    pickup_at = CompanyDateTimeField()
    appointment_at = CompanyDateTimeField(allow_null=True)
    return_at = CompanyDateTimeField(allow_null=True, help_text="A fixed return's pick-up.")
    return_will_call = serializers.BooleanField()
    booking_id = serializers.UUIDField(allow_null=True, help_text="The day's outbound booking.")
    booking_status = serializers.CharField(allow_null=True)


class OverviewQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/standing-orders/overview`."""

    week = DayField(required=False, help_text="Any day of the week (default: this week).")


class OverviewBandSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="ISO weekday, 1 (Monday) to 7.")
    date = serializers.DateField()
    hour = serializers.IntegerField(
        allow_null=True, help_text="Local pick-up hour; null: will-call returns."
    )
    mobility = serializers.CharField()
    trips = serializers.IntegerField()


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
