from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.accounts.selectors import company_get
from atmr.api import CompanyApiView, CompanyListApiView
from atmr.schema import conflict
from bookings import selectors as booking_selectors
from bookings.models import Booking
from dispatch import insertion, selectors, services
from dispatch.models import DispatchRun
from dispatch.serializers import (
    InsertInputSerializer,
    InsertionSerializer,
    InsertOutputSerializer,
    RunDetailSerializer,
    RunListQuerySerializer,
    RunStartInputSerializer,
    RunSummarySerializer,
)


class RunStartApi(CompanyApiView):
    """Queue a dispatch run for a day: 202 with the run; 400 `service_date_past` for a day
    before today in the company's zone, `from_now` (field `from`) for today without
    `"from": "now"` or another day with it; 409 `run_active` naming the active run."""

    serializer_class = RunDetailSerializer

    @extend_schema(
        request=RunStartInputSerializer,
        responses={
            202: RunDetailSerializer,
            409: conflict("a run for that day is already queued or running (its id is given)."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(RunStartInputSerializer)
        run = services.run_start(
            company=company_get(company_id=self.company_id),
            service_date=data["date"],
            mode=data["mode"],
            by=request.user.id,
            from_now=data.get("from") == "now",
        )
        run.refresh_from_db()  # in-process (eager) execution may have finished it already
        return self.respond(run, status=202)


class RunListApi(CompanyListApiView):
    """Dispatch runs, newest first; `?date=` keeps one day's."""

    queryset = DispatchRun.objects.none()
    serializer_class = RunSummarySerializer

    def get_queryset(self):
        query = RunListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.run_list(
            company_id=self.company_id, service_date=query.validated_data.get("date")
        )

    @extend_schema(parameters=[OpenApiParameter("date", str, description="YYYY-MM-DD")])
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        # What CompanyListApiView.get does, typed as the Response a plain list always is.
        return self.list(request, *args, **kwargs)


class RunDetailApi(CompanyApiView):
    queryset = DispatchRun.objects.none()
    serializer_class = RunDetailSerializer

    def get_queryset(self):
        return selectors.run_list(company_id=self.company_id)

    def get(self, request: Request, run_id: UUID) -> Response:
        """One run: status, progress, and its suggested routes once it has succeeded."""
        return self.respond(self.get_scoped_object(self.get_queryset(), run_id))


class RunApplyApi(RunDetailApi):
    """Apply a suggested run: 200 with the run; 409 `run_not_applicable` (not succeeded, or
    applied already) or `run_superseded` naming the newer run in `run`."""

    http_method_names = ["post", "options"]  # GET is the run's own URL

    @extend_schema(
        request=None,
        responses={
            200: RunDetailSerializer,
            409: conflict(
                "the run has not succeeded or was applied already (`run_not_applicable`), or a "
                "newer run superseded it (`run_superseded`, naming it in `run`)."
            ),
        },
    )
    def post(self, request: Request, run_id: UUID) -> Response:
        """Assign the run's suggested routes to their drivers."""
        run = self.get_scoped_object(self.get_queryset(), run_id)
        assert isinstance(run, DispatchRun)  # get_scoped_object is typed as returning a Model
        return self.respond(services.run_apply(run=run))


# --- fitting a trip of today into the live plan ------------------------------------------------
class _InsertionApi(CompanyApiView):
    queryset = Booking.objects.none()

    def get_queryset(self):
        return booking_selectors.booking_list(company_id=self.company_id)

    def get_booking(self, booking_id: UUID) -> Booking:
        booking = self.get_scoped_object(self.get_queryset(), booking_id)
        assert isinstance(booking, Booking)  # get_scoped_object is typed as returning a Model
        return booking


_NOT_INSERTABLE = (
    "the trip is not a pending trip of today, or a will-call return not released "
    "(`booking_not_insertable`)"
)


class BookingInsertionsApi(_InsertionApi):
    serializer_class = InsertionSerializer

    @extend_schema(
        responses={200: InsertionSerializer(many=True), 409: conflict(f"{_NOT_INSERTABLE}.")}
    )
    def get(self, request: Request, booking_id: UUID) -> Response:
        """Where a pending trip of today fits in the drivers' current work: up to 3, best first."""
        proposals = insertion.booking_insertions(booking=self.get_booking(booking_id))
        return Response(InsertionSerializer(proposals, many=True).data)


class BookingInsertApi(_InsertionApi):
    serializer_class = InsertOutputSerializer

    @extend_schema(
        request=InsertInputSerializer,
        responses={
            200: InsertOutputSerializer,
            409: conflict(
                f"{_NOT_INSERTABLE}, or it no longer fits that driver there: the plan changed "
                "(`insertion_stale`), or the booking changed meanwhile."
            ),
        },
    )
    def post(self, request: Request, booking_id: UUID) -> Response:
        """Give the trip to a driver where it fits now (re-checked), optionally at a position."""
        booking = self.get_booking(booking_id)
        data = self.validated(InsertInputSerializer)
        assigned, proposal = insertion.booking_insert(
            booking=booking, driver=data["driver"], position=data.get("position")
        )
        body = {"booking_id": assigned.id, "insertion": proposal}
        return Response(InsertOutputSerializer(body).data)
