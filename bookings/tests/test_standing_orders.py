"""Standing orders: the services (create, materialise, edit, skip, pause, end)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from atmr.exceptions import DomainError
from bookings.models import Booking, StandingOrder
from bookings.orders import services
from bookings.orders.calendar import order_days
from bookings.services import Place, booking_assign, booking_set_status
from tests.factories import GENEVA, ZURICH, ClientFactory, DriverFactory

pytestmark = pytest.mark.django_db

HUG = Place(address="HUG, Genève", lat=GENEVA[0], lon=GENEVA[1])
# Thursday 17 December 2026, 10:00 in Lausanne: the horizon (14 days) runs to the 31st and
# holds Christmas, a Friday.
NOW = datetime(2026, 12, 17, 10, 0, tzinfo=ZURICH)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def dialysis(company, **overrides):
    """Mon/Wed/Fri 07:00 for six months, back when the patient is ready."""
    fields = {
        "client": ClientFactory(company=company),
        "dropoff": HUG,
        "weekdays": [1, 3, 5],
        "pickup_time": time(7, 0),
        "return_leg": "will_call",
        "start_date": date(2026, 12, 14),
        "end_date": date(2027, 6, 13),
    }
    fields.update(overrides)
    return services.standing_order_create(company=company, **fields)


def outbound(order):
    return Booking.objects.filter(standing_order=order, occurrence_leg="outbound").order_by(
        "occurrence_date"
    )


def returns(order):
    return Booking.objects.filter(standing_order=order, occurrence_leg="return")


def local(moment):
    return moment.astimezone(ZURICH)


# --- done when: the dialysis order ------------------------------------------------------------
def test_dialysis_order_books_exactly_the_horizon_with_holidays_skipped(company, clock):
    order = dialysis(company)
    days = [b.occurrence_date for b in outbound(order)]
    # From today (the 14th and 16th have passed) to the horizon (the 31st); Christmas (Fri 25)
    # is a public holiday in Vaud and skipped.
    assert days == [date(2026, 12, d) for d in (18, 21, 23, 28, 30)]
    for trip in outbound(order):
        assert local(trip.scheduled_at).time() == time(7, 0)
        assert trip.status == "pending" and trip.client_id == order.client_id
        assert trip.dropoff_address == "HUG, Genève"
        assert trip.pickup_address == order.client.address  # the client's home by default
        back = trip.return_trip
        assert back.will_call is True and back.released_at is None
        assert back.occurrence_date == trip.occurrence_date
        assert back.standing_order_id == order.id and back.occurrence_leg == "return"
        assert back.pickup_address == "HUG, Genève" and back.dropoff_address == trip.pickup_address
        # The placeholder window: from the outbound trip's time to the end of its day.
        assert back.pickup_earliest == trip.scheduled_at
        assert local(back.pickup_latest).time() == time(23, 59)
    assert returns(order).count() == 5


def test_materialising_twice_adds_nothing(company, clock):
    dialysis(company)
    before = set(Booking.objects.values_list("id", flat=True))
    assert services.standing_orders_materialise(company=company) == []
    assert services.standing_orders_materialise_all() == 0
    assert set(Booking.objects.values_list("id", flat=True)) == before
    assert len(before) == 10
    # A day later, the horizon has moved by one day: Friday 1 January (New Year) is skipped.
    clock.shift(timedelta(days=1))
    assert services.standing_orders_materialise(company=company) == []
    clock.shift(timedelta(days=1))  # Saturday 19th: the horizon reaches Saturday 2 January
    assert services.standing_orders_materialise(company=company) == []
    clock.shift(timedelta(days=2))  # Monday 21st: the horizon reaches Monday 4 January
    created = services.standing_orders_materialise(company=company)
    assert sorted({b.occurrence_date for b in created}) == [date(2027, 1, 4)]
    assert len(created) == 2  # the trip and its return


def test_holidays_keep_books_christmas(company, clock):
    order = dialysis(company, holidays="keep")
    assert date(2026, 12, 25) in [b.occurrence_date for b in outbound(order)]


def test_a_cancelled_or_moved_occurrence_is_not_booked_again(company, clock):
    from bookings.services import booking_cancel, booking_update

    order = dialysis(company)
    first, second = list(outbound(order))[:2]
    booking_cancel(booking=first, reason="patient cancelled")
    moved = second.scheduled_at + timedelta(days=1)
    booking_update(
        booking=second,
        changes={"scheduled_at": moved, "pickup_earliest": moved, "pickup_latest": moved},
    )
    assert services.standing_orders_materialise(company=company) == []
    assert outbound(order).count() == 5


def test_seven_oclock_is_five_utc_in_summer_and_six_in_winter(company):
    # Summer time ends on Sunday 31 October 2027.
    with time_machine.travel(datetime(2027, 10, 25, 0, 30, tzinfo=ZURICH), tick=False):
        order = dialysis(
            company, weekdays=[1], start_date=date(2027, 10, 4), end_date=None, occurrences=50
        )
    utc = {b.occurrence_date: b.scheduled_at.astimezone(UTC).time() for b in outbound(order)}
    assert utc == {
        date(2027, 10, 25): time(5, 0),  # CEST
        date(2027, 11, 1): time(6, 0),  # CET
        date(2027, 11, 8): time(6, 0),
    }
    assert {local(b.scheduled_at).time() for b in outbound(order)} == {time(7, 0)}


def test_every_second_week_counts_from_the_start_week(company, clock):
    order = dialysis(company, weekdays=[3], every_weeks=2, start_date=date(2026, 12, 16))
    assert [b.occurrence_date for b in outbound(order)] == [date(2026, 12, 30)]


def test_occurrences_count_trips_not_skipped_days(company, clock):
    order = dialysis(company, end_date=None, occurrences=4, start_date=date(2026, 12, 18))
    # 18, 21, 23, (25 Christmas skipped), 28: four trips.
    assert [b.occurrence_date.day for b in outbound(order)] == [18, 21, 23, 28]


def test_appointment_only_order_picks_up_before_the_appointment(company, clock):
    order = dialysis(company, pickup_time=None, appointment_time=time(8, 0), return_leg="none")
    trip = outbound(order).first()
    assert local(trip.appointment_at).time() == time(8, 0)
    assert trip.scheduled_at < trip.appointment_at - timedelta(minutes=15)
    assert trip.pickup_earliest <= trip.scheduled_at <= trip.pickup_latest < trip.appointment_at
    assert not returns(order).exists()


def test_fixed_return_is_booked_at_its_time(company, clock):
    order = dialysis(company, return_leg="fixed", return_time=time(11, 30))
    back = returns(order).order_by("occurrence_date").first()
    assert local(back.scheduled_at).time() == time(11, 30) and back.will_call is False


# --- done when: an edit changes only future occurrences not started --------------------------
def test_edit_changes_only_future_trips_not_started(company, clock):
    order = dialysis(company)
    trips = list(outbound(order))
    driver = DriverFactory(company=company)
    started = booking_assign(booking=trips[0], driver=driver)
    booking_set_status(booking=started, status="en_route")
    kept = booking_assign(booking=trips[1], driver=driver)

    result = services.standing_order_update(order=order, changes={"notes": "Door code 1234"})
    assert result.unassigned == []
    kept.refresh_from_db()
    assert kept.notes == "Door code 1234" and kept.driver_id == driver.id  # times unchanged
    started.refresh_from_db()
    assert started.notes == "" and started.status == "en_route"

    result = services.standing_order_update(order=order, changes={"pickup_time": time(7, 30)})
    assert [b.id for b in result.unassigned] == [kept.id]
    kept.refresh_from_db()
    assert kept.status == "pending" and kept.driver_id is None
    assert local(kept.scheduled_at).time() == time(7, 30)
    started.refresh_from_db()
    assert local(started.scheduled_at).time() == time(7, 0)
    assert {local(b.scheduled_at).time() for b in outbound(order)[1:]} == {time(7, 30)}
    # The will-call returns follow their outbound trip's new time.
    back = kept.return_trip
    back.refresh_from_db()
    assert back.pickup_earliest == kept.scheduled_at
    assert services.standing_orders_materialise(company=company) == []


def test_edit_dropping_a_weekday_cancels_its_trips_and_adding_one_books_them(company, clock):
    order = dialysis(company)
    services.standing_order_update(order=order, changes={"weekdays": [1, 5]})
    live = outbound(order).exclude(status="cancelled")
    assert [b.occurrence_date.day for b in live] == [18, 21, 28]
    dropped = Booking.objects.filter(standing_order=order, cancel_reason="series_changed")
    assert dropped.count() == 4  # Wed 23 and 30, each with its return
    assert set(dropped.values_list("occurrence_date", flat=True)) == {None}
    services.standing_order_update(order=order, changes={"weekdays": [1, 3, 5]})
    live = outbound(order).exclude(status="cancelled")
    assert [b.occurrence_date.day for b in live] == [18, 21, 23, 28, 30]


def test_edit_return_leg_from_will_call_to_none_and_back(company, clock):
    order = dialysis(company)
    services.standing_order_update(order=order, changes={"return_leg": "none"})
    assert not returns(order).exclude(status="cancelled").exists()
    services.standing_order_update(
        order=order, changes={"return_leg": "fixed", "return_time": time(12, 0)}
    )
    backs = returns(order).exclude(status="cancelled")
    assert backs.count() == 5
    assert {local(b.scheduled_at).time() for b in backs} == {time(12, 0)}


def test_edit_refuses_bad_combinations_naming_the_field(company, clock):
    order = dialysis(company)
    with pytest.raises(DomainError) as caught:
        services.standing_order_update(order=order, changes={"weekdays": []})
    assert caught.value.field == "weekdays"
    with pytest.raises(DomainError) as caught:
        services.standing_order_update(order=order, changes={"end_date": date(2026, 12, 1)})
    assert caught.value.field == "end_date"
    with pytest.raises(DomainError) as caught:
        services.standing_order_update(order=order, changes={"occurrences": 1001})
    assert caught.value.field == "occurrences"
    order.refresh_from_db()
    assert order.weekdays == [1, 3, 5] and order.end_date == date(2027, 6, 13)


def test_create_refuses_another_companys_client(company, other_company, clock):
    with pytest.raises(DomainError) as caught:
        dialysis(company, client=ClientFactory(company=other_company))
    assert caught.value.field == "client"
    assert not StandingOrder.objects.exists()


def test_create_without_pickup_needs_a_home_with_coordinates(company, clock):
    with pytest.raises(DomainError) as caught:
        dialysis(company, client=ClientFactory(company=company, lat=None, lon=None))
    assert caught.value.field == "pickup"


# --- skip, pause, end -------------------------------------------------------------------------
def test_skip_cancels_that_days_trips_once(company, clock):
    order = dialysis(company)
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    services.standing_order_skip(order=order, day=date(2026, 12, 21))  # no-op
    skipped = Booking.objects.filter(standing_order=order, cancel_reason="skipped")
    assert skipped.count() == 2
    assert order.exceptions.count() == 1
    assert services.standing_orders_materialise(company=company) == []
    with pytest.raises(DomainError) as caught:
        services.standing_order_skip(order=order, day=date(2026, 12, 22))  # a Tuesday
    assert caught.value.field == "date"


def test_pause_outside_the_order_is_refused(company, clock):
    order = dialysis(company)
    with pytest.raises(DomainError) as caught:
        services.standing_order_pause(order=order, first=date(2026, 12, 1), last=date(2026, 12, 20))
    assert caught.value.field == "from"
    with pytest.raises(DomainError) as caught:
        services.standing_order_pause(order=order, first=date(2027, 6, 1), last=date(2027, 7, 1))
    assert caught.value.field == "to"
    with pytest.raises(DomainError) as caught:
        services.standing_order_pause(order=order, first=date(2027, 1, 5), last=date(2027, 1, 1))
    assert caught.value.field == "to"


def test_pause_cancels_its_trips_and_a_count_runs_longer(company, clock):
    order = dialysis(company, end_date=None, occurrences=5, start_date=date(2026, 12, 18))
    assert [b.occurrence_date.day for b in outbound(order)] == [18, 21, 23, 28, 30]
    services.standing_order_pause(order=order, first=date(2026, 12, 21), last=date(2026, 12, 23))
    live = outbound(order).exclude(status="cancelled")
    assert [b.occurrence_date.day for b in live] == [18, 28, 30]
    assert Booking.objects.filter(cancel_reason="paused").count() == 4
    days = order_days(order, canton="VD", exceptions=[])
    assert len([d for d in days if d.skipped is None]) == 5


def test_end_cancels_later_trips_with_series_ended(company, clock):
    order = dialysis(company)
    driver = DriverFactory(company=company)
    later = list(outbound(order))[3]
    booking_assign(booking=later, driver=driver)
    services.standing_order_end(order=order, day=date(2026, 12, 23), reason="transplant")
    order.refresh_from_db()
    assert order.ended_at is not None and order.end_date == date(2026, 12, 23)
    ended = Booking.objects.filter(standing_order=order, status="cancelled")
    assert set(ended.values_list("cancel_reason", flat=True)) == {"series_ended"}
    assert {b.occurrence_date.day for b in ended} == {28, 30}
    assert ended.count() == 4
    with pytest.raises(services.StandingOrderEnded):
        services.standing_order_update(order=order, changes={"notes": "x"})
    clock.shift(timedelta(days=10))
    assert services.standing_orders_materialise(company=company) == []


def test_nightly_task_materialises_every_company(company, other_company, clock):
    from bookings.tasks import materialise_standing_orders

    order = dialysis(company)
    other = dialysis(other_company)
    Booking.objects.all().delete()
    assert materialise_standing_orders() == 20
    assert outbound(order).count() == outbound(other).count() == 5
    assert materialise_standing_orders() == 0


def test_edit_leaves_trips_whose_time_has_passed(company, clock):
    order = dialysis(company)
    clock.shift(timedelta(days=4))  # Monday 21st, 10:00: the 18th's and 21st's trips are past
    services.standing_order_update(order=order, changes={"pickup_time": time(6, 45)})
    times = {b.occurrence_date.day: local(b.scheduled_at).time() for b in outbound(order)}
    assert times == {
        18: time(7, 0),
        21: time(7, 0),
        23: time(6, 45),
        28: time(6, 45),
        30: time(6, 45),
        # The horizon moved on with the clock: Friday 1 January is New Year, Monday 4th new.
        4: time(6, 45),
    }


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_book_each_trip_once(company):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    with time_machine.travel(NOW, tick=False):
        order = dialysis(company)
    Booking.objects.all().delete()
    barrier, errors, created = threading.Barrier(2, timeout=30), [], []

    def run():
        try:
            with time_machine.travel(NOW, tick=False):
                barrier.wait()
                created.append(len(services.standing_orders_materialise(company=company)))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(created) == [0, 10]
    assert outbound(order).count() == returns(order).count() == 5


def test_edit_keeps_the_return_of_a_trip_that_has_started(company, clock):
    order = dialysis(company, return_leg="fixed", return_time=time(16, 0))
    first = outbound(order).first()  # Friday 18th
    booking_set_status(
        booking=booking_assign(booking=first, driver=DriverFactory(company=company)),
        status="en_route",
    )
    clock.shift(timedelta(days=1, hours=-1))  # Friday 18th, 09:00: the patient is at HUG
    services.standing_order_update(order=order, changes={"weekdays": [1, 3]})
    services.standing_order_update(order=order, changes={"return_leg": "none", "return_time": None})
    back = first.return_trip
    back.refresh_from_db()
    assert back.status == "pending" and back.occurrence_date == date(2026, 12, 18)
    assert (
        not returns(order)
        .filter(occurrence_date__gt=date(2026, 12, 18))
        .exclude(status="cancelled")
    )


def test_new_trips_of_today_and_tomorrow_are_announced_on_commit(
    company, clock, monkeypatch, django_capture_on_commit_callbacks
):
    from realtime.groups import group_for_company_dispatch

    sent = []
    monkeypatch.setattr("realtime.publish.publish_many", lambda batch: sent.extend(batch))
    with django_capture_on_commit_callbacks(execute=True):
        order = dialysis(company)
    # Thursday 17th: tomorrow's trip and its return; the later days are read with the list.
    first = outbound(order).first()
    assert [(g, e["type"], e["booking"]["id"]) for g, e in sent] == [
        (group_for_company_dispatch(company.id), "booking_updated", str(first.id)),
        (group_for_company_dispatch(company.id), "booking_updated", str(first.return_trip.id)),
    ]
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.standing_orders_materialise(company=company)
    assert sent == []


# --- taking a skip or a pause back ------------------------------------------------------------
def live_days(order, leg="outbound"):
    trips = Booking.objects.filter(standing_order=order, occurrence_leg=leg).exclude(
        status="cancelled"
    )
    return sorted(b.occurrence_date.day for b in trips)


def test_unskip_books_the_day_again_and_keeps_the_cancelled_trips(company, clock):
    order = dialysis(company)
    services.standing_order_skip(order=order, day=date(2026, 12, 21), reason="check-up")
    assert live_days(order) == [18, 23, 28, 30]
    services.standing_order_unskip(order=order, day=date(2026, 12, 21))
    assert live_days(order) == [18, 21, 23, 28, 30]
    assert live_days(order, "return") == [18, 21, 23, 28, 30]
    assert Booking.objects.filter(standing_order=order, cancel_reason="skipped").count() == 2
    assert not order.exceptions.exists()
    with pytest.raises(DomainError) as caught:  # nothing is skipped any more
        services.standing_order_unskip(order=order, day=date(2026, 12, 21))
    assert caught.value.field == "date"
    assert services.standing_orders_materialise(company=company) == []


def test_unskip_of_a_day_gone_by_is_refused_and_changes_nothing(company, clock):
    order = dialysis(company)
    services.standing_order_skip(order=order, day=date(2026, 12, 18))
    clock.move_to(datetime(2026, 12, 19, 9, 0, tzinfo=ZURICH))
    with pytest.raises(DomainError) as caught:
        services.standing_order_unskip(order=order, day=date(2026, 12, 18))
    assert caught.value.field == "date"
    assert order.exceptions.count() == 1 and 18 not in live_days(order)


def test_unskip_beyond_the_horizon_books_nothing_yet(company, clock):
    order = dialysis(company)
    services.standing_order_skip(order=order, day=date(2027, 2, 1))
    services.standing_order_unskip(order=order, day=date(2027, 2, 1))
    assert not order.exceptions.exists() and live_days(order) == [18, 21, 23, 28, 30]


def test_unpause_that_began_before_today_keeps_the_past(company, clock):
    order = dialysis(company)
    services.standing_order_pause(order=order, first=date(2026, 12, 21), last=date(2026, 12, 30))
    assert live_days(order) == [18]
    clock.move_to(datetime(2026, 12, 23, 6, 0, tzinfo=ZURICH))  # before that day's 07:00
    services.standing_order_unpause(order=order, first=date(2026, 12, 21), last=date(2026, 12, 30))
    pause = order.exceptions.get()
    assert (pause.first_day, pause.last_day) == (date(2026, 12, 21), date(2026, 12, 22))
    # The horizon now runs to 6 January (Friday the 1st is a public holiday).
    assert live_days(order) == [4, 6, 18, 23, 28, 30]
    # The 21st stays cancelled as it was; nothing is booked on a day gone by.
    on_21st = Booking.objects.filter(standing_order=order, occurrence_date=date(2026, 12, 21))
    assert not on_21st.exists()
    assert Booking.objects.filter(standing_order=order, cancel_reason="paused").count() == 8


def test_unpause_refuses_an_unknown_or_finished_pause(company, clock):
    order = dialysis(company)
    services.standing_order_pause(order=order, first=date(2026, 12, 21), last=date(2026, 12, 23))
    with pytest.raises(DomainError) as caught:
        services.standing_order_unpause(
            order=order, first=date(2026, 12, 21), last=date(2026, 12, 22)
        )
    assert caught.value.field == "from"
    clock.move_to(datetime(2026, 12, 24, 9, 0, tzinfo=ZURICH))
    with pytest.raises(DomainError) as caught:
        services.standing_order_unpause(
            order=order, first=date(2026, 12, 21), last=date(2026, 12, 23)
        )
    assert caught.value.field == "to"
    assert order.exceptions.count() == 1


def test_unskip_with_a_count_ends_the_series_sooner_again(company, clock):
    order = dialysis(company, end_date=None, occurrences=3, start_date=date(2026, 12, 18))
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    assert live_days(order) == [18, 23, 28]
    services.standing_order_unskip(order=order, day=date(2026, 12, 21))
    assert live_days(order) == [18, 21, 23]
    withdrawn = Booking.objects.get(
        standing_order=order, cancel_reason="series_changed", occurrence_leg="outbound"
    )
    assert withdrawn.scheduled_at.astimezone(ZURICH).date() == date(2026, 12, 28)


def test_an_ended_order_keeps_its_exceptions(company, clock):
    order = dialysis(company)
    services.standing_order_skip(order=order, day=date(2026, 12, 21))
    services.standing_order_end(order=order, day=date(2026, 12, 23))
    with pytest.raises(services.StandingOrderEnded):
        services.standing_order_unskip(order=order, day=date(2026, 12, 21))
    assert order.exceptions.count() == 1
