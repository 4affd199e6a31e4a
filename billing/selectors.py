"""Billing reads, each scoped to one company."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch, QuerySet

from billing.models import Invoice, InvoiceLine, Payer, Payment, Tariff, TariffOverride


def invoice_list(
    *,
    company_id: Any,
    status: str | None = None,
    month: date | None = None,
    payer_id: Any = None,
) -> QuerySet[Invoice]:
    invoices = (
        Invoice.objects.filter(company_id=company_id)
        .select_related("payer")
        .prefetch_related(
            Prefetch("lines", queryset=InvoiceLine.objects.order_by("day", "patient", "id"))
        )
        .order_by("-month", "number", "created_at", "id")
    )
    if status:
        invoices = invoices.filter(status=status)
    if month:
        invoices = invoices.filter(month=month)
    if payer_id:
        invoices = invoices.filter(payer_id=payer_id)
    return invoices


def payment_list(
    *, company_id: Any, invoice_id: Any = None, flag: str | None = None
) -> QuerySet[Payment]:
    payments = Payment.objects.filter(company_id=company_id).order_by(
        "-received_on", "-created_at", "id"
    )
    if invoice_id:
        payments = payments.filter(invoice_id=invoice_id)
    if flag is not None:
        payments = payments.filter(flag=flag)
    return payments


def tariff_list(*, company_id: Any) -> QuerySet[Tariff]:
    return (
        Tariff.objects.filter(company_id=company_id)
        .prefetch_related(Prefetch("overrides", queryset=TariffOverride.objects.order_by("id")))
        .order_by("-valid_from")
    )


def payer_list(*, company_id: Any, kind: str | None = None) -> QuerySet[Payer]:
    payers = Payer.objects.filter(company_id=company_id).order_by("name", "id")
    return payers.filter(kind=kind) if kind else payers
