from __future__ import annotations

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox (development sinks)"
    default_auto_field = "django.db.models.BigAutoField"
