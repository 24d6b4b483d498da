"""Notifications: in-app rows with an unread count, and e-mail only after commit."""

from __future__ import annotations

import pytest
from django.core import mail

from engine.services.user_tasks import user_task_assign, user_task_claim, user_task_delegate
from tasks_portal.models import Notification
from tasks_portal.notifications import (
    notification_list,
    notifications_mark_read,
    unread_count,
)
from tests.engine._inbox import review, start, user
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db


def test_a_task_offered_to_a_group_tells_each_member_and_mails_after_commit(
        django_capture_on_commit_callbacks):
    ann = user("ann", "finance", email="ann@example.org")
    bob = user("bob", "finance")  # no address: in-app only
    user("eve", "hr", email="eve@example.org")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _instance, task = review()
    # Nothing has left before the commit; the callback sends it.
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    offered = Notification.objects.filter(task=task, kind="offered")
    assert set(offered.values_list("user__username", flat=True)) == {"ann", "bob"}
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]
    assert "Review the request" in mail.outbox[0].subject
    assert f"/tasks/{task.pk}/" in mail.outbox[0].body
    assert unread_count(ann) == unread_count(bob) >= 1


def test_assigned_delegated_and_unread_counts(django_capture_on_commit_callbacks):
    ann, dave = user("ann", "finance"), user("dave", email="dave@example.org")
    admin = user("root", "process_admin")
    _instance, task = review()
    before = unread_count(dave)
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        user_task_delegate(task_id=task.pk, actor=ann, to_user=dave, now=NOW)
    assert unread_count(dave) == before + 1
    assert notification_list(user=dave)[0].kind == "assigned"
    assert "delegated" in notification_list(user=dave)[0].message
    assert mail.outbox[-1].to == ["dave@example.org"]
    user_task_assign(task_id=task.pk, actor=admin, assignee=admin, now=NOW)
    # Nobody is told of what they did themselves.
    assert unread_count(admin) == 0
    assert notifications_mark_read(user=dave) == unread_count(dave) + 1 == 1
    assert unread_count(dave) == 0


def test_a_task_assigned_by_the_model_tells_only_the_assignee(db):
    sam = user("sam", "finance")
    fin = user("fin", "finance")
    start("inbox_review", variables={"submitter": "sam", "priority": 1})
    assert list(Notification.objects.values_list("user__username", "kind")) == [
        ("sam", "assigned")]
    del sam, fin


def test_email_kinds_can_be_limited(settings, django_capture_on_commit_callbacks):
    settings.FLOWDESK_NOTIFY_EMAIL_KINDS = ["breached"]
    user("ann", "finance", email="ann@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        review()
    assert mail.outbox == [] and Notification.objects.filter(kind="offered").count() == 1


def test_who_may_not_take_a_task_by_four_eyes_is_not_told_it_waits(db):
    from engine.services.user_tasks import user_task_complete
    from tests.engine._instances import open_task

    sam, fin = user("sam", "finance"), user("fin", "finance")
    instance = start("inbox_review", variables={"submitter": "sam", "priority": 1})
    user_task_complete(task_id=open_task(instance.pk, "Submit").pk, actor=sam, now=NOW)
    review = open_task(instance.pk, "Review")
    assert list(Notification.objects.filter(task=review).values_list(
        "user__username", flat=True)) == ["fin"]
    del fin


def test_the_link_in_the_mail_uses_the_base_url(settings, django_capture_on_commit_callbacks):
    settings.FLOWDESK_BASE_URL = "https://flow.example.org/"
    user("ann", "finance", email="ann@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        _instance, task = review()
    assert f"https://flow.example.org/tasks/{task.pk}/" in mail.outbox[-1].body
