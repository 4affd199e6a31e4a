from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.accounts.selectors import company_get
from atmr.api import CompanyApiView, RowListApiView
from atmr.permissions import EVERYONE
from drivers import selectors, services
from drivers.models import Driver, Vehicle
from drivers.serializers import (
    DriverCreateInputSerializer,
    DriverOutputSerializer,
    DriverUpdateInputSerializer,
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
        """Add a driver with a log-in (office staff). Shift times are local `HH:MM[:SS]`."""
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
        """Change a driver's details, shift, vehicle or status."""
        driver = self.get_scoped_object(self.get_queryset(), driver_id)
        assert isinstance(driver, Driver)  # get_scoped_object is typed as returning a Model
        changes = self.validated(DriverUpdateInputSerializer, instance=driver, partial=True)
        return self.respond(services.driver_update(driver=driver, changes=changes))


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
