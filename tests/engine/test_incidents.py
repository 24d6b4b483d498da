"""Incidents: raised once when retries are exhausted, retried by an admin, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from engine.errors import IncidentNotFound, JobNotFound, JobNotRetryable
from engine.jobs import run_due_jobs
from engine.models import AuditEvent, Incident, instance_chain
from engine.services.incidents import incident_retry, job_retry
from engine.services.instances import process_instance_start
from tests.engine import test_jobs_handlers as handlers
from tests.engine._instances import NOW, deploy, job_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_handlers() -> Iterator[None]:
    handlers.BEHAVIOUR.clear()
    yield
    handlers.BEHAVIOUR.clear()


def _exhaust() -> tuple[int, int]:
    deploy("jobs_charge.bpmn")  # R2/PT5M
    handlers.BEHAVIOUR["charge"] = "fail"
    instance, _ = process_instance_start(key="jobs_charge", now=NOW)
    for minute in (0, 5, 10, 15, 20):
        run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=minute))
    return instance.pk, Incident.objects.get().pk


def test_job_retry_by_an_admin_resolves_the_incident_and_the_instance_completes(db):
    admin = get_user_model().objects.create_user("ops-admin")
    instance_id, incident_id = _exhaust()
    assert Incident.objects.count() == 1  # exactly one, however often the runner looked
    handlers.BEHAVIOUR["charge"] = "ok"
    job = job_retry(job_id=job_of(instance_id, "Charge").pk, actor=admin, retries=1,
                    now=NOW + timedelta(hours=1))
    assert job.retries_left == 1
    incident = Incident.objects.get(pk=incident_id)
    assert incident.resolved_at is not None and incident.resolved_by == admin
    event = AuditEvent.objects.get(chain=instance_chain(instance_id), kind="job retries set")
    assert event.actor == "ops-admin" and event.data["incidents"] == [incident_id]
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=1)) == 1
    assert not Incident.objects.filter(resolved_at__isnull=True).exists()


def test_retry_errors_name_what_is_wrong(db):
    with pytest.raises(IncidentNotFound):
        incident_retry(incident_id=424242, actor=None)
    with pytest.raises(JobNotFound):
        job_retry(job_id=424242, actor=None)
    _instance_id, incident_id = _exhaust()
    with pytest.raises(JobNotRetryable, match="at least 1"):
        incident_retry(incident_id=incident_id, actor=None, retries=0)


def test_an_incident_without_a_job_cannot_be_retried_as_one(db):
    _instance_id, incident_id = _exhaust()
    Incident.objects.filter(pk=incident_id).update(job=None)
    with pytest.raises(JobNotRetryable, match="no job"):
        incident_retry(incident_id=incident_id, actor=None)
