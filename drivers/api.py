from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.accounts.selectors import company_get
from atmr.api import CompanyApiView, CompanyListApiView, RowListApiView
from atmr.permissions import EVERYONE
from atmr.schema import conflict
from drivers import rosters, selectors, services
from drivers.locations import location_track_json
from drivers.models import Absence, Driver, Shift, Vehicle
from drivers.serializers import (
    AbsenceInputSerializer,
    AbsenceListQuerySerializer,
    AbsenceOutputSerializer,
    DriverCreateInputSerializer,
    DriverLocationOutputSerializer,
    DriverOutputSerializer,
    DriverTrackQuerySerializer,
    DriverUpdateInputSerializer,
    RosterInputSerializer,
    RosterOutputSerializer,
    ShiftCreateInputSerializer,
    ShiftListQuerySerializer,
    ShiftOutputSerializer,
    ShiftUpdateInputSerializer,
    VehicleInputSerializer,
    VehicleOutputSerializer,
    driver_list_data,
    vehicle_list_data,
)


class DriverListCreateApi(RowListApiView):
    """Office staff list and add drivers; a driver sees only itself."""

    # Carries live positions, which the location writer updates many times a second without
    # model signals: rather than invalidate every list on every flush, a page lives 2 s. Office
    # screens get each position as it arrives over the websocket (`driver_position`).
    page_ttl_s = 2

    queryset = Driver.objects.none()
    serializer_class = DriverOutputSerializer
    read_roles = EVERYONE

    def get_queryset(self):
        return selectors.driver_list(company_id=self.company_id, driver_id=self.driver_id)

    def rows(self, queryset: QuerySet[Driver]) -> list[dict[str, Any]]:
        return driver_list_data(queryset)

    @extend_schema(request=DriverCreateInputSerializer, responses={201: DriverOutputSerializer})
    def post(self, request: Request) -> Response:
        """Add a driver with a log-in (office staff); a shift given (local `HH:MM[:SS]`) becomes
        its roster on every weekday."""
        data = self.validated(DriverCreateInputSerializer)
        company = company_get(company_id=self.company_id)
        driver = services.driver_create(company=company, **data)
        return self.respond(driver, status=201)


class DriverDetailApi(CompanyApiView):
    queryset = Driver.objects.none()
    serializer_class = DriverOutputSerializer
    read_roles = EVERYONE

    def get_queryset(self):
        return selectors.driver_list(company_id=self.company_id, driver_id=self.driver_id)

    def get(self, request: Request, driver_id: UUID) -> Response:
        """One driver, with its last known position (drivers: only themselves)."""
        return self.respond(self.get_scoped_object(self.get_queryset(), driver_id))

    @extend_schema(request=DriverUpdateInputSerializer, responses=DriverOutputSerializer)
    def patch(self, request: Request, driver_id: UUID) -> Response:
        """Change a driver's details, vehicle or status (`shift_*` are legacy: see the roster)."""
        driver = self.get_scoped_object(self.get_queryset(), driver_id)
        assert isinstance(driver, Driver)  # get_scoped_object is typed as returning a Model
        changes = self.validated(DriverUpdateInputSerializer, instance=driver, partial=True)
        return self.respond(services.driver_update(driver=driver, changes=changes))


class DriverTrackApi(CompanyApiView):
    """A driver's positions of a day, oldest first (drivers: their own only)."""

    queryset = Driver.objects.none()
    serializer_class = DriverLocationOutputSerializer
    read_roles = EVERYONE

    @extend_schema(
        parameters=[DriverTrackQuerySerializer],
        responses=DriverLocationOutputSerializer(many=True),
    )
    def get(self, request: Request, driver_id: UUID) -> HttpResponse:
        """Every stored fix of the driver on the company's local day `day` (a day of 10,000
        drivers' fixes every 15 s holds 2,880 per driver)."""
        query = DriverTrackQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        drivers = selectors.driver_list(company_id=self.company_id, driver_id=self.driver_id)
        driver = self.get_scoped_object(drivers.select_related(None).only("id"), driver_id)
        day, tz = query.validated_data["day"], company_get(company_id=self.company_id).tz
        text = location_track_json(
            company_id=self.company_id,
            driver_id=driver.id,
            recorded_from=datetime.combine(day, time.min, tzinfo=tz),
            recorded_before=datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz),
        )
        return HttpResponse(text, content_type="application/json")


class VehicleListCreateApi(RowListApiView):
    """The company's vehicles."""

    queryset = Vehicle.objects.none()
    serializer_class = VehicleOutputSerializer

    def get_queryset(self):
        return selectors.vehicle_list(company_id=self.company_id)

    def rows(self, queryset: QuerySet[Vehicle]) -> list[dict[str, Any]]:
        return vehicle_list_data(queryset)

    @extend_schema(request=VehicleInputSerializer, responses={201: VehicleOutputSerializer})
    def post(self, request: Request) -> Response:
        """Add a vehicle: plate, seats, wheelchair places."""
        data = self.validated(VehicleInputSerializer)
        company = company_get(company_id=self.company_id)
        return self.respond(services.vehicle_create(company=company, **data), status=201)


# --- rosters ----------------------------------------------------------------------------------
class DriverRosterApi(CompanyApiView):
    """A driver's week: one shift per weekday at most, in wall-clock times."""

    queryset = Driver.objects.none()
    serializer_class = RosterOutputSerializer

    def _driver(self, driver_id: UUID) -> Driver:
        return self.get_scoped_object(selectors.driver_list(company_id=self.company_id), driver_id)

    def get_object(self) -> Driver:
        # DRF's OPTIONS answer looks the object up for PUT: the same scoped lookup (404).
        return self._driver(self.kwargs["driver_id"])

    def _week(self, driver: Driver) -> Response:
        entries = rosters.roster_get(company_id=self.company_id, driver_id=driver.id)
        return self.respond({"driver": driver.id, "entries": entries.select_related("vehicle")})

    def get(self, request: Request, driver_id: UUID) -> Response:
        """The driver's weekly template (404 for another company's driver)."""
        return self._week(self._driver(driver_id))

    @extend_schema(request=RosterInputSerializer, responses=RosterOutputSerializer)
    def put(self, request: Request, driver_id: UUID) -> Response:
        """Replace the week; the driver's shifts over the horizon follow (edited ones stay)."""
        driver = self._driver(driver_id)
        data = self.validated(RosterInputSerializer)
        rosters.roster_set(driver=driver, entries=data["entries"])
        return self._week(driver)


class ShiftListCreateApi(CompanyListApiView):
    """Shifts of a local day, and a shift the office adds."""

    queryset = Shift.objects.none()
    serializer_class = ShiftOutputSerializer
    filter_backends: list[type] = []

    def get_queryset(self):
        query = ShiftListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("on")
        return rosters.shift_list(
            company_id=self.company_id,
            day=query.validated_data.get("date"),
            driver_id=query.validated_data.get("driver"),
            on=None if on is None else (on, company_get(company_id=self.company_id).tz),
        )

    @extend_schema(parameters=[ShiftListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List shifts, by the local day they start (`date`) or are on (`on`), and by driver."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ShiftCreateInputSerializer,
        responses={201: ShiftOutputSerializer, 409: conflict("the driver has a shift that day")},
    )
    def post(self, request: Request) -> Response:
        """Add a day's shift (wall-clock times); regeneration from the roster keeps it."""
        data = self.validated(ShiftCreateInputSerializer)
        company = company_get(company_id=self.company_id)
        return self.respond(
            rosters.shift_create(company=company, data=cast(rosters.ShiftInput, data)), status=201
        )


class ShiftDetailApi(CompanyApiView):
    queryset = Shift.objects.none()
    serializer_class = ShiftOutputSerializer

    def _shift(self, shift_id: UUID) -> Shift:
        return self.get_scoped_object(rosters.shift_list(company_id=self.company_id), shift_id)

    def get(self, request: Request, shift_id: UUID) -> Response:
        """One day's shift."""
        return self.respond(self._shift(shift_id))

    @extend_schema(request=ShiftUpdateInputSerializer, responses=ShiftOutputSerializer)
    def patch(self, request: Request, shift_id: UUID) -> Response:
        """Change a day's times, break or vehicle; regeneration then leaves the day alone."""
        shift = self._shift(shift_id)
        changes = self.validated(ShiftUpdateInputSerializer, partial=True)
        return self.respond(
            rosters.shift_update(shift=shift, changes=cast(rosters.ShiftInput, changes))
        )

    @extend_schema(responses={204: None})
    def delete(self, request: Request, shift_id: UUID) -> Response:
        """Take the day off the driver's roster (regeneration does not bring it back)."""
        rosters.shift_delete(shift=self._shift(shift_id))
        return Response(status=204)


class AbsenceListCreateApi(CompanyListApiView):
    """Drivers' absences (newest first), and a new one, which cuts the shifts it overlaps."""

    queryset = Absence.objects.none()
    serializer_class = AbsenceOutputSerializer
    filter_backends: list[type] = []

    def get_queryset(self):
        query = AbsenceListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return rosters.absence_list(
            company_id=self.company_id, driver_id=query.validated_data.get("driver")
        )

    @extend_schema(parameters=[AbsenceListQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """List absences, newest first; `driver` gives one driver's."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=AbsenceInputSerializer, responses={201: AbsenceOutputSerializer})
    def post(self, request: Request) -> Response:
        """Record an absence (whole days, or part days with times); its shifts are cut."""
        data = self.validated(AbsenceInputSerializer)
        company = company_get(company_id=self.company_id)
        return self.respond(rosters.absence_create(company=company, **data), status=201)
