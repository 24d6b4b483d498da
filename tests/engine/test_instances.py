"""Starting, cancelling, suspending and resuming instances; variables; deploy-time refusal."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from engine import audit
from engine.errors import DeploymentInvalid
from engine.models import (
    AuditEvent,
    EventSubscription,
    Job,
    ProcessInstance,
    UserTask,
    UserTaskCandidateGroup,
    instance_chain,
)
from engine.services.deployments import deployment_create
from engine.services.instances import (
    DefinitionNotFound,
    InstanceNotRunning,
    InstanceSuspended,
    InvalidVariables,
    process_instance_cancel,
    process_instance_resume,
    process_instance_set_variables,
    process_instance_start,
    process_instance_suspend,
)
from engine.services.jobs import job_fire
from engine.services.user_tasks import user_task_complete
from engine.status import InvalidTransition
from tests.engine._instances import FIXTURES, NOW, REQ, deploy, job_of, open_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password="x")


def test_start_makes_a_user_task_row_with_candidate_groups_and_complete_ends_the_instance(bob):
    definition = deploy("approval.bpmn")
    instance, created = process_instance_start(
        key="approval", variables={"requester": "bob"}, business_key="REQ-1", actor=bob, now=NOW
    )
    assert created
    assert instance.definition_id == definition.pk
    assert instance.status == "running" and instance.business_key == "REQ-1"
    assert instance.started_by == bob and instance.revision == 1

    task = open_task(instance.pk, "Review")
    assert task.name == "Review the request"
    assert task.assignee_username == "bob" and task.assignee == bob
    assert task.candidate_users == ["carol"]
    assert task.candidate_groups == ["managers", "finance"]
    assert task.priority == 70
    assert task.due is not None and task.due.isoformat().startswith("2025-03-05T17:00")
    offered = UserTask.objects.filter(group_offers__group_name__in=["finance", "hr"])
    assert list(offered) == [task]
    assert UserTaskCandidateGroup.objects.filter(task=task).count() == 2

    done = user_task_complete(task_id=task.pk, actor=bob, variables={"approved": True}, now=NOW)
    assert done.status == "completed" and done.completed_by == bob
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.ended_at == NOW
    assert instance.revision == 2
    assert instance.state["st"] == "completed"

    assert audit.verify_chain(instance_chain(instance.pk)) == []
    events = AuditEvent.objects.filter(chain=instance_chain(instance.pk))
    kinds = list(events.values_list("kind", flat=True))
    assert kinds[0] == "process started" and kinds[-1] == "process completed"
    assert "task completed" in kinds
    completed = events.get(kind="task completed")
    assert completed.actor == "bob" and completed.actor_id == bob.pk
    assert completed.element_id == "Review"


def test_assignee_without_a_user_keeps_the_name_and_no_foreign_key(db):
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables={"requester": "zoe"},
                                         now=NOW)
    task = open_task(instance.pk, "Review")
    assert task.assignee_username == "zoe" and task.assignee_id is None


def test_the_same_idempotency_key_twice_returns_the_first_instance(db):
    deploy("approval.bpmn")
    first, created = process_instance_start(key="approval", variables=REQ, idempotency_key="req-42", now=NOW)
    again, created_again = process_instance_start(key="approval", variables=REQ, idempotency_key="req-42",
                                                  now=NOW)
    assert created and not created_again
    assert again.pk == first.pk
    assert ProcessInstance.objects.count() == 1
    assert UserTask.objects.count() == 1


def test_start_by_key_takes_the_latest_version_and_by_id_an_older_one(db):
    first = deploy("approval.bpmn")
    data = (FIXTURES / "approval.bpmn").read_bytes().replace(b"Review the request",
                                                             b"Review it")
    deployment_create(files=[("approval.bpmn", data)], actor=None)
    latest, _ = process_instance_start(key="approval", variables=REQ, now=NOW)
    older, _ = process_instance_start(definition_id=first.pk, variables=REQ, now=NOW)
    assert latest.definition.version == 2 and older.definition.version == 1
    assert open_task(latest.pk, "Review").name == "Review it"


def test_start_of_an_unknown_key_is_a_typed_error(db):
    with pytest.raises(DefinitionNotFound):
        process_instance_start(key="nope", now=NOW)


def test_variables_that_are_not_json_are_refused(db):
    deploy("approval.bpmn")
    with pytest.raises(InvalidVariables):
        process_instance_start(key="approval", variables={"x": object()}, now=NOW)
    assert ProcessInstance.objects.count() == 0


def test_a_suspended_instance_refuses_triggers_until_resumed(db):
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables=REQ, now=NOW)
    task = open_task(instance.pk, "Review")
    process_instance_suspend(instance_id=instance.pk, actor=None, now=NOW)
    with pytest.raises(InstanceSuspended):
        user_task_complete(task_id=task.pk, actor=None, now=NOW)
    with pytest.raises(InvalidTransition):
        process_instance_suspend(instance_id=instance.pk, actor=None, now=NOW)
    process_instance_resume(instance_id=instance.pk, actor=None, now=NOW)
    user_task_complete(task_id=task.pk, actor=None, now=NOW)
    instance.refresh_from_db()
    assert instance.status == "completed"
    kinds = list(AuditEvent.objects.filter(chain=instance_chain(instance.pk))
                 .values_list("kind", flat=True))
    assert "suspended" in kinds and "resumed" in kinds
    assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_cancel_ends_the_instance_and_removes_its_tasks_jobs_and_subscriptions(db):
    deploy("timer_wait.bpmn")
    deploy("approval.bpmn")
    waiting, _ = process_instance_start(key="timer_wait", now=NOW)
    assert Job.objects.filter(instance=waiting).count() == 1
    process_instance_cancel(instance_id=waiting.pk, actor=None, reason="test", now=NOW)
    waiting.refresh_from_db()
    assert waiting.status == "cancelled" and waiting.ended_at == NOW
    assert not Job.objects.filter(instance=waiting).exists()

    with_task, _ = process_instance_start(key="approval", variables=REQ, now=NOW)
    process_instance_suspend(instance_id=with_task.pk, actor=None, now=NOW)
    process_instance_cancel(instance_id=with_task.pk, actor=None, now=NOW)
    assert UserTask.objects.get(instance=with_task).status == "cancelled"
    with pytest.raises(InstanceNotRunning):
        process_instance_cancel(instance_id=with_task.pk, actor=None, now=NOW)
    assert not EventSubscription.objects.filter(instance__isnull=False).exists()
    assert audit.verify_chain(instance_chain(with_task.pk)) == []


def test_set_variables_changes_root_variables_and_is_audited(bob):
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables={**REQ, "amount": 10},
                                         now=NOW)
    process_instance_set_variables(instance_id=instance.pk, variables={"amount": 20, "note": "x"},
                                   actor=bob, now=NOW)
    instance.refresh_from_db()
    root = instance.state["s"][0]["v"]
    assert root == {**REQ, "amount": 20, "note": "x"}
    event = AuditEvent.objects.filter(chain=instance_chain(instance.pk),
                                      kind="variable set").last()
    assert event is not None and event.actor == "bob"
    assert event.data["name"] == "note"


def test_timer_job_fired_when_due_moves_the_token_on(db):
    deploy("timer_wait.bpmn")
    instance, _ = process_instance_start(key="timer_wait", now=NOW)
    job = job_of(instance.pk, "Wait")
    assert job.kind == "timer"
    assert (job.due_at - NOW).total_seconds() == 3600
    job_fire(job_id=job.pk, now=job.due_at)
    assert not Job.objects.filter(pk=job.pk).exists()
    assert open_task(instance.pk, "FollowUp")


def test_deploying_an_unsupported_construct_is_refused_with_code_element_and_line(db):
    data = (FIXTURES / "unsupported_loop.bpmn").read_bytes()
    with pytest.raises(DeploymentInvalid) as raised:
        deployment_create(files=[("unsupported_loop.bpmn", data)], actor=None)
    (report,) = raised.value.diagnostics
    (problem,) = [d for d in report.diagnostics if d.is_error]
    assert problem.code == "runtime.unsupported"
    assert problem.element_id == "Decide"
    assert problem.line == 9
    assert "standard loop without a loopCondition" in raised.value.message


def test_a_timer_start_event_with_an_expression_is_refused_at_deploy(db):
    data = (FIXTURES / "timer_start_expression.bpmn").read_bytes()
    with pytest.raises(DeploymentInvalid) as raised:
        deployment_create(files=[("timer_start_expression.bpmn", data)], actor=None)
    errors = [d for f in raised.value.diagnostics for d in f.diagnostics if d.is_error]
    assert [(d.element_id, d.line) for d in errors] == [("Every10", 6)]


# --- Setting variables re-evaluates conditional events ---------------------------------

COND = {"urgent": False, "approved": False}


def _open(instance_id: int) -> list[str]:
    return sorted(UserTask.objects.filter(instance_id=instance_id, status="open")
                  .values_list("element_id", flat=True))


def test_set_variables_fires_a_conditional_catch_and_boundary_that_turn_true(bob):
    deploy("engine_conditional_set_variables.bpmn")
    instance, _ = process_instance_start(key="conditional_set_variables", variables=COND,
                                         now=NOW)
    assert _open(instance.pk) == ["work"]

    process_instance_set_variables(instance_id=instance.pk, variables={"approved": True},
                                   actor=bob, now=NOW)
    assert _open(instance.pk) == ["after_approval", "work"]

    process_instance_set_variables(instance_id=instance.pk, variables={"urgent": True},
                                   actor=bob, now=NOW)
    # The interrupting boundary event cancelled the task it is attached to.
    assert _open(instance.pk) == ["after_approval", "handle_urgent"]
    assert UserTask.objects.get(instance=instance, element_id="work").status == "cancelled"
    instance.refresh_from_db()
    assert instance.revision == 3
    events = AuditEvent.objects.filter(chain=instance_chain(instance.pk))
    assert events.filter(kind="event caught", element_id="urgent").count() == 1
    assert events.filter(kind="variable set", actor="bob", data__by="admin").count() == 2
    assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_set_variables_that_leave_a_condition_false_moves_no_token(bob):
    deploy("engine_conditional_set_variables.bpmn")
    instance, _ = process_instance_start(key="conditional_set_variables", variables=COND,
                                         now=NOW)
    process_instance_set_variables(instance_id=instance.pk, variables={"note": "x"},
                                   actor=bob, now=NOW)
    assert _open(instance.pk) == ["work"]
    instance.refresh_from_db()
    assert instance.state["s"][0]["v"] == {**COND, "note": "x"}


def test_variables_set_while_suspended_fire_their_conditions_on_resume(bob):
    deploy("engine_conditional_set_variables.bpmn")
    instance, _ = process_instance_start(key="conditional_set_variables", variables=COND,
                                         now=NOW)
    process_instance_suspend(instance_id=instance.pk, actor=bob, now=NOW)
    process_instance_set_variables(instance_id=instance.pk, variables={"approved": True},
                                   actor=bob, now=NOW)
    assert _open(instance.pk) == ["work"]  # suspended: no token moves

    process_instance_resume(instance_id=instance.pk, actor=bob, now=NOW)
    assert _open(instance.pk) == ["after_approval", "work"]
    assert audit.verify_chain(instance_chain(instance.pk)) == []
