from __future__ import annotations

import pytest

from atmr.accounts.models import User
from drivers.models import Driver, Vehicle
from tests.factories import DriverFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 200])
def test_driver_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_max_num_queries
):
    DriverFactory.create_batch(rows, company=company)
    with django_assert_max_num_queries(2):  # count, drivers joined with user and vehicle
        response = dispatcher_client.get("/api/drivers?page_size=500")
    assert response.status_code == 200
    assert response.json()["count"] == rows
    assert response.json()["results"][0]["default_vehicle"]["plate"]


@pytest.mark.parametrize("rows", [1, 200])
def test_vehicle_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_max_num_queries
):
    VehicleFactory.create_batch(rows, company=company)
    with django_assert_max_num_queries(2):  # count, vehicles
        response = dispatcher_client.get("/api/vehicles?page_size=500")
    assert response.json()["count"] == rows


def test_create_driver_creates_its_login(company, dispatcher_client):
    vehicle = VehicleFactory(company=company)
    response = dispatcher_client.post(
        "/api/drivers",
        {
            "email": "New.Driver@Example.test",
            "first_name": "Nina",
            "last_name": "Roulet",
            "password": "a-long-password",
            "default_vehicle": str(vehicle.id),
            "shift_start": "07:00",
            "shift_end": "16:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    driver = Driver.objects.get(id=response.json()["id"])
    assert driver.user.email == "new.driver@example.test"
    assert driver.user.role == User.Role.DRIVER and driver.user.company == company
    assert driver.user.check_password("a-long-password")
    assert driver.default_vehicle == vehicle


def test_create_driver_with_taken_email_is_400(company, dispatcher, dispatcher_client):
    response = dispatcher_client.post(
        "/api/drivers",
        {"email": dispatcher.email, "first_name": "A", "last_name": "B"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "email"
    assert Driver.objects.count() == 0


def test_create_driver_with_foreign_vehicle_is_400(other_company, dispatcher_client):
    foreign = VehicleFactory(company=other_company)
    response = dispatcher_client.post(
        "/api/drivers",
        {
            "email": "x@y.test",
            "first_name": "A",
            "last_name": "B",
            "default_vehicle": str(foreign.id),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "default_vehicle" in response.json()
    assert not User.objects.filter(email="x@y.test").exists()


def test_inverted_shift_is_400(company, dispatcher_client):
    driver = DriverFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/drivers/{driver.id}", {"shift_start": "18:00"}, format="json"
    )
    assert response.status_code == 400
    assert "shift_end" in response.json()


def test_patch_driver(company, dispatcher_client):
    driver = DriverFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/drivers/{driver.id}",
        {"status": "on_break", "first_name": "Zoé", "home_lat": 46.3},
        format="json",
    )
    assert response.status_code == 200, response.json()
    driver.refresh_from_db()
    assert (driver.status, driver.user.first_name, driver.home_lat) == ("on_break", "Zoé", 46.3)


def test_driver_coordinates_are_validated(company, dispatcher_client):
    driver = DriverFactory(company=company)
    response = dispatcher_client.patch(
        f"/api/drivers/{driver.id}", {"home_lon": 200}, format="json"
    )
    assert response.status_code == 400
    assert "home_lon" in response.json()


def test_driver_sees_only_itself(company, driver, driver_client):
    other = DriverFactory(company=company)
    listed = driver_client.get("/api/drivers").json()["results"]
    assert [d["id"] for d in listed] == [str(driver.id)]
    assert driver_client.get(f"/api/drivers/{other.id}").status_code == 404
    assert driver_client.patch(f"/api/drivers/{driver.id}", {}, format="json").status_code == 403
    assert driver_client.get("/api/vehicles").status_code == 403


def test_another_companys_driver_is_404(other_company, dispatcher_client):
    foreign = DriverFactory(company=other_company)
    assert dispatcher_client.get(f"/api/drivers/{foreign.id}").status_code == 404
    response = dispatcher_client.patch(f"/api/drivers/{foreign.id}", {"phone": "1"}, format="json")
    assert response.status_code == 404
    assert dispatcher_client.get("/api/drivers").json()["count"] == 0


def test_create_vehicle_and_duplicate_plate(company, dispatcher_client):
    body = {"plate": "GE 1234", "seats": 3, "wheelchair_places": 1}
    assert dispatcher_client.post("/api/vehicles", body, format="json").status_code == 201
    again = dispatcher_client.post("/api/vehicles", body, format="json")
    assert again.status_code == 400
    assert Vehicle.objects.filter(company=company).count() == 1


def test_vehicle_list_is_company_scoped(other_company, dispatcher_client):
    VehicleFactory(company=other_company)
    assert dispatcher_client.get("/api/vehicles").json()["count"] == 0
