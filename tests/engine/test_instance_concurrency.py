"""Triggers for one instance from real threads at once (PostgreSQL row locks)."""

from __future__ import annotations

import pytest

from engine import audit
from engine.models import AuditEvent, ProcessInstance, UserTask, instance_chain
from engine.services.instances import process_instance_start
from engine.services.messages import MessageNotCorrelated, message_correlate
from engine.services.user_tasks import TaskNotOpen, user_task_complete
from tests.concurrency import run_together
from tests.engine._instances import NOW, deploy, open_task
from tests.markers import needs_postgresql_row_locks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_postgresql_row_locks,
]

ROUNDS = 5


def test_two_branches_completed_at_once_join_exactly_once():
    deploy("parallel_two_tasks.bpmn")
    for _ in range(ROUNDS):
        instance, _ = process_instance_start(key="parallel_two_tasks", now=NOW)
        a, b = open_task(instance.pk, "TaskA"), open_task(instance.pk, "TaskB")
        _, failures = run_together([
            lambda a=a: user_task_complete(task_id=a.pk, actor=None, now=NOW),
            lambda b=b: user_task_complete(task_id=b.pk, actor=None, now=NOW),
        ])
        assert failures == []
        instance.refresh_from_db()
        assert instance.status == "completed"
        assert instance.revision == 3  # start, then one step per task: nothing lost
        events = AuditEvent.objects.filter(chain=instance_chain(instance.pk))
        assert events.filter(kind="gateway joined", element_id="Join").count() == 1
        assert events.filter(kind="process completed").count() == 1
        assert events.filter(kind="activity completed", element_id="After").count() == 1
        assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_one_task_completed_twice_at_once_completes_once():
    deploy("parallel_two_tasks.bpmn")
    for _ in range(ROUNDS):
        instance, _ = process_instance_start(key="parallel_two_tasks", now=NOW)
        a = open_task(instance.pk, "TaskA")
        results, failures = run_together([
            lambda a=a: user_task_complete(task_id=a.pk, actor=None, now=NOW),
            lambda a=a: user_task_complete(task_id=a.pk, actor=None, now=NOW),
        ])
        assert len(results) == 1
        assert len(failures) == 1 and isinstance(failures[0], TaskNotOpen)
        instance.refresh_from_db()
        assert instance.status == "running" and instance.revision == 2
        # One token rests at the join, one on TaskB: no duplicate.
        nodes = sorted(token["n"] for token in instance.state["t"])
        assert nodes == ["Join", "TaskB"]
        assert UserTask.objects.get(pk=a.pk).status == "completed"
        events = AuditEvent.objects.filter(chain=instance_chain(instance.pk))
        assert events.filter(kind="task completed").count() == 1
        assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_one_message_correlated_twice_at_once_reaches_the_receive_task_once():
    deploy("receive_payment.bpmn")
    for number in range(ROUNDS):
        key = f"ORDER-{number}"
        instance, _ = process_instance_start(key="receive_payment", business_key=key, now=NOW)
        results, failures = run_together([
            lambda key=key: message_correlate(name="PaymentReceived", business_key=key,
                                              now=NOW),
            lambda key=key: message_correlate(name="PaymentReceived", business_key=key,
                                              now=NOW),
        ])
        assert len(results) == 1
        assert len(failures) == 1 and isinstance(failures[0], MessageNotCorrelated)
        instance.refresh_from_db()
        assert instance.status == "completed" and instance.revision == 2
        events = AuditEvent.objects.filter(chain=instance_chain(instance.pk))
        assert events.filter(kind="process completed").count() == 1
        assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_two_starts_with_one_idempotency_key_at_once_make_one_instance():
    deploy("parallel_two_tasks.bpmn")
    results, failures = run_together([
        lambda: process_instance_start(key="parallel_two_tasks", idempotency_key="k1", now=NOW),
        lambda: process_instance_start(key="parallel_two_tasks", idempotency_key="k1", now=NOW),
    ])
    assert failures == []
    assert ProcessInstance.objects.count() == 1
    created = sorted(bool(flag) for _, flag in results)
    assert created == [False, True]
