"""User task writes: completing a task moves its token on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from engine import locks, runtime
from engine.errors import InstanceSuspended, TaskNotFound, TaskNotOpen
from engine.models import UserTask
from engine.services._shell import json_variables, run_trigger
from engine.status import USER_TASK_ACTIVE, UserTaskStatus, user_task_transition

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = ["InstanceSuspended", "TaskNotFound", "TaskNotOpen", "user_task_complete"]


@transaction.atomic
def user_task_complete(
    *,
    task_id: int,
    actor: AbstractBaseUser | None,
    variables: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> UserTask:
    """Complete user task `task_id` (the row's pk) with `variables` (process variables).

    Locks the instance, then the task; a task that is no longer open raises TaskNotOpen,
    so completing one task twice at once completes it exactly once.
    """
    instance_id = UserTask.objects.filter(pk=task_id).values_list("instance_id", flat=True).first()
    if instance_id is None:
        raise TaskNotFound(task_id)
    instance = locks.lock_instance(instance_id)
    task = locks.lock_user_task(task_id)
    if task.status not in USER_TASK_ACTIVE:
        raise TaskNotOpen(task_id, task.status)
    at = now or timezone.now()
    values = json_variables(variables)
    actor_name = actor.get_username() if actor is not None else None
    # The row is completed before the step runs: if the step ends the instance, the
    # shell's clean-up then sees no open task left here.
    task.status = user_task_transition(task.status, UserTaskStatus.COMPLETED)
    task.completed_at = at
    task.completed_by_id = actor.pk if actor is not None else None
    task.save(update_fields=["status", "completed_at", "completed_by"])
    run_trigger(instance, runtime.TaskCompleted(task.task_id, values, actor_name), now=at,
                actor=actor)
    return task
