from __future__ import annotations

from django.urls import path

from board import views

urlpatterns = [
    path("", views.board_page, name="board"),
    path("token", views.board_token, name="board-token"),
]
