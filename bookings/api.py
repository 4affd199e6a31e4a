from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.accounts.selectors import company_get
from atmr.api import CompanyApiView, RowListApiView
from atmr.permissions import ADMIN, EVERYONE
from atmr.schema import conflict
from bookings import reasons, selectors, services
from bookings.models import Booking, Client, ReasonCode
from bookings.serializers import (
    BookingAssignInputSerializer,
    BookingCancelInputSerializer,
    BookingCreateInputSerializer,
    BookingListQuerySerializer,
    BookingOutputSerializer,
    BookingUpdateInputSerializer,
    ClientInputSerializer,
    ClientOutputSerializer,
    ReasonCodeCreateInputSerializer,
    ReasonCodeListQuerySerializer,
    ReasonCodeOutputSerializer,
    ReasonCodeUpdateInputSerializer,
    booking_list_data,
    client_list_data,
)
from dispatch.manual import booking_assign_checked


class _BookingApi(CompanyApiView):
    queryset = Booking.objects.none()
    serializer_class = BookingOutputSerializer
    read_roles = EVERYONE

    def get_queryset(self):
        return selectors.booking_list(company_id=self.company_id, driver_id=self.driver_id)

    def get_booking(self, booking_id: UUID) -> Booking:
        return self.get_scoped_object(self.get_queryset(), booking_id)


class BookingListCreateApi(RowListApiView, _BookingApi):
    """A day's bookings (drivers: their own), and new bookings (office staff)."""

    filter_backends: list[type] = []

    def filter_queryset(self, queryset: QuerySet[Booking]) -> QuerySet[Booking]:
        query = BookingListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        tz = company_get(company_id=self.company_id).tz if "date" in params else None
        return selectors.booking_filter(
            queryset,
            day=params.get("date"),
            tz=tz,
            statuses=params.get("status", ()),
            driver_id=params.get("driver"),
            client_id=params.get("client"),
            ordering=params["ordering"],
            cancel_code=params.get("cancel_code"),
            cancelled_late=params.get("cancelled_late"),
        )

    @extend_schema(parameters=[BookingListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List bookings, filtered by local day, status, driver, client, reason code or late
        cancellation (drivers: their own)."""
        return super().get(request, *args, **kwargs)

    def rows(self, queryset: QuerySet[Booking]) -> list[dict[str, Any]]:
        return booking_list_data(queryset)

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
        changes = self.validated(ClientInputSerializer, partial=True)
        return self.respond(services.client_update(client=client, **changes))


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
