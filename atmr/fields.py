"""Serializer fields shared by the apps."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atmr.accounts.selectors import company_get
from atmr.localtime import day_range_error, moment_range_error


class CompanyObjectField(serializers.PrimaryKeyRelatedField):
    """A reference by UUID to an object of the requesting user's company.

    Another company's object reads exactly like a missing one. The view passes
    `company_id` in the serializer context.
    """

    default_error_messages = {
        "does_not_exist": "Unknown {model}: {pk_value}.",
        "incorrect_type": "Expected an id (UUID), got {data_type}.",
    }

    def __init__(self, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("pk_field", serializers.UUIDField())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        return self.model._default_manager.filter(company_id=self.context["company_id"])

    def to_internal_value(self, data: Any) -> Any:
        # DRF's stubs type `pk_field` as a str; it is a field (the UUIDField set in __init__).
        pk_field = cast("serializers.Field[Any, Any, Any, Any]", self.pk_field)
        data = pk_field.to_internal_value(data)
        try:
            return self.get_queryset().get(pk=data)
        except ObjectDoesNotExist:  # the model's DoesNotExist
            self.fail("does_not_exist", model=self.model._meta.verbose_name, pk_value=data)


def company_zone(context: dict[str, Any]) -> tzinfo:
    """The time zone of the company in the serializer context (`company_id`), else UTC."""
    company_id = context.get("company_id")
    if company_id is None:
        return UTC
    return company_get(company_id=company_id).tz


class CompanyDateTimeField(serializers.DateTimeField):
    """A moment in the API: ISO 8601, within the accepted range (`atmr.localtime`).

    With an offset or "Z" it is that moment. Without one ("2026-12-02T07:30:00") it is the
    wall-clock time in the caller's company zone (`company_id` in the serializer context), as
    a dispatcher reads it on the trip sheet; a time the clock skips or repeats on a
    daylight-saving change is refused (give an offset then). The value is an aware datetime in
    UTC, and it is written back in UTC with "Z" whatever zone is active.
    """

    default_error_messages = {
        "imaginary": "{time} does not exist in {zone} (the clock changes); give an offset.",
        "ambiguous": "{time} happens twice in {zone} (the clock changes); give an offset.",
        "out_of_range": "{reason}",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "ISO 8601. Without an offset, wall-clock time in the company's time zone.",
        )
        super().__init__(**kwargs)

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            value = self._localize(value)
        # Check the range before converting: converting year 1 or 9999 can overflow.
        reason = moment_range_error(value)
        if reason:
            self.fail("out_of_range", reason=reason)
        return value.astimezone(UTC)

    def _localize(self, naive: datetime) -> datetime:
        zone = company_zone(self.context)
        local = naive.replace(tzinfo=zone)
        try:
            exists = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
        except OverflowError:  # year 1 or 9999: the range check says so
            return local
        if not exists:
            self.fail("imaginary", time=naive.isoformat(), zone=zone)
        if local.replace(fold=1 - naive.fold).utcoffset() != local.utcoffset():
            self.fail("ambiguous", time=naive.isoformat(), zone=zone)
        return local

    # DRF's own DateTimeField gives None for no value too; its stubs say str.
    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        if not value:
            return None
        text = value.astimezone(UTC).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


class DayField(serializers.DateField):
    """A calendar day (YYYY-MM-DD) within the accepted range (`atmr.localtime.sane_days`)."""

    default_error_messages = {"out_of_range": "{reason}"}

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        # Today in UTC: a day either side makes no difference to a range of years.
        reason = day_range_error(day, today=timezone.now().date())
        if reason:
            self.fail("out_of_range", reason=reason)
        return day


_LOCAL_TIME = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"


@extend_schema_field(
    {
        "type": "string",
        # RFC 3339's name for a time of day without an offset; OpenAPI's `time` requires one.
        "format": "partial-time",
        "pattern": _LOCAL_TIME,
        "example": "07:30:00",
        "description": "A time of day in the company's zone, HH:MM or HH:MM:SS, no offset.",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time of day (a shift's start), read and written in the company's zone.

    An offset would be wrong half the year (DST), so input with one is refused rather than
    silently dropped; output is always HH:MM:SS.
    """

    default_error_messages = {"invalid": "Expected a local time HH:MM or HH:MM:SS (no offset)."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%H:%M:%S")
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not re.match(_LOCAL_TIME, value):
            self.fail("invalid")
        return super().to_internal_value(value)
