"""GET /api/chat/messages: the team chat's history, one company at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from atmr.chat.models import ChatMessage
from atmr.chat.services import chat_message_send
from atmr.exceptions import DomainError
from realtime.groups import group_for_company_chat
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("chat-messages")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _messages(company, sender, count: int) -> list[ChatMessage]:
    return ChatMessage.objects.bulk_create(
        ChatMessage(
            company=company, sender=sender, text=f"m{i}", created_at=T0 + timedelta(minutes=i)
        )
        for i in range(count)
    )


def test_history_is_newest_first_with_sender(dispatcher_client, dispatcher, company):
    _messages(company, dispatcher, 3)
    body = dispatcher_client.get(URL).json()
    assert [m["text"] for m in body["results"]] == ["m2", "m1", "m0"]
    assert body["results"][0]["sender"] == {
        "id": str(dispatcher.id),
        "email": dispatcher.email,
        "role": "dispatcher",
    }
    assert body["next_before"] is None


def test_before_and_limit_page_backwards(dispatcher_client, dispatcher, company):
    _messages(company, dispatcher, 5)
    first = dispatcher_client.get(URL, {"limit": 2}).json()
    assert [m["text"] for m in first["results"]] == ["m4", "m3"]
    second = dispatcher_client.get(URL, {"limit": 2, "before": first["next_before"]}).json()
    assert [m["text"] for m in second["results"]] == ["m2", "m1"]


def test_other_companies_messages_are_never_visible(
    dispatcher_client, other_dispatcher_client, dispatcher, company
):
    _messages(company, dispatcher, 2)
    assert other_dispatcher_client.get(URL).json()["results"] == []
    assert len(dispatcher_client.get(URL).json()["results"]) == 2


def test_drivers_read_the_team_chat(driver_client, dispatcher, company):
    _messages(company, dispatcher, 1)
    assert driver_client.get(URL).status_code == 200


def test_deleted_sender_keeps_the_message(dispatcher_client, company):
    ghost = UserFactory(company=company)
    _messages(company, ghost, 1)
    ghost.delete()
    assert dispatcher_client.get(URL).json()["results"][0]["sender"]["id"] is None


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"before": "soon"}])
def test_bad_parameters_are_400(dispatcher_client, params):
    assert dispatcher_client.get(URL, params).status_code == 400


def test_needs_a_token(client):
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize("rows", [1, 60])
def test_query_count_does_not_grow_with_rows(
    dispatcher_client, dispatcher, company, rows, django_assert_max_num_queries
):
    _messages(company, dispatcher, rows)
    with django_assert_max_num_queries(1):  # messages joined with their senders
        response = dispatcher_client.get(URL)
    assert len(response.json()["results"]) == min(rows, 50)


def test_send_stores_and_publishes_on_commit(
    dispatcher, django_capture_on_commit_callbacks, monkeypatch
):
    published: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "realtime.publish.publish", lambda group, event: published.append((group, event))
    )
    with django_capture_on_commit_callbacks(execute=True):
        message = chat_message_send(author=dispatcher, text="  On my way ")
    assert message.text == "On my way"
    [(group, event)] = published
    assert group == group_for_company_chat(str(dispatcher.company_id))
    assert event["type"] == "chat_message" and event["message"]["id"] == str(message.id)


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_send_rejects_empty_or_long_text(dispatcher, text):
    with pytest.raises(DomainError):
        chat_message_send(author=dispatcher, text=text)
