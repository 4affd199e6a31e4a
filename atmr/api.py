"""Base classes for the thin API views: role check, company scoping, one response shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, overload

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page
from django.db.models import Model, QuerySet
from django.http import Http404, HttpResponse, HttpResponseBase
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


class RowListApiView(CompanyListApiView):
    """A hot list answered from `.values_list()` rows, without a serializer per row.

    `rows(queryset)` fetches and shapes a page; `serializer_class` still documents the shape in
    the OpenAPI schema and answers single objects. A contract test keeps both identical.
    """

    # Serve unchanged pages from the cache (see atmr/list_cache.py) for up to this long.
    page_ttl_s = list_cache.PAGE_TTL_S
    # The list shows ETAs or lateness: an ETA refresh retires its pages (list_cache.etas_changed).
    shows_etas = False
    # The page's cache key and the versions it is built under, when `get` may cache it.
    _page_key: tuple[str, list_cache.Version] | None = None

    def rows(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Authentication and the role check have run: the key holds the company and who asks.
        viewer = self.driver_id or "office"
        key = list_cache.page_key(self.company_id, viewer, request.build_absolute_uri())
        version, body = list_cache.page_get(self.company_id, key, etas=self.shows_etas)
        # `Cache-Control: no-cache` (a screen's explicit refresh) skips the stored page.
        if body is not None and "no-cache" not in request.headers.get("Cache-Control", ""):
            return HttpResponse(body, content_type="application/json")
        self._page_key = (key, version)
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
            list_cache.page_set(key, version, response.content, self.page_ttl_s)
        return response

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        first = self._first_page(request, queryset)
        if first is not None:
            return first
        # DRF pages any sliceable with count(); its stubs ask for a QuerySet.
        page: list[dict[str, Any]] | None = self.paginate_queryset(
            _LazyRows(queryset, self.rows)  # type: ignore[arg-type]
        )
        if page is None:
            return Response(self.rows(queryset))
        return self.get_paginated_response(page)

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
            return Response({"count": len(rows), "next": None, "previous": None, "results": rows})
        return self._page_one(request, rows[:size], size, _LazyRows(queryset, self.rows))

    def _page_one_size(self, request: Request) -> int | None:
        """The page size when the request asks page one of a numbered list, else None."""
        paginator = self.paginator
        if not isinstance(paginator, PageNumberPagination):
            return None
        if request.query_params.get(paginator.page_query_param, "1") != "1":
            return None
        return paginator.get_page_size(request) or None

    def _page_one(self, request: Request, rows: Sequence[Any], size: int, every: Any) -> Response:
        """Page one from its fetched `rows`; `every` (anything with `count()`) gives the total
        and the next link. Only after `_page_one_size` answered a size."""
        paginator = self.paginator
        assert isinstance(paginator, PageNumberPagination)
        pages = paginator.django_paginator_class(every, size)
        paginator.request, paginator.page = request, Page(rows, 1, pages)
        return paginator.get_paginated_response(rows)
