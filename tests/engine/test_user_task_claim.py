"""Claim, unclaim, complete: who may, and what the others are told."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from engine.errors import TaskAlreadyClaimed, TaskNotPermitted
from engine.models import AuditEvent, AuditKind
from engine.selectors import user_task_inbox
from engine.services.instances import process_instance_start
from engine.services.user_tasks import user_task_claim, user_task_complete, user_task_unclaim
from tests.engine._instances import NOW, deploy, open_task

pytestmark = pytest.mark.django_db


def _review(submitter: str = "sam"):
    """An inbox_review instance whose Submit task the engine completed: Review is open."""
    deploy("inbox_review.bpmn")
    instance, _ = process_instance_start(
        key="inbox_review", now=NOW,
        variables={"submitter": submitter, "priority": 60, "amount": 1200, "vendor": "ACME"})
    user_task_complete(task_id=open_task(instance.pk, "Submit").pk, actor=None, now=NOW)
    return instance, open_task(instance.pk, "Review")


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(name, password="x")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def test_a_group_member_claims_and_completes_an_offered_task(db):
    ann, bob = _user("ann", "finance"), _user("bob", "finance")
    instance, task = _review()
    assert list(user_task_inbox(user=bob, view="group", now=NOW)) == [task]

    user_task_claim(task_id=task.pk, actor=ann, now=NOW)

    assert list(user_task_inbox(user=ann, view="mine", now=NOW)) == [task]
    assert list(user_task_inbox(user=bob, view="group", now=NOW)) == []
    with pytest.raises(TaskAlreadyClaimed) as raised:
        user_task_claim(task_id=task.pk, actor=bob, now=NOW)
    assert raised.value.by == "ann"
    with pytest.raises(TaskAlreadyClaimed):
        user_task_complete(task_id=task.pk, actor=bob, now=NOW)
    user_task_complete(task_id=task.pk, actor=ann, variables={"approved": True}, now=NOW)
    task.refresh_from_db()
    assert (task.status, task.completed_by) == ("completed", ann)
    claimed = AuditEvent.objects.get(instance_id=instance.pk, kind=AuditKind.TASK_CLAIMED)
    assert claimed.actor == "ann"


def test_an_outsider_can_neither_see_claim_nor_complete(db):
    _user("ann", "finance")
    eve = _user("eve", "hr")
    _instance, task = _review()
    assert list(user_task_inbox(user=eve, view="group", now=NOW)) == []
    with pytest.raises(TaskNotPermitted):
        user_task_claim(task_id=task.pk, actor=eve, now=NOW)
    with pytest.raises(TaskNotPermitted):
        user_task_complete(task_id=task.pk, actor=eve, now=NOW)
    task.refresh_from_db()
    assert task.status == "open" and task.assignee is None


def test_unclaim_gives_the_task_back_to_the_group(db):
    ann, bob = _user("ann", "finance"), _user("bob", "finance")
    _instance, task = _review()
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    with pytest.raises(TaskNotPermitted):
        user_task_unclaim(task_id=task.pk, actor=bob, now=NOW)
    user_task_unclaim(task_id=task.pk, actor=ann, now=NOW)
    with pytest.raises(TaskNotPermitted) as raised:
        user_task_complete(task_id=task.pk, actor=ann, now=NOW)
    assert "claim it first" in raised.value.message
    user_task_claim(task_id=task.pk, actor=bob, now=NOW)
    user_task_complete(task_id=task.pk, actor=bob, now=NOW)
