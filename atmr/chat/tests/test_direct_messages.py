"""The office writing to one driver: stored with its driver, seen by it and the office only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from atmr.chat.services import chat_message_send
from atmr.exceptions import DomainError, NotFound
from realtime.groups import group_for_company_dispatch, group_for_driver
from tests.factories import DriverFactory

pytestmark = pytest.mark.django_db
URL = reverse("chat-messages")


def test_a_direct_message_goes_to_its_driver_and_the_office_only(
    dispatcher, driver, django_capture_on_commit_callbacks, monkeypatch
):
    published: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "realtime.publish.publish", lambda group, event: published.append((group, event))
    )
    with django_capture_on_commit_callbacks(execute=True):
        message = chat_message_send(author=dispatcher, text="Call me", to_driver_id=driver.id)
    assert message.to_driver_id == driver.id
    assert sorted(group for group, _ in published) == sorted(
        [group_for_company_dispatch(str(dispatcher.company_id)), group_for_driver(str(driver.id))]
    )
    assert {event["message"]["to_driver"] for _, event in published} == {str(driver.id)}


def test_another_companys_driver_is_unknown_and_nothing_is_stored(dispatcher, other_company):
    stranger = DriverFactory(company=other_company)
    with pytest.raises(NotFound) as caught:
        chat_message_send(author=dispatcher, text="hi", to_driver_id=stranger.id)
    assert caught.value.field == "to_driver"
    assert not stranger.direct_messages.exists()


def test_drivers_write_to_the_team_only(driver, company):
    other = DriverFactory(company=company)
    with pytest.raises(DomainError) as caught:
        chat_message_send(author=driver.user, text="psst", to_driver_id=other.id)
    assert caught.value.field == "to_driver"


def test_a_driver_reads_the_team_and_its_own_direct_messages(
    dispatcher, dispatcher_client, driver, driver_client, company
):
    other = DriverFactory(company=company)
    chat_message_send(author=dispatcher, text="team", to_driver_id=None)
    chat_message_send(author=dispatcher, text="mine", to_driver_id=driver.id)
    chat_message_send(author=dispatcher, text="theirs", to_driver_id=other.id)
    seen = [m["text"] for m in driver_client.get(URL).json()["results"]]
    assert seen == ["mine", "team"]
    office = dispatcher_client.get(URL).json()["results"]
    assert [(m["text"], m["to_driver"]) for m in office] == [
        ("theirs", str(other.id)),
        ("mine", str(driver.id)),
        ("team", None),
    ]
