"""App configuration for the task portal."""

from __future__ import annotations

from django.apps import AppConfig


class TasksPortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tasks_portal"
    verbose_name = "Task portal"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from engine.models import UserTask
        from engine.signals import user_task_changed, user_task_created
        from tasks_portal import notifications, permissions, sla

        # Order matters: permissions (and automatic assignment) first, then the SLA
        # instants, then the notifications that read both. All run in the engine's
        # transaction.
        user_task_created.connect(permissions.on_task_created, sender=UserTask,
                                  dispatch_uid="portal.task_permissions")
        user_task_created.connect(sla.on_task_created, sender=UserTask,
                                  dispatch_uid="portal.task_sla")
        user_task_created.connect(notifications.on_task_created, sender=UserTask,
                                  dispatch_uid="portal.task_notify_created")
        user_task_changed.connect(notifications.on_task_changed, sender=UserTask,
                                  dispatch_uid="portal.task_notify_changed")
        post_save.connect(permissions.on_user_saved, sender=get_user_model(),
                          dispatch_uid="portal.new_user_offers")
        from engine.jobs import register_job_kind
        from tasks_portal import live  # noqa: F401  (live pushes: after the permissions)

        register_job_kind(sla.SLA_JOB_KIND, sla.sla_job)
