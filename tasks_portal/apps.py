"""App configuration for the task portal."""

from __future__ import annotations

from django.apps import AppConfig


class TasksPortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tasks_portal"
    verbose_name = "Task portal"
