from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar, overload
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.accounts.selectors import company_get
from atmr.api import CompanyApiView, CompanyListApiView, RowListApiView
from places import selectors, services
from places.errors import PlaceReadOnly
from places.models import Place
from places.serializers import (
    PlaceInputSerializer,
    PlaceListQuerySerializer,
    PlaceOutputSerializer,
    place_list_data,
    place_list_page,
)

_Row = TypeVar("_Row")


class _FirstPageRows:
    """Page one's rows and the count of all matches, as Django's paginator reads a list.

    The paginator here only counts (for `count` and the next link); page one is built from
    `rows` directly, so no other page is ever asked of it.
    """

    ordered = True

    def __init__(self, rows: list[dict[str, Any]], total: int) -> None:
        self.rows, self.total = rows, total

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.rows[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)


class _PlaceApi(CompanyApiView):
    queryset = Place.objects.none()
    serializer_class = PlaceOutputSerializer

    def get_queryset(self) -> QuerySet[Place]:
        return selectors.place_list(company_id=self.company_id)


class PlaceListCreateApi(RowListApiView, _PlaceApi):
    """The global places and the company's own, searchable by name or alias.

    Rows as in the hot lists (one query when the answer fits a page), but no page cache: a
    global place's change would have to retire every company's pages, and what a search box
    types is rarely asked twice.
    """

    filter_backends: list[type] = []

    def filter_queryset(self, queryset: QuerySet[Place, _Row]) -> QuerySet[Place, _Row]:
        query = PlaceListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return selectors.place_search(
            queryset, search=params.get("search", ""), kind=params.get("kind", "")
        )

    @extend_schema(parameters=[PlaceListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List places (global and the company's), by `search` words and `kind`."""
        return CompanyListApiView.get(self, request, *args, **kwargs)

    def rows(self, queryset: QuerySet[Place]) -> list[dict[str, Any]]:
        return place_list_data(queryset)

    def _first_page(self, request: Request, queryset: QuerySet[Place]) -> Response | None:
        """Page one in one query whatever the matches: the rows carry the total
        (`COUNT(*) OVER ()`). A broad search ("clinique") needs no second query for it."""
        size = self._page_one_size(request)
        if size is None:
            return None
        rows, total = place_list_page(queryset, size)
        return self._page_one(request, rows, size, _FirstPageRows(rows, total))

    @extend_schema(request=PlaceInputSerializer, responses={201: PlaceOutputSerializer})
    def post(self, request: Request) -> Response:
        """Add a place of the company; an address without lat/lon is geocoded or refused."""
        data = self.validated(PlaceInputSerializer)
        company = company_get(company_id=self.company_id)
        return self.respond(services.place_create(company=company, **data), status=201)


class PlaceDetailApi(_PlaceApi):
    def get(self, request: Request, place_id: UUID) -> Response:
        """One place (global or the company's)."""
        return self.respond(self.get_scoped_object(self.get_queryset(), place_id))

    @extend_schema(request=PlaceInputSerializer, responses=PlaceOutputSerializer)
    def patch(self, request: Request, place_id: UUID) -> Response:
        """Change some of a company place's fields; a global place is a 403 (superusers only)."""
        place = self.get_scoped_object(self.get_queryset(), place_id)
        if place.company_id is None:
            raise PlaceReadOnly("Global places are edited by the deployment's administrators.")
        changes = self.validated(PlaceInputSerializer, partial=True)
        return self.respond(services.place_update(place=place, changes=changes))
