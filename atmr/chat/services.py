"""Every write to the team chat."""

from __future__ import annotations

import uuid
from typing import Protocol

from django.db import transaction

from atmr.chat.models import MAX_TEXT_CHARS, ChatMessage
from atmr.exceptions import DomainError, NotFound
from drivers.models import Driver
from realtime.events import build_chat_message
from realtime.groups import group_for_company_chat, group_for_company_dispatch, group_for_driver
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
def chat_message_send(
    *, author: ChatAuthor, text: str, to_driver_id: uuid.UUID | str | None = None
) -> ChatMessage:
    """Store a message in the author's company chat and push it to everyone connected; with
    `to_driver_id`, from the office to that one driver: only it and the office get it.

    Costs one INSERT (plus one look-up of the driver for a direct message): the author comes
    from the caller (token claims), never from a query. A driver cannot write to another
    driver (`to_driver`, 400); another company's driver is unknown (404).
    """
    text = text.strip()
    if not 1 <= len(text) <= MAX_TEXT_CHARS:
        raise DomainError(f"A message has 1 to {MAX_TEXT_CHARS} characters.", field="text")
    company_id = str(author.company_id)
    if to_driver_id is not None:
        if author.role == "driver":
            raise DomainError("Drivers write to the whole team.", field="to_driver")
        if not Driver.objects.filter(id=to_driver_id, company_id=company_id).exists():
            raise NotFound("Unknown driver.", field="to_driver")
    message = ChatMessage.objects.create(
        company_id=company_id, sender_id=author.id, text=text, to_driver_id=to_driver_id
    )
    event = build_chat_message(message, chat_sender(author))
    if to_driver_id is None:
        publish_on_commit(group_for_company_chat(company_id), event)
    else:
        publish_on_commit(group_for_company_dispatch(company_id), event)
        publish_on_commit(group_for_driver(str(to_driver_id)), event)
    return message
