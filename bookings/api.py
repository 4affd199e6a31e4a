from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from atmr.accounts.selectors import company_cache_key, company_get
from atmr.api import AnyAccept, CompanyApiView, CompanyListApiView, RowListApiView
from atmr.permissions import ADMIN, EVERYONE, OFFICE
from atmr.schema import conflict
from bookings import reasons, selectors, services, will_call
from bookings.models import Booking, Client, ReasonCode, StandingOrder
from bookings.orders import selectors as order_selectors
from bookings.orders import services as order_services
from bookings.selectors import BookingListFilter
from bookings.serializers import (
    BOOKING_ETA_SPAN,
    BOOKING_JSON_ROWS,
    BookingAssignInputSerializer,
    BookingCancelInputSerializer,
    BookingCreateInputSerializer,
    BookingListQuerySerializer,
    BookingOutputSerializer,
    BookingReadyInputSerializer,
    BookingStatusInputSerializer,
    BookingUpdateInputSerializer,
    ClientInputSerializer,
    ClientOutputSerializer,
    OccurrenceOutputSerializer,
    OccurrenceQuerySerializer,
    OverviewBandSerializer,
    OverviewQuerySerializer,
    ReadyLinkQrQuerySerializer,
    ReasonCodeCreateInputSerializer,
    ReasonCodeListQuerySerializer,
    ReasonCodeOutputSerializer,
    ReasonCodeUpdateInputSerializer,
    StandingOrderEndInputSerializer,
    StandingOrderInputSerializer,
    StandingOrderListQuerySerializer,
    StandingOrderOutputSerializer,
    StandingOrderPauseInputSerializer,
    StandingOrderSkipInputSerializer,
    StandingOrderUnpauseInputSerializer,
    StandingOrderUnskipInputSerializer,
    StandingOrderUpdateInputSerializer,
    StandingOrderUpdateOutputSerializer,
    booking_list_data,
    booking_list_json_links,
    client_list_data,
)
from dispatch.manual import booking_assign_checked

_Row = TypeVar("_Row")


class _BookingApi(CompanyApiView):
    queryset = Booking.objects.none()
    serializer_class = BookingOutputSerializer
    read_roles: tuple[str, ...] = EVERYONE

    def get_queryset(self):
        return selectors.booking_list(company_id=self.company_id, driver_id=self.driver_id)

    def get_booking(self, booking_id: UUID) -> Booking:
        booking = self.get_scoped_object(self.get_queryset(), booking_id)
        assert isinstance(booking, Booking)  # get_scoped_object is typed as returning a Model
        return booking


# Validated list queries by query string and day: building the query serializer (it deep-copies
# its fields) cost more than running the list's SQL. Validating depends on nothing else (a
# day's range is checked against today); bounded, per process.
_VALIDATED: dict[tuple[str, date], dict[str, Any]] = {}
_VALIDATED_MAX = 1024


def _list_query_validated(query: QueryDict) -> dict[str, Any]:
    key = (query.urlencode(), timezone.now().date())
    found = _VALIDATED.get(key)
    if found is None:
        serializer = BookingListQuerySerializer(data=query)
        serializer.is_valid(raise_exception=True)  # a bad query is a 400 every time
        found = {
            k: frozenset(v) if isinstance(v, set) else v
            for k, v in serializer.validated_data.items()
        }
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = found
    return found


def _list_filter(params: dict[str, Any], tz: Callable[[], ZoneInfo]) -> BookingListFilter:
    """The validated query as the selector's filter (`tz`: the company's, read only for a day)."""
    code: str | None = params.get("cancel_code")
    code_id = None
    if code is not None:
        try:
            code_id = UUID(code)
        except ValueError:  # a code, not an id
            code = code.strip().lower()
        else:
            code = None
    return BookingListFilter(
        between=selectors.day_bounds(params["date"], tz()) if "date" in params else None,
        statuses=tuple(sorted(params.get("status", ()))),
        driver_id=params.get("driver"),
        client_id=params.get("client"),
        cancel_code_id=code_id,
        cancel_code=code,
        cancelled_late=params.get("cancelled_late"),
        late=params.get("late"),
        will_call=params.get("will_call"),
        ordering=params["ordering"],
    )


class BookingListCreateApi(RowListApiView, _BookingApi):
    """A day's bookings (drivers: their own), and new bookings (office staff)."""

    filter_backends: list[type] = []
    # The ETA columns of a cached page are overlaid from what the ETA refresh wrote since
    # (atmr/list_cache.py); only `late=` decides membership by them.
    eta_columns = BOOKING_ETA_SPAN
    eta_filters = ("late",)
    json_rows = BOOKING_JSON_ROWS
    _filter: BookingListFilter | None = None

    def list_filter(self) -> BookingListFilter:
        """The validated query (a 400 naming each bad parameter)."""
        if self._filter is None:
            params = _list_query_validated(self.request.query_params)
            self._filter = _list_filter(params, self._company_tz)
        return self._filter

    def _company_tz(self) -> ZoneInfo:
        company = self.prefetched.get(company_cache_key(self.company_id))
        return (company or company_get(company_id=self.company_id)).tz

    def prefetch_keys(self) -> list[str]:
        # Read with the cached page (one round trip): a miss needs the company's zone.
        return [company_cache_key(self.company_id)] if "date" in self.request.GET else []

    def filter_queryset(self, queryset: QuerySet[Booking, _Row]) -> QuerySet[Booking, _Row]:
        return selectors.booking_filter(queryset, self.list_filter())

    def list_query(self) -> tuple[Hashable, dict[str, Any]]:
        by = self.list_filter()
        params: dict[str, Any] = {"company_id": UUID(self.company_id), **by.params()}
        if self.driver_id is not None:
            params["me"] = UUID(self.driver_id)
        return by.shape(), params

    def json_text(self, text: str) -> str:
        return booking_list_json_links(text, self.request)

    @extend_schema(parameters=[BookingListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List bookings, filtered by local day, status, driver, client, will-call state,
        reason code, late cancellation or lateness (drivers: their own)."""
        return super().get(request, *args, **kwargs)

    def rows(self, queryset: QuerySet[Booking]) -> list[dict[str, Any]]:
        return booking_list_data(queryset, self.request)

    @extend_schema(request=BookingCreateInputSerializer, responses={201: BookingOutputSerializer})
    def post(self, request: Request) -> Response:
        """Book a trip (office staff). Times without an offset are read in the company's zone."""
        data = self.validated(BookingCreateInputSerializer)
        company = company_get(company_id=self.company_id)
        booking = services.booking_create(company=company, **data)
        return self.respond(self.get_booking(booking.id), status=201)


class BookingDetailApi(_BookingApi):
    def get(self, request: Request, booking_id: UUID) -> Response:
        """One booking (drivers: only one of their own)."""
        return self.respond(self.get_booking(booking_id))

    @extend_schema(
        request=BookingUpdateInputSerializer,
        responses={
            200: BookingOutputSerializer,
            409: conflict(
                "the booking's status no longer allows changes, or it changed meanwhile."
            ),
        },
    )
    def patch(self, request: Request, booking_id: UUID) -> Response:
        """Change a booking's details (office staff) while it is pending or assigned."""
        booking = self.get_booking(booking_id)
        changes = self.validated(BookingUpdateInputSerializer)
        services.booking_update(booking=booking, changes=changes)
        return self.respond(self.get_booking(booking_id))


class BookingCancelApi(_BookingApi):
    @extend_schema(
        request=BookingCancelInputSerializer,
        responses={
            200: BookingOutputSerializer,
            409: conflict("the booking is already final (completed, cancelled, no-show)."),
        },
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Cancel a booking with a reason code and optional text; its driver is told.

        Cancelled later than the company's notice (`cancel_notice_hours`) before the pick-up,
        it is flagged `cancelled_late` (billable)."""
        booking = self.get_booking(booking_id)
        data = self.validated(BookingCancelInputSerializer)
        return self.respond(services.booking_cancel(booking=booking, **data))


class BookingStatusApi(_BookingApi):
    write_roles = EVERYONE

    @extend_schema(
        request=BookingStatusInputSerializer,
        responses={
            200: BookingOutputSerializer,
            409: conflict(
                "the status cannot follow the current one (`invalid_transition`; for drivers "
                "one step at a time), the no-show wait after arriving is not over "
                "(`no_show_wait`), or the booking changed meanwhile."
            ),
        },
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Move a trip along: en route, arrived (starts the no-show wait), on board, completed,
        no-show (drivers: their own trips, one step at a time)."""
        booking = self.get_booking(booking_id)
        data = self.validated(BookingStatusInputSerializer)
        services.booking_set_status(
            booking=booking,
            status=data["status"],
            driver=booking.driver if self.driver_id else None,
            code=data.get("code"),
            reason=data["reason"],
        )
        return self.respond(self.get_booking(booking_id))


class BookingAssignApi(_BookingApi):
    @extend_schema(
        request=BookingAssignInputSerializer,
        responses={
            200: BookingOutputSerializer,
            409: conflict(
                "the driver has another trip at that time (named in `detail`), or "
                "the booking cannot be (re)assigned in its status."
            ),
        },
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Give a booking to a driver (and the driver's default vehicle)."""
        booking = self.get_booking(booking_id)
        data = self.validated(BookingAssignInputSerializer)
        booking_assign_checked(booking=booking, driver=data["driver"])
        return self.respond(self.get_booking(booking_id))


class BookingUnassignApi(_BookingApi):
    @extend_schema(
        request=None,
        responses={
            200: BookingOutputSerializer,
            409: conflict("the booking is not assigned, or it changed meanwhile."),
        },
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Take a booking back from its driver: it is pending again."""
        services.booking_unassign(booking=self.get_booking(booking_id))
        return self.respond(self.get_booking(booking_id))


class BookingReadyApi(_BookingApi):
    @extend_schema(
        request=BookingReadyInputSerializer,
        responses={
            200: BookingOutputSerializer,
            409: conflict(
                "the booking is not a will-call return (`not_will_call`), is under way or "
                "ended, or is on a later day (`will_call_not_yet`)."
            ),
        },
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Release a will-call return: the patient is ready in `in_minutes` (default 15).
        Releasing it again changes nothing."""
        booking = self.get_booking(booking_id)
        data = self.validated(BookingReadyInputSerializer)
        will_call.booking_release(booking=booking, in_minutes=data["in_minutes"])
        return self.respond(self.get_booking(booking_id))


class BookingReadyLinkRevokeApi(_BookingApi):
    @extend_schema(
        request=None,
        responses={200: BookingOutputSerializer, 409: conflict("not a will-call return.")},
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Revoke the clinic's ready link of a will-call return; `ready_link` is a new one."""
        will_call.booking_ready_link_revoke(booking=self.get_booking(booking_id))
        return self.respond(self.get_booking(booking_id))


class BookingReadyLinkQrApi(_BookingApi):
    read_roles = OFFICE
    content_negotiation_class = AnyAccept

    @extend_schema(
        parameters=[ReadyLinkQrQuerySerializer],
        responses={
            (200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.BINARY, description="QR"),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="QR"),
            409: conflict("not a will-call return."),
        },
    )
    def get(self, request: Request, booking_id: UUID) -> HttpResponse:
        """The ready link as a QR code (SVG or PNG) to print for the ward (office staff)."""
        query = ReadyLinkQrQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data["image"]
        booking = self.get_booking(booking_id)
        if not booking.will_call:
            raise will_call.NotWillCall("This booking is not a will-call return: no ready link.")
        link = will_call.ready_link_url(
            booking_id=booking.id, version=booking.ready_link_version, request=request
        )
        return HttpResponse(will_call.qr_image(link, kind), content_type=will_call.QR_TYPES[kind])


class ClientListCreateApi(RowListApiView):
    """Clients, searchable by words of the name or phone (`?search=`)."""

    queryset = Client.objects.none()
    serializer_class = ClientOutputSerializer
    filter_backends = [SearchFilter]
    search_fields = ["first_name", "last_name", "phone"]

    def get_queryset(self):
        return selectors.client_list(company_id=self.company_id)

    def rows(self, queryset: QuerySet[Client]) -> list[dict[str, Any]]:
        return client_list_data(queryset)

    @extend_schema(request=ClientInputSerializer, responses={201: ClientOutputSerializer})
    def post(self, request: Request) -> Response:
        """Add a client (patient): name, phone, home address, mobility."""
        data = self.validated(ClientInputSerializer)
        company = company_get(company_id=self.company_id)
        return self.respond(services.client_create(company=company, **data), status=201)


class ClientDetailApi(CompanyApiView):
    queryset = Client.objects.none()
    serializer_class = ClientOutputSerializer

    def get_queryset(self):
        return selectors.client_list(company_id=self.company_id)

    def get(self, request: Request, client_id: UUID) -> Response:
        """One client."""
        return self.respond(self.get_scoped_object(self.get_queryset(), client_id))

    @extend_schema(request=ClientInputSerializer, responses=ClientOutputSerializer)
    def patch(self, request: Request, client_id: UUID) -> Response:
        """Change some of a client's fields."""
        client = self.get_scoped_object(self.get_queryset(), client_id)
        assert isinstance(client, Client)  # get_scoped_object is typed as returning a Model
        changes = self.validated(ClientInputSerializer, partial=True)
        return self.respond(services.client_update(client=client, **changes))


# --- standing orders --------------------------------------------------------------------------
class _StandingOrderApi(CompanyApiView):
    queryset = StandingOrder.objects.none()
    # Any serializer: the occurrences preview documents its own rows.
    serializer_class: type[BaseSerializer] = StandingOrderOutputSerializer

    def get_queryset(self):
        return order_selectors.standing_order_list(company_id=self.company_id)

    def get_order(self, order_id: UUID) -> StandingOrder:
        return self.get_scoped_object(self.get_queryset(), order_id)


class StandingOrderListCreateApi(CompanyListApiView, _StandingOrderApi):
    """Standing orders (recurring trips), and new ones."""

    filter_backends: list[type] = []

    def filter_queryset(
        self, queryset: QuerySet[StandingOrder, _Row]
    ) -> QuerySet[StandingOrder, _Row]:
        query = StandingOrderListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        return order_selectors.standing_order_filter(
            queryset, client_id=params.get("client"), active=params.get("active")
        )

    @extend_schema(parameters=[StandingOrderListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List the company's standing orders, by client or active (not ended)."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=StandingOrderInputSerializer, responses={201: StandingOrderOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        """Create a standing order; its trips up to the company's horizon are booked at once."""
        data = self.validated(StandingOrderInputSerializer)
        company = company_get(company_id=self.company_id)
        order = order_services.standing_order_create(company=company, **data)
        return self.respond(self.get_order(order.id), status=201)


class StandingOrderDetailApi(_StandingOrderApi):
    def get(self, request: Request, order_id: UUID) -> Response:
        """One standing order, with its skipped days and pauses."""
        return self.respond(self.get_order(order_id))

    @extend_schema(
        request=StandingOrderUpdateInputSerializer,
        responses={
            200: StandingOrderUpdateOutputSerializer,
            409: conflict("the order has ended."),
        },
    )
    def patch(self, request: Request, order_id: UUID) -> Response:
        """Change a standing order: its future trips not started follow; trips whose times
        change are taken from their driver and listed in `unassigned`."""
        order = self.get_order(order_id)
        changes = self.validated(StandingOrderUpdateInputSerializer, partial=True)
        result = order_services.standing_order_update(order=order, changes=changes)
        fresh = self.get_order(order_id)
        fresh.unassigned = result.unassigned  # type: ignore[attr-defined]
        return Response(StandingOrderUpdateOutputSerializer(fresh).data)


class StandingOrderSkipApi(_StandingOrderApi):
    @extend_schema(
        request=StandingOrderSkipInputSerializer,
        responses={
            200: StandingOrderOutputSerializer,
            409: conflict("the order has ended, or that day's trip has started."),
        },
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        """Skip one day of a standing order; its booked trips that day are cancelled."""
        order = self.get_order(order_id)
        data = self.validated(StandingOrderSkipInputSerializer)
        order_services.standing_order_skip(order=order, day=data["date"], reason=data["reason"])
        return self.respond(self.get_order(order_id))


class StandingOrderPauseApi(_StandingOrderApi):
    @extend_schema(
        request=StandingOrderPauseInputSerializer,
        responses={200: StandingOrderOutputSerializer, 409: conflict("the order has ended.")},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        """Pause a standing order from one day to another (a hospital stay)."""
        order = self.get_order(order_id)
        data = self.validated(StandingOrderPauseInputSerializer)
        order_services.standing_order_pause(
            order=order, first=data["from"], last=data["to"], reason=data["reason"]
        )
        return self.respond(self.get_order(order_id))


class StandingOrderUnskipApi(_StandingOrderApi):
    @extend_schema(
        request=StandingOrderUnskipInputSerializer,
        responses={200: StandingOrderOutputSerializer, 409: conflict("the order has ended.")},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        """Take back a skipped day (today or later): its trips are booked again if the day
        is within the company's horizon."""
        order = self.get_order(order_id)
        data = self.validated(StandingOrderUnskipInputSerializer)
        order_services.standing_order_unskip(order=order, day=data["date"])
        return self.respond(self.get_order(order_id))


class StandingOrderUnpauseApi(_StandingOrderApi):
    @extend_schema(
        request=StandingOrderUnpauseInputSerializer,
        responses={200: StandingOrderOutputSerializer, 409: conflict("the order has ended.")},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        """Take back a pause (named by its `from` and `to`). Its days from today on get their
        trips again within the horizon; a pause that began before today ends yesterday."""
        order = self.get_order(order_id)
        data = self.validated(StandingOrderUnpauseInputSerializer)
        order_services.standing_order_unpause(order=order, first=data["from"], last=data["to"])
        return self.respond(self.get_order(order_id))


class StandingOrderEndApi(_StandingOrderApi):
    @extend_schema(
        request=StandingOrderEndInputSerializer,
        responses={200: StandingOrderOutputSerializer, 409: conflict("the order has ended.")},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        """End a standing order after a day; later trips are cancelled (`series_ended`)."""
        order = self.get_order(order_id)
        data = self.validated(StandingOrderEndInputSerializer)
        company = company_get(company_id=self.company_id)
        day = data.get("date") or timezone.now().astimezone(company.tz).date()
        order_services.standing_order_end(order=order, day=day, reason=data["reason"])
        return self.respond(self.get_order(order_id))


class StandingOrderOccurrencesApi(_StandingOrderApi):
    serializer_class = OccurrenceOutputSerializer
    pagination_class = None  # a bounded range of days (at most a year)

    @extend_schema(
        parameters=[OccurrenceQuerySerializer],
        responses=OccurrenceOutputSerializer(many=True),
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        """Preview a standing order's days: planned trips, and skipped days with why."""
        order = self.get_order(order_id)
        query = OccurrenceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        company = company_get(company_id=self.company_id)
        first = query.validated_data.get("from") or timezone.now().astimezone(company.tz).date()
        last = query.validated_data.get("to") or first + timedelta(days=27)
        if last < first:
            raise ValidationError({"to": "Must not be before from."})
        if (last - first).days >= order_selectors.PREVIEW_MAX_DAYS:
            raise ValidationError({"to": "At most a year after from."})
        rows = order_selectors.standing_order_occurrences(
            order=order, company=company, first=first, last=last
        )
        return Response(OccurrenceOutputSerializer(rows, many=True).data)


class StandingOrderOverviewApi(CompanyApiView):
    queryset = StandingOrder.objects.none()
    serializer_class = OverviewBandSerializer
    pagination_class = None  # one week

    @extend_schema(
        parameters=[OverviewQuerySerializer], responses=OverviewBandSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        """Trips the standing orders give in one week, per weekday, pick-up hour and mobility."""
        query = OverviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        company = company_get(company_id=self.company_id)
        week = query.validated_data.get("week") or timezone.now().astimezone(company.tz).date()
        bands = order_selectors.standing_order_overview(company=company, week_of=week)
        return Response(OverviewBandSerializer(bands, many=True).data)


class ReasonCodeListCreateApi(CompanyApiView):
    """The company's reason codes for cancellations and no-shows (everyone reads; admins add)."""

    queryset = ReasonCode.objects.none()
    serializer_class = ReasonCodeOutputSerializer
    read_roles = EVERYONE  # drivers' phones offer the no-show codes
    write_roles = ADMIN
    pagination_class = None  # a short list, read whole

    @extend_schema(
        parameters=[ReasonCodeListQuerySerializer],
        responses=ReasonCodeOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """List reason codes in their order (a short list, not paged), system codes
        (`system: true`) included: people may choose only active codes that are not system
        codes."""
        query = ReasonCodeListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        codes = reasons.reason_code_list(
            company_id=self.company_id, kind=params.get("kind"), active=params.get("active")
        )
        return Response(ReasonCodeOutputSerializer(codes, many=True).data)

    @extend_schema(
        request=ReasonCodeCreateInputSerializer, responses={201: ReasonCodeOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        """Add a reason code (company admins). Its `code` is fixed once created."""
        data = self.validated(ReasonCodeCreateInputSerializer)
        reason = reasons.reason_code_create(company_id=self.company_id, **data)
        return self.respond(reason, status=201)


class ReasonCodeDetailApi(CompanyApiView):
    queryset = ReasonCode.objects.none()
    serializer_class = ReasonCodeOutputSerializer
    read_roles = EVERYONE
    write_roles = ADMIN

    def get_queryset(self):
        return reasons.reason_code_list(company_id=self.company_id)

    def get(self, request: Request, reason_code_id: UUID) -> Response:
        """One reason code."""
        return self.respond(self.get_scoped_object(self.get_queryset(), reason_code_id))

    @extend_schema(
        request=ReasonCodeUpdateInputSerializer, responses={200: ReasonCodeOutputSerializer}
    )
    def patch(self, request: Request, reason_code_id: UUID) -> Response:
        """Rename, reorder, change the kind or (de)activate a code (company admins). A system
        code keeps its kind and stays active; no code changes its `code`."""
        reason = self.get_scoped_object(self.get_queryset(), reason_code_id)
        changes = self.validated(ReasonCodeUpdateInputSerializer)
        return self.respond(reasons.reason_code_update(reason=reason, changes=changes))
