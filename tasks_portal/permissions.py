"""Who may see and act on a task: the portal's face of the engine's one rule.

The rule itself lives with the services that enforce it (engine.services.user_tasks.may
and engine.selectors.user_task_visible), so a URL typed by hand, the API and the pages
all meet the same check. Object permissions are django-guardian rows on the task
(engine.TaskUserPermission / TaskGroupPermission, direct foreign keys), written in the
engine's transaction by `on_task_created` below.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from engine.models import UserTask
from engine.selectors import user_task_visible
from engine.services.user_tasks import (
    AUTO_ASSIGN_STRATEGIES,
    assign_automatically,
    grant_offers_to_new_user,
    grant_task_offer,
    may,
    task_template,
)

ACTIONS = ("view", "claim", "complete", "assign", "unclaim", "delegate", "resolve")


def can(user: Any, task: UserTask, action: str) -> bool:
    """Whether `user` may `action` the task now: "view" | "claim" | "complete" | "assign"
    (also "unclaim", "delegate", "resolve")."""
    return may(user, task, action, timezone.now())


def visible_tasks(user: Any) -> QuerySet[UserTask]:
    """Every task (any status) the user may see."""
    return user_task_visible(user=user)


def _auto_strategy(task: UserTask) -> tuple[str | None, list[str]]:
    """The automatic assignment for a new task: the model's `autoAssign` property, else
    the rule of its first candidate group that has one."""
    from tasks_portal.models import GroupAssignmentRule

    template = task_template(task.instance.definition, task.element_id)
    if template.auto_assign:
        return template.auto_assign, []
    if not task.candidate_groups:
        return None, []
    rules = dict(GroupAssignmentRule.objects.filter(
        group__name__in=list(task.candidate_groups)).values_list("group__name", "strategy"))
    for group in task.candidate_groups:
        strategy = rules.get(group)
        if strategy in AUTO_ASSIGN_STRATEGIES:
            return strategy, [group]
    return None, []


def on_task_created(sender: Any, task: UserTask, **_: Any) -> None:
    """Receiver of engine.signals.user_task_created: object permissions for the offer,
    then the automatic assignment when the model or a group rule asks for one."""
    grant_task_offer(task)
    if task.assignee_id is not None or task.assignee_username:
        return
    if not task.candidate_groups and not task.candidate_users:
        return
    strategy, scope = _auto_strategy(task)
    if strategy is not None:
        assign_automatically(task, strategy, now=task.created_at, scope_groups=scope)


def on_user_saved(sender: Any, instance: Any, created: bool = False, **_: Any) -> None:
    """Receiver of post_save of the user model: a new account gets the open tasks a model
    offered to its name before it existed (same transaction as the account)."""
    if created and getattr(instance, "is_active", True):
        grant_offers_to_new_user(instance)
