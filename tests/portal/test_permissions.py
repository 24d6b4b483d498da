"""Object permissions on tasks: written with the task, and the one rule `can` applies."""

from __future__ import annotations

import pytest
from guardian.shortcuts import get_objects_for_user

from engine.models import TaskGroupPermission, TaskUserPermission, UserTask
from engine.services.user_tasks import user_task_claim, user_task_complete, user_task_unclaim
from tasks_portal.permissions import can, visible_tasks
from tests.engine._inbox import review, user
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db


def test_the_offer_is_written_as_guardian_permissions_in_the_same_transaction(db):
    user("carol")
    _instance, task = review()
    groups = set(TaskGroupPermission.objects.filter(content_object=task)
                 .values_list("group__name", "permission__codename"))
    assert groups == {("finance", "view_usertask"), ("finance", "claim_usertask")}
    users = set(TaskUserPermission.objects.filter(content_object=task)
                .values_list("user__username", "permission__codename"))
    assert users == {("carol", "view_usertask"), ("carol", "claim_usertask")}


def test_guardian_itself_agrees_with_the_direct_foreign_key_tables(db):
    fin = user("fin", "finance")
    _instance, task = review()
    seen = get_objects_for_user(fin, "engine.view_usertask", klass=UserTask,
                                accept_global_perms=False)
    # Submit (done by the engine) was offered to finance as well.
    assert set(seen.values_list("element_id", flat=True)) == {"Submit", "Review"}
    assert task in seen
    assert fin.has_perm("engine.claim_usertask", task)
    assert not fin.has_perm("engine.complete_usertask", task)


def test_can_follows_the_task_through_claim_and_unclaim(db):
    ann, bob, eve = user("ann", "finance"), user("bob", "finance"), user("eve")
    admin = user("root", "process_admin")
    _instance, task = review()
    assert [can(ann, task, a) for a in ("view", "claim", "complete", "assign")] == [
        True, True, False, False]
    assert [can(eve, task, a) for a in ("view", "claim", "complete")] == [False] * 3
    assert can(admin, task, "view") and can(admin, task, "assign")
    assert not can(admin, task, "claim")  # admins reassign; they are not candidates
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    task.refresh_from_db()
    assert can(ann, task, "complete") and not can(bob, task, "claim")
    assert can(bob, task, "view") and not can(bob, task, "complete")
    user_task_unclaim(task_id=task.pk, actor=ann, now=NOW)
    task.refresh_from_db()
    assert not can(ann, task, "complete") and can(bob, task, "claim")


def test_nobody_else_sees_or_acts_whatever_they_try(db):
    ann, eve = user("ann", "finance"), user("eve", "hr")
    _instance, task = review()
    assert list(visible_tasks(eve)) == []
    assert set(visible_tasks(ann).values_list("element_id", flat=True)) == {"Submit", "Review"}
    from django.contrib.auth.models import AnonymousUser

    assert list(visible_tasks(AnonymousUser())) == []
    assert not can(AnonymousUser(), task, "view")
    user_task_claim(task_id=task.pk, actor=ann, now=NOW)
    user_task_complete(task_id=task.pk, actor=ann, now=NOW)
    task.refresh_from_db()
    # History stays visible to those who could see it; nobody can act on it any more.
    assert task in visible_tasks(ann) and not can(ann, task, "complete")


def test_a_deactivated_user_loses_every_right(db):
    ann = user("ann", "finance")
    _instance, task = review()
    ann.is_active = False
    ann.save()
    assert not can(ann, task, "claim")
