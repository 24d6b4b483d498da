"""Portal tables: SLA policies, notifications, automatic assignment rules per group."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SlaPolicy(models.Model):
    """An admin's SLA for the tasks of one process (and optionally one task element).

    `due_after` gives tasks without a due date from the model one (created + due_after);
    `at_risk_after` says when a task turns at risk (created + at_risk_after; without it,
    FLOWDESK_SLA_AT_RISK_FRACTION of the time to the due date). On breach the task is
    offered to `escalate_to_group` too (and with `reclaim_on_breach` taken from whoever
    holds it), and the members of `notify_groups` are told.
    """

    process_key = models.CharField(max_length=255)
    element_id = models.CharField(
        max_length=255, blank=True, default="",
        help_text="The task's element id; empty = every task of the process.")
    due_after = models.DurationField(null=True, blank=True)
    at_risk_after = models.DurationField(null=True, blank=True)
    escalate_to_group = models.CharField(max_length=150, blank=True, default="")
    notify_groups = models.CharField(
        max_length=500, blank=True, default="", help_text="Comma-separated group names.")
    reclaim_on_breach = models.BooleanField(
        default=False,
        help_text="On breach, take the task from whoever holds it, back to its candidates "
                  "and the escalation group.")

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["process_key", "element_id"]
        constraints = [
            models.UniqueConstraint(fields=["process_key", "element_id"],
                                    name="portal_slapolicy_unique"),
        ]

    def __str__(self) -> str:
        return f"SLA of {self.process_key}/{self.element_id or '*'}"

    @property
    def notify_group_names(self) -> list[str]:
        return [n.strip() for n in self.notify_groups.split(",") if n.strip()]


class NotificationKind(models.TextChoices):
    OFFERED = "offered", "task offered to you"
    ASSIGNED = "assigned", "task assigned to you"
    AT_RISK = "at_risk", "task at risk"
    BREACHED = "breached", "task breached its SLA"
    ESCALATED = "escalated", "task escalated"


class Notification(models.Model):
    """One in-app notification for one user (an e-mail may have gone out with it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="task_notifications")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    task = models.ForeignKey("engine.UserTask", null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at", "created_at"], name="portal_notif_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.message}"


class AssignmentStrategy(models.TextChoices):
    ROUND_ROBIN = "round-robin", "round-robin"
    LEAST_LOADED = "least-loaded", "least-loaded"


class GroupAssignmentRule(models.Model):
    """Tasks offered to this group and nobody in particular are assigned automatically."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE,
                                 related_name="assignment_rule")
    strategy = models.CharField(max_length=16, choices=AssignmentStrategy.choices)

    class Meta:
        ordering = ["group__name"]

    def __str__(self) -> str:
        return f"{self.strategy} in {self.group_id}"

