"""External tasks: fetch-and-lock by topic, complete, failure, BPMN error, lock handling."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from engine.errors import (
    ExternalTaskInvalid,
    ExternalTaskLockedByOther,
    ExternalTaskLockExpired,
    ExternalTaskNotFound,
)
from engine.jobs import run_due_jobs
from engine.models import Incident, Job, ProcessInstance
from engine.services.external_tasks import (
    TopicRequest,
    external_task_bpmn_error,
    external_task_complete,
    external_task_extend_lock,
    external_task_failure,
    external_task_fetch_and_lock,
    external_task_unlock,
)
from engine.services.incidents import incident_retry
from engine.services.instances import process_instance_start
from tests.engine._instances import deploy, open_task
from tests.markers import needs_postgresql_row_locks

pytestmark = pytest.mark.django_db

CHARGE = [TopicRequest("charge", lock_duration_ms=60_000)]


def start(amount: int = 10, business_key: str | None = None) -> ProcessInstance:
    instance, _ = process_instance_start(key="jobs_external", business_key=business_key,
                                         variables={"amount": amount, "card": "4111"})
    return instance


def test_fetch_and_lock_gives_the_task_with_its_variables_and_complete_moves_on(db):
    deploy("jobs_external.bpmn")
    instance = start(business_key="order-1")
    [task] = external_task_fetch_and_lock(
        worker_id="w1", topics=[TopicRequest("charge", 60_000, variables=["amount"])])
    assert task.topic_name == "charge" and task.activity_id == "Charge"
    assert task.process_instance_id == instance.pk and task.business_key == "order-1"
    assert task.process_definition_key == "jobs_external"
    assert task.variables == {"amount": 10} and task.retries is None
    assert task.lock_expiration_time > timezone.now() + timedelta(seconds=50)
    assert external_task_fetch_and_lock(worker_id="w2", topics=CHARGE) == []
    external_task_complete(task_id=task.id, worker_id="w1", variables={"charged": True})
    # The next task is a zeebe type with no Python handler: external too, by its type.
    [ship] = external_task_fetch_and_lock(worker_id="w1",
                                          topics=[TopicRequest("ship", 1_000)])
    assert ship.activity_id == "Ship" and ship.variables["charged"] is True
    external_task_complete(task_id=ship.id, worker_id="w1")
    instance.refresh_from_db()
    assert instance.status == "completed"


def test_the_job_runner_never_runs_an_external_task(db):
    deploy("jobs_external.bpmn")
    instance = start()
    assert run_due_jobs(worker_id="runner") == 0
    assert Job.objects.get(instance=instance).attempts == 0


def test_only_the_lock_holder_may_complete_and_an_expired_lock_is_refetched(db):
    deploy("jobs_external.bpmn")
    start()
    [task] = external_task_fetch_and_lock(worker_id="w1",
                                          topics=[TopicRequest("charge", 50)])
    with pytest.raises(ExternalTaskLockedByOther):
        external_task_complete(task_id=task.id, worker_id="w2")
    time.sleep(0.08)
    with pytest.raises(ExternalTaskLockExpired):
        external_task_complete(task_id=task.id, worker_id="w1")
    [again] = external_task_fetch_and_lock(worker_id="w2", topics=CHARGE)
    assert again.id == task.id and again.worker_id == "w2"
    with pytest.raises(ExternalTaskLockedByOther):
        external_task_complete(task_id=task.id, worker_id="w1")
    external_task_complete(task_id=task.id, worker_id="w2")
    with pytest.raises(ExternalTaskNotFound):
        external_task_complete(task_id=task.id, worker_id="w2")


def test_extend_lock_keeps_the_task_and_unlock_frees_it(db):
    deploy("jobs_external.bpmn")
    start()
    [task] = external_task_fetch_and_lock(worker_id="w1",
                                          topics=[TopicRequest("charge", 50)])
    external_task_extend_lock(task_id=task.id, worker_id="w1", new_duration_ms=60_000)
    time.sleep(0.08)
    assert external_task_fetch_and_lock(worker_id="w2", topics=CHARGE) == []
    with pytest.raises(ExternalTaskLockedByOther):
        external_task_extend_lock(task_id=task.id, worker_id="w2", new_duration_ms=1000)
    external_task_unlock(task_id=task.id)
    assert [t.id for t in external_task_fetch_and_lock(worker_id="w2", topics=CHARGE)] == [
        task.id]


def test_failure_with_retries_and_timeout_then_zero_retries_raises_an_incident(db):
    deploy("jobs_external.bpmn")
    instance = start()
    [task] = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE)
    external_task_failure(task_id=task.id, worker_id="w1", error_message="gateway down",
                          error_details="trace...", retries=1, retry_timeout_ms=60_000)
    # Not available again before the retry timeout passed.
    assert external_task_fetch_and_lock(worker_id="w1", topics=CHARGE) == []
    Job.objects.filter(pk=task.id).update(due_at=timezone.now())
    [again] = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE)
    assert again.retries == 1 and again.error_message == "gateway down"
    external_task_failure(task_id=task.id, worker_id="w1", error_message="still down",
                          retries=0)
    incident = Incident.objects.get()
    assert incident.element_id == "Charge" and "still down" in incident.message
    assert external_task_fetch_and_lock(worker_id="w1", topics=CHARGE) == []
    # The admin retries: the task is offered again and completing it goes on.
    incident_retry(incident_id=incident.pk, actor=None)
    [third] = external_task_fetch_and_lock(worker_id="w3", topics=CHARGE)
    external_task_complete(task_id=third.id, worker_id="w3")
    instance.refresh_from_db()
    assert instance.status == "running"  # now at the Ship task
    assert Job.objects.get(instance=instance).element_id == "Ship"


def test_a_bpmn_error_takes_the_error_boundary_with_its_variables(db):
    deploy("jobs_external.bpmn")
    instance = start()
    [task] = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE)
    external_task_bpmn_error(task_id=task.id, worker_id="w1", error_code="CARD_DECLINED",
                             error_message="insufficient funds",
                             variables={"reason": "funds"})
    assert open_task(instance.pk, "CallCustomer")
    instance.refresh_from_db()
    assert instance.state["s"][0]["v"]["reason"] == "funds"
    assert not Incident.objects.exists()


def test_bad_requests_are_refused_with_what_is_wrong(db):
    with pytest.raises(ExternalTaskInvalid, match="lockDuration"):
        external_task_fetch_and_lock(worker_id="w1", topics=[TopicRequest("charge", 0)])
    with pytest.raises(ExternalTaskInvalid, match="workerId"):
        external_task_fetch_and_lock(worker_id="", topics=CHARGE)
    with pytest.raises(ExternalTaskInvalid, match="maxTasks"):
        external_task_fetch_and_lock(worker_id="w1", topics=CHARGE, max_tasks=0)
    with pytest.raises(ExternalTaskNotFound):
        external_task_complete(task_id=987654, worker_id="w1")


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs a database two connections write at once (the SQLite test "
                           "database is in memory and locks whole tables); runs in the "
                           "PostgreSQL pass")
def test_a_long_poll_returns_as_soon_as_a_task_appears(transactional_db):
    deploy("jobs_external.bpmn")
    timer = threading.Timer(0.3, lambda: (start(), connection.close()))
    timer.start()
    began = time.monotonic()
    try:
        tasks = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                             async_response_timeout_ms=5_000)
    finally:
        timer.join()
    waited = time.monotonic() - began
    # Well before the 5 s timeout (the margin is for a loaded machine: the task is made
    # by another thread whose commit may be slow there).
    assert len(tasks) == 1 and 0.25 <= waited < 4.0
    began = time.monotonic()
    assert external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                        async_response_timeout_ms=300) == []
    assert time.monotonic() - began >= 0.3


@needs_postgresql_row_locks
def test_two_workers_fetching_at_once_never_get_the_same_task(transactional_db):
    deploy("jobs_external.bpmn")
    for n in range(40):
        start(amount=n)
    got: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            barrier.wait()
            while True:
                tasks = external_task_fetch_and_lock(worker_id=name, topics=CHARGE,
                                                     max_tasks=3)
                if not tasks:
                    return
                got[name].extend(t.id for t in tasks)
                time.sleep(0.005)  # let the other worker in between fetches
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 40
    assert got["a"] and got["b"]  # both really fetched
