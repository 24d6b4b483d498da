"""App config of the REST API: its own label, so its tables and migrations stand apart."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tasks_portal.api"
    label = "portal_api"
    verbose_name = "flowdesk REST API"
    default_auto_field = "django.db.models.BigAutoField"
