"""An ended instance keeps no live rows, even ones its state does not know about.

The runtime removes every wait when a scope ends; the shell's end-of-instance clean-up
(one statement on PostgreSQL) is the guard behind it. Rows are planted here to prove it
cancels tasks, deletes jobs and subscriptions, and tells the portal which tasks it
cancelled.
"""

from __future__ import annotations

import pytest

from engine.models import EventSubscription, Job, UserTask
from engine.services.instances import process_instance_start
from engine.services.user_tasks import user_task_complete
from engine.signals import user_tasks_cancelled
from tests.engine._instances import NOW, deploy, open_task

pytestmark = pytest.mark.django_db


def test_an_instance_that_ends_cancels_stray_tasks_and_drops_its_jobs_and_subscriptions():
    deploy("inbox_plain.bpmn")
    instance, _ = process_instance_start(key="inbox_plain", now=NOW)
    other, _ = process_instance_start(key="inbox_plain", now=NOW)
    stray = UserTask.objects.create(instance=instance, task_id=9999, element_id="Stray",
                                    status="claimed", created_at=NOW)
    done = UserTask.objects.create(instance=instance, task_id=9998, element_id="Old",
                                   status="completed", created_at=NOW)
    Job.objects.create(instance=instance, job_id=9999, kind="timer", element_id="Stray",
                       due_at=NOW, payload={}, created_at=NOW)
    EventSubscription.objects.create(instance=instance, subscription_id=9999, kind="message",
                                     name="Stray", element_id="Stray", created_at=NOW)
    told: list[list[int]] = []

    def listen(sender: object, instance_id: int, task_pks: list[int], **_: object) -> None:
        told.append(list(task_pks))

    user_tasks_cancelled.connect(listen)
    try:
        user_task_complete(task_id=open_task(instance.pk, "Work").pk, actor=None, now=NOW)
    finally:
        user_tasks_cancelled.disconnect(listen)

    instance.refresh_from_db()
    assert instance.status == "completed"
    assert UserTask.objects.get(pk=stray.pk).status == "cancelled"
    assert UserTask.objects.get(pk=done.pk).status == "completed"
    assert not Job.objects.filter(instance=instance).exists()
    assert not EventSubscription.objects.filter(instance=instance).exists()
    assert told == [[stray.pk]]
    # The other instance's open task is not touched.
    assert open_task(other.pk, "Work").status == "open"
