"""Crash test: a Celery worker is SIGKILLed in the middle of a service task; after its lease
expires another worker completes the job, exactly once, with the same idempotency key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from engine.models import AuditEvent, Job, ProcessInstance
from engine.services.instances import process_instance_start
from tests.engine._instances import deploy
from tests.engine.test_jobs_handlers import (
    REDIS_URL,
    Procs,
    drop_test_queue,
    redis_reachable,
    wait_until,
    worker_env,
)
from tests.markers import needs_postgresql_row_locks

pytestmark = [
    needs_postgresql_row_locks,
    pytest.mark.skipif(not redis_reachable(), reason=f"needs Redis at {REDIS_URL}"),
]

LEASE_SECONDS = 3


@pytest.fixture
def procs(transactional_db: None, tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    try:
        yield started
    finally:
        started.stop()
        drop_test_queue()


def test_a_killed_worker_loses_its_lease_and_another_completes_the_job_once(procs, tmp_path):
    env = worker_env(str(connection.settings_dict["NAME"]),
                     JOB_LEASE_SECONDS=str(LEASE_SECONDS))
    procs.celery_worker("doomed", env)
    procs.celery_beat(env)
    procs.wait_for_log("doomed", "ready.")
    deploy("jobs_crash.bpmn")
    log = tmp_path / "calls.log"
    instance, _ = process_instance_start(key="jobs_crash",
                                         variables={"log": str(log), "sleep": 60})

    def calls() -> list[dict[str, object]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    wait_until(lambda: any(c["event"] == "start" for c in calls()), 15,
               "the handler to start", procs)
    job = Job.objects.get(instance=instance)
    assert job.lease_owner and job.lease_expires_at is not None
    procs.kill("doomed")  # SIGKILL in the middle of the handler's sleep

    procs.celery_worker("survivor", env)
    wait_until(lambda: ProcessInstance.objects.get(pk=instance.pk).status == "completed",
               LEASE_SECONDS + 20, "the survivor to complete the job", procs)
    seen = calls()
    starts = [c for c in seen if c["event"] == "start"]
    assert len(starts) == 2 and starts[0]["pid"] != starts[1]["pid"]
    assert starts[0]["key"] == starts[1]["key"]
    assert [c["event"] for c in seen].count("end") == 1
    # The second attempt came only after the first one's lease had run out.
    assert starts[1]["at"] >= job.lease_expires_at.timestamp() - 0.05
    done = AuditEvent.objects.filter(instance_id=instance.pk, element_id="Slow",
                                     kind="job done")
    assert done.count() == 1
    assert AuditEvent.objects.filter(instance_id=instance.pk, kind="process completed").count() == 1
    assert not Job.objects.filter(instance=instance).exists()
