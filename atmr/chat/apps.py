from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "atmr.chat"
    label = "chat"
    verbose_name = "Team chat"
