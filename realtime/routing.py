"""Websocket URLs, mounted under /ws/ by atmr/asgi.py."""

from __future__ import annotations

from django.urls import path

from realtime.consumers import CompanyConsumer, DriverConsumer

websocket_urlpatterns = [
    path("driver/", DriverConsumer.as_asgi()),
    path("company/", CompanyConsumer.as_asgi()),
]
