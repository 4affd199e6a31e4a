from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import invoicing, services
from billing.models import Invoice, Payment, PaymentImport, Tariff, TripCharge
from billing.tests.helpers import (
    ZURICH,
    billing_ready,
    camt054_build,
    camt_entry,
    complete,
    tariff,
    trip,
)
from tests.factories import ClientFactory, CompanyFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.clock(datetime(2027, 1, 5, 10, 0, tzinfo=ZURICH)),
]


@pytest.fixture
def december(company, django_capture_on_commit_callbacks):
    """Four patients with one December trip each, their invoices generated and issued."""
    tariff(company)
    billing_ready(company)
    for n in range(4):
        complete(
            trip(company, at=datetime(2026, 12, n + 1, 10, 0, tzinfo=ZURICH)),
            django_capture_on_commit_callbacks,
        )
    drafts = invoicing.invoice_generate(company=company, month=datetime(2026, 12, 1).date())
    return [invoicing.invoice_issue(invoice=inv) for inv in drafts]


def test_generate_issue_pdf_and_read_through_the_api(
    company, dispatcher_client, django_capture_on_commit_callbacks
):
    tariff(company)
    billing_ready(company)
    booking = complete(
        trip(company, at=datetime(2026, 12, 3, 10, 0, tzinfo=ZURICH)),
        django_capture_on_commit_callbacks,
    )
    answer = dispatcher_client.post("/api/invoices/generate", {"month": "2026-12"}, format="json")
    assert answer.status_code == 200, answer.content
    (body,) = answer.json()
    assert body["number"] is None and body["status"] == "draft" and body["reference"] is None
    assert body["lines"] == [
        {
            **body["lines"][0],
            "booking": str(booking.id),
            "amount": str(booking.charge.amount),
        }
    ]
    assert body["total"] == str(booking.charge.amount)
    assert (
        dispatcher_client.post("/api/invoices/generate", {"month": "2026-12"}, format="json").json()
        == []
    )
    assert dispatcher_client.get(f"/api/invoices/{body['id']}/pdf").status_code == 404  # draft
    issued = dispatcher_client.post(f"/api/invoices/{body['id']}/issue")
    assert issued.status_code == 200
    assert issued.json()["number"] == "2027-000001"
    assert len(issued.json()["reference"]) == 27 and " " not in issued.json()["reference"]
    assert issued.json()["due_date"] == "2027-02-04"
    assert dispatcher_client.post(f"/api/invoices/{body['id']}/issue").status_code == 409
    pdf = dispatcher_client.get(f"/api/invoices/{body['id']}/pdf", HTTP_ACCEPT="application/json")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    listed = dispatcher_client.get("/api/invoices", {"status": "issued", "month": "2026-12"})
    assert [i["id"] for i in listed.json()["results"]] == [body["id"]]
    assert dispatcher_client.get("/api/invoices", {"status": "draft"}).json()["count"] == 0
    cancelled = dispatcher_client.post(
        f"/api/invoices/{body['id']}/cancel", {"reason": "x"}, format="json"
    )
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["credit_note_number"] == "CN-2027-000001"


def test_the_list_has_a_query_budget(
    company, december, dispatcher_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):  # count, invoices + payers, lines (+ savepoint)
        answer = dispatcher_client.get("/api/invoices")
    assert answer.json()["count"] == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"month": "2027-02"}, "month"),  # the future
        ({"month": "2026-13"}, "month"),
        ({"month": "December"}, "month"),
        ({}, "month"),
        ({"month": "2026-12", "payer": "not-a-uuid"}, "payer"),
        ({"month": "2026-12", "payer": "6a1e6c5e-6a53-4a52-9c3e-0c4e1d5d2b11"}, "payer"),
    ],
)
def test_generate_refuses_bad_input_naming_the_field(dispatcher_client, body, field):
    answer = dispatcher_client.post("/api/invoices/generate", body, format="json")
    assert answer.status_code == 400
    data = answer.json()
    assert field in data or data.get("field") == field
    assert not Invoice.objects.exists()


def test_drivers_are_refused_and_other_companies_see_nothing(
    december, driver_client, other_dispatcher_client, dispatcher_client
):
    invoice = december[0]
    for path in ("/api/invoices", f"/api/invoices/{invoice.id}", "/api/payments", "/api/tariffs"):
        assert driver_client.get(path).status_code == 403
    assert (
        driver_client.post(
            "/api/invoices/generate", {"month": "2026-12"}, format="json"
        ).status_code
        == 403
    )
    for path in (f"/api/invoices/{invoice.id}", f"/api/invoices/{invoice.id}/pdf"):
        assert other_dispatcher_client.get(path).status_code == 404
    assert other_dispatcher_client.post(f"/api/invoices/{invoice.id}/issue").status_code == 404
    assert other_dispatcher_client.post(f"/api/invoices/{invoice.id}/cancel").status_code == 404
    assert other_dispatcher_client.get("/api/invoices").json()["count"] == 0
    answer = other_dispatcher_client.post(
        "/api/payments", {"invoice": str(invoice.id), "amount": "5.00"}, format="json"
    )
    assert answer.status_code == 404
    invoice.refresh_from_db()
    assert invoice.paid == 0


def test_manual_payments_flag_partial_and_overpayments(december, dispatcher_client):
    invoice = december[0]
    half = (invoice.total / 2).quantize(Decimal("0.01"))
    first = dispatcher_client.post(
        "/api/payments", {"invoice": str(invoice.id), "amount": str(half)}, format="json"
    )
    assert first.status_code == 201 and first.json()["flag"] == "partial"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_flag) == ("issued", "partial")
    rest = invoice.total - half + Decimal("1.00")
    second = dispatcher_client.post(
        "/api/payments", {"reference": invoice.reference, "amount": str(rest)}, format="json"
    )
    assert second.json()["flag"] == "overpaid"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_flag, invoice.paid) == (
        "paid",
        "overpaid",
        invoice.total + 1,
    )
    assert dispatcher_client.get("/api/payments").json()["count"] == 2
    bad = dispatcher_client.post("/api/payments", {"amount": "-1"}, format="json")
    assert bad.status_code == 400 and "amount" in bad.json()


# --- camt.054 -------------------------------------------------------------------------------
def _upload(client, data: bytes, name: str = "camt054.xml"):
    return client.post(
        "/api/payments/import",
        {"file": SimpleUploadedFile(name, data, content_type="application/xml")},
        format="multipart",
    )


def test_camt_import_pays_exactly_the_referenced_invoices_and_reimport_changes_nothing(
    december, dispatcher_client
):
    paid, partly, unpaid = december[:2], december[2], december[3:]
    entries = [
        camt_entry(entry_id=f"E{n}", reference=inv.reference, amount=inv.total)
        for n, inv in enumerate(paid)
    ]
    entries.append(camt_entry(entry_id="E-half", reference=partly.reference, amount=Decimal("1")))
    entries.append(camt_entry(entry_id="E-unknown", reference="RF18539007547034"))
    data = camt054_build(entries, message_id="MSG-2027-01-05")
    answer = _upload(dispatcher_client, data)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["entries"], body["matched"], body["duplicates"]) == (4, 3, 0)
    assert [u["reference"] for u in body["unknown"]] == ["RF18539007547034"]
    assert {p["flag"] for p in body["flagged"]} == {"partial", "unmatched"}
    statuses = {inv.pk: Invoice.objects.get(pk=inv.pk).status for inv in december}
    assert [statuses[inv.pk] for inv in paid] == ["paid", "paid"]
    assert statuses[partly.pk] == "issued" and [statuses[i.pk] for i in unpaid] == ["issued"]
    before = (Payment.objects.count(), PaymentImport.objects.count())
    again = _upload(dispatcher_client, data).json()
    assert (again["id"], again["matched"], again["duplicates"]) == (None, 0, 4)
    assert (Payment.objects.count(), PaymentImport.objects.count()) == before
    assert Invoice.objects.get(pk=partly.pk).paid == Decimal("1.00")


@pytest.mark.parametrize(
    "data",
    [
        b"this is not xml",
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>',
    ],
)
def test_camt_import_refuses_bad_files_whole(december, dispatcher_client, data):
    answer = _upload(dispatcher_client, data)
    assert answer.status_code == 400 and answer.json()["field"] == "file"
    assert not Payment.objects.exists() and not PaymentImport.objects.exists()


def test_camt_import_refuses_a_file_over_10_mb(dispatcher_client):
    answer = _upload(dispatcher_client, b" " * (10 * 1024 * 1024 + 1))
    assert answer.status_code == 400 and "file" in answer.json()
    assert not PaymentImport.objects.exists()


# --- tariffs, settings, exports -------------------------------------------------------------
def test_tariffs_are_versions_added_by_admins(company, admin_client_api, dispatcher_client):
    insurer = services.payer_create(company=company, kind="insurer", name="Assura")
    body = {
        "valid_from": "2027-01-01",
        "base_fare": "20.00",
        "per_km": "2.10",
        "night_supplement": "12.00",
        "overrides": [{"payer": str(insurer.id), "flat_fare": "30.00"}],
    }
    assert dispatcher_client.post("/api/tariffs", body, format="json").status_code == 403
    created = admin_client_api.post("/api/tariffs", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["overrides"][0]["flat_fare"] == "30.00"
    assert admin_client_api.post("/api/tariffs", body, format="json").status_code == 409
    assert Tariff.objects.count() == 1
    bad = admin_client_api.post("/api/tariffs", {**body, "per_km": "-1"}, format="json")
    assert bad.status_code == 400 and "per_km" in bad.json()
    listed = dispatcher_client.get("/api/tariffs").json()
    assert [t["valid_from"] for t in listed] == ["2027-01-01"]


@pytest.mark.parametrize(
    "iban", ["CH93 0076 2011 6238 5295 8", "not an iban", "DE89370400440532013000"]
)
def test_an_invalid_iban_is_refused_and_nothing_changes(company, admin_client_api, iban):
    answer = admin_client_api.patch(
        "/api/billing/settings", {"iban": iban, "city": "Genève"}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["field"] == "iban"
    settings = services.billing_settings_get(company_id=company.id)
    assert (settings.iban, settings.city) == ("", "")


def test_a_qr_iban_is_stored_clean(company, admin_client_api):
    answer = admin_client_api.patch(
        "/api/billing/settings", {"iban": "CH44 3199 9123 0008 8901 2"}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["iban"] == "CH4431999123000889012"


def test_csv_exports_for_the_accountant(company, december, dispatcher_client):
    from billing.payments import payment_record

    payment_record(company=company, invoice=december[0], amount=Decimal("5.00"))
    invoices = dispatcher_client.get("/api/billing/exports/invoices", {"month": "2026-12"})
    assert invoices.status_code == 200 and invoices["Content-Type"].startswith("text/csv")
    rows = invoices.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("number;status;payer") and len(rows) == 5
    lines = dispatcher_client.get("/api/billing/exports/lines", {"month": "2026-12"})
    assert len(lines.content.decode("utf-8-sig").splitlines()) == 5
    payments = dispatcher_client.get("/api/billing/exports/payments", {"month": "2027-01"})
    (_header, row) = payments.content.decode("utf-8-sig").splitlines()
    assert row.startswith("2027-01-05;5.00;CHF;2027-000001")
    december[1].payer.name = "=HYPERLINK(1)"
    december[1].payer.save()
    invoices = dispatcher_client.get("/api/billing/exports/invoices", {"month": "2026-12"})
    assert ";'=HYPERLINK(1);" in invoices.content.decode("utf-8-sig")
    assert dispatcher_client.get("/api/billing/exports/x", {"month": "2026-12"}).status_code == 404
    assert dispatcher_client.get("/api/billing/exports/lines").status_code == 400


def test_the_office_overrides_a_price_with_a_reason_until_invoiced(
    company,
    dispatcher_client,
    other_dispatcher_client,
    driver_client,
    django_capture_on_commit_callbacks,
):
    tariff(company)
    billing_ready(company)
    booking = complete(
        trip(company, at=datetime(2026, 12, 3, 10, 0, tzinfo=ZURICH)),
        django_capture_on_commit_callbacks,
    )
    url = f"/api/bookings/{booking.id}/charge"
    shown = dispatcher_client.get(url).json()
    assert shown["amount"] == str(booking.charge.amount) and shown["distance_estimated"] is True
    assert shown["breakdown"][0]["code"] == "base_fare"
    no_reason = dispatcher_client.patch(url, {"override_amount": "50.00"}, format="json")
    assert no_reason.status_code == 400 and "override_reason" in no_reason.json()
    insurer = services.payer_create(company=company, kind="insurer", name="Assura")
    changed = dispatcher_client.patch(
        url,
        {"override_amount": "50.00", "override_reason": "Agreed", "payer": str(insurer.id)},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["amount"], changed.json()["payer"]) == ("50.00", str(insurer.id))
    assert other_dispatcher_client.get(url).status_code == 404
    assert driver_client.get(url).status_code == 403
    foreign = services.payer_create(
        company=CompanyFactory(name="Third"), kind="insurer", name="Elsewhere"
    )
    answer = dispatcher_client.patch(url, {"payer": str(foreign.id)}, format="json")
    assert answer.status_code == 400 and "payer" in answer.json()
    entered = dispatcher_client.patch(url, {"waiting_minutes": 25}, format="json").json()
    assert (entered["waiting_minutes"], entered["waiting_entered"]) == (25, True)
    phones = dispatcher_client.patch(url, {"waiting_minutes": None}, format="json").json()
    assert (phones["waiting_minutes"], phones["waiting_entered"]) == (0, False)  # no steps
    assert dispatcher_client.patch(url, {"waiting_minutes": -1}, format="json").status_code == 400
    invoicing.invoice_generate(company=company, month=datetime(2026, 12, 1).date())
    late = dispatcher_client.patch(url, {"waiting_minutes": 30}, format="json")
    assert late.status_code == 409
    assert TripCharge.objects.get(booking=booking).waiting_minutes == 0


def test_a_clients_default_payer_is_set_through_the_api(
    company, dispatcher_client, other_dispatcher_client
):
    client = ClientFactory(company=company)
    url = f"/api/clients/{client.id}/billing"
    assert dispatcher_client.get(url).json()["payer"] is None
    insurer = services.payer_create(company=company, kind="insurer", name="Assura")
    answer = dispatcher_client.patch(
        url,
        {"payer": str(insurer.id), "insurance_number": "756.1", "guarantee_trips": 20},
        format="json",
    )
    assert answer.status_code == 200 and answer.json()["payer"] == str(insurer.id)
    assert services.client_default_payer(client=client) == insurer
    assert other_dispatcher_client.get(url).status_code == 404
    bad = dispatcher_client.patch(
        url, {"guarantee_from": "2027-02-01", "guarantee_until": "2027-01-01"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["field"] == "guarantee_until"
