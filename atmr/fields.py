"""Serializer fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
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
