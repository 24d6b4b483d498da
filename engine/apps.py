"""App configuration for the engine."""

from __future__ import annotations

from django.apps import AppConfig


class EngineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Process engine"
