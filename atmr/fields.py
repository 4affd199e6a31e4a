"""Serializer fields shared by the apps."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


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
        data = self.pk_field.to_internal_value(data)
        try:
            return self.get_queryset().get(pk=data)
        except self.model.DoesNotExist:
            self.fail("does_not_exist", model=self.model._meta.verbose_name, pk_value=data)


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
