from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "atmr.accounts"
    label = "accounts"
    verbose_name = "Companies and users"

    def ready(self) -> None:
        from atmr.accounts import signals  # noqa: F401  (connects the receivers)
