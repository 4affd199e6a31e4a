"""Cache invalidation on company writes; signals because the admin writes too."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from atmr.accounts.models import Company
from atmr.accounts.selectors import company_forget


@receiver([post_save, post_delete], sender=Company)
def forget_company(sender: type[Company], instance: Company, **kwargs: Any) -> None:
    company_forget(company_id=instance.id)
