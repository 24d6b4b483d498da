"""The status transition tables: every allowed move works, every other move is refused."""

from __future__ import annotations

import itertools

import pytest

from engine.status import (
    INSTANCE_TRANSITIONS,
    USER_TASK_TRANSITIONS,
    InstanceStatus,
    InvalidTransition,
    UserTaskStatus,
    instance_transition,
    user_task_transition,
)


def test_every_instance_status_has_a_row_in_the_table():
    assert set(INSTANCE_TRANSITIONS) == set(InstanceStatus.values)


def test_every_user_task_status_has_a_row_in_the_table():
    assert set(USER_TASK_TRANSITIONS) == set(UserTaskStatus.values)


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(InstanceStatus.values, repeat=2))
)
def test_instance_transition_follows_the_table(current, target):
    if target in INSTANCE_TRANSITIONS[current]:
        assert instance_transition(current, target) == target
    else:
        with pytest.raises(InvalidTransition) as raised:
            instance_transition(current, target)
        assert raised.value.code == "status.invalid-transition"


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(UserTaskStatus.values, repeat=2))
)
def test_user_task_transition_follows_the_table(current, target):
    if target in USER_TASK_TRANSITIONS[current]:
        assert user_task_transition(current, target) == target
    else:
        with pytest.raises(InvalidTransition):
            user_task_transition(current, target)


def test_ended_instances_cannot_be_resumed_or_suspended():
    for ended in (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED):
        for target in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED):
            with pytest.raises(InvalidTransition):
                instance_transition(ended, target)


def test_a_suspended_instance_can_resume_or_be_cancelled_but_not_complete():
    assert instance_transition("suspended", "running") == "running"
    assert instance_transition("suspended", "cancelled") == "cancelled"
    with pytest.raises(InvalidTransition):
        instance_transition("suspended", "completed")


def test_unknown_status_is_refused():
    with pytest.raises(InvalidTransition):
        instance_transition("paused", "running")
