from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest

from billing import invoicing
from billing.models import Invoice
from billing.tests.helpers import (
    ZURICH,
    billing_ready,
    complete,
    tariff,
    trip,
)
from tests.admin_helpers import web_for
from tests.factories import CompanyFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.clock(datetime(2027, 1, 5, 10, 0, tzinfo=ZURICH)),
]


@pytest.fixture
def drafts(company, django_capture_on_commit_callbacks):
    tariff(company)
    billing_ready(company)
    for n in range(2):
        complete(
            trip(company, at=datetime(2026, 12, n + 1, 10, 0, tzinfo=ZURICH)),
            django_capture_on_commit_callbacks,
        )
    return invoicing.invoice_generate(company=company, month=datetime(2026, 12, 1).date())


def _action(web, name, invoices):
    data = {"action": name, "_selected_action": [i.pk for i in invoices]}
    return web.post("/admin/billing/invoice/", data)


def test_issue_download_and_cancel_from_the_admin(staff_web, drafts):
    assert _action(staff_web, "issue_invoices", drafts).status_code == 302
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["2027-000001", "2027-000002"]
    answer = _action(staff_web, "download_pdfs", drafts)
    assert answer["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert sorted(names) == ["2027-000001.pdf", "2027-000002.pdf"]
    pdf = staff_web.get(f"/admin/billing/invoice/{drafts[0].pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert _action(staff_web, "cancel_invoices", drafts[:1]).status_code == 302
    drafts[0].refresh_from_db()
    assert drafts[0].status == "cancelled" and drafts[0].credit_note_number == "CN-2027-000001"
    assert staff_web.get("/admin/billing/invoice/").status_code == 200
    assert staff_web.get(f"/admin/billing/invoice/{drafts[0].pk}/change/").status_code == 200


def test_another_companys_staff_sees_none_of_it(drafts):
    invoicing.invoice_issue(invoice=drafts[0])
    other = web_for(UserFactory(company=CompanyFactory(name="Other"), role="admin", is_staff=True))
    assert other.get(f"/admin/billing/invoice/{drafts[0].pk}/pdf/").status_code == 404
    _action(other, "issue_invoices", drafts[1:])
    drafts[1].refresh_from_db()
    assert drafts[1].status == "draft"


def test_the_admin_refuses_an_invalid_iban(admin_web, company):
    from billing.services import billing_settings_get

    settings = billing_settings_get(company_id=company.id)
    answer = admin_web.post(
        f"/admin/billing/billingsettings/{company.pk}/change/",
        {
            "creditor_name": "Alpha",
            "country": "CH",
            "iban": "CH00 1234",
            "payment_terms_days": 30,
            "reminder1_days": 10,
            "reminder2_days": 25,
            "reminder3_days": 40,
            "reminder1_fee": "0",
            "reminder2_fee": "10",
            "reminder3_fee": "20",
            "reminder_terms_days": 10,
        },
    )
    assert answer.status_code == 200 and b"iban" in answer.content.lower()
    settings.refresh_from_db()
    assert settings.iban == ""


def test_a_tariff_version_with_an_override_is_added_in_the_admin(admin_web, company):
    from billing.models import Tariff
    from billing.services import payer_create

    home = payer_create(company=company, kind="institution", name="EMS Les Tilleuls")
    foreign = payer_create(
        company=CompanyFactory(name="Other"), kind="institution", name="Foreign Home"
    )
    page = admin_web.get("/admin/billing/tariff/add/")
    assert b"EMS Les Tilleuls" in page.content and b"Foreign Home" not in page.content
    prefix = "overrides"
    data = {
        "valid_from": "2027-01-01",
        "base_fare": "20",
        "per_km": "2",
        "minimum_fare": "0",
        "wheelchair_supplement": "0",
        "stretcher_supplement": "0",
        "night_supplement": "0",
        "weekend_supplement": "0",
        "holiday_supplement": "0",
        "waiting_free_minutes": "10",
        "waiting_per_5_minutes": "0",
        "late_cancel_fee": "0",
        "no_show_fee": "0",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-0-payer": str(home.id),
        f"{prefix}-0-flat_fare": "28.00",
    }
    answer = admin_web.post("/admin/billing/tariff/add/", data)
    assert answer.status_code == 302, answer.content[:2000]
    tariff = Tariff.objects.get(company=company)
    assert tariff.overrides.get().payer == home
    refused = admin_web.post(
        "/admin/billing/tariff/add/",
        {**data, "valid_from": "2027-02-01", f"{prefix}-0-payer": str(foreign.id)},
    )
    assert refused.status_code == 200  # the foreign payer is not a valid choice
    assert Tariff.objects.filter(company=company).count() == 1
