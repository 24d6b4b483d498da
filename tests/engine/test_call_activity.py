"""Call activities in the database: child instance rows, both audit chains, cancellation
and BPMN errors carried from the child to its caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import audit
from engine.errors import EngineError
from engine.models import AuditEvent, Incident, ProcessInstance, UserTask, instance_chain
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_cancel, process_instance_start
from engine.services.jobs import job_complete
from engine.services.user_tasks import user_task_complete
from tests.engine._instances import NOW, job_of, open_task
from tests.markers import needs_postgresql_row_locks

pytestmark = pytest.mark.django_db

MODEL = Path(__file__).parent / "scenarios" / "call_activity.bpmn"
LONELY = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
             targetNamespace="http://example.com">
  <process id="lonely" isExecutable="true">
    <startEvent id="s"/><callActivity id="call" calledElement="nobody"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
    <sequenceFlow id="f2" sourceRef="call" targetRef="e"/>
  </process>
</definitions>"""


def started() -> tuple[ProcessInstance, ProcessInstance]:
    deployment_create(files=[("call_activity.bpmn", MODEL.read_bytes())], actor=None)
    parent, _ = process_instance_start(key="parent", variables={"amount": 10},
                                       business_key="B-1", now=NOW)
    (child,) = ProcessInstance.objects.filter(parent_instance=parent)
    job_complete(job_id=job_of(child.pk, "check").pk, variables={"checked": True}, now=NOW)
    return parent, child


def kinds(instance: ProcessInstance) -> list[str]:
    return list(AuditEvent.objects.filter(chain=instance_chain(instance.pk))
                .order_by("seq").values_list("kind", flat=True))


def test_a_call_activity_starts_a_child_row_with_the_mapped_variables_and_business_key():
    parent, child = started()
    child.refresh_from_db()
    assert child.definition.key == "child" and child.status == "running"
    assert child.business_key == "B-1"
    assert child.state["s"][0]["v"] == {"amount": 10, "checked": True}
    # The child's escalation reached the non-interrupting boundary event of the caller.
    assert open_task(parent.pk, "follow_up") and open_task(child.pk, "decide")
    assert kinds(child)[0] == "called by" and "child started" in kinds(parent)


def test_a_completed_child_completes_its_call_activity_and_both_chains_verify():
    parent, child = started()
    user_task_complete(task_id=open_task(child.pk, "decide").pk, actor=None,
                       variables={"decision": "yes"}, now=NOW)
    user_task_complete(task_id=open_task(parent.pk, "follow_up").pk, actor=None, now=NOW)
    parent.refresh_from_db()
    child.refresh_from_db()
    assert child.status == "completed" and parent.status == "completed"
    assert parent.state["s"][0]["v"] == {"amount": 10, "decision": "yes"}
    assert "call completed" in kinds(parent)
    assert audit.verify_chain(instance_chain(parent.pk)) == []
    assert audit.verify_chain(instance_chain(child.pk)) == []


def test_a_child_error_ends_the_child_and_takes_the_error_boundary_of_the_caller():
    parent, child = started()
    user_task_complete(task_id=open_task(child.pk, "decide").pk, actor=None,
                       variables={"decision": "no"}, now=NOW)
    child.refresh_from_db()
    parent.refresh_from_db()
    assert child.status == "cancelled" and parent.status == "running"
    assert open_task(parent.pk, "handle_rejection")
    assert parent.state["s"][0]["v"]["code"] == "REJECTED"
    assert "error thrown to caller" in kinds(child)
    assert audit.verify_chain(instance_chain(child.pk)) == []


def test_cancelling_the_caller_cancels_the_child_and_its_tasks():
    parent, child = started()
    process_instance_cancel(instance_id=parent.pk, now=NOW)
    child.refresh_from_db()
    assert child.status == "cancelled"
    assert not UserTask.objects.filter(instance=child, status="open").exists()
    assert audit.verify_chain(instance_chain(child.pk)) == []


def test_a_called_process_that_is_not_deployed_is_an_incident_at_the_call_activity():
    deployment_create(files=[("lonely.bpmn", LONELY)], actor=None)
    parent, _ = process_instance_start(key="lonely", now=NOW)
    parent.refresh_from_db()
    assert parent.status == "running"
    (incident,) = Incident.objects.filter(instance=parent)
    assert incident.element_id == "call" and "nobody" in incident.message
    assert not ProcessInstance.objects.filter(parent_instance=parent).exists()


@pytest.mark.django_db(transaction=True)
@needs_postgresql_row_locks
def test_a_child_trigger_and_a_cancel_of_its_caller_at_once_never_deadlock():
    """Both lock the caller first (lock_instance locks ancestors, root first), so one waits
    for the other instead of each holding the row the other needs."""
    from tests.concurrency import run_together

    deployment_create(files=[("call_activity.bpmn", MODEL.read_bytes())], actor=None)
    for _ in range(5):
        parent, _ = process_instance_start(key="parent", variables={"amount": 1}, now=NOW)
        (child,) = ProcessInstance.objects.filter(parent_instance=parent)
        job_complete(job_id=job_of(child.pk, "check").pk, now=NOW)
        task = open_task(child.pk, "decide")
        _, failures = run_together([
            lambda t=task: user_task_complete(task_id=t.pk, actor=None,
                                              variables={"decision": "yes"}, now=NOW),
            lambda p=parent: process_instance_cancel(instance_id=p.pk, now=NOW),
        ])
        # The completion may lose (its task was cancelled first): a typed error, never a
        # deadlock.
        assert all(isinstance(f, EngineError) for f in failures), failures
        parent.refresh_from_db()
        child.refresh_from_db()
        assert parent.status == "cancelled"
        assert child.status in ("cancelled", "completed")
        assert audit.verify_chain(instance_chain(parent.pk)) == []
        assert audit.verify_chain(instance_chain(child.pk)) == []


def _callee(tag: str, task: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d"
             targetNamespace="http://example.com">
  <process id="tag_callee" isExecutable="true" camunda:versionTag="{tag}">
    <startEvent id="s"/><userTask id="{task}"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="{task}"/>
    <sequenceFlow id="f2" sourceRef="{task}" targetRef="e"/>
  </process>
</definitions>""".encode()


def test_a_version_tag_binding_calls_the_newest_version_with_that_tag():
    fixture = Path(__file__).parent / "fixtures" / "engine_call_version_tag.bpmn"
    deployment_create(files=[("callee.bpmn", _callee("stable", "old_stable"))], actor=None)
    deployment_create(files=[("callee.bpmn", _callee("stable", "new_stable"))], actor=None)
    deployment_create(files=[("callee.bpmn", _callee("beta", "beta_task"))], actor=None)
    deployment_create(files=[("caller.bpmn", fixture.read_bytes())], actor=None)

    parent, _ = process_instance_start(key="tag_caller", now=NOW)

    (child,) = ProcessInstance.objects.filter(parent_instance=parent)
    assert (child.definition.key, child.definition.version) == ("tag_callee", 2)
    assert open_task(child.pk, "new_stable")
    user_task_complete(task_id=open_task(child.pk, "new_stable").pk, actor=None, now=NOW)
    parent.refresh_from_db()
    assert parent.status == "completed"


def test_a_version_tag_nobody_carries_is_an_incident_at_the_call_activity():
    fixture = Path(__file__).parent / "fixtures" / "engine_call_version_tag.bpmn"
    deployment_create(files=[("callee.bpmn", _callee("beta", "beta_task"))], actor=None)
    deployment_create(files=[("caller.bpmn", fixture.read_bytes())], actor=None)

    parent, _ = process_instance_start(key="tag_caller", now=NOW)

    assert not ProcessInstance.objects.filter(parent_instance=parent).exists()
    (incident,) = Incident.objects.filter(instance=parent)
    assert incident.element_id == "call" and "versionTag 'stable'" in incident.message


def test_a_version_tag_binding_without_a_tag_is_refused_at_deploy():
    data = (Path(__file__).parent / "fixtures" / "engine_call_version_tag.bpmn").read_bytes()
    data = data.replace(b'camunda:calledElementVersionTag="stable"', b"")
    with pytest.raises(EngineError) as raised:
        deployment_create(files=[("caller.bpmn", data)], actor=None)
    assert "binding 'versionTag' but no versionTag" in str(raised.value.message)
