"""Completing user tasks: typed errors, variables, parallel branches."""

from __future__ import annotations

import pytest

from engine.models import UserTask
from engine.services.instances import process_instance_start
from engine.services.user_tasks import TaskNotFound, TaskNotOpen, user_task_complete
from tests.engine._instances import NOW, REQ, deploy, open_task

pytestmark = pytest.mark.django_db


def test_completing_a_task_twice_raises_task_not_open(db):
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables=REQ, now=NOW)
    task = open_task(instance.pk, "Review")
    user_task_complete(task_id=task.pk, actor=None, now=NOW)
    with pytest.raises(TaskNotOpen) as raised:
        user_task_complete(task_id=task.pk, actor=None, now=NOW)
    assert raised.value.code == "task.not-open"


def test_an_unknown_task_is_a_typed_error(db):
    with pytest.raises(TaskNotFound):
        user_task_complete(task_id=12345, actor=None, now=NOW)


def test_variables_given_on_completion_become_process_variables(db):
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables=REQ, now=NOW)
    user_task_complete(task_id=open_task(instance.pk, "Review").pk, actor=None,
                       variables={"approved": False, "comment": "too much"}, now=NOW)
    instance.refresh_from_db()
    assert instance.state["s"][0]["v"] == {**REQ, "approved": False, "comment": "too much"}


def test_parallel_branches_join_once_after_both_tasks(db):
    deploy("parallel_two_tasks.bpmn")
    instance, _ = process_instance_start(key="parallel_two_tasks", now=NOW)
    a, b = open_task(instance.pk, "TaskA"), open_task(instance.pk, "TaskB")
    user_task_complete(task_id=a.pk, actor=None, now=NOW)
    instance.refresh_from_db()
    assert instance.status == "running"
    user_task_complete(task_id=b.pk, actor=None, now=NOW)
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert instance.state["s"][0]["v"] == {"joined": 1}
    assert set(UserTask.objects.values_list("status", flat=True)) == {"completed"}


def test_open_tasks_offered_to_my_groups_or_to_me(db):
    from engine.selectors import user_task_open_list

    deploy("approval.bpmn")
    deploy("parallel_two_tasks.bpmn")
    offered, _ = process_instance_start(key="approval", variables={"requester": "dan"}, now=NOW)
    process_instance_start(key="parallel_two_tasks", now=NOW)
    review = open_task(offered.pk, "Review")
    assert list(user_task_open_list(groups=["finance"])) == [review]
    assert list(user_task_open_list(username="dan")) == [review]
    assert list(user_task_open_list(username="eve", groups=["hr"])) == []
    user_task_complete(task_id=review.pk, actor=None, now=NOW)
    assert list(user_task_open_list(groups=["finance"])) == []
