"""Message throw events with an implementation wait for a send job; async signals are jobs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from engine.errors import DeploymentInvalid
from engine.jobs import SIGNAL_JOB_KIND, run_due_jobs
from engine.models import AuditEvent, Incident, Job, ProcessInstance, UserTask, instance_chain
from engine.selectors import process_instance_variables
from engine.service_tasks import BpmnError, ServiceCall, service_task
from engine.services.deployments import deployment_create
from engine.services.external_tasks import (
    TopicRequest,
    external_task_complete,
    external_task_fetch_and_lock,
)
from engine.services.incidents import incident_retry
from engine.services.instances import process_instance_start
from tests.engine._instances import FIXTURES, NOW, deploy, job_of, open_task

pytestmark = pytest.mark.django_db

# handler name -> "ok" | "fail" | "bpmn:<code>"; every call is recorded.
BEHAVIOUR: dict[str, str] = {}
CALLS: list[tuple[str, ServiceCall]] = []


def _behave(name: str, call: ServiceCall, result: Mapping[str, object]) -> Mapping[str, object]:
    CALLS.append((name, call))
    what = BEHAVIOUR.get(name, "ok")
    if what == "fail":
        raise RuntimeError(f"{name}: the mail server is down")
    if what.startswith("bpmn:"):
        raise BpmnError(what[5:], f"{name} says no")
    return result


@service_task("throwTestNotify")
def notify(call: ServiceCall) -> Mapping[str, object]:
    return _behave("notify", call, {"notified": True})


@service_task("com.acme.ThrowTestMail")
def mail(call: ServiceCall) -> Mapping[str, object]:
    return _behave("mail", call, {})


@service_task("throw-test-publish")
def publish(call: ServiceCall) -> Mapping[str, object]:
    return _behave("publish", call, {"receipt": f"R-{call.variables['doubled']}"})


@pytest.fixture(autouse=True)
def _fresh_handlers() -> Iterator[None]:
    BEHAVIOUR.clear()
    CALLS.clear()
    yield
    BEHAVIOUR.clear()


def kinds(instance: ProcessInstance, element_id: str) -> list[str]:
    return list(AuditEvent.objects.filter(chain=instance_chain(instance.pk),
                                          element_id=element_id)
                .order_by("seq").values_list("kind", flat=True))


def status(instance: ProcessInstance) -> str:
    instance.refresh_from_db()
    return instance.status


# --- Message throw events with an implementation ---------------------------------------


def test_a_message_throw_with_a_handler_waits_for_the_runner_then_goes_on(db):
    deploy("throw_message_handler.bpmn")
    instance, _ = process_instance_start(key="throw_message_handler",
                                         variables={"order": "A-1"}, now=NOW)
    job = job_of(instance.pk, "Notify")
    assert job.kind == "send" and job.topic is None
    assert status(instance) == "running" and CALLS == []  # nothing sent in the start
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    [(name, call)] = CALLS
    assert name == "notify" and call.variables == {"order": "A-1"}
    assert call.idempotency_key == f"instance:{instance.pk}:job:{job.job_id}"
    assert call.element_id == "Notify" and call.attempt == 1
    assert status(instance) == "completed"
    assert process_instance_variables(instance=instance)["notified"] is True
    assert kinds(instance, "Notify") == ["event waiting", "job done", "variable set",
                                        "event thrown"]
    assert not Job.objects.filter(instance=instance).exists()


def test_a_message_end_event_with_an_external_topic_is_fetched_and_completed(db):
    deploy("throw_message_end_external.bpmn")
    instance, _ = process_instance_start(key="throw_message_end_external",
                                         variables={"invoice": 7}, now=NOW)
    assert run_due_jobs(worker_id="runner", now=NOW) == 0  # for an outside worker only
    [task] = external_task_fetch_and_lock(worker_id="mailer",
                                          topics=[TopicRequest("send-invoice", 60_000)])
    assert task.activity_id == "SendInvoice" and task.process_instance_id == instance.pk
    assert task.variables == {"invoice": 7}
    assert status(instance) == "running"
    external_task_complete(task_id=task.id, worker_id="mailer", variables={"sent": True})
    assert status(instance) == "completed"
    assert kinds(instance, "SendInvoice")[-1] == "event thrown"


def test_a_zeebe_message_throw_runs_its_job_worker_with_its_mappings(db):
    deploy("throw_message_zeebe.bpmn")
    instance, _ = process_instance_start(key="throw_message_zeebe", variables={"amount": 21},
                                         now=NOW)
    assert job_of(instance.pk, "Publish").kind == "send"
    assert not UserTask.objects.filter(instance=instance).exists()
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    [(_, call)] = CALLS
    assert call.variables == {"amount": 21, "doubled": 42}  # the input mapping
    assert open_task(instance.pk, "Review")
    instance.refresh_from_db()
    values = process_instance_variables(instance=instance)
    assert values["paymentReceipt"] == "R-42" and "doubled" not in values


def test_a_failing_throw_handler_retries_on_its_cycle_then_raises_one_incident(db):
    deploy("throw_message_handler.bpmn")  # failedJobRetryTimeCycle R2/PT1M: 3 attempts
    BEHAVIOUR["notify"] = "fail"
    instance, _ = process_instance_start(key="throw_message_handler", now=NOW)
    for minute in range(3):
        assert run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=minute)) == 1
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=1)) == 0
    assert [c.attempt for _, c in CALLS] == [1, 2, 3]
    assert len({c.idempotency_key for _, c in CALLS}) == 1  # stable across attempts
    [incident] = Incident.objects.filter(instance=instance)
    assert incident.element_id == "Notify" and "mail server is down" in incident.message
    assert status(instance) == "running" and job_of(instance.pk, "Notify").retries_left == 0
    BEHAVIOUR["notify"] = "ok"
    incident_retry(incident_id=incident.pk, actor=None, now=NOW + timedelta(hours=1))
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=1)) == 1
    assert status(instance) == "completed"
    assert CALLS[-1][1].idempotency_key == CALLS[0][1].idempotency_key


def test_a_bpmn_error_from_a_throw_handler_is_thrown_from_the_events_scope(db):
    deploy("throw_message_error.bpmn")
    BEHAVIOUR["mail"] = "bpmn:MAIL_BOUNCED"
    instance, _ = process_instance_start(key="throw_message_error", now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    # No boundary event can sit on an event: the subprocess around it catches the error.
    assert open_task(instance.pk, "CallInstead")
    instance.refresh_from_db()
    assert process_instance_variables(instance=instance)["why"] == "MAIL_BOUNCED"
    assert not Incident.objects.filter(instance=instance).exists()
    assert not Job.objects.filter(instance=instance).exists()


def test_an_uncaught_bpmn_error_from_a_throw_handler_is_an_incident_at_the_event(db):
    deploy("throw_message_handler.bpmn")
    BEHAVIOUR["notify"] = "bpmn:NO_ADDRESS"
    instance, _ = process_instance_start(key="throw_message_handler", now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    [incident] = Incident.objects.filter(instance=instance)
    assert incident.element_id == "Notify" and "'NO_ADDRESS' was not caught" in \
        incident.message
    assert status(instance) == "running"


def test_a_message_throw_in_an_event_with_several_definitions_is_refused_with_its_line(db):
    with pytest.raises(DeploymentInvalid) as refused:
        deploy("throw_multiple_with_job.bpmn")
    [report] = [d for f in refused.value.diagnostics for d in f.diagnostics if d.is_error]
    assert report.element_id == "Both" and report.line == 11
    assert "several event definitions" in report.message


# --- Asynchronous signals ------------------------------------------------------------------


def _deploy_signals(*names: str) -> None:
    deployment_create(files=[(n, (FIXTURES / n).read_bytes()) for n in names], actor=None)


def test_an_async_signal_is_delivered_by_a_job_after_the_thrower_completed(db):
    _deploy_signals("throw_signal_catcher.bpmn", "throw_signal_async.bpmn")
    early, _ = process_instance_start(key="throw_signal_catcher", now=NOW)
    early.refresh_from_db()
    revision = early.revision
    thrower, _ = process_instance_start(key="throw_signal_async", variables={"quarter": 3},
                                        now=NOW)
    assert status(thrower) == "completed"  # went on at once, in its own transaction
    early.refresh_from_db()
    assert early.revision == revision  # the catcher was not touched by the throw
    [job] = Job.objects.filter(kind=SIGNAL_JOB_KIND)
    assert job.instance_id is None and job.payload["signal"] == "QuarterClosed"
    # An instance that starts waiting after the thrower ended still receives it.
    late, _ = process_instance_start(key="throw_signal_catcher", now=NOW)
    assert not UserTask.objects.filter(instance__in=[early, late]).exists()
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert open_task(early.pk, "Report") and open_task(late.pk, "Report")
    late.refresh_from_db()
    assert process_instance_variables(instance=late)["quarter"] == 3
    assert not Job.objects.filter(kind=SIGNAL_JOB_KIND).exists()
    assert kinds(thrower, "Announce") == ["event thrown"]


def test_a_signal_without_async_is_delivered_within_the_throwers_transaction(db):
    _deploy_signals("throw_signal_catcher.bpmn", "throw_signal_sync.bpmn")
    catcher, _ = process_instance_start(key="throw_signal_catcher", now=NOW)
    thrower, _ = process_instance_start(key="throw_signal_sync", now=NOW)
    assert status(thrower) == "completed"
    assert open_task(catcher.pk, "Report")  # before any job ran
    assert not Job.objects.filter(kind=SIGNAL_JOB_KIND).exists()


def test_camunda_async_on_a_signal_definition_is_read_by_the_parser():
    from bpmn.loader import load_model
    from bpmn.model import Event, SignalEventDefinition

    def definition(name: str) -> SignalEventDefinition:
        loaded = load_model((FIXTURES / name).read_bytes())
        assert loaded.definitions is not None
        process = loaded.definitions.processes[0]
        event = process.scope.nodes["Announce"]
        assert isinstance(event, Event)
        found = event.definitions[0]
        assert isinstance(found, SignalEventDefinition)
        return found

    assert definition("throw_signal_async.bpmn").asynchronous is True
    assert definition("throw_signal_sync.bpmn").asynchronous is False


# --- bpmn_run --------------------------------------------------------------------------------

SCENARIO = """
variables: {quarter: 4}
services:
  Notify:
    - result: {notified: true}
steps:
  - expect: {service_calls: [Notify], variables: {notified: true}, open_tasks: [Wrap]}
  - expect: {open_tasks: [Record]}
    instance: "throw_scenario_listener#1"
  - complete: Wrap
  - expect: {completed: true}
"""


def test_bpmn_run_uses_scripted_results_for_throw_events_on_both_paths(tmp_path: Path):
    from bpmn.loader import load_model
    from engine.scenario_db import DatabaseRun
    from engine.scenario_run import run_engine_only, run_scenario
    from engine.scenarios import parse_scenario

    scenario = parse_scenario(SCENARIO)
    data = (FIXTURES / "throw_scenario.bpmn").read_bytes()
    definitions = load_model(data).definitions
    assert definitions is not None
    memory_run, memory_steps = run_engine_only(definitions, scenario, "throw_scenario")
    database_run = DatabaseRun(scenario, "throw_scenario.bpmn", data)
    database_steps = run_scenario(database_run, "throw_scenario")
    assert memory_run.failures == [] and database_run.failures == []

    def strip(steps: list[dict[str, object]]) -> list[dict[str, object]]:
        for step in steps:
            for snap in step["instances"].values():  # type: ignore[attr-defined]
                for task in snap["open_tasks"]:
                    task.pop("created")
        return steps

    assert strip(database_steps) == strip(memory_steps)
    final = memory_steps[-1]["instances"]
    assert final["main"]["completed"] is True
    assert final["throw_scenario_listener#1"]["variables"] == {"quarter": 4, "notified": True}
