"""Base classes for the thin API views: role check, company scoping, one response shape."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, overload

import orjson
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page
from django.db.models import Model, QuerySet
from django.http import Http404, HttpResponse, HttpResponseBase
from django.utils import timezone
from rest_framework import generics, mixins
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from atmr import list_cache
from atmr.accounts.authentication import ClaimsUser, request_claims_user
from atmr.json_sql import JsonRows
from atmr.permissions import OFFICE, CompanyRolePermission

NO_DRIVER = "00000000-0000-0000-0000-000000000000"

_M = TypeVar("_M", bound=Model)


class AnyAccept(BaseContentNegotiation):
    """A file or image view (a PDF, a QR code, a CSV) answers its one format whatever `Accept`
    says; errors stay JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class CompanyApiView(generics.GenericAPIView):
    """A view over one company's data; `read_roles` / `write_roles` say who may call it."""

    permission_classes = [CompanyRolePermission]
    read_roles: tuple[str, ...] = OFFICE
    write_roles: tuple[str, ...] = OFFICE

    @property
    def caller(self) -> ClaimsUser:
        """Who calls, as the access token says (CompanyRolePermission lets in no one else)."""
        user = request_claims_user(self.request)
        if user is None:
            raise NotAuthenticated
        return user

    @property
    def company_id(self) -> str:
        return self.caller.company_id

    @property
    def driver_id(self) -> str | None:
        """The requesting driver's id, or None for office staff (who see every driver's work)."""
        user = self.caller
        if user.role != "driver":
            return None
        # A driver log-in without a driver record sees nothing rather than everything.
        return user.driver_id or NO_DRIVER

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "company_id": self.company_id}

    def validated(self, serializer_class: type[BaseSerializer], **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def get_scoped_object(self, queryset: QuerySet[_M], pk: Any) -> _M:
        """Another company's object is a 404, exactly like a missing one."""
        try:
            return queryset.get(pk=pk)
        except (ObjectDoesNotExist, ValueError):  # the model's DoesNotExist, or a malformed id
            raise Http404 from None

    def respond(self, instance: Any, status: int = 200) -> Response:
        return Response(self.get_serializer(instance).data, status=status)


class CompanyListApiView(mixins.ListModelMixin, CompanyApiView):
    """A paginated, filterable list; GET lists."""

    # Any HttpResponseBase: a subclass may answer from a cache (RowListApiView).
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.list(request, *args, **kwargs)


class _LazyRows:
    """What Django's paginator needs from a queryset (count, slicing), answered with rows.

    The count runs on the plain filtered queryset (no joins); only the page's slice is fetched,
    with `.values_list()`, and shaped into plain dicts by `to_rows`.
    """

    def __init__(
        self, queryset: QuerySet[Any], to_rows: Callable[[QuerySet[Any]], list[dict[str, Any]]]
    ) -> None:
        self.queryset, self.to_rows = queryset, to_rows
        self.model, self.ordered = queryset.model, queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):  # a page: the paginator's only use
            return self.to_rows(self.queryset[index])
        return self.to_rows(self.queryset[index : index + 1])[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_rows(self.queryset))


_Rows = list[dict[str, Any]]


class _JsonPage(list[None]):
    """A page of rows PostgreSQL wrote as JSON (`text`): to the paginator, `found` rows."""

    def __init__(self, found: int, text: str, ids: list[str]) -> None:
        super().__init__([None] * found)
        self.text, self.ids = text, ids


class _LazyJson:
    """What Django's paginator needs (count, slicing), answered by a `JsonRows`."""

    def __init__(self, rows: JsonRows, shape: Hashable, params: dict[str, Any]) -> None:
        self.rows, self.shape, self.params = rows, shape, params

    def count(self) -> int:
        return self.rows.count(self.shape, self.params)

    def __getitem__(self, index: slice) -> _JsonPage:
        start, stop = index.start or 0, index.stop
        found, text, ids = self.rows.page(
            self.shape, self.params, offset=start, limit=stop - start, keep=stop - start
        )
        return _JsonPage(found, text, ids)


class RowListApiView(CompanyListApiView):
    """A hot list answered from `.values_list()` rows, without a serializer per row.

    `rows(queryset)` fetches and shapes a page; `serializer_class` still documents the shape in
    the OpenAPI schema and answers single objects. A contract test keeps both identical.

    With `json_rows` (atmr/json_sql.py) and PostgreSQL, PostgreSQL writes the page's rows
    from SQL compiled once per filter shape: the view then gives `list_query()` (the shape
    and the parameters) instead of filtering a queryset.
    """

    # Serve unchanged pages from the cache (see atmr/list_cache.py) for up to this long.
    page_ttl_s = list_cache.PAGE_TTL_S
    # The list shows ETAs between these two marks of each row: a cached page overlays what
    # ETA refreshes wrote since (list_cache.etas_written) rather than being retired...
    eta_columns: list_cache.EtaSpan | None = None
    # ...unless the query has one of these parameters (rows chosen by their ETAs).
    eta_filters: tuple[str, ...] = ()
    json_rows: JsonRows | None = None
    # The page's cache key and the versions it is built under, when `get` may cache it.
    _page_key: tuple[str, list_cache.Version] | None = None
    _page_ids: Sequence[str] | None = None
    prefetched: dict[str, Any] = {}

    def rows(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def list_query(self) -> tuple[Hashable, dict[str, Any]]:
        """The filter shape and parameters `json_rows` compiles (400 on a bad query)."""
        raise NotImplementedError

    def json_text(self, text: str) -> str:
        """The rows' JSON as PostgreSQL wrote it, finished (a view may replace marks)."""
        return text

    def prefetch_keys(self) -> list[str]:
        """Cache keys to read with the page (`self.prefetched`): what a miss will need."""
        return []

    def _eta_mode(self) -> list_cache.EtaMode:
        if self.eta_columns is None:
            return "none"
        if any(name in self.request.GET for name in self.eta_filters):
            return "retire"
        return "overlay"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Authentication and the role check have run: the key holds the company and who asks.
        viewer = self.driver_id or "office"
        key = list_cache.page_key(self.company_id, viewer, request.build_absolute_uri())
        # `Cache-Control: no-cache` (a screen's explicit refresh) skips the stored page: it is
        # not even read, only the versions the new page is stored under.
        fresh = "no-cache" in request.headers.get("Cache-Control", "")
        found = list_cache.page_get(
            self.company_id,
            key,
            etas=self._eta_mode(),
            span=self.eta_columns,
            also=self.prefetch_keys(),
            fresh=fresh,
        )
        if found.body is not None:
            return HttpResponse(found.body, content_type="application/json")
        self._page_key, self.prefetched = (key, found.version), found.also
        return super().get(request, *args, **kwargs)

    # DRF finalizes any HttpResponseBase (here a cached page, a plain HttpResponse, gets its
    # Allow and Vary headers); its stubs say Response only, hence the two ignores.
    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        cached_as = self._page_key
        if cached_as is not None and isinstance(response, Response) and response.status_code == 200:
            key, version = cached_as
            response.render()
            ids = self._page_ids if self.eta_columns is not None else None
            if self.eta_columns is None or ids is not None:
                list_cache.page_set(key, version, response.content, self.page_ttl_s, ids)
        return response

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if self.json_rows is not None and self.json_rows.usable() and _utc():
            return self._json_list(request)
        queryset = self.filter_queryset(self.get_queryset())
        first = self._first_page(request, queryset)
        if first is not None:
            return first
        # DRF pages any sliceable with count(); its stubs ask for a QuerySet.
        page: list[dict[str, Any]] | None = self.paginate_queryset(
            _LazyRows(queryset, self.rows)  # type: ignore[arg-type]
        )
        if page is None:
            return Response(self._noted(self.rows(queryset)))
        return self.get_paginated_response(self._noted(page))

    def _noted(self, rows: _Rows) -> _Rows:
        """`rows`, their ids noted for a page whose ETA keys are overlaid."""
        if self.eta_columns is not None:
            self._page_ids = [str(row["id"]) for row in rows]
        return rows

    def _json_list(self, request: Request) -> Response:
        """The page from `json_rows`: one query, two when page one is not the only page."""
        rows = self.json_rows
        assert rows is not None
        shape, params = self.list_query()
        size = self._page_one_size(request)
        if size is not None:
            found, text, ids = rows.page(shape, params, offset=0, limit=size + 1, keep=size)
            data = self._json_data(text, ids)
            if found <= size:
                body = {"count": found, "next": None, "previous": None, "results": data}
                return Response(body)
            page = _JsonPage(size, text, ids)
            return self._page_one(request, page, size, _LazyJson(rows, shape, params), data)
        if self.paginate_queryset(_LazyJson(rows, shape, params)) is None:  # type: ignore[arg-type]
            found, text, ids = rows.page(shape, params, offset=0, limit=_ALL, keep=_ALL)
            return Response(self._json_data(text, ids))
        paginator = self.paginator
        assert isinstance(paginator, PageNumberPagination)
        assert paginator.page is not None
        fetched = paginator.page.object_list
        assert isinstance(fetched, _JsonPage)
        return self.get_paginated_response(self._json_data(fetched.text, fetched.ids))

    def _json_data(self, text: str, ids: Sequence[str]) -> orjson.Fragment:
        self._page_ids = ids
        return orjson.Fragment(f"[{self.json_text(text)}]")

    def _first_page(self, request: Request, queryset: QuerySet[Any]) -> Response | None:
        """Page one in one query when it is the only page, two otherwise (never three).

        Fetching one row more than a page holds tells whether another page exists; when none
        does, the count is the rows' length. A day's list usually fits one page.
        """
        size = self._page_one_size(request)
        if size is None:
            return None
        rows = self.rows(queryset[: size + 1])
        if len(rows) <= size:
            self._noted(rows)
            return Response({"count": len(rows), "next": None, "previous": None, "results": rows})
        page = self._noted(rows[:size])
        return self._page_one(request, page, size, _LazyRows(queryset, self.rows))

    def _page_one_size(self, request: Request) -> int | None:
        """The page size when the request asks page one of a numbered list, else None."""
        paginator = self.paginator
        if not isinstance(paginator, PageNumberPagination):
            return None
        if request.query_params.get(paginator.page_query_param, "1") != "1":
            return None
        return paginator.get_page_size(request) or None

    def _page_one(
        self, request: Request, rows: Sequence[Any], size: int, every: Any, data: Any = None
    ) -> Response:
        """Page one from its fetched `rows` (answered as `data` when given); `every` (anything
        with `count()`) gives the total and the next link. Only after `_page_one_size`
        answered a size."""
        paginator = self.paginator
        assert isinstance(paginator, PageNumberPagination)
        pages = paginator.django_paginator_class(every, size)
        paginator.request, paginator.page = request, Page(rows, 1, pages)
        return paginator.get_paginated_response(rows if data is None else data)


_ALL = 2**62  # no LIMIT (an unpaginated list)


def _utc() -> bool:
    """atmr/json_sql.py writes datetimes in UTC, the API's zone; another keeps Python's path."""
    return timezone.get_current_timezone_name() == "UTC"
