"""Every write to the team chat."""

from __future__ import annotations

import uuid
from typing import Protocol

from django.db import transaction

from atmr.chat.models import MAX_TEXT_CHARS, ChatMessage
from atmr.exceptions import DomainError
from realtime.events import build_chat_message
from realtime.groups import group_for_company_chat
from realtime.publish import publish_on_commit
from realtime.schemas import ChatSender


class ChatAuthor(Protocol):
    """Who writes, as much as the service reads: a socket's token claims, or a company user."""

    @property
    def id(self) -> uuid.UUID | str: ...
    @property
    def email(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def company_id(self) -> uuid.UUID | str: ...


def chat_sender(author: ChatAuthor) -> ChatSender:
    return {"id": str(author.id), "email": author.email, "role": author.role}


@transaction.atomic
def chat_message_send(*, author: ChatAuthor, text: str) -> ChatMessage:
    """Store a message in the author's company chat and push it to everyone connected.

    Costs one INSERT: the author comes from the caller (token claims), never from a query.
    """
    text = text.strip()
    if not 1 <= len(text) <= MAX_TEXT_CHARS:
        raise DomainError(f"A message has 1 to {MAX_TEXT_CHARS} characters.", field="text")
    message = ChatMessage.objects.create(
        company_id=author.company_id, sender_id=author.id, text=text
    )
    publish_on_commit(
        group_for_company_chat(str(author.company_id)),
        build_chat_message(message, chat_sender(author)),
    )
    return message
