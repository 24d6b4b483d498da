"""The job runner with RabbitMQ as Celery's broker (CELERY_BROKER_URL), no Redis at all.

One `celery worker --pool=solo` and one `celery beat` are started for this module with
CELERY_BROKER_URL pointing at the machine's RabbitMQ (FLOWDESK_TEST_AMQP_URL) and
REDIS_URL unset, on the pytest test database and a queue of this run's own, which is
deleted at the end. Rows are committed (transactional_db): the worker reads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection

from engine.models import AuditEvent, Job, ProcessInstance, UserTask
from engine.services.instances import process_instance_start
from tests.engine._instances import deploy
from tests.engine.test_jobs_handlers import (
    QUEUE,
    Procs,
    jobs_run_by,
    kicks_through,
    wait_until,
    worker_env,
)
from tests.markers import needs_postgresql_row_locks

AMQP_URL = os.environ.get("FLOWDESK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def rabbitmq_reachable() -> bool:
    from kombu import Connection

    try:
        with Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:  # any failure to connect means "not here"
        return False


pytestmark = [
    needs_postgresql_row_locks,
    pytest.mark.skipif(not rabbitmq_reachable(), reason=f"needs RabbitMQ at {AMQP_URL}"),
]


def _drop_queue() -> None:
    from kombu import Connection

    with Connection(AMQP_URL, connect_timeout=2) as conn:
        channel = conn.default_channel
        channel.queue_delete(QUEUE)
        channel.exchange_delete(QUEUE)


@pytest.fixture(scope="module")
def worker(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    procs = Procs(tmp_path_factory.mktemp("celery-amqp"))
    env = worker_env(str(connection.settings_dict["NAME"]), REDIS_URL="",
                     CELERY_BROKER_URL=AMQP_URL)
    try:
        procs.celery_worker("w1", env)
        procs.celery_beat(env)
        procs.wait_for_log("w1", "ready.")
        procs.wait_for_log("beat", "beat: Starting")
        assert "amqp://guest:**@127.0.0.1:5672//" in procs.log("w1"), procs.tails()
        yield procs
    finally:
        procs.stop()
        _drop_queue()


@pytest.fixture
def kicks_to_rabbitmq(settings: object) -> Iterator[None]:
    """Let this (test) process kick the worker through RabbitMQ, as a web process does."""
    with kicks_through(AMQP_URL, settings):
        yield


def test_the_beat_fires_a_timer_boundary_within_two_seconds_over_rabbitmq(worker,
                                                                         transactional_db):
    deploy("jobs_timer_boundary.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_boundary", variables={"wait": "PT2S"})
    due = Job.objects.get(instance=instance).due_at
    wait_until(lambda: UserTask.objects.filter(instance=instance, element_id="Escalated",
                                               status="open").exists(), 10,
               "the escalation task", worker)
    assert UserTask.objects.get(instance=instance, element_id="Review").status == "cancelled"
    [fired] = AuditEvent.objects.filter(instance_id=instance.pk, element_id="Late",
                                        kind="event caught")
    assert timedelta(0) <= fired.at - due < timedelta(seconds=2)
    assert jobs_run_by(worker, "w1", "sweep_due_jobs") >= 1


def test_a_service_job_is_kicked_through_rabbitmq_on_commit(worker, transactional_db,
                                                             kicks_to_rabbitmq):
    deploy("jobs_noop.bpmn")
    kicked_before = jobs_run_by(worker, "w1", "run_due_jobs")
    ids = [process_instance_start(key="jobs_noop")[0].pk for _ in range(3)]
    wait_until(lambda: ProcessInstance.objects.filter(pk__in=ids, status="completed").count()
               == 3, 10, "three no-op service tasks", worker)
    wait_until(lambda: jobs_run_by(worker, "w1", "run_due_jobs") > kicked_before, 5,
               "a kick delivered by RabbitMQ", worker)
