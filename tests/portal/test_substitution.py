"""Substitution: during its date range the substitute gets what is offered to the absent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import InvalidTaskAction, TaskNotPermitted
from engine.models import AuditEvent, AuditKind
from engine.selectors import user_task_inbox
from engine.services.user_tasks import (
    task_substitution_create,
    task_substitution_end,
    user_task_claim,
    user_task_complete,
)
from tasks_portal.permissions import can
from tests.engine._inbox import review, user
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db

START, END = NOW + timedelta(days=1), NOW + timedelta(days=8)


@pytest.fixture
def away(db):
    """ann (finance) is away from START to END; sub (in no group) stands in."""
    ann, sub = user("ann", "finance"), user("sub")
    task_substitution_create(user=ann, substitute="sub", starts_at=START, ends_at=END,
                             actor=ann, now=NOW)
    return ann, sub


def test_inside_the_range_the_substitute_sees_and_claims_on_behalf(away):
    _ann, sub = away
    instance, task = review()
    assert list(user_task_inbox(user=sub, view="substituting", now=START)) == [task]
    assert can(sub, task, "view") is False  # `can` asks about now, which is before START
    user_task_claim(task_id=task.pk, actor=sub, now=START)
    user_task_complete(task_id=task.pk, actor=sub, now=START + timedelta(hours=1))
    claimed = AuditEvent.objects.get(instance_id=instance.pk, kind=AuditKind.TASK_CLAIMED)
    assert (claimed.actor, claimed.data["on_behalf_of"]) == ("sub", "ann")


def test_outside_the_range_the_substitute_gets_nothing(away):
    _ann, sub = away
    _instance, task = review()
    for moment in (START - timedelta(seconds=1), END):
        assert list(user_task_inbox(user=sub, view="substituting", now=moment)) == []
        with pytest.raises(TaskNotPermitted):
            user_task_claim(task_id=task.pk, actor=sub, now=moment)


def test_a_task_held_by_the_absent_can_be_taken_over_and_completed(away):
    ann, sub = away
    instance, task = review()
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    assert list(user_task_inbox(user=sub, view="substituting", now=START)) == [task]
    # Completing it directly on her behalf works too; the audit says so.
    user_task_complete(task_id=task.pk, actor=sub, now=START)
    done = AuditEvent.objects.get(instance_id=instance.pk, data__on_behalf_of="ann")
    assert (done.actor, done.data["on_behalf_of"]) == ("sub", "ann")


def test_only_the_user_or_an_admin_names_a_substitute_and_ranges_must_make_sense(db):
    ann, bob = user("ann"), user("bob")
    admin = user("root", "process_admin")
    with pytest.raises(TaskNotPermitted):
        task_substitution_create(user=ann, substitute=bob, starts_at=START, ends_at=END,
                                 actor=bob)
    with pytest.raises(InvalidTaskAction):
        task_substitution_create(user=ann, substitute=bob, starts_at=END, ends_at=START,
                                 actor=ann)
    with pytest.raises(InvalidTaskAction):
        task_substitution_create(user=ann, substitute=ann, starts_at=START, ends_at=END,
                                 actor=ann)
    made = task_substitution_create(user=ann, substitute=bob, starts_at=START, ends_at=END,
                                    actor=admin)
    with pytest.raises(TaskNotPermitted):
        task_substitution_end(substitution_id=made.pk, actor=user("eve"))
    task_substitution_end(substitution_id=made.pk, actor=bob)


def test_a_substitute_is_told_of_tasks_offered_to_whom_they_stand_in_for(away):
    from tasks_portal.models import Notification

    _ann, sub = away
    review()  # offered at NOW: before the range, so nobody stands in yet
    assert not Notification.objects.filter(user=sub).exists()
    from engine.models import TaskSubstitution

    TaskSubstitution.objects.update(starts_at=NOW - timedelta(hours=1))
    _instance, task = review(deployed=True)
    told = Notification.objects.get(user=sub)
    assert told.task == task and "ann" in told.message
