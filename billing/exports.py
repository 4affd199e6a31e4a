"""CSV exports for the accountant: a month's invoices, their lines, and the payments received
in it. Semicolon-separated, UTF-8 with a BOM (what spreadsheet programs in Switzerland open
as is); amounts with a dot."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from billing.models import Invoice, InvoiceLine, Payment

KINDS = ("invoices", "lines", "payments")


def _cell(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula (a patient named "=HYPERLINK(…)")
    is quoted with a leading apostrophe; numbers and dates are written as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{value}"
    return value


def _write(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def export_csv(*, kind: str, company_id: Any, month: date) -> str:
    """One of KINDS as CSV text."""
    first = month.replace(day=1)
    if kind == "invoices":
        invoices = Invoice.objects.filter(company_id=company_id, month=first).select_related(
            "payer"
        )
        return _write(
            [
                "number",
                "status",
                "payer",
                "payer_kind",
                "issue_date",
                "due_date",
                "total",
                "fees",
                "paid",
                "reference",
                "credit_note",
            ],
            (
                [
                    i.number,
                    i.status,
                    i.payer.name,
                    i.payer.kind,
                    i.issue_date,
                    i.due_date,
                    i.total,
                    i.fees,
                    i.paid,
                    i.reference,
                    i.credit_note_number,
                ]
                for i in invoices.order_by("number", "created_at")
            ),
        )
    if kind == "lines":
        lines = InvoiceLine.objects.filter(company_id=company_id, invoice__month=first)
        return _write(
            [
                "invoice",
                "invoice_status",
                "booking",
                "day",
                "patient",
                "trip",
                "km",
                "supplements",
                "amount",
                "active",
            ],
            (
                [
                    line.invoice.number,
                    line.invoice.status,
                    line.booking_id,
                    line.day,
                    line.patient,
                    line.description,
                    line.distance_km,
                    line.supplements,
                    line.amount,
                    line.active,
                ]
                for line in lines.select_related("invoice").order_by("invoice__number", "day")
            ),
        )
    following = (first + timedelta(days=32)).replace(day=1)
    payments = Payment.objects.filter(
        company_id=company_id, received_on__gte=first, received_on__lt=following
    ).select_related("invoice")
    return _write(
        [
            "received_on",
            "amount",
            "currency",
            "invoice",
            "reference",
            "source",
            "flag",
            "debtor",
            "entry_id",
        ],
        (
            [
                p.received_on,
                p.amount,
                p.currency,
                p.invoice.number if p.invoice else None,
                p.reference,
                p.source,
                p.flag,
                p.debtor_name,
                p.entry_id,
            ]
            for p in payments.order_by("received_on", "created_at")
        ),
    )
