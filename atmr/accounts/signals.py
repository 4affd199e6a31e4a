"""Cache invalidation on company writes; signals because the admin writes too."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_forget, company_suspended_mark


@receiver([post_save, post_delete], sender=Company)
def forget_company(sender: type[Company], instance: Company, **kwargs: Any) -> None:
    company_forget(company_id=instance.id)


@receiver(post_save, sender=Company)
def mark_suspended_company(sender: type[Company], instance: Company, **kwargs: Any) -> None:
    # Access tokens already issued are refused from now on (see authentication.py).
    company_suspended_mark(company_id=instance.id, suspended=not instance.active)
