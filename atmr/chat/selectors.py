"""Reads of the team chat, always scoped to one company."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q, QuerySet

from atmr.chat.models import ChatMessage


def chat_message_list(
    *,
    company_id: uuid.UUID | str,
    before: datetime | None = None,
    limit: int = 50,
    driver_id: uuid.UUID | str | None = None,
) -> QuerySet[ChatMessage]:
    """A company's messages, newest first, older than `before`; one query with the senders.
    With `driver_id` (a driver reading), the team's messages and those sent to that driver."""
    qs = (
        ChatMessage.objects.filter(company_id=company_id)
        .select_related("sender")
        .order_by("-created_at", "-id")
    )
    if driver_id is not None:
        qs = qs.filter(Q(to_driver__isnull=True) | Q(to_driver_id=driver_id))
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return qs[:limit]
