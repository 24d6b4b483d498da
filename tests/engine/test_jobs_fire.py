"""Firing due timers and taking the results of service task jobs."""

from __future__ import annotations

import pytest

from engine import audit
from engine.models import Incident, Job, instance_chain
from engine.services.instances import process_instance_start
from engine.services.jobs import (
    JobNotDue,
    JobNotFound,
    JobWrongKind,
    job_complete,
    job_fail,
    job_fire,
)
from tests.engine._instances import NOW, deploy, job_of, open_task

pytestmark = pytest.mark.django_db


def test_a_timer_is_not_fired_before_it_is_due(db):
    deploy("timer_wait.bpmn")
    instance, _ = process_instance_start(key="timer_wait", now=NOW)
    job = job_of(instance.pk, "Wait")
    with pytest.raises(JobNotDue):
        job_fire(job_id=job.pk, now=NOW)
    assert Job.objects.filter(pk=job.pk).exists()


def test_firing_a_due_timer_continues_to_the_next_task(db):
    deploy("timer_wait.bpmn")
    instance, _ = process_instance_start(key="timer_wait", now=NOW)
    job = job_of(instance.pk, "Wait")
    job_fire(job_id=job.pk, now=job.due_at)
    assert open_task(instance.pk, "FollowUp")
    with pytest.raises(JobNotFound):
        job_fire(job_id=job.pk, now=job.due_at)
    assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_service_task_becomes_a_job_and_its_result_completes_the_instance(db):
    deploy("charge_card.bpmn")
    instance, _ = process_instance_start(key="charge_card", now=NOW)
    job = job_of(instance.pk, "Charge")
    assert job.kind == "service"
    with pytest.raises(JobWrongKind):
        job_fire(job_id=job.pk, now=NOW)
    job_complete(job_id=job.pk, variables={"charged": True}, now=NOW)
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert instance.state["s"][0]["v"]["charged"] is True
    assert not Job.objects.exists()


def test_job_failure_with_an_error_code_is_caught_by_the_error_boundary(db):
    deploy("charge_card.bpmn")
    instance, _ = process_instance_start(key="charge_card", now=NOW)
    job = job_of(instance.pk, "Charge")
    job_fail(job_id=job.pk, error_code="CARD_DECLINED", message="declined", now=NOW)
    assert open_task(instance.pk, "CallCustomer")
    assert not Job.objects.exists()
    assert not Incident.objects.exists()
    assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_job_failure_without_an_error_code_raises_an_incident_and_keeps_the_job(db):
    deploy("charge_card.bpmn")
    instance, _ = process_instance_start(key="charge_card", now=NOW)
    job = job_of(instance.pk, "Charge")
    job_fail(job_id=job.pk, message="gateway timeout", now=NOW)
    incident = Incident.objects.get()
    assert incident.instance_id == instance.pk and incident.element_id == "Charge"
    assert incident.job_id == job.pk and "gateway timeout" in incident.message
    job.refresh_from_db()
    assert job.retries_left == 0
    instance.refresh_from_db()
    assert instance.status == "running"


def test_a_timer_start_event_is_armed_at_deploy_and_starts_an_instance_per_repetition(db):
    from engine.models import ProcessInstance

    definition = deploy("timer_start.bpmn")
    job = Job.objects.get(definition=definition, instance=None)
    assert job.kind == "start-timer" and job.element_id == "Every10"
    first_due = job.due_at
    assert (first_due - definition.deployed_at).total_seconds() == 600
    with pytest.raises(JobNotDue):
        job_fire(job_id=job.pk, now=first_due.replace(year=first_due.year - 1))
    started = job_fire(job_id=job.pk, now=first_due)
    assert started.definition_id == definition.pk
    assert open_task(started.pk, "Check")
    job.refresh_from_db()
    assert (job.due_at - first_due).total_seconds() == 600
    job_fire(job_id=job.pk, now=job.due_at)
    assert ProcessInstance.objects.filter(definition=definition).count() == 2
    assert not Job.objects.filter(instance=None).exists()  # R2: done after two
