from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """A day of a small company's bookings fits in one page."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
