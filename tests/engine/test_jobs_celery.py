"""The job runner on PostgreSQL + Redis with real Celery worker processes and a beat.

Two `celery worker --pool=solo` processes and one `celery beat` are started once for this
module, on the pytest test database and Redis database 1 (FLOWDESK_TEST_REDIS_URL), and
killed at its end (also when a test fails). Rows are committed (transactional_db), since
the workers read them from their own connections.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from engine.models import AuditEvent, Incident, Job, ProcessInstance, UserTask
from engine.services.incidents import incident_retry
from engine.services.instances import process_instance_start
from tests.engine._instances import deploy
from tests.engine.test_jobs_handlers import (
    REDIS_URL,
    Procs,
    drop_test_queue,
    jobs_run_by,
    kicks_through,
    redis_reachable,
    wait_until,
    worker_env,
)
from tests.markers import needs_postgresql_row_locks

pytestmark = [
    needs_postgresql_row_locks,
    pytest.mark.skipif(not redis_reachable(), reason=f"needs Redis at {REDIS_URL}"),
]


@pytest.fixture(scope="module")
def workers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    procs = Procs(tmp_path_factory.mktemp("celery"))
    env = worker_env(str(connection.settings_dict["NAME"]), JOB_LEASE_SECONDS="20")
    try:
        procs.celery_worker("w1", env)
        procs.celery_worker("w2", env)
        procs.celery_beat(env)
        for name in ("w1", "w2"):
            procs.wait_for_log(name, "ready.")
        procs.wait_for_log("beat", "beat: Starting")
        yield procs
    finally:
        procs.stop()
        drop_test_queue()


@pytest.fixture
def kicks_to_redis(settings: object) -> Iterator[None]:
    """Let this (test) process kick the workers through Redis, as a web process does."""
    with kicks_through(REDIS_URL, settings):
        yield


def caught(instance_id: int, element: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(instance_id=instance_id, element_id=element,
                                          kind="event caught").order_by("seq"))


def test_a_timer_boundary_on_an_open_user_task_fires_within_two_seconds(workers,
                                                                         transactional_db):
    deploy("jobs_timer_boundary.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_boundary", variables={"wait": "PT2S"})
    due = Job.objects.get(instance=instance).due_at
    wait_until(lambda: UserTask.objects.filter(instance=instance, element_id="Escalated",
                                               status="open").exists(), 10,
               "the escalation task", workers)
    assert UserTask.objects.get(instance=instance, element_id="Review").status == "cancelled"
    [fired] = caught(instance.pk, "Late")
    assert timedelta(0) <= fired.at - due < timedelta(seconds=2)


def test_a_non_interrupting_cycle_fires_three_times_and_leaves_the_task_open(workers,
                                                                            transactional_db):
    deploy("jobs_timer_cycle.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_cycle", variables={"cycle": "R3/PT1S"})
    wait_until(lambda: len(caught(instance.pk, "Remind")) == 3, 12, "three reminders", workers)
    time.sleep(1.5)  # a fourth would be due by now
    assert len(caught(instance.pk, "Remind")) == 3
    assert UserTask.objects.get(instance=instance, element_id="Review").status == "open"
    assert not Job.objects.filter(instance=instance).exists()


def test_a_new_service_job_is_kicked_on_commit_not_left_for_the_sweep(workers,
                                                                      transactional_db,
                                                                      kicks_to_redis):
    deploy("jobs_noop.bpmn")
    kicked_before = sum(jobs_run_by(workers, w, "run_due_jobs") for w in ("w1", "w2"))
    took = []
    for _ in range(5):
        instance, _ = process_instance_start(key="jobs_noop")
        took.append(wait_until(
            lambda i=instance: ProcessInstance.objects.get(pk=i.pk).status == "completed",
            5, "the no-op service task", workers, interval=0.01))
    # The sweep alone (every second) would average 0.5 s.
    assert statistics.median(took) < 0.3, took
    time.sleep(0.3)  # the last task's "succeeded" line
    kicked = sum(jobs_run_by(workers, w, "run_due_jobs") for w in ("w1", "w2")) - kicked_before
    assert kicked >= 3, f"only {kicked} of 5 jobs were run by a kick, not by the sweep"


def test_a_timer_storm_fires_every_timer_exactly_once_on_two_workers(workers, transactional_db):
    deploy("jobs_timer_storm.bpmn")
    count = 300
    due = (timezone.now() + timedelta(seconds=6)).replace(microsecond=0)
    ids = [process_instance_start(key="jobs_timer_storm", variables={"due": due.isoformat()}
                                  )[0].pk for _ in range(count)]
    assert timezone.now() < due, "starting the instances took longer than the timers' lead"
    before = {name: jobs_run_by(workers, name) for name in ("w1", "w2")}
    wait_until(lambda: not ProcessInstance.objects.filter(pk__in=ids, status="running").exists(),
               60, f"{count} timers", workers, interval=0.2)
    fired = list(AuditEvent.objects.filter(instance_id__in=ids, element_id="Wait",
                                           kind="event caught").values_list("instance_id", "at"))
    assert len(fired) == count and len({i for i, _ in fired}) == count
    delays = sorted((at - due).total_seconds() for _, at in fired)
    span = (max(at for _, at in fired) - due).total_seconds()
    time.sleep(0.3)  # the last task's "succeeded" line
    share = {name: jobs_run_by(workers, name) - before[name] for name in before}
    print(f"\ntimer storm: {count} timers, 2 workers: {count / max(span, 1e-3):.0f} jobs/s, "
          f"delay p50 {delays[len(delays) // 2]:.2f}s p99 {delays[int(len(delays) * .99)]:.2f}s"
          f", jobs per worker {share}")
    assert all(share.values()), f"both workers should have fired timers: {share}"
    assert ProcessInstance.objects.filter(pk__in=ids, status="completed").count() == count


def test_a_failing_handler_retries_at_the_models_times_then_one_incident_then_retry_completes(
        workers, transactional_db, tmp_path: Path):
    deploy("jobs_fail_until_fixed.bpmn")  # R2/PT2S
    log, fixed = tmp_path / "attempts.log", tmp_path / "fixed"
    instance, _ = process_instance_start(key="jobs_fail_until_fixed",
                                         variables={"log": str(log), "fixed": str(fixed)})
    wait_until(lambda: Incident.objects.filter(instance=instance).exists(), 20,
               "the incident", workers)
    attempts = [json.loads(line) for line in log.read_text().splitlines()]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    # Each retry was scheduled 2 s after the failure (PT2S) and ran at that time: never
    # early, and within the runner's precision (a sweep a second) after it.
    scheduled = [datetime.fromisoformat(e.data["due"]).timestamp() for e in AuditEvent.objects
                 .filter(instance_id=instance.pk, kind="job retry scheduled").order_by("seq")]
    assert len(scheduled) == 2
    for failed, due in zip(attempts, scheduled, strict=False):
        assert 1.9 <= due - failed["at"] <= 2.5, (due, failed)
    for retry, due in zip(attempts[1:], scheduled, strict=True):
        assert 0 <= retry["at"] - due < 2.0, (retry, due)
    time.sleep(2.5)  # nothing more happens on its own
    assert len(log.read_text().splitlines()) == 3
    assert Incident.objects.filter(instance=instance).count() == 1

    fixed.touch()
    incident_retry(incident_id=Incident.objects.get(instance=instance).pk, actor=None)
    wait_until(lambda: ProcessInstance.objects.get(pk=instance.pk).status == "completed", 10,
               "the retried instance", workers)
    attempts = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(attempts) == 4 and len({a["key"] for a in attempts}) == 1
    resolved_at = Incident.objects.get(instance=instance).resolved_at
    assert resolved_at is not None and resolved_at <= datetime.now(UTC)
