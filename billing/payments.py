"""Payments: entered by hand, or imported from the bank's camt.054 notification, matched to
invoices by their payment reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction

from atmr.accounts.models import Company
from atmr.exceptions import DomainError
from billing.camt import CamtError, camt054_parse
from billing.errors import InvoiceInvalidTransition, PaymentImportInvalid
from billing.invoicing import OPEN, local_today
from billing.models import Invoice, Payment, PaymentImport

MAX_CAMT_BYTES = 10 * 1024 * 1024
# A payment may land on an invoice paid meanwhile (an overpayment); never on a draft or a
# cancelled one.
PAYABLE = (*OPEN, Invoice.Status.PAID)


def reference_normalize(value: str) -> str:
    return "".join(value.split()).upper()


def _apply(invoice: Invoice, amount: Decimal) -> str:
    """Add `amount` to a locked invoice; the payment's flag (partial, overpaid or exact)."""
    invoice.paid += amount
    due = invoice.total + invoice.fees
    if invoice.paid >= due:
        invoice.status = Invoice.Status.PAID
        invoice.payment_flag = "overpaid" if invoice.paid > due else ""
    else:
        invoice.payment_flag = "partial"
    invoice.save(update_fields=["paid", "status", "payment_flag", "updated_at"])
    return invoice.payment_flag


@transaction.atomic
def payment_record(
    *,
    company: Company,
    amount: Decimal,
    received_on: date | None = None,
    invoice: Invoice | None = None,
    reference: str = "",
    note: str = "",
) -> Payment:
    """A payment entered by hand, on `invoice` or on the invoice with `reference`.

    Partial payments and overpayments are recorded and flagged (on the payment and the
    invoice). A draft or cancelled invoice takes no payment (409)."""
    if amount <= 0:
        raise DomainError("A payment is more than zero.", field="amount")
    reference = reference_normalize(reference)
    if invoice is None:
        if not reference:
            raise DomainError("Give the invoice or its reference.", field="invoice")
        invoice = Invoice.objects.filter(company=company, reference=reference).first()
        if invoice is None:
            raise DomainError("No invoice has this reference.", field="reference")
    if invoice.company_id != company.id:
        raise DomainError("Unknown invoice.", field="invoice")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in PAYABLE:
        raise InvoiceInvalidTransition(
            f"A {invoice.get_status_display().lower()} invoice takes no payment.", field="invoice"
        )
    flag = _apply(invoice, amount)
    return Payment.objects.create(
        company=company,
        invoice=invoice,
        amount=amount,
        received_on=received_on or local_today(company),
        reference=invoice.reference or reference,
        source=Payment.Source.MANUAL,
        flag=flag,
        note=note.strip()[:300],
    )


@dataclass
class ImportResult:
    payment_import: PaymentImport | None
    message_id: str
    entries: int = 0
    matched: int = 0
    duplicates: int = 0
    flagged: list[Payment] = field(default_factory=list)
    unknown: list[dict[str, str]] = field(default_factory=list)


@transaction.atomic
def payments_import(*, company: Company, data: bytes, filename: str = "") -> ImportResult:
    """Import a camt.054 file: each entry with a known reference pays its invoice; unknown
    references (or another currency) are kept as unmatched payments and listed.

    Refused whole (400 on `file`, nothing stored) when the file is over 10 MB, not XML or not
    camt.054. Idempotent: entries already imported (by the bank's entry id) are skipped, so
    importing the same file twice changes nothing."""
    if len(data) > MAX_CAMT_BYTES:
        raise PaymentImportInvalid("The file is over 10 MB.", field="file")
    try:
        parsed = camt054_parse(data)
    except CamtError as exc:
        raise PaymentImportInvalid(str(exc.detail), field="file") from None
    known = set(
        Payment.objects.filter(
            company=company, entry_id__in=[e.entry_id for e in parsed.entries]
        ).values_list("entry_id", flat=True)
    )
    fresh = [e for e in parsed.entries if e.entry_id not in known]
    result = ImportResult(
        payment_import=None,
        message_id=parsed.message_id,
        entries=len(parsed.entries),
        duplicates=len(parsed.entries) - len(fresh),
    )
    if not fresh:
        return result
    record = PaymentImport.objects.create(
        company=company, message_id=parsed.message_id[:100], filename=filename[:200]
    )
    for entry in fresh:
        _import_entry(company, record, entry, result)
    record.entries, record.matched = result.entries, result.matched
    record.duplicates, record.unknown = result.duplicates, result.unknown
    record.save(update_fields=["entries", "matched", "duplicates", "unknown"])
    result.payment_import = record
    return result


def _import_entry(
    company: Company, record: PaymentImport, entry: Any, result: ImportResult
) -> None:
    reference = reference_normalize(entry.reference or "")
    invoice = None
    if reference and entry.currency == "CHF":
        invoice = (
            Invoice.objects.select_for_update()
            .filter(company=company, reference=reference, status__in=PAYABLE)
            .first()
        )
    flag: str = Payment.Flag.UNMATCHED
    if invoice is not None:
        flag = _apply(invoice, entry.amount)
        result.matched += 1
    else:
        result.unknown.append(
            {
                "entry_id": entry.entry_id,
                "reference": reference,
                "amount": str(entry.amount),
                "currency": entry.currency,
            }
        )
    payment = Payment.objects.create(
        company=company,
        invoice=invoice,
        amount=entry.amount,
        currency=entry.currency[:3],
        received_on=entry.booked_on or local_today(company),
        reference=reference[:35],
        debtor_name=(entry.debtor_name or "")[:140],
        source=Payment.Source.CAMT,
        entry_id=entry.entry_id[:100],
        payment_import=record,
        flag=flag,
    )
    if flag:
        result.flagged.append(payment)
