"""An invoice as the PDF renderer's input (billing/pdf.py, a frozen `PdfDocument`), and its
payment reference. The renderer and the reference arithmetic live in billing/pdf.py and
billing/references.py; this module only maps our rows onto them."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from billing.models import BillingSettings, Invoice, InvoiceLine, Payer

if TYPE_CHECKING:
    from billing.pdf import PdfDocument, PdfParty

DocumentKind = Literal["invoice", "reminder", "credit_note"]


def reference_for(*, iban: str, year: int, sequence: int) -> str:
    """The invoice's payment reference from its number: a QR reference (27 digits) with a
    QR-IBAN, a creditor reference (RF…) with an ordinary IBAN."""
    from billing.references import creditor_reference_build, iban_is_qr, qr_reference_build

    base = f"{year}{sequence:06d}"
    return qr_reference_build(base) if iban_is_qr(iban) else creditor_reference_build(base)


def _party(source: BillingSettings | Payer, name: str) -> PdfParty:
    from billing.pdf import PdfParty

    return PdfParty(
        name=name,
        street=source.street,
        house_number=source.house_number,
        postal_code=source.postal_code,
        city=source.city,
        country=source.country or "CH",
    )


def document_for(
    *,
    invoice: Invoice,
    settings: BillingSettings,
    lines: list[InvoiceLine],
    kind: DocumentKind,
    issue_date: date,
    due_date: date | None,
    amount_due: Decimal,
    level: int | None = None,
    fee: Decimal | None = None,
    note: str = "",
) -> PdfDocument:
    from billing.pdf import PdfDocument, PdfLine

    number = invoice.credit_note_number if kind == "credit_note" else invoice.number
    return PdfDocument(
        kind=kind,
        number=number or "",
        issue_date=issue_date,
        due_date=due_date,
        creditor=_party(settings, settings.creditor_name or str(invoice.company)),
        creditor_iban=settings.iban,
        debtor=_party(invoice.payer, invoice.payer.name),
        lines=tuple(
            PdfLine(
                day=line.day,
                description=_line_text(line),
                km=line.distance_km,
                amount=line.amount,
            )
            for line in lines
        ),
        total=invoice.total,
        amount_due=amount_due,
        reference=invoice.reference if kind != "credit_note" else None,
        reminder_level=level,
        fee=fee,
        note=note,
    )


def _line_text(line: InvoiceLine) -> str:
    text = f"{line.patient}: {line.description}"
    return f"{text} ({line.supplements})" if line.supplements else text


def pdf_render(document: PdfDocument) -> bytes:
    from billing.pdf import document_pdf_render

    return document_pdf_render(document)


def pdf_render_many(documents: list[PdfDocument], *, workers: int = 1) -> list[bytes]:
    """The PDFs of `documents`, in order; on `workers` processes when more than one (the
    renderer is pure Python: threads would share one core). The workers only render: no
    Django, no database. Call it outside a transaction's lock-holding part when possible."""
    if workers <= 1 or len(documents) < 2:
        return [pdf_render(document) for document in documents]
    from billing.pdf import document_pdf_render

    # Forked workers share the imported renderer (spawned ones would import ReportLab again,
    # about a second of CPU each); they never touch the inherited database connection.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(document_pdf_render, documents, chunksize=4))
