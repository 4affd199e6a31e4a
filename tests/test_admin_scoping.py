"""Company staff see nothing of other companies anywhere in the admin; bad rows are form errors."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from atmr.chat.models import ChatMessage
from dispatch.models import DispatchRun, DispatchSettings
from drivers.models import Vehicle
from tests.admin_helpers import web_for
from tests.factories import (
    BookingFactory,
    ClientFactory,
    DriverFactory,
    UserFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db


def _company_rows(company, tag: str) -> dict[type[models.Model], models.Model]:
    """One row of every company-owned model, with names that carry `tag`."""
    user = UserFactory(
        company=company, first_name=tag, last_name=f"{tag}user", email=f"{tag}@x.test"
    )
    driver = DriverFactory(
        company=company,
        user__first_name=tag,
        user__last_name=f"{tag}driver",
        default_vehicle__plate=f"{tag}-1",
    )
    client = ClientFactory(company=company, first_name=tag, last_name=f"{tag}client")
    booking = BookingFactory(
        company=company,
        client=client,
        driver=driver,
        vehicle=driver.default_vehicle,
        status="assigned",
        pickup_address=f"{tag} street 1",
    )
    run = DispatchRun.objects.create(
        company=company, service_date=date(2026, 12, 1), created_by=user
    )
    settings = DispatchSettings.objects.get_or_create(company=company)[0]
    ChatMessage.objects.create(company=company, sender=user, text=f"{tag} secret")
    return {
        type(company): company,
        type(user): user,
        type(driver): driver,
        Vehicle: driver.default_vehicle,
        type(client): client,
        type(booking): booking,
        DispatchRun: run,
        DispatchSettings: settings,
    }


@pytest.fixture
def world(company, other_company):
    mine = _company_rows(company, "Alphatag")
    theirs = _company_rows(other_company, "Zetatag")
    secrets = ["Zetatag", other_company.name, *(str(row.pk) for row in theirs.values())]
    return mine, theirs, secrets


def _assert_hidden(response, secrets, where: str) -> None:
    text = response.content.decode()
    leaked = [s for s in secrets if s in text]
    context = [text[max(0, text.find(s) - 200) : text.find(s) + 60] for s in leaked]
    assert not leaked, f"{where} shows {leaked}: {context}"


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize("role", ["dispatcher", "admin"])
def test_staff_see_no_other_company_anywhere(role, company, world):
    mine, theirs, secrets = world
    web = web_for(UserFactory(company=company, role=role, is_staff=True))
    visited = 0
    for model, model_admin in _registered():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        page = web.get(base)
        if page.status_code == 403:
            continue  # not for company staff at all (groups)
        assert page.status_code == 200, base
        visited += 1
        _assert_hidden(page, secrets, base)
        _walk_filters(web, page, base, secrets)
        if model_admin.date_hierarchy:
            field = model_admin.date_hierarchy
            for query in (
                {f"{field}__year": 2026},
                {f"{field}__year": 2026, f"{field}__month": 12},
            ):
                _assert_hidden(web.get(base, query), secrets, f"{base} {query}")
        if model_admin.search_fields:
            assert web.get(base, {"q": "Zetatag"}).context["cl"].result_count == 0, base
        popup = web.get(base, {"_popup": 1, "_to_field": "id"})
        _assert_hidden(popup, secrets, f"{base} popup")
        _walk_forms(web, model, base, mine, theirs, secrets)
    assert visited >= 7


def _walk_filters(web, page, base: str, secrets) -> None:
    for spec in page.context["cl"].filter_specs:
        for choice in spec.choices(page.context["cl"]):
            query = choice["query_string"]
            _assert_hidden(web.get(base + query), secrets, f"{base}{query}")


def _walk_forms(web, model, base: str, mine, theirs, secrets) -> None:
    own = mine.get(model)
    if own is not None:
        change = web.get(f"{base}{own.pk}/change/")
        assert change.status_code == 200, base
        _assert_hidden(change, secrets, f"{base} change")
        # Another company's row is as missing as one that never existed.
        other = web.get(f"{base}{theirs[model].pk}/change/")
        assert other.status_code == 302, f"{base} other company's row"
        # Take the "doesn't exist" message (it echoes the id asked for) off the next page.
        web.get(other.url)
    # An add form pre-filled (GET parameters) with another company's rows shows none of them.
    initial = {
        field.name: theirs[field.related_model].pk
        for field in model._meta.fields
        if field.is_relation and field.related_model in theirs
    }
    add = web.get(f"{base}add/", initial)
    if add.status_code == 200:
        _assert_hidden(add, secrets, f"{base} add")


@pytest.mark.parametrize("role", ["dispatcher", "admin"])
def test_no_autocomplete_returns_other_companies_rows(role, company, world):
    _, _, secrets = world
    web = web_for(UserFactory(company=company, role=role, is_staff=True))
    answered = 0
    for model, _ in _registered():
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete):
                continue
            query = {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field.name,
            }
            for term in ("", "Zetatag", "Beta"):
                response = web.get("/admin/autocomplete/", {**query, "term": term})
                if response.status_code in (403, 404):
                    continue  # the related model has no search, or is not for staff
                assert response.status_code == 200, query
                answered += 1
                _assert_hidden(response, secrets, f"autocomplete {query} {term!r}")
    assert answered >= 10


def test_users_by_company_filter_names_no_other_company(company, other_company, staff_web):
    UserFactory(company=other_company)
    page = staff_web.get("/admin/accounts/user/")
    assert other_company.name not in page.content.decode()
    assert str(other_company.id) not in page.content.decode()


def test_superuser_still_filters_users_by_company(company, other_company, superuser_web):
    UserFactory(company=other_company)
    page = superuser_web.get("/admin/accounts/user/")
    assert other_company.name in page.content.decode()


# --- constraints and duplicates are form errors in words -------------------------------------
def vehicle_form(**overrides):
    return {"plate": "VD 1", "label": "", "seats": 4, "wheelchair_places": 0, "active": "on"} | (
        overrides
    )


def test_duplicate_plate_is_a_form_error_not_a_500(company, admin_web):
    VehicleFactory(company=company, plate="VD 1")
    response = admin_web.post("/admin/drivers/vehicle/add/", vehicle_form())
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["plate"] == ["The company already has a vehicle with this plate."]
    assert Vehicle.objects.filter(company=company).count() == 1


def test_same_plate_in_another_company_is_fine(company, other_company, admin_web):
    VehicleFactory(company=other_company, plate="VD 1")
    response = admin_web.post("/admin/drivers/vehicle/add/", vehicle_form())
    assert response.status_code == 302
    assert Vehicle.objects.get(company=company).plate == "VD 1"


def test_renaming_to_a_taken_plate_is_a_form_error(company, admin_web):
    VehicleFactory(company=company, plate="VD 1")
    other = VehicleFactory(company=company, plate="VD 2")
    response = admin_web.post(f"/admin/drivers/vehicle/{other.pk}/change/", vehicle_form())
    assert response.status_code == 200
    assert "already has a vehicle" in str(response.context["adminform"].form.errors)


def test_superuser_duplicate_plate_is_a_form_error_too(company, superuser_web):
    VehicleFactory(company=company, plate="VD 1")
    response = superuser_web.post("/admin/drivers/vehicle/add/", vehicle_form(company=company.id))
    assert response.status_code == 200
    assert "already has a vehicle" in str(response.context["adminform"].form.errors)


def test_vehicle_carrying_nobody_is_a_sentence(company, admin_web):
    response = admin_web.post("/admin/drivers/vehicle/add/", vehicle_form(seats=0))
    assert response.status_code == 200
    text = str(response.context["adminform"].form.errors)
    assert "at least one seat, wheelchair place or stretcher" in text
    assert "Constraint" not in text


def test_shift_ending_before_it_starts_is_a_sentence(company, admin_web):
    driver = DriverFactory(company=company)
    response = admin_web.post(
        f"/admin/drivers/driver/{driver.pk}/change/",
        {
            "user": driver.user_id,
            "default_vehicle": driver.default_vehicle_id,
            "phone": "",
            "status": "available",
            "shift_start": time(18, 0),
            "shift_end": time(7, 0),
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "The shift must end after it starts" in str(response.context["adminform"].form.errors)


def test_every_constraint_speaks_in_words():
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.app_label not in {"accounts", "bookings", "drivers"}:
            continue
        for constraint in model._meta.constraints:
            message = constraint.get_violation_error_message()
            assert constraint.name not in message, f"{model.__name__}: {message}"


def test_assigned_without_driver_is_a_sentence(company):
    from bookings.models import Booking

    booking = BookingFactory(
        company=company, status="assigned", driver=DriverFactory(company=company)
    )
    booking.driver = None
    with pytest.raises(ValidationError) as raised:
        booking.validate_constraints()
    assert "An assigned booking needs a driver" in str(raised.value)
    assert "booking_assigned_has_driver" not in str(raised.value)
    assert Booking.objects.get(pk=booking.pk).driver_id is not None


def test_second_settings_row_for_a_company_is_a_form_error(company, admin_web):
    DispatchSettings.objects.create(company=company, solver_time_limit_s=7)
    response = admin_web.post(
        "/admin/dispatch/dispatchsettings/add/",
        {
            "service_walks_s": 1,
            "service_wheelchair_s": 1,
            "service_stretcher_s": 1,
            "max_ride_factor": 2,
            "max_ride_extra_minutes": 1,
            "solver_time_limit_s": 1,
        },
    )
    assert response.status_code == 200
    assert "already has its dispatch settings" in str(response.context["adminform"].form.errors)
    assert DispatchSettings.objects.get(company=company).solver_time_limit_s == 7
