from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from atmr.accounts.selectors import company_get
from bookings.models import Booking
from bookings.selectors import booking_on_day


class BookingFilter(django_filters.FilterSet):
    date = django_filters.DateFilter(
        method="filter_date", help_text="A local day (company time zone), YYYY-MM-DD."
    )
    status = django_filters.MultipleChoiceFilter(choices=Booking.Status.choices)
    driver = django_filters.UUIDFilter(field_name="driver_id")
    client = django_filters.UUIDFilter(field_name="client_id")
    ordering = django_filters.OrderingFilter(fields=(("scheduled_at", "scheduled_at"),))

    class Meta:
        model = Booking
        fields = ["date", "status", "driver", "client"]

    def filter_date(self, queryset: QuerySet[Booking], name: str, value: object) -> QuerySet:
        company = company_get(company_id=self.request.user.company_id)
        return booking_on_day(queryset, value, company.tz)
