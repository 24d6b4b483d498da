"""Live inbox: engine task signals become WebSocket pushes to the users who can see the task.

The engine sends its signals inside its transaction (engine/signals.py). Here the audience
is computed at that moment (so a claim that narrows who may see the task still reaches
everyone who saw it before) and the push leaves in `transaction.on_commit`: a rolled-back
claim never tells anybody anything. Each signed-in browser listens on its own channel
group (`user_group`), joined by tasks_portal.consumers.InboxConsumer.

Imported once from TasksPortalConfig.ready(); the @receiver decorators connect it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from engine.models import UserTask
from engine.signals import user_task_changed, user_task_created, user_tasks_cancelled
from tasks_portal.roles import PROCESS_ADMIN

logger = logging.getLogger(__name__)

GROUP_PREFIX = "inbox.user."
VIEW = "view_usertask"
# Engine change names -> what the inbox is told. Every change is pushed: a list that
# shows the task may need to move it (claimed out of "My groups'", into "My tasks", ...).
EVENTS = {"claimed": "claimed", "unclaimed": "unclaimed", "assigned": "assigned",
          "delegated": "delegated", "resolved": "resolved", "completed": "completed",
          "commented": "commented", "escalated": "escalated",
          "candidates_changed": "offered"}


def user_group(user_id: int) -> str:
    """The channel group of one user's open inbox pages."""
    return f"{GROUP_PREFIX}{user_id}"


def task_audience(task: UserTask) -> set[int]:
    """Ids of the users who can see `task`: its assignee and owner, its candidate users and
    the members of its candidate groups, whoever holds an object permission on it (user or
    group), the substitutes of any of those now, and the process admins (who see All)."""
    user_model = get_user_model()
    users = user_model._default_manager.filter(is_active=True)
    direct: set[int] = {pk for pk in (task.assignee_id, task.owner_id) if pk is not None}
    group_names = set(task.candidate_groups or ())
    group_names.update(task.group_offers.values_list("group_name", flat=True))
    offered = Q(pk__in=direct)
    if task.candidate_users:
        offered |= Q(**{f"{user_model.USERNAME_FIELD}__in": list(task.candidate_users)})
    if group_names:
        offered |= Q(groups__name__in=group_names)
    offered |= Q(pk__in=task.user_permissions.filter(permission__codename=VIEW)
                 .values("user_id"))
    offered |= Q(groups__in=task.group_permissions.filter(permission__codename=VIEW)
                 .values("group_id"))
    audience = set(users.filter(offered).values_list("pk", flat=True))
    now = timezone.now()
    from engine.models import TaskSubstitution

    audience.update(TaskSubstitution.objects.filter(
        user_id__in=audience, starts_at__lte=now, ends_at__gt=now,
    ).values_list("substitute_id", flat=True))
    audience.update(users.filter(Q(is_superuser=True) | Q(groups__name=PROCESS_ADMIN))
                    .values_list("pk", flat=True))
    return audience


def task_message(task: UserTask, event: str, actor: Any = None) -> dict[str, Any]:
    """The JSON one browser gets: what happened to which task, and by whom."""
    return {
        "type": "task.event",
        "event": event,
        "task": {
            "id": task.pk, "name": task.name or task.element_id,
            "process": task.process_key, "business_key": task.business_key,
            "status": task.status,
            "assignee": task.assignee_username,
        },
        "actor": actor.get_username() if actor is not None else None,
    }


def push_after_commit(user_ids: Iterable[int], message: dict[str, Any]) -> None:
    """Send `message` to each user's inbox group once the current transaction commits."""
    groups = sorted({user_group(pk) for pk in user_ids})
    if not groups:
        return
    transaction.on_commit(lambda: _send(groups, message))


def _send(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group in groups:
            await layer.group_send(group, message)

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            async_to_sync(send_all)()
        else:
            # A synchronous caller inside a running event loop (a test thread that drives
            # a browser, a sync signal sent from async code): async_to_sync refuses to
            # run there, so the push goes out from a helper thread.
            helper = threading.Thread(target=async_to_sync(send_all), daemon=True)
            helper.start()
            helper.join(timeout=10)
    except Exception:
        # The change is committed; a lost push only means a page refreshes later.
        logger.exception("live inbox: push of %s to %d inboxes failed",
                         message.get("event"), len(groups))


@receiver(user_task_created, sender=UserTask, dispatch_uid="tasks_portal.live.created")
def on_task_created(sender: type[UserTask], task: UserTask, **kwargs: Any) -> None:
    push_after_commit(task_audience(task), task_message(task, "created"))


@receiver(user_task_changed, sender=UserTask, dispatch_uid="tasks_portal.live.changed")
def on_task_changed(sender: type[UserTask], task: UserTask, change: str, actor: Any = None,
                    **kwargs: Any) -> None:
    event = EVENTS.get(change)
    if event is not None:
        push_after_commit(task_audience(task), task_message(task, event, actor))


@receiver(user_tasks_cancelled, sender=UserTask, dispatch_uid="tasks_portal.live.cancelled")
def on_tasks_cancelled(sender: type[UserTask], instance_id: int, task_pks: list[int],
                       **kwargs: Any) -> None:
    for task in UserTask.objects.filter(pk__in=task_pks):
        push_after_commit(task_audience(task), task_message(task, "cancelled"))
