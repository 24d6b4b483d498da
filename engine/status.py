"""Statuses of instances, user tasks and incidents, with their explicit transition tables."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models

from engine.errors import (
    InvalidTransition,
)


class InstanceStatus(models.TextChoices):
    """Where a process instance is in its life."""

    RUNNING = "running", "running"
    SUSPENDED = "suspended", "suspended"
    COMPLETED = "completed", "completed"
    CANCELLED = "cancelled", "cancelled"


class UserTaskStatus(models.TextChoices):
    """Where a user task is. `claimed` is kept for the inbox (claim/unclaim come later)."""

    OPEN = "open", "open"
    CLAIMED = "claimed", "claimed"
    COMPLETED = "completed", "completed"
    CANCELLED = "cancelled", "cancelled"


# Every allowed move; anything not listed is refused. Ended states have no way out.
INSTANCE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    InstanceStatus.RUNNING: frozenset({InstanceStatus.SUSPENDED, InstanceStatus.COMPLETED,
                                       InstanceStatus.CANCELLED}),
    # A suspended instance can be cancelled (an admin gives up on it) but not completed:
    # completing needs a trigger, and a suspended instance refuses triggers.
    InstanceStatus.SUSPENDED: frozenset({InstanceStatus.RUNNING, InstanceStatus.CANCELLED}),
    InstanceStatus.COMPLETED: frozenset(),
    InstanceStatus.CANCELLED: frozenset(),
}

USER_TASK_TRANSITIONS: Mapping[str, frozenset[str]] = {
    UserTaskStatus.OPEN: frozenset({UserTaskStatus.CLAIMED, UserTaskStatus.COMPLETED,
                                    UserTaskStatus.CANCELLED}),
    UserTaskStatus.CLAIMED: frozenset({UserTaskStatus.OPEN, UserTaskStatus.COMPLETED,
                                       UserTaskStatus.CANCELLED}),
    UserTaskStatus.COMPLETED: frozenset(),
    UserTaskStatus.CANCELLED: frozenset(),
}

# Statuses in which a user task can still be worked on (completed, claimed, handed back).
USER_TASK_ACTIVE: frozenset[str] = frozenset({UserTaskStatus.OPEN, UserTaskStatus.CLAIMED})


def _check(table: Mapping[str, frozenset[str]], what: str, current: str, target: str) -> str:
    if current not in table:
        raise InvalidTransition(what, current, target)
    if target not in table[current]:
        raise InvalidTransition(what, current, target)
    return target


def instance_transition(current: str, target: str) -> str:
    """`target` when a process instance may move there from `current`, else InvalidTransition."""
    return _check(INSTANCE_TRANSITIONS, "process instance", current, target)


def user_task_transition(current: str, target: str) -> str:
    """`target` when a user task may move there from `current`, else InvalidTransition."""
    return _check(USER_TASK_TRANSITIONS, "user task", current, target)
