from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing import invoicing, services
from billing.errors import BillingSettingsIncomplete, InvoiceInvalidTransition
from billing.models import Invoice, InvoiceDocument, InvoiceLine
from billing.tests.helpers import (
    IBAN,
    ZURICH,
    billing_ready,
    complete,
    tariff,
    trip,
)
from bookings import services as booking_services
from tests.factories import ClientFactory, CompanyFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.clock(datetime(2027, 1, 5, 10, 0, tzinfo=ZURICH)),
]
DECEMBER = date(2026, 12, 1)


def day(n: int, hour: int = 10) -> datetime:
    return datetime(2026, 12, n, hour, 0, tzinfo=ZURICH)


@pytest.fixture
def month_of_trips(company, django_capture_on_commit_callbacks):
    """Two patients who pay themselves (Anna: 2 trips; Ben: 1 trip and a late cancellation)
    and an insurer's patient (Carl: 2 trips, one at night)."""
    tariff(company)
    billing_ready(company)
    insurer = services.payer_create(
        company=company, kind="insurer", name="Assura", postal_code="1052", city="Le Mont"
    )
    anna, ben, carl = (ClientFactory(company=company) for _ in range(3))
    services.client_billing_set(client=carl, payer=insurer, insurance_number="756.1234")
    trips = [
        trip(company, at=day(1), client=anna),
        trip(company, at=day(2), client=anna),
        trip(company, at=day(3), client=ben, mobility="wheelchair"),
        trip(company, at=day(4), client=carl),
        trip(company, at=day(5, hour=21), client=carl),
    ]
    for booking in trips:
        complete(booking, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(booking=trip(company, at=day(28), client=ben))
    return {"insurer": insurer, "anna": anna, "ben": ben, "carl": carl, "trips": trips}


def test_generation_makes_one_invoice_per_payer_whose_total_is_the_sum_of_its_lines(
    company, month_of_trips
):
    invoices = invoicing.invoice_generate(company=company, month=DECEMBER)
    assert len(invoices) == 3
    by_payer = {inv.payer.name: inv for inv in invoices}
    assert by_payer["Assura"].lines.count() == 2
    ben = month_of_trips["ben"]
    fee = by_payer[f"{ben.first_name} {ben.last_name}"].lines.get(day=date(2026, 12, 28))
    assert (fee.amount, fee.supplements, fee.distance_km) == (
        Decimal("35.00"),
        "Late cancellation",
        None,
    )
    for invoice in invoices:
        lines = list(invoice.lines.all())
        assert invoice.status == "draft" and invoice.number is None
        assert invoice.total == sum(line.amount for line in lines)
        assert invoice.total % Decimal("0.05") == 0
        assert {line.booking.charge.amount for line in lines} == {line.amount for line in lines}
    night = by_payer["Assura"].lines.get(day=date(2026, 12, 5))
    assert "Night" in night.supplements and "insurance no. 756.1234" in night.supplements
    assert "→" in night.description and night.distance_km > 0


def test_generating_twice_adds_nothing_and_a_late_trip_joins_the_draft(
    company, month_of_trips, django_capture_on_commit_callbacks
):
    first = invoicing.invoice_generate(company=company, month=DECEMBER)
    assert invoicing.invoice_generate(company=company, month=DECEMBER) == []
    assert InvoiceLine.objects.count() == 6
    late = complete(
        trip(company, at=day(20), client=month_of_trips["anna"]), django_capture_on_commit_callbacks
    )
    (again,) = invoicing.invoice_generate(company=company, month=DECEMBER)
    assert again in first and again.lines.count() == 3
    assert again.total == sum(line.amount for line in again.lines.all())
    assert late.invoice_lines.get().invoice == again


def test_a_trip_is_on_one_active_invoice_line_only_by_constraint(company, month_of_trips):
    (invoice, *_) = invoicing.invoice_generate(company=company, month=DECEMBER)
    line = invoice.lines.first()
    other = Invoice.objects.create(company=company, payer=invoice.payer, month=DECEMBER)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(
            company=company,
            invoice=other,
            booking=line.booking,
            day=line.day,
            patient="x",
            description="x",
            amount=line.amount,
        )


def test_an_insurers_lines_say_when_a_trip_is_beyond_the_cost_guarantee(
    company, month_of_trips, django_capture_on_commit_callbacks
):
    carl, insurer = month_of_trips["carl"], month_of_trips["insurer"]
    services.client_billing_set(
        client=carl,
        guarantee_from=date(2026, 12, 1),
        guarantee_until=date(2026, 12, 31),
        guarantee_trips=2,
    )
    (first,) = invoicing.invoice_generate(company=company, month=DECEMBER, payer=insurer)
    assert not any("beyond" in line.supplements for line in first.lines.all())
    complete(trip(company, at=day(10), client=carl), django_capture_on_commit_callbacks)
    (again,) = invoicing.invoice_generate(company=company, month=DECEMBER, payer=insurer)
    third = again.lines.get(day=date(2026, 12, 10))
    assert "beyond the cost guarantee's 2 trips" in third.supplements
    services.client_billing_set(client=carl, guarantee_until=date(2026, 12, 9))
    complete(trip(company, at=day(11), client=carl), django_capture_on_commit_callbacks)
    (again,) = invoicing.invoice_generate(company=company, month=DECEMBER, payer=insurer)
    assert "outside the cost guarantee" in again.lines.get(day=date(2026, 12, 11)).supplements


def test_generation_filters_by_payer_and_refuses_a_future_month(company, month_of_trips):
    insurer = month_of_trips["insurer"]
    (invoice,) = invoicing.invoice_generate(company=company, month=DECEMBER, payer=insurer)
    assert invoice.payer == insurer
    with pytest.raises(Exception, match="future") as caught:
        invoicing.invoice_generate(company=company, month=date(2027, 2, 1))
    assert caught.value.field == "month"


def test_issuing_numbers_references_and_renders(company, month_of_trips):
    invoices = invoicing.invoice_generate(company=company, month=DECEMBER)
    issued = [invoicing.invoice_issue(invoice=inv) for inv in invoices]
    assert [inv.number for inv in issued] == ["2027-000001", "2027-000002", "2027-000003"]
    from billing.references import reference_is_valid

    for inv in issued:
        assert inv.status == "issued" and reference_is_valid(inv.reference)
        assert (inv.issue_date, inv.due_date) == (date(2027, 1, 5), date(2027, 2, 4))
        doc = inv.documents.get()
        assert doc.kind == "invoice" and doc.amount_due == inv.total
        assert bytes(doc.pdf).startswith(b"%PDF")
    with pytest.raises(InvoiceInvalidTransition):
        invoicing.invoice_issue(invoice=issued[0])


def test_a_month_is_issued_at_once_and_a_missing_pdf_is_rendered_when_asked(
    company, month_of_trips
):
    drafts = invoicing.invoice_generate(company=company, month=DECEMBER)
    issued = invoicing.invoices_issue(invoices=drafts, workers=1)
    assert [inv.number for inv in issued] == ["2027-000001", "2027-000002", "2027-000003"]
    assert InvoiceDocument.objects.filter(kind="invoice").count() == 3
    lost = issued[0]
    lost.documents.all().delete()  # as if the process died before storing it
    document = invoicing.invoice_pdf(invoice=lost)
    assert document.kind == "invoice" and document.amount_due == lost.total
    assert bytes(document.pdf).startswith(b"%PDF")
    assert invoicing.invoice_pdf(invoice=lost) == document


def test_a_batch_with_an_invoice_that_is_not_a_draft_is_refused_whole(company, month_of_trips):
    drafts = invoicing.invoice_generate(company=company, month=DECEMBER)
    invoicing.invoice_issue(invoice=drafts[1])
    with pytest.raises(InvoiceInvalidTransition):
        invoicing.invoices_issue(invoices=drafts)
    assert Invoice.objects.filter(status="draft").count() == 2
    assert invoicing.number_next(company_id=company.id, year=2027, series="invoice") == 2


def test_an_ordinary_iban_gives_a_creditor_reference(company, month_of_trips):
    billing_ready(company, iban=IBAN)
    invoice = invoicing.invoice_issue(
        invoice=invoicing.invoice_generate(company=company, month=DECEMBER)[0]
    )
    assert invoice.reference.startswith("RF") and invoice.reference.endswith("2027000001")


def test_issuing_without_billing_settings_keeps_the_draft_and_the_number(company, month_of_trips):
    invoice = invoicing.invoice_generate(company=company, month=DECEMBER)[0]
    services.billing_settings_get(company_id=company.id)
    company.billing.iban = ""
    company.billing.save()
    with pytest.raises(BillingSettingsIncomplete) as caught:
        invoicing.invoice_issue(invoice=invoice)
    assert caught.value.field == "iban"
    invoice.refresh_from_db()
    assert invoice.status == "draft" and invoice.number is None
    billing_ready(company)
    assert invoicing.invoice_issue(invoice=invoice).number == "2027-000001"


def test_cancelling_an_issued_invoice_gives_a_credit_note_and_frees_its_trips(
    company, month_of_trips
):
    invoice = invoicing.invoice_issue(
        invoice=invoicing.invoice_generate(company=company, month=DECEMBER)[0]
    )
    cancelled = invoicing.invoice_cancel(invoice=invoice, reason="Wrong payer")
    assert cancelled.status == "cancelled" and cancelled.number == "2027-000001"
    assert cancelled.credit_note_number == "CN-2027-000001"
    note = cancelled.documents.get(kind="credit_note")
    assert note.amount_due == 0
    assert not cancelled.lines.filter(active=True).exists()
    # Its trips are invoiced again on a new draft; the cancelled invoice stays.
    (again,) = invoicing.invoice_generate(company=company, month=DECEMBER, payer=invoice.payer)
    assert again != invoice and again.lines.count() == invoice.lines.count()
    assert Invoice.objects.filter(pk=invoice.pk).exists()
    with pytest.raises(InvoiceInvalidTransition):
        invoicing.invoice_cancel(invoice=cancelled)


def test_numbers_are_per_company_and_year(company, month_of_trips):
    other = CompanyFactory(name="Other")
    assert invoicing.number_next(company_id=company.id, year=2027, series="invoice") == 1
    assert invoicing.number_next(company_id=company.id, year=2027, series="invoice") == 2
    assert invoicing.number_next(company_id=other.id, year=2027, series="invoice") == 1
    assert invoicing.number_next(company_id=company.id, year=2028, series="invoice") == 1


def test_a_rolled_back_issue_gives_its_number_back(company, month_of_trips):
    with pytest.raises(RuntimeError), transaction.atomic():
        invoicing.number_next(company_id=company.id, year=2027, series="invoice")
        raise RuntimeError
    assert invoicing.number_next(company_id=company.id, year=2027, series="invoice") == 1


# --- reminders ------------------------------------------------------------------------------
def test_reminders_move_to_overdue_and_issue_levels_with_fees(company, month_of_trips, settings):
    import time_machine

    invoice = invoicing.invoice_issue(
        invoice=invoicing.invoice_generate(company=company, month=DECEMBER)[0]
    )
    total = invoice.total  # due 2027-02-04; reminders 10, 25 and 40 days later
    steps = [
        (datetime(2027, 2, 4, 12, 0), "issued", 0),
        (datetime(2027, 2, 5, 12, 0), "overdue", 0),
        (datetime(2027, 2, 14, 12, 0), "overdue", 1),
        (datetime(2027, 2, 14, 18, 0), "overdue", 1),  # twice a day: once
        (datetime(2027, 3, 1, 12, 0), "overdue", 2),
        (datetime(2027, 3, 16, 12, 0), "overdue", 3),
        (datetime(2027, 4, 30, 12, 0), "overdue", 3),
    ]
    for moment, status, level in steps:
        with time_machine.travel(moment.replace(tzinfo=ZURICH), tick=False):
            invoicing.invoice_reminders_run(company=company)
        invoice.refresh_from_db()
        assert (invoice.status, invoice.reminder_level) == (status, level), moment
    assert invoice.fees == Decimal("30.00")  # 0 + 10 + 20
    reminders = invoice.documents.filter(kind="reminder").order_by("level")
    assert [(d.level, d.amount_due) for d in reminders] == [
        (1, total),
        (2, total + 10),
        (3, total + 30),
    ]


def test_a_paid_invoice_gets_no_reminder(company, month_of_trips):
    import time_machine

    from billing.payments import payment_record

    invoice = invoicing.invoice_issue(
        invoice=invoicing.invoice_generate(company=company, month=DECEMBER)[0]
    )
    payment_record(company=company, invoice=invoice, amount=invoice.total)
    with time_machine.travel(datetime(2027, 3, 1, 12, 0, tzinfo=ZURICH), tick=False):
        assert invoicing.invoice_reminders_run(company=company) == 0
    invoice.refresh_from_db()
    assert (invoice.status, invoice.reminder_level) == ("paid", 0)
    assert not InvoiceDocument.objects.filter(kind="reminder").exists()


# --- concurrency on PostgreSQL --------------------------------------------------------------
def _issue_in_thread(invoice_id, results, barrier):
    try:
        barrier.wait(timeout=30)
        results.append(invoicing.invoice_issue(invoice=Invoice(pk=invoice_id)).number)
    except InvoiceInvalidTransition:
        results.append("refused")
    finally:
        connection.close()


def _run_threads(targets):
    barrier = threading.Barrier(len(targets))
    results: list[str] = []
    threads = [
        threading.Thread(target=_issue_in_thread, args=(pk, results, barrier)) for pk in targets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks (SELECT ... FOR UPDATE): PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuing_never_shares_or_skips_a_number(company):
    billing_ready(company)
    payer = services.payer_create(company=company, kind="institution", name="CHUV")
    client = ClientFactory(company=company)
    drafts = []
    for n in range(6):
        invoice = Invoice.objects.create(company=company, payer=payer, month=DECEMBER)
        booking = trip(company, at=day(n + 1), client=client)
        InvoiceLine.objects.create(
            company=company,
            invoice=invoice,
            booking=booking,
            day=date(2026, 12, n + 1),
            patient="P",
            description="A → B",
            amount=Decimal("40.00"),
        )
        invoicing.invoice_total_refresh(invoice=invoice)
        drafts.append(invoice.pk)
    results = _run_threads(drafts)
    assert sorted(results) == [f"2027-{n:06d}" for n in range(1, 7)]
    # Two concurrent issue calls on one draft: one number, one refusal.
    extra = Invoice.objects.create(company=company, payer=payer, month=DECEMBER)
    InvoiceLine.objects.create(
        company=company,
        invoice=extra,
        booking=trip(company, at=day(20), client=client),
        day=date(2026, 12, 20),
        patient="P",
        description="A → B",
        amount=Decimal("40.00"),
    )
    assert sorted(_run_threads([extra.pk, extra.pk])) == ["2027-000007", "refused"]


def test_the_daily_task_runs_each_companys_reminders(company, month_of_trips):
    import time_machine

    from billing.tasks import send_reminders

    invoice = invoicing.invoice_issue(
        invoice=invoicing.invoice_generate(company=company, month=DECEMBER)[0]
    )
    with time_machine.travel(datetime(2027, 2, 14, 12, 0, tzinfo=ZURICH), tick=False):
        send_reminders.delay()  # eager in the tests: runs each company's task in-process
        send_reminders.delay()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.reminder_level) == ("overdue", 1)
    assert invoice.documents.filter(kind="reminder").count() == 1


def test_pdfs_rendered_on_worker_processes_belong_to_their_invoices(company, month_of_trips):
    pdfium = pytest.importorskip("pypdfium2")
    drafts = invoicing.invoice_generate(company=company, month=DECEMBER)
    issued = invoicing.invoices_issue(invoices=drafts, workers=2)
    for invoice in issued:
        document = invoice.documents.get(kind="invoice")
        text = pdfium.PdfDocument(bytes(document.pdf))[0].get_textpage().get_text_range()
        assert invoice.number in text
        others = [i.number for i in issued if i != invoice]
        assert not any(number in text for number in others)
