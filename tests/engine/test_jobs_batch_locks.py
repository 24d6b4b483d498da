"""A batch of timer jobs locks its root instances in one statement, in the one-by-one order."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from engine import audit, locks
from engine.jobs import run_due_jobs
from engine.models import AuditEvent, Job, ProcessInstance
from engine.services.instances import process_instance_start
from tests.engine._instances import NOW, deploy, job_of, open_task
from tests.markers import needs_postgresql_row_locks

pytestmark = [pytest.mark.django_db, needs_postgresql_row_locks]


def _start(count: int) -> list[ProcessInstance]:
    deploy("timer_wait.bpmn")
    return [process_instance_start(key="timer_wait", now=NOW)[0] for _ in range(count)]


def test_the_batch_lock_reads_each_instance_as_lock_instance_does(db):
    a, b, c = _start(3)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            locked = locks.lock_root_instances([c.pk, a.pk, b.pk, a.pk])
        assert len(queries) == 1
        assert list(locked) == [a.pk, b.pk, c.pk]
        for pk, instance in locked.items():
            single = locks.lock_instance(pk)
            assert (instance.state, instance.revision, instance.status) == (
                single.state, single.revision, single.status)
            assert instance.definition.key == "timer_wait"
            assert getattr(instance, locks.AUDIT_HEAD_ATTR) == getattr(
                single, locks.AUDIT_HEAD_ATTR)


def test_the_batch_lock_stops_before_an_instance_with_a_caller_or_a_missing_one(db):
    a, b, c, d = _start(4)
    # b now has a caller: its callers must be locked before it, so the batch stops there.
    ProcessInstance.objects.filter(pk=b.pk).update(parent_instance=a)
    with transaction.atomic():
        assert list(locks.lock_root_instances([a.pk, b.pk, c.pk])) == [a.pk]
    ProcessInstance.objects.filter(pk=c.pk).delete()
    with transaction.atomic():
        assert list(locks.lock_root_instances([d.pk, c.pk])) == []
        assert list(locks.lock_root_instances([d.pk])) == [d.pk]


def test_the_batch_lock_really_holds_the_rows_until_commit(transactional_db):
    a, b = _start(2)
    name = connection.settings_dict["NAME"]
    with psycopg.connect(dbname=name, host="127.0.0.1", user="postgres",
                         autocommit=True) as other:
        with transaction.atomic():
            locks.lock_root_instances([a.pk, b.pk])
            for pk in (a.pk, b.pk):
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute("SELECT 1 FROM engine_processinstance WHERE id = %s "
                                  "FOR UPDATE NOWAIT", [pk])
        other.execute("SELECT 1 FROM engine_processinstance WHERE id = ANY(%s) "
                      "FOR UPDATE NOWAIT", [[a.pk, b.pk]])


def test_a_batch_with_a_child_instance_fires_every_timer_once(db):
    instances = _start(4)
    # The second has a caller now: the batch locks the first in one statement, then goes
    # on one by one (caller first) from the second.
    ProcessInstance.objects.filter(pk=instances[1].pk).update(parent_instance=instances[0])
    due = job_of(instances[0].pk, "Wait").due_at
    assert run_due_jobs(worker_id="w1", now=due) == 4
    for instance in instances:
        assert open_task(instance.pk, "FollowUp")
        assert AuditEvent.objects.filter(instance_id=instance.pk,
                                         kind="event caught").count() == 1
    assert not Job.objects.filter(kind="timer").exists()
    assert audit.verify().ok
