"""Invoices: monthly drafts from priced trips, issuing (gapless number, reference, PDF),
cancelling (credit note), and the reminders."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from atmr.accounts.models import Company
from atmr.exceptions import DomainError
from billing.documents import DocumentKind, document_for, pdf_render, pdf_render_many, reference_for
from billing.errors import BillingSettingsIncomplete, InvoiceInvalidTransition
from billing.models import (
    ZERO,
    BillingSettings,
    ClientBilling,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    NumberCounter,
    Payer,
    TripCharge,
)
from billing.pricing import round_05
from billing.services import billing_settings_get, trip_charges_missing
from bookings.models import Booking

if TYPE_CHECKING:
    from billing.pdf import PdfDocument

OPEN = (Invoice.Status.ISSUED, Invoice.Status.OVERDUE)
# Breakdown items that are the fare itself; the others are listed as supplements on a line.
_FARE_ITEMS = {"base_fare", "distance", "rounding", "minimum_fare", "flat_fare"}


def local_today(company: Company) -> date:
    return timezone.now().astimezone(company.tz).date()


def month_bounds(company: Company, month: date) -> tuple[datetime, datetime]:
    """The month's first and the next month's first moment, in the company's zone."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    tz = company.tz
    return datetime.combine(first, time(0), tzinfo=tz), datetime.combine(
        following, time(0), tzinfo=tz
    )


# --- numbering ------------------------------------------------------------------------------
def number_next(*, company_id: Any, year: int, series: str) -> int:
    """The next number of `series` in `year`. Call inside the transaction that uses it: the
    counter row stays locked until that transaction ends, so concurrent callers queue, and a
    rollback gives the number back (gapless)."""
    return numbers_take(company_id=company_id, year=year, series=series, count=1)


def numbers_take(*, company_id: Any, year: int, series: str, count: int) -> int:
    """Take `count` consecutive numbers; the last of them (the first is last - count + 1).
    The same lock and rollback rules as `number_next`."""
    table = connection.ops.quote_name(NumberCounter._meta.db_table)
    company = NumberCounter._meta.get_field("company").get_db_prep_value(company_id, connection)
    # One statement: creates the counter at `count` or adds `count`, and keeps the row locked
    # until the transaction ends (a concurrent caller waits, then counts on from the committed
    # value).
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (company_id, year, series, last) VALUES (%s, %s, %s, %s) "  # noqa: S608  (our table name)
            f"ON CONFLICT (company_id, year, series) DO UPDATE SET last = {table}.last + %s "
            "RETURNING last",
            [company, year, series, count, count],
        )
        row = cursor.fetchone()
    assert row is not None  # RETURNING gives the row
    return int(row[0])


# --- generation -----------------------------------------------------------------------------
def _billable(company: Company, month: date) -> Q:
    start, end = month_bounds(company, month)
    return (
        Q(company=company, scheduled_at__gte=start, scheduled_at__lt=end)
        & (
            Q(status__in=[Booking.Status.COMPLETED, Booking.Status.NO_SHOW])
            | Q(status=Booking.Status.CANCELLED, cancelled_late=True)
        )
        & ~Q(invoice_lines__active=True)
    )


@transaction.atomic
def invoice_generate(*, company: Company, month: date, payer: Payer | None = None) -> list[Invoice]:
    """Draft invoices for `month` (local) from its billable trips not yet on an invoice: one
    per payer (a patient who pays is a payer of their own), a line per trip. Trips not priced
    yet are priced first. Adds to the payer's draft of that month when there is one.

    Idempotent: generating again adds nothing. Generations of one company run one after the
    other (the company's billing settings row is locked). Returns the invoices it changed."""
    month = month.replace(day=1)
    if month > local_today(company).replace(day=1):
        raise DomainError("The month is in the future.", field="month")
    if payer is not None and payer.company_id != company.id:
        raise DomainError("Unknown payer.", field="payer")
    BillingSettings.objects.select_for_update().get(
        pk=billing_settings_get(company_id=company.id).pk
    )
    unpriced = list(
        Booking.objects.filter(_billable(company, month))
        .filter(Q(charge__isnull=True) | Q(charge__priced_at__isnull=True))
        .distinct()
    )
    trip_charges_missing(company_id=company.id, bookings=unpriced)
    charges = (
        TripCharge.objects.filter(
            booking__in=Booking.objects.filter(_billable(company, month)), amount__isnull=False
        )
        .select_related("booking", "booking__client", "payer")
        .order_by("booking__scheduled_at")
    )
    if payer is not None:
        charges = charges.filter(payer=payer)
    by_payer: dict[Any, list[TripCharge]] = defaultdict(list)
    for charge in charges:
        by_payer[charge.payer_id].append(charge)
    return _drafts_add(company, month, by_payer)


def _drafts_add(
    company: Company, month: date, by_payer: dict[Any, list[TripCharge]]
) -> list[Invoice]:
    """Each payer's trips as lines of its draft of `month` (made when it has none); totals
    kept as the sum of the lines (each a multiple of 0.05). A few queries whatever the count."""
    drafts = {
        invoice.payer_id: invoice
        for invoice in Invoice.objects.filter(
            company=company, month=month, status=Invoice.Status.DRAFT, payer_id__in=list(by_payer)
        ).order_by("created_at")
    }
    fresh = [
        Invoice(company=company, payer=group[0].payer, month=month)
        for payer_id, group in by_payer.items()
        if payer_id not in drafts
    ]
    Invoice.objects.bulk_create(fresh)
    drafts.update({invoice.payer_id: invoice for invoice in fresh})
    lines: list[InvoiceLine] = []
    for payer_id, group in by_payer.items():
        invoice = drafts[payer_id]
        guarantees = _Guarantees(invoice.payer, group)
        added = [_line(company, invoice, charge, guarantees) for charge in group]
        invoice.total = round_05(invoice.total + sum((line.amount for line in added), ZERO))
        invoice.updated_at = timezone.now()
        lines.extend(added)
    InvoiceLine.objects.bulk_create(lines, batch_size=1000)
    touched = [drafts[payer_id] for payer_id in by_payer]
    Invoice.objects.bulk_update(touched, ["total", "updated_at"], batch_size=500)
    return touched


class _Guarantees:
    """The insurer's cost guarantees of the patients on one invoice, and how many trips each
    has used (trips on the payer's active invoice lines within its validity)."""

    def __init__(self, payer: Payer, charges: list[TripCharge]) -> None:
        self.rows: dict[Any, ClientBilling] = {}
        self.used: dict[Any, int] = {}
        if payer.kind != Payer.Kind.INSURER:
            return
        clients = {c.booking.client_id for c in charges}
        self.rows = {
            row.client_id: row
            for row in ClientBilling.objects.filter(client_id__in=clients, payer=payer)
        }
        for client_id, row in self.rows.items():
            if row.guarantee_trips is None:
                continue  # no cap: nothing to count
            lines = InvoiceLine.objects.filter(
                active=True, invoice__payer=payer, booking__client_id=client_id
            )
            if row.guarantee_from:
                lines = lines.filter(day__gte=row.guarantee_from)
            if row.guarantee_until:
                lines = lines.filter(day__lte=row.guarantee_until)
            self.used[client_id] = lines.count()

    def notes(self, client_id: Any, day: date) -> list[str]:
        """What the line says about the guarantee: the insurance number, and whether the trip
        falls outside the guarantee's days or beyond its number of trips."""
        row = self.rows.get(client_id)
        if row is None:
            return []
        notes = [f"insurance no. {row.insurance_number}"] if row.insurance_number else []
        if not _covered(row, day):
            return [*notes, "outside the cost guarantee"]
        if row.guarantee_trips is None:
            return notes
        self.used[client_id] += 1
        if self.used[client_id] > row.guarantee_trips:
            notes.append(f"beyond the cost guarantee's {row.guarantee_trips} trips")
        return notes


def _line(
    company: Company, invoice: Invoice, charge: TripCharge, guarantees: _Guarantees
) -> InvoiceLine:
    booking = charge.booking
    day = booking.scheduled_at.astimezone(company.tz).date()
    extras = [item["text"] for item in charge.breakdown if item["code"] not in _FARE_ITEMS]
    if charge.kind != TripCharge.Kind.TRIP:
        extras = [TripCharge.Kind(charge.kind).label]
    extras = [*guarantees.notes(booking.client_id, day), *extras]
    client = booking.client
    return InvoiceLine(
        company=company,
        invoice=invoice,
        booking=booking,
        day=day,
        patient=f"{client.last_name} {client.first_name}".strip()[:201],
        description=f"{booking.pickup_address} → {booking.dropoff_address}"[:700],
        distance_km=charge.distance_km if charge.kind == TripCharge.Kind.TRIP else None,
        supplements=", ".join(extras)[:200],
        amount=charge.amount or ZERO,
    )


def _covered(guarantee: ClientBilling, day: date) -> bool:
    if guarantee.guarantee_from and day < guarantee.guarantee_from:
        return False
    return not (guarantee.guarantee_until and day > guarantee.guarantee_until)


def invoice_total_refresh(*, invoice: Invoice) -> Invoice:
    """Total = the sum of its active lines, rounded to 0.05 CHF (each line is already)."""
    total = invoice.lines.filter(active=True).aggregate(total=Sum("amount"))["total"] or ZERO
    invoice.total = round_05(total)
    invoice.save(update_fields=["total", "updated_at"])
    return invoice


# --- issuing and cancelling -----------------------------------------------------------------
def _settings_ready(company_id: Any) -> BillingSettings:
    settings = billing_settings_get(company_id=company_id)
    for name in ("iban", "creditor_name", "postal_code", "city"):
        if not getattr(settings, name):
            raise BillingSettingsIncomplete(
                f"Fill the billing settings first: {name.replace('_', ' ')} is missing.",
                field=name,
            )
    return settings


def _locked(invoice: Invoice, *statuses: str) -> Invoice:
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("payer", "company")
        .get(pk=invoice.pk)
    )
    if invoice.status not in statuses:
        raise InvoiceInvalidTransition(
            f"A {invoice.get_status_display().lower()} invoice cannot do this.", field="status"
        )
    return invoice


@transaction.atomic
def invoice_issue(*, invoice: Invoice) -> Invoice:
    """Give a draft its number (gapless per company and year: `2026-000123`), payment
    reference, issue and due dates, and its PDF, all in one transaction: a failure keeps it a
    draft and gives the number back. Concurrent calls on one draft: the second gets 409."""
    invoice, document = _issue_numbered(invoice)
    _document_store(invoice, document, pdf_render(document))
    return invoice


def _issue_numbered(invoice: Invoice) -> tuple[Invoice, PdfDocument]:
    """Inside the caller's transaction: lock the draft, number it, and return it with the
    input of its PDF."""
    invoice = _locked(invoice, Invoice.Status.DRAFT)
    lines = list(invoice.lines.filter(active=True))
    if not lines:
        raise InvoiceInvalidTransition("An invoice without lines is not issued.", field="lines")
    settings = _settings_ready(invoice.company_id)
    today = local_today(invoice.company)
    sequence = number_next(company_id=invoice.company_id, year=today.year, series="invoice")
    invoice.number = f"{today.year}-{sequence:06d}"
    invoice.reference = reference_for(iban=settings.iban, year=today.year, sequence=sequence)
    invoice.issue_date = today
    invoice.due_date = today + timedelta(days=settings.payment_terms_days)
    invoice.status = Invoice.Status.ISSUED
    invoice.save()
    document = document_for(
        invoice=invoice,
        settings=settings,
        lines=lines,
        kind="invoice",
        issue_date=today,
        due_date=invoice.due_date,
        amount_due=invoice.total,
    )
    return invoice, document


def invoices_issue(*, invoices: list[Invoice], workers: int = 1) -> list[Invoice]:
    """Issue many drafts of one company (a month's) at once, PDFs rendered on `workers`
    processes.

    One transaction numbers them all (a block of consecutive numbers, in the drafts' creation
    order), or none: a draft that is not a draft any more or has no lines, or incomplete
    settings, refuse the whole batch (as `invoice_issue` would refuse that draft). The PDFs are
    rendered after the commit and stored; should the process die in between, an issued
    invoice gets its PDF when first downloaded (`invoice_pdf`)."""
    if not invoices:
        return []
    with transaction.atomic():
        drafts, lines = _drafts_locked(invoices)
        company = drafts[0].company
        settings = _settings_ready(company.id)
        today = local_today(company)
        last = numbers_take(
            company_id=company.id, year=today.year, series="invoice", count=len(drafts)
        )
        documents = []
        for sequence, invoice in enumerate(drafts, start=last - len(drafts) + 1):
            invoice.number = f"{today.year}-{sequence:06d}"
            invoice.reference = reference_for(
                iban=settings.iban, year=today.year, sequence=sequence
            )
            invoice.issue_date = today
            invoice.due_date = today + timedelta(days=settings.payment_terms_days)
            invoice.status = Invoice.Status.ISSUED
            invoice.updated_at = timezone.now()
            documents.append(
                document_for(
                    invoice=invoice,
                    settings=settings,
                    lines=lines[invoice.pk],
                    kind="invoice",
                    issue_date=today,
                    due_date=invoice.due_date,
                    amount_due=invoice.total,
                )
            )
        Invoice.objects.bulk_update(
            drafts,
            ["number", "reference", "issue_date", "due_date", "status", "updated_at"],
            batch_size=500,
        )
    pdfs = pdf_render_many(documents, workers=workers)
    InvoiceDocument.objects.bulk_create(
        [
            _document_row(invoice, document, pdf)
            for invoice, document, pdf in zip(drafts, documents, pdfs, strict=True)
        ]
    )
    return drafts


def _drafts_locked(invoices: list[Invoice]) -> tuple[list[Invoice], dict[Any, list[InvoiceLine]]]:
    """The drafts locked in creation order, and their active lines; refuses (409) anything
    else than drafts of one company, each with lines."""
    drafts = list(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("payer", "company")
        .filter(pk__in=[invoice.pk for invoice in invoices])
        .order_by("created_at", "id")
    )
    if len({invoice.company_id for invoice in drafts}) != 1:
        raise InvoiceInvalidTransition("Issue one company's drafts at a time.", field="invoices")
    lines: dict[Any, list[InvoiceLine]] = {invoice.pk: [] for invoice in drafts}
    for line in InvoiceLine.objects.filter(invoice__in=drafts, active=True).order_by(
        "day", "patient", "id"
    ):
        lines[line.invoice_id].append(line)
    for invoice in drafts:
        if invoice.status != Invoice.Status.DRAFT:
            raise InvoiceInvalidTransition(f"{invoice} is not a draft.", field="status")
        if not lines[invoice.pk]:
            raise InvoiceInvalidTransition(f"{invoice} has no lines.", field="lines")
    return drafts, lines


def _document_row(invoice: Invoice, document: PdfDocument, pdf: bytes) -> InvoiceDocument:
    return InvoiceDocument(
        company_id=invoice.company_id,
        invoice=invoice,
        kind=document.kind,
        level=document.reminder_level,
        amount_due=document.amount_due,
        pdf=pdf,
    )


def _document_store(invoice: Invoice, document: PdfDocument, pdf: bytes) -> InvoiceDocument:
    row = _document_row(invoice, document, pdf)
    row.save()
    return row


def _document_save(
    invoice: Invoice,
    settings: BillingSettings,
    lines: list[InvoiceLine],
    *,
    kind: DocumentKind,
    amount_due: Decimal,
    level: int | None = None,
    fee: Decimal | None = None,
    due_date: date | None = None,
    note: str = "",
) -> InvoiceDocument:
    document = document_for(
        invoice=invoice,
        settings=settings,
        lines=lines,
        kind=kind,
        issue_date=local_today(invoice.company),
        due_date=due_date,
        amount_due=amount_due,
        level=level,
        fee=fee,
        note=note,
    )
    return _document_store(invoice, document, pdf_render(document))


@transaction.atomic
def invoice_cancel(*, invoice: Invoice, reason: str = "") -> Invoice:
    """Cancel an invoice; its trips may be invoiced again. A draft is simply cancelled; an
    issued (or overdue) one keeps its number and gets a credit note (numbered `CN-2026-…`)
    with its PDF. A paid invoice is not cancelled (409): refund it first."""
    invoice = _locked(invoice, Invoice.Status.DRAFT, *OPEN)
    lines = list(invoice.lines.filter(active=True))
    invoice.lines.update(active=False)
    invoice.cancelled_at = timezone.now()
    invoice.cancel_reason = reason.strip()[:300]
    issued = invoice.status != Invoice.Status.DRAFT
    invoice.status = Invoice.Status.CANCELLED
    if issued:
        today = local_today(invoice.company)
        sequence = number_next(company_id=invoice.company_id, year=today.year, series="credit")
        invoice.credit_note_number = f"CN-{today.year}-{sequence:06d}"
    invoice.save()
    if issued:
        settings = billing_settings_get(company_id=invoice.company_id)
        _document_save(
            invoice,
            settings,
            lines,
            kind="credit_note",
            amount_due=ZERO,
            note=f"Credit note for invoice {invoice.number}. {invoice.cancel_reason}".strip(),
        )
    return invoice


def invoice_pdf(*, invoice: Invoice) -> InvoiceDocument | None:
    """The invoice's latest document (its last reminder, or its credit note once cancelled);
    None for a draft. An issued invoice whose PDF was not stored (`invoices_issue` stopped
    before rendering) gets it now, from its frozen rows."""
    latest = invoice.documents.order_by("-created_at").first()
    if latest is not None or invoice.number is None:
        return latest
    settings = billing_settings_get(company_id=invoice.company_id)
    assert invoice.issue_date is not None  # a numbered invoice was issued
    document = document_for(
        invoice=invoice,
        settings=settings,
        lines=list(invoice.lines.all()),
        kind="invoice",
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        amount_due=invoice.total,
    )
    with transaction.atomic():
        InvoiceDocument.objects.bulk_create(
            [_document_row(invoice, document, pdf_render(document))], ignore_conflicts=True
        )
    return invoice.documents.order_by("-created_at").first()


# --- reminders ------------------------------------------------------------------------------
def invoice_reminders_run(*, company: Company) -> int:
    """Move the company's unpaid invoices past their due date to overdue, and issue the next
    reminder level (1–3) when its days after the due date are reached, one level a day at
    most. Safe to run twice a day: a level is issued once. Returns the reminders issued."""
    settings = billing_settings_get(company_id=company.id)
    today = local_today(company)
    overdue = Invoice.objects.filter(company=company, status__in=OPEN, due_date__lt=today)
    overdue.filter(status=Invoice.Status.ISSUED).update(
        status=Invoice.Status.OVERDUE, updated_at=timezone.now()
    )
    issued = 0
    for invoice in overdue.filter(reminder_level__lt=3).exclude(reminded_on=today):
        level = invoice.reminder_level + 1
        assert invoice.due_date is not None  # issued invoices have their due date
        if today >= invoice.due_date + timedelta(days=settings.reminder_days(level)):
            invoice_remind(invoice=invoice, level=level)
            issued += 1
    return issued


@transaction.atomic
def invoice_remind(*, invoice: Invoice, level: int) -> Invoice:
    """Issue reminder `level` with its fee and its own PDF and QR-bill for the amount then
    due. Idempotent: a level already issued is not issued again."""
    invoice = _locked(invoice, *OPEN)
    if invoice.reminder_level >= level:
        return invoice
    settings = billing_settings_get(company_id=invoice.company_id)
    fee = settings.reminder_fee(level)
    today = local_today(invoice.company)
    invoice.fees += fee
    invoice.reminder_level, invoice.reminded_on = level, today
    invoice.status = Invoice.Status.OVERDUE
    invoice.save(update_fields=["fees", "reminder_level", "reminded_on", "status", "updated_at"])
    _document_save(
        invoice,
        settings,
        list(invoice.lines.filter(active=True)),
        kind="reminder",
        amount_due=invoice.amount_due,
        level=level,
        fee=fee,
        due_date=today + timedelta(days=settings.reminder_terms_days),
    )
    return invoice
