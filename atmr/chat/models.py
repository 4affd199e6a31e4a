"""The company's team chat: dispatchers, admins and drivers in one conversation, plus the
office's messages to one driver (seen by that driver and the office only)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from atmr.accounts.models import Company

MAX_TEXT_CHARS = 2_000


class ChatMessage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="chat_messages")
    # History outlives the people who wrote it.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_messages",
    )
    # Null: a team message. Else from the office to this one driver (its replies go to the team).
    to_driver = models.ForeignKey(
        "drivers.Driver",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="direct_messages",
    )
    text = models.CharField(max_length=MAX_TEXT_CHARS)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # GET /api/chat/messages?before=: a company's newest messages before a time.
            models.Index(fields=["company", "-created_at"], name="chat_company_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.text[:40]}"
