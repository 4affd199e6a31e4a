from __future__ import annotations

from typing import Any

from django.db.models import Count, Model, Q, QuerySet, Window
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from atmr.fields import CompanyObjectField
from atmr.row_shapes import RowShape
from atmr.validators import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS
from places.models import MAX_ALIASES, MAX_EXTRA_SERVICE_MINUTES, Place


class PlaceField(CompanyObjectField):
    """A place by id: one of the caller's company or a global one; another company's place
    reads as unknown, exactly like a missing one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Place, **kwargs)

    def get_queryset(self) -> QuerySet[Model]:
        company_id = self.context["company_id"]
        return Place.objects.filter(Q(company_id=company_id) | Q(company__isnull=True))


class AliasListField(serializers.ListField):
    """DRF keys a list's item errors by index (an int), which the JSON renderer refuses (a
    500): key them by the index as text, `{"aliases": {"2": ["..."]}}`."""

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict):
                detail = {str(key): value for key, value in detail.items()}
            raise serializers.ValidationError(detail) from None


# "PlaceOutput" is the schema name of a booking's stop (bookings.serializers).
@extend_schema_serializer(component_name="SavedPlace")
class PlaceOutputSerializer(serializers.ModelSerializer):
    aliases = serializers.SerializerMethodField()
    is_global = serializers.SerializerMethodField()

    class Meta:
        model = Place
        fields = [
            "id",
            "name",
            "kind",
            "address",
            "lat",
            "lon",
            "aliases",
            "entrance_notes",
            "extra_service_minutes",
            "is_global",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aliases(self, place: Place) -> list[str]:
        return list(place.aliases or [])

    @extend_schema_field(
        serializers.BooleanField(help_text="A place every company sees (read only here).")
    )
    def get_is_global(self, place: Place) -> bool:
        return place.company_id is None


# The list is written straight from `.values_list()` rows (atmr/row_shapes.py); the serializer
# above stays the one declaration of its shape (places/tests/test_list_shape.py).
PLACE_LIST = RowShape(
    PlaceOutputSerializer,
    methods={"aliases": "aliases", "is_global": "is_global"},  # `is_global`: place_list's
)


def place_list_data(queryset: QuerySet[Place]) -> list[dict[str, Any]]:
    """`PlaceOutputSerializer` output for a scoped (`place_list`), filtered, sliced queryset."""
    return PLACE_LIST.data(queryset)


def place_list_page(queryset: QuerySet[Place], size: int) -> tuple[list[dict[str, Any]], int]:
    """The first `size` rows of a scoped, filtered queryset and the count of all its rows, in
    one query (a window count beside each row)."""
    counted = queryset.annotate(total_rows=Window(Count("pk")))
    raw = list(counted[:size].values_list(*PLACE_LIST.columns, "total_rows"))
    if not raw:
        # An empty page says nothing of the total (always 0 here: page one of nothing).
        return [], 0
    return PLACE_LIST.rows_data(row[:-1] for row in raw), raw[0][-1]


class PlaceInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Place.Kind.choices, required=False)
    address = serializers.CharField(max_length=300)
    lat = serializers.FloatField(
        required=False,
        allow_null=True,
        validators=LATITUDE_VALIDATORS,
        help_text="With lon; without both, the address is geocoded (GEOCODER_URL) or refused.",
    )
    lon = serializers.FloatField(required=False, allow_null=True, validators=LONGITUDE_VALIDATORS)
    aliases = AliasListField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        max_length=MAX_ALIASES,
        required=False,
        help_text="Other names people search for; blanks and repeats are dropped.",
    )
    entrance_notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    extra_service_minutes = serializers.IntegerField(
        min_value=0, max_value=MAX_EXTRA_SERVICE_MINUTES, required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": "Nothing to change."})
        if ("lat" in attrs) != ("lon" in attrs) or (attrs.get("lat") is None) != (
            attrs.get("lon") is None
        ):
            missing = "lat" if attrs.get("lat") is None else "lon"
            raise serializers.ValidationError({missing: "Give lat and lon together."})
        return attrs


class PlaceListQuerySerializer(serializers.Serializer):
    """Query parameters of `GET /api/places`."""

    search = serializers.CharField(
        required=False,
        max_length=200,
        allow_blank=True,
        help_text='Words of a name or alias, any case, accents optional ("hug", "CHUV").',
    )
    kind = serializers.ChoiceField(choices=Place.Kind.choices, required=False)
