"""Reads of places: a company sees the global places and its own, never another company's."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)

from places.models import Place, search_normalise

# Filters keep whatever a queryset yields (models, or `.values_list()` rows).
_Row = TypeVar("_Row")


def place_list(*, company_id: UUID | str) -> QuerySet[Place]:
    """The places `company_id` may use: global ones (no company) and its own, each with
    `is_global` (the list's column, see places.serializers.PLACE_LIST)."""
    return Place.objects.filter(Q(company_id=company_id) | Q(company__isnull=True)).annotate(
        is_global=ExpressionWrapper(Q(company__isnull=True), output_field=BooleanField())
    )


def place_get(*, company_id: UUID | str, place_id: UUID | str) -> Place | None:
    return place_list(company_id=company_id).filter(pk=place_id).first()


def place_search(
    qs: QuerySet[Place, _Row], *, search: str = "", kind: str = ""
) -> QuerySet[Place, _Row]:
    """Places whose name or an alias holds every word of `search`, case- and accent-blind.

    Each word is a LIKE '%word%' on the normalised `search_text` (a trigram index serves it on
    PostgreSQL). Names and aliases that start with the text come first, then by name.
    """
    if kind:
        qs = qs.filter(kind=kind)
    text = search_normalise(search)
    if not text:
        return qs.order_by("name", "id")
    for word in text.split():
        qs = qs.filter(search_text__contains=word)
    starts = Q(search_text__startswith=text) | Q(search_text__contains=f"| {text}")
    rank = Case(When(starts, then=Value(0)), default=Value(1), output_field=IntegerField())
    return qs.annotate(rank=rank).order_by("rank", "name", "id")
