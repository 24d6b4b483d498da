"""Django admin for the inbox settings an admin owns: SLA policies, assignment rules,
substitutions; notifications are read-only there."""

from __future__ import annotations

from django.contrib import admin

from engine.models import TaskSubstitution
from tasks_portal.models import GroupAssignmentRule, Notification, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("process_key", "element_id", "due_after", "at_risk_after",
                    "escalate_to_group", "notify_groups", "reclaim_on_breach")
    search_fields = ("process_key", "element_id")


@admin.register(GroupAssignmentRule)
class GroupAssignmentRuleAdmin(admin.ModelAdmin):
    list_display = ("group", "strategy")


@admin.register(TaskSubstitution)
class TaskSubstitutionAdmin(admin.ModelAdmin):
    list_display = ("user", "substitute", "starts_at", "ends_at")
    raw_id_fields = ("user", "substitute")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "message", "created_at", "read_at")
    list_filter = ("kind",)
    readonly_fields = ("user", "kind", "task", "message", "created_at", "read_at")
