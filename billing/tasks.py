"""Celery entry points for billing."""

from __future__ import annotations

import logging

from celery import shared_task

from atmr.accounts.models import Company
from billing.invoicing import invoice_reminders_run

log = logging.getLogger(__name__)


@shared_task(name="billing.send_reminders", ignore_result=True)
def send_reminders() -> None:
    """Daily: queue each active company's reminders run (one task per company, so one
    company's failure does not stop the others)."""
    for company_id in Company.objects.filter(active=True).values_list("id", flat=True):
        company_reminders.delay(str(company_id))


@shared_task(name="billing.company_reminders", ignore_result=True)
def company_reminders(company_id: str) -> int:
    """Overdue invoices and reminder levels of one company. Idempotent: a second run the
    same day issues nothing."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        log.info("Reminders: company %s is gone.", company_id)
        return 0
    return invoice_reminders_run(company=company)
