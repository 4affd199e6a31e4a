"""The booking admin: the ward's printable QR sheet, revoking the link, releasing returns."""

from __future__ import annotations

from datetime import datetime

import pytest

from bookings import will_call
from bookings.models import Booking
from tests.factories import ZURICH, BookingFactory, at

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("admin_zone"),
    pytest.mark.clock(datetime(2026, 12, 1, 12, 0, tzinfo=ZURICH)),
]


@pytest.fixture
def back(company):
    outbound = BookingFactory(company=company, scheduled_at=at(8, 30), status="completed")
    outbound.client.first_name, outbound.client.last_name = "Mathilde", "Perrenoud"
    outbound.client.save()
    return BookingFactory(
        company=company,
        client=outbound.client,
        return_of=outbound,
        will_call=True,
        pickup_address=outbound.dropoff_address,
        dropoff_address="Chemin des Roses 7, Pully",
        scheduled_at=at(8, 30),
        pickup_earliest=at(8, 30),
        pickup_latest=at(23, 59),
    )


def test_the_change_page_links_to_the_printable_sheet(staff_web, back):
    page = staff_web.get(f"/admin/bookings/booking/{back.id}/change/").content.decode()
    assert f"/admin/bookings/booking/{back.id}/ready-link/" in page


def test_the_sheet_shows_the_qr_code_of_the_link_and_no_name(staff_web, back):
    response = staff_web.get(f"/admin/bookings/booking/{back.id}/ready-link/")
    assert response.status_code == 200
    page = response.content.decode()
    link = will_call.ready_link_url(booking_id=back.id, version=1)
    assert f"http://testserver{link}" in page and "<svg" in page
    assert "M. P." in page and "2026-12-01 08:30" in page
    assert "Perrenoud" not in page.split('class="ready-sheet"')[1]
    assert "Pully" not in page


def test_revoking_from_the_sheet_gives_a_new_link(staff_web, back):
    old = will_call.ready_link_url(booking_id=back.id, version=1)
    response = staff_web.post(f"/admin/bookings/booking/{back.id}/ready-link/", {"revoke": "1"})
    assert response.status_code == 302
    back.refresh_from_db()
    assert back.ready_link_version == 2
    assert staff_web.get(old).status_code == 404


def test_another_companys_sheet_and_a_timed_booking_are_404(
    other_company, company, staff_web, back
):
    theirs = BookingFactory(company=other_company, will_call=True)
    timed = BookingFactory(company=company)
    for booking in (theirs, timed):
        url = f"/admin/bookings/booking/{booking.id}/ready-link/"
        assert staff_web.get(url).status_code == 404
        assert staff_web.post(url, {"revoke": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.ready_link_version == 1


def test_the_release_action_goes_through_the_service(staff_web, back, company):
    timed = BookingFactory(company=company)
    response = staff_web.post(
        "/admin/bookings/booking/",
        {"action": "release_will_call", "_selected_action": [back.id, timed.id]},
        follow=True,
    )
    assert response.status_code == 200
    back.refresh_from_db()
    assert back.released_at is not None and back.pickup_earliest == at(12, 15)
    assert "not a will-call return" in response.content.decode()
    assert Booking.objects.get(id=timed.id).released_at is None
