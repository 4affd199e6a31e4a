from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from atmr import exceptions, health, metrics, timezones
from atmr.accounts import api as accounts_api
from atmr.chat import api as chat_api
from billing import urls as billing_urls
from bookings import api as bookings_api
from bookings import public_views as bookings_public_views
from dispatch import api as dispatch_api
from drivers import api as drivers_api
from places import api as places_api

api = [
    path("health", health.health, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("auth/login", accounts_api.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", accounts_api.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", accounts_api.LogoutApi.as_view(), name="auth-logout"),
    path("companies/me", accounts_api.CompanyMeApi.as_view(), name="company-me"),
    path("bookings", bookings_api.BookingListCreateApi.as_view(), name="booking-list"),
    path(
        "bookings/<uuid:booking_id>", bookings_api.BookingDetailApi.as_view(), name="booking-detail"
    ),
    path(
        "bookings/<uuid:booking_id>/status",
        bookings_api.BookingStatusApi.as_view(),
        name="booking-status",
    ),
    path(
        "bookings/<uuid:booking_id>/cancel",
        bookings_api.BookingCancelApi.as_view(),
        name="booking-cancel",
    ),
    path(
        "bookings/<uuid:booking_id>/assign",
        bookings_api.BookingAssignApi.as_view(),
        name="booking-assign",
    ),
    path(
        "bookings/<uuid:booking_id>/unassign",
        bookings_api.BookingUnassignApi.as_view(),
        name="booking-unassign",
    ),
    path(
        "bookings/<uuid:booking_id>/insertions",
        dispatch_api.BookingInsertionsApi.as_view(),
        name="booking-insertions",
    ),
    path(
        "bookings/<uuid:booking_id>/insert",
        dispatch_api.BookingInsertApi.as_view(),
        name="booking-insert",
    ),
    path(
        "bookings/<uuid:booking_id>/ready",
        bookings_api.BookingReadyApi.as_view(),
        name="booking-ready",
    ),
    path(
        "bookings/<uuid:booking_id>/ready-link/revoke",
        bookings_api.BookingReadyLinkRevokeApi.as_view(),
        name="booking-ready-link-revoke",
    ),
    path(
        "bookings/<uuid:booking_id>/ready-link/qr",
        bookings_api.BookingReadyLinkQrApi.as_view(),
        name="booking-ready-link-qr",
    ),
    path(
        "standing-orders",
        bookings_api.StandingOrderListCreateApi.as_view(),
        name="standing-order-list",
    ),
    path(
        "standing-orders/overview",
        bookings_api.StandingOrderOverviewApi.as_view(),
        name="standing-order-overview",
    ),
    path(
        "standing-orders/<uuid:order_id>",
        bookings_api.StandingOrderDetailApi.as_view(),
        name="standing-order-detail",
    ),
    path(
        "standing-orders/<uuid:order_id>/skip",
        bookings_api.StandingOrderSkipApi.as_view(),
        name="standing-order-skip",
    ),
    path(
        "standing-orders/<uuid:order_id>/pause",
        bookings_api.StandingOrderPauseApi.as_view(),
        name="standing-order-pause",
    ),
    path(
        "standing-orders/<uuid:order_id>/unskip",
        bookings_api.StandingOrderUnskipApi.as_view(),
        name="standing-order-unskip",
    ),
    path(
        "standing-orders/<uuid:order_id>/unpause",
        bookings_api.StandingOrderUnpauseApi.as_view(),
        name="standing-order-unpause",
    ),
    path(
        "standing-orders/<uuid:order_id>/end",
        bookings_api.StandingOrderEndApi.as_view(),
        name="standing-order-end",
    ),
    path(
        "standing-orders/<uuid:order_id>/occurrences",
        bookings_api.StandingOrderOccurrencesApi.as_view(),
        name="standing-order-occurrences",
    ),
    path("reason-codes", bookings_api.ReasonCodeListCreateApi.as_view(), name="reason-code-list"),
    path(
        "reason-codes/<uuid:reason_code_id>",
        bookings_api.ReasonCodeDetailApi.as_view(),
        name="reason-code-detail",
    ),
    path("clients", bookings_api.ClientListCreateApi.as_view(), name="client-list"),
    path("clients/<uuid:client_id>", bookings_api.ClientDetailApi.as_view(), name="client-detail"),
    path("drivers", drivers_api.DriverListCreateApi.as_view(), name="driver-list"),
    path("drivers/<uuid:driver_id>", drivers_api.DriverDetailApi.as_view(), name="driver-detail"),
    path(
        "drivers/<uuid:driver_id>/track", drivers_api.DriverTrackApi.as_view(), name="driver-track"
    ),
    path("vehicles", drivers_api.VehicleListCreateApi.as_view(), name="vehicle-list"),
    path(
        "drivers/<uuid:driver_id>/roster",
        drivers_api.DriverRosterApi.as_view(),
        name="driver-roster",
    ),
    path("shifts", drivers_api.ShiftListCreateApi.as_view(), name="shift-list"),
    path("shifts/<uuid:shift_id>", drivers_api.ShiftDetailApi.as_view(), name="shift-detail"),
    path("absences", drivers_api.AbsenceListCreateApi.as_view(), name="absence-list"),
    path("places", places_api.PlaceListCreateApi.as_view(), name="place-list"),
    path("places/<uuid:place_id>", places_api.PlaceDetailApi.as_view(), name="place-detail"),
    path("chat/messages", chat_api.ChatMessageListApi.as_view(), name="chat-messages"),
    path("dispatch/run", dispatch_api.RunStartApi.as_view(), name="dispatch-run"),
    path("dispatch/runs", dispatch_api.RunListApi.as_view(), name="dispatch-runs"),
    path(
        "dispatch/runs/<uuid:run_id>",
        dispatch_api.RunDetailApi.as_view(),
        name="dispatch-run-detail",
    ),
    path(
        "dispatch/runs/<uuid:run_id>/apply",
        dispatch_api.RunApplyApi.as_view(),
        name="dispatch-run-apply",
    ),
    *billing_urls.urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Last: any other /api/ path, a malformed id included, is a JSON 404 (DEBUG or not).
    re_path(r"^.*$", exceptions.api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("admin/timezone/", timezones.admin_timezone_choose, name="admin-timezone"),
    path("admin/", admin.site.urls),
    # Prometheus's scrape, behind a bearer token (atmr/metrics.py); a 404 for everyone else.
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/", include(api)),
    path("board/", include("board.urls")),
    # The clinic's "patient ready" page: no log-in, a signed link (bookings/will_call.py).
    path("r/<str:token>", bookings_public_views.ready_page, name="booking-ready-page"),
]

# Errors Django answers itself: JSON under /api/, its HTML pages elsewhere (the admin).
handler400 = exceptions.handler400
handler403 = exceptions.handler403
handler404 = exceptions.handler404
handler500 = exceptions.handler500

if settings.DEBUG_TOOLBAR:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
