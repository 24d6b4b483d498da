"""The job runner in-process on a fixed clock: timers, leases, service tasks, retries, incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command

from engine import audit
from engine.errors import IncidentAlreadyResolved, JobNotRetryable
from engine.jobs import (
    claim_due_jobs,
    register_job_kind,
    retry_plan,
    run_due_jobs,
    schedule_job,
)
from engine.models import AuditEvent, Incident, Job, ProcessInstance, UserTask, instance_chain
from engine.services.incidents import incident_retry, job_retry
from engine.services.instances import process_instance_start, process_instance_suspend
from engine.services.user_tasks import user_task_complete
from tests.engine import test_jobs_handlers as handlers
from tests.engine._instances import NOW, deploy, job_of, open_task
from tests.markers import needs_postgresql_row_locks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_handlers() -> Iterator[None]:
    handlers.BEHAVIOUR.clear()
    handlers.CALLS.clear()
    yield
    handlers.BEHAVIOUR.clear()


def kinds(instance_id: int) -> list[str]:
    return list(AuditEvent.objects.filter(chain=instance_chain(instance_id))
                .order_by("seq").values_list("kind", flat=True))


def status(instance: ProcessInstance) -> str:
    instance.refresh_from_db()
    return instance.status


# --- Timers ---------------------------------------------------------------------------------


def test_a_timer_boundary_on_an_open_user_task_fires_and_interrupts_it(db):
    deploy("jobs_timer_boundary.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_boundary", variables={"wait": "PT10M"},
                                         now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=9)) == 0
    assert open_task(instance.pk, "Review")
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=10)) == 1
    assert UserTask.objects.get(instance=instance, element_id="Review").status == "cancelled"
    assert open_task(instance.pk, "Escalated")
    assert not Job.objects.filter(instance=instance).exists()
    assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_a_non_interrupting_cycle_fires_the_stated_number_of_times_and_keeps_the_task(db):
    deploy("jobs_timer_cycle.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_cycle", variables={"cycle": "R3/PT1M"},
                                         now=NOW)
    fired = sum(run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=m))
                for m in range(1, 8))
    assert fired == 3
    reminded = AuditEvent.objects.filter(chain=instance_chain(instance.pk),
                                         element_id="Reminded", kind="event passed")
    assert reminded.count() == 3
    assert open_task(instance.pk, "Review")
    assert not Job.objects.filter(instance=instance).exists()


def test_a_timer_of_a_suspended_instance_waits_for_the_resume(db):
    deploy("timer_wait.bpmn")
    instance, _ = process_instance_start(key="timer_wait", now=NOW)
    process_instance_suspend(instance_id=instance.pk, now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=2)) == 0
    assert Job.objects.filter(instance=instance).exists()


def test_an_async_continuation_runs_as_its_own_job(db):
    deploy("jobs_async.bpmn")
    instance, _ = process_instance_start(key="jobs_async", now=NOW)
    assert job_of(instance.pk, "Later").kind == "async"
    assert not UserTask.objects.filter(instance=instance).exists()
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert open_task(instance.pk, "Review")


# --- Leases ---------------------------------------------------------------------------------


def test_a_leased_job_is_not_claimed_again_until_the_lease_expires(db, settings):
    settings.JOB_LEASE_SECONDS = 30
    deploy("timer_wait.bpmn")
    instance, _ = process_instance_start(key="timer_wait", now=NOW)
    due = job_of(instance.pk, "Wait").due_at
    claimed = claim_due_jobs(worker_id="dead-worker", now=due)
    assert [c.instance_id for c in claimed] == [instance.pk]
    # The claimer died: nobody else gets the job while its lease runs ...
    assert run_due_jobs(worker_id="w2", now=due + timedelta(seconds=29)) == 0
    assert Job.objects.filter(instance=instance).exists()
    # ... and once it expired another worker fires the timer, exactly once.
    assert run_due_jobs(worker_id="w2", now=due + timedelta(seconds=31)) == 1
    assert open_task(instance.pk, "FollowUp")
    caught = AuditEvent.objects.filter(chain=instance_chain(instance.pk), element_id="Wait",
                                       kind="event caught")
    assert caught.count() == 1


def test_a_worker_that_lost_its_lease_does_not_run_the_job(db, settings):
    from engine.jobs import _run_batch

    settings.JOB_LEASE_SECONDS = 30
    deploy("timer_wait.bpmn")
    instance, _ = process_instance_start(key="timer_wait", now=NOW)
    due = job_of(instance.pk, "Wait").due_at
    late = claim_due_jobs(worker_id="slow", now=due)
    assert run_due_jobs(worker_id="fast", now=due + timedelta(seconds=31)) == 1
    # The slow worker wakes up with its stale claim: the job is gone, nothing happens.
    assert _run_batch(late, "slow", due + timedelta(seconds=32)) == 0
    assert AuditEvent.objects.filter(chain=instance_chain(instance.pk), element_id="Wait",
                                     kind="event caught").count() == 1


# --- Service tasks ----------------------------------------------------------------------------


def test_handlers_are_found_by_delegate_expression_class_expression_zeebe_type_and_id(db):
    deploy("jobs_service.bpmn")
    instance, _ = process_instance_start(key="jobs_service", variables={"amount": 5}, now=NOW)
    for _ in range(5):
        assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert status(instance) == "completed"
    assert [name for name, _ in handlers.CALLS] == [
        "delegate", "class", "expression", "zeebe", "by_id"]
    first = handlers.CALLS[0][1]
    assert first.variables["amount"] == 5 and first.element_id == "Delegate"
    assert first.process_key == "jobs_service" and first.attempt == 1
    variables = instance.state["s"][0]["v"]
    assert variables["delegate_done"] is True and variables["by_id_done"] is True
    assert len({call.idempotency_key for _, call in handlers.CALLS}) == 5


def test_a_bpmn_error_from_a_handler_takes_the_error_boundary_event(db):
    deploy("jobs_charge.bpmn")
    handlers.BEHAVIOUR["charge"] = "bpmn:CARD_DECLINED"
    instance, _ = process_instance_start(key="jobs_charge", now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert open_task(instance.pk, "CallCustomer")
    assert not Incident.objects.exists() and not Job.objects.filter(instance=instance).exists()


def test_a_failing_handler_retries_at_the_models_cycle_then_raises_one_incident(db):
    deploy("jobs_charge.bpmn")  # R2/PT5M: two retries, five minutes apart
    handlers.BEHAVIOUR["charge"] = "fail"
    instance, _ = process_instance_start(key="jobs_charge", now=NOW)
    attempts_at = []
    for minute in range(0, 16):
        at = NOW + timedelta(minutes=minute)
        if run_due_jobs(worker_id="w1", now=at):
            attempts_at.append(minute)
    assert attempts_at == [0, 5, 10]
    keys = {call.idempotency_key for _, call in handlers.CALLS}
    assert len(keys) == 1 and [c.attempt for _, c in handlers.CALLS] == [1, 2, 3]
    incident = Incident.objects.get()
    assert incident.element_id == "Charge" and "charge is down" in incident.message
    assert "RuntimeError" in incident.error_details
    assert incident.resolved_at is None
    job = job_of(instance.pk, "Charge")
    assert job.retries_left == 0 and job.attempts == 3
    trail = kinds(instance.pk)
    assert trail.count("job retry scheduled") == 2 and trail.count("incident") == 1
    assert status(instance) == "running"

    # Fixed: the admin retries the incident, the job runs with the same key, the
    # instance completes, and the incident is resolved and audited.
    handlers.BEHAVIOUR["charge"] = "ok"
    incident_retry(incident_id=incident.pk, actor=None, now=NOW + timedelta(hours=1))
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=1)) == 1
    assert status(instance) == "completed"
    assert {c.idempotency_key for _, c in handlers.CALLS} == keys
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert "incident resolved" in kinds(instance.pk)
    assert Incident.objects.count() == 1
    with pytest.raises(IncidentAlreadyResolved):
        incident_retry(incident_id=incident.pk, actor=None)
    assert audit.verify_chain(instance_chain(instance.pk)) == []


def test_a_retry_that_fails_again_raises_a_new_incident(db):
    deploy("jobs_charge.bpmn")
    handlers.BEHAVIOUR["charge"] = "fail"
    instance, _ = process_instance_start(key="jobs_charge", now=NOW)
    for minute in (0, 5, 10):
        run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=minute))
    first = Incident.objects.get()
    incident_retry(incident_id=first.pk, actor=None, now=NOW + timedelta(hours=1))
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=1)) == 1
    assert Incident.objects.filter(resolved_at__isnull=True).exclude(pk=first.pk).count() == 1
    assert status(instance) == "running"


def test_a_list_of_intervals_is_one_retry_per_interval(db):
    deploy("jobs_retry_list.bpmn")  # PT1M,PT3M
    handlers.BEHAVIOUR["flaky"] = "fail"
    process_instance_start(key="jobs_retry_list", now=NOW)
    attempts_at = [m for m in range(0, 10)
                   if run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=m))]
    assert attempts_at == [0, 1, 4]
    assert Incident.objects.count() == 1


def test_default_retries_are_three_tries_with_exponential_backoff_and_jitter(db, settings):
    settings.JOB_RETRY_BASE_SECONDS = 10
    deploy("jobs_default_retry.bpmn")
    handlers.BEHAVIOUR["flaky"] = "fail"
    instance, _ = process_instance_start(key="jobs_default_retry", now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    first_retry = job_of(instance.pk, "Call").due_at - NOW
    assert timedelta(seconds=7.5) <= first_retry <= timedelta(seconds=12.5)
    at = NOW + first_retry
    assert run_due_jobs(worker_id="w1", now=at) == 1
    second_retry = job_of(instance.pk, "Call").due_at - at
    assert timedelta(seconds=15) <= second_retry <= timedelta(seconds=25)
    assert run_due_jobs(worker_id="w1", now=at + second_retry) == 1
    assert Incident.objects.count() == 1 and len(handlers.CALLS) == 3


def test_zeebe_retries_count_every_attempt(db):
    deploy("jobs_default_retry.bpmn")
    handlers.BEHAVIOUR["flaky_zeebe"] = "fail"
    instance, _ = process_instance_start(key="jobs_default_retry", now=NOW)
    run_due_jobs(worker_id="w1", now=NOW)  # Call succeeds
    for hour in range(1, 4):
        run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=hour))
    assert [name for name, _ in handlers.CALLS].count("flaky_zeebe") == 2  # retries="2"
    assert Incident.objects.get().element_id == "Zeebe"
    assert job_of(instance.pk, "Zeebe").retries_left == 0


def test_retry_plans_read_the_model():
    assert retry_plan({"retry_cycle": "R5/PT5M"}).attempts == 6
    assert retry_plan({"retry_cycle": "R5/PT5M"}).delay_after(1) == timedelta(minutes=5)
    plan = retry_plan({"retry_cycle": "PT10M, PT17M,PT20M"})
    assert plan.attempts == 4
    assert [plan.delay_after(k) for k in (1, 2, 3, 4)] == [
        timedelta(minutes=10), timedelta(minutes=17), timedelta(minutes=20),
        timedelta(minutes=20)]
    assert retry_plan({"retries": "5"}).attempts == 5
    assert retry_plan({}).attempts == 3


def test_a_task_without_a_handler_fails_with_the_names_it_looked_for(db):
    deploy("jobs_async.bpmn")
    deploy("jobs_noop.bpmn")
    from engine.service_tasks import clear_registry_for_tests, service_task

    clear_registry_for_tests("jobsNoop")
    try:
        instance, _ = process_instance_start(key="jobs_noop", now=NOW)
        run_due_jobs(worker_id="w1", now=NOW)
        job = job_of(instance.pk, "Noop")
        assert job.attempts == 1 and "jobsNoop" in job.last_error
        assert "no @service_task handler" in job.last_error
    finally:
        service_task("jobsNoop")(handlers.noop)


def test_job_retry_refuses_a_job_that_still_has_retries(db):
    deploy("jobs_charge.bpmn")
    instance, _ = process_instance_start(key="jobs_charge", now=NOW)
    with pytest.raises(JobNotRetryable):
        job_retry(job_id=job_of(instance.pk, "Charge").pk, actor=None)


def test_retry_incident_command_lists_and_retries(db, capsys):
    deploy("jobs_charge.bpmn")
    handlers.BEHAVIOUR["charge"] = "fail"
    instance, _ = process_instance_start(key="jobs_charge", now=NOW)
    for minute in (0, 5, 10):
        run_due_jobs(worker_id="w1", now=NOW + timedelta(minutes=minute))
    incident = Incident.objects.get()
    call_command("retry_incident", "--list")
    assert f"{incident.pk}\tinstance {instance.pk}\tCharge" in capsys.readouterr().out
    handlers.BEHAVIOUR["charge"] = "ok"
    call_command("retry_incident", str(incident.pk), "--retries", "2")
    assert job_of(instance.pk, "Charge").retries_left == 2
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="resolved"):
        call_command("retry_incident", str(incident.pk))
    assert run_due_jobs(worker_id="w1") == 1
    assert status(instance) == "completed"


# --- Custom job kinds -------------------------------------------------------------------------


def test_a_custom_job_kind_runs_its_handler_once_and_is_removed(db):
    seen: list[object] = []
    register_job_kind("jobs-test", lambda job, now: seen.append(job.payload["n"]))
    job = schedule_job(kind="jobs-test", due_at=NOW, payload={"n": 7})
    assert run_due_jobs(worker_id="w1", now=NOW - timedelta(seconds=1)) == 0
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert seen == [7] and not Job.objects.filter(pk=job.pk).exists()


def test_a_failing_custom_job_is_retried_then_kept_and_audited_never_dropped(db, settings):
    settings.JOB_RETRY_BASE_SECONDS = 1

    def boom(job: Job, now: object) -> None:
        raise ValueError("sla table missing")

    register_job_kind("jobs-boom", boom)
    job = schedule_job(kind="jobs-boom", due_at=NOW, payload={})
    for second in range(0, 30):
        run_due_jobs(worker_id="w1", now=NOW + timedelta(seconds=second))
    job.refresh_from_db()
    assert job.retries_left == 0 and job.attempts == 3 and "sla table missing" in job.last_error
    assert AuditEvent.objects.filter(chain="system", kind="job failed").count() == 1


def test_completing_the_task_first_cancels_the_timer_job(db):
    deploy("jobs_timer_boundary.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_boundary", variables={"wait": "PT1M"},
                                         now=NOW)
    task = open_task(instance.pk, "Review")
    user_task_complete(task_id=task.pk, actor=None, now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW + timedelta(hours=1)) == 0
    assert status(instance) == "completed"


def test_one_broken_job_in_a_batch_does_not_hold_back_the_others(db):
    deploy("timer_wait.bpmn")
    instances = [process_instance_start(key="timer_wait", now=NOW)[0] for _ in range(3)]
    broken = job_of(instances[1].pk, "Wait")
    Job.objects.filter(pk=broken.pk).update(job_id=999)  # names no wait of its instance
    due = broken.due_at
    assert run_due_jobs(worker_id="w1", now=due) == 3
    assert open_task(instances[0].pk, "FollowUp") and open_task(instances[2].pk, "FollowUp")
    broken.refresh_from_db()
    assert broken.attempts == 1 and broken.retries_left == 2 and broken.due_at > due
    assert "no live timer" in broken.last_error


def test_a_send_task_without_a_handler_sends_its_message_then_goes_on(db):
    deploy("receive_payment.bpmn")
    deploy("jobs_send.bpmn")
    waiting, _ = process_instance_start(key="receive_payment", now=NOW)
    sender, _ = process_instance_start(key="jobs_send", now=NOW)
    assert job_of(sender.pk, "Tell").kind == "send"
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert status(sender) == "completed" and status(waiting) == "completed"
    # Nobody waits the second time: the sender still completes, and says so.
    again, _ = process_instance_start(key="jobs_send", now=NOW)
    assert run_due_jobs(worker_id="w1", now=NOW) == 1
    assert status(again) == "completed" and "message undelivered" in kinds(again.pk)
    assert audit.verify_chain(instance_chain(again.pk)) == []


def test_a_timer_start_cycle_starts_an_instance_each_time_and_then_stops(db, settings):
    settings.JOB_LEASE_SECONDS = 3600  # the next repetition must not wait for the lease
    definition = deploy("timer_start.bpmn")  # R2/PT10M
    job = Job.objects.get(definition=definition)
    for minutes in (10, 20, 30, 40):
        run_due_jobs(worker_id="w1", now=job.due_at + timedelta(minutes=minutes - 10))
    assert ProcessInstance.objects.filter(definition=definition).count() == 2
    assert not Job.objects.filter(definition=definition).exists()


@needs_postgresql_row_locks
def test_jobs_of_one_instance_never_run_at_the_same_time_on_two_workers(transactional_db):
    import threading

    from django.db import connection

    deploy("jobs_parallel_service.bpmn")
    instance, _ = process_instance_start(key="jobs_parallel_service")
    handlers.TRACKED.clear()
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            run_due_jobs(worker_id=name, limit=1)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(t[0] for t in handlers.TRACKED) == ["A", "B"]  # each worker took one
    (_, _, first_end, _), (_, second_start, _, _) = sorted(handlers.TRACKED,
                                                           key=lambda t: t[1])
    assert first_end <= second_start, "the second job started before the first one committed"
    assert status(instance) == "completed"


def test_run_jobs_once_runs_what_is_due_and_says_how_many(db, capsys):
    deploy("jobs_timer_boundary.bpmn")
    instance, _ = process_instance_start(key="jobs_timer_boundary", variables={"wait": "PT0S"})
    call_command("run_jobs", "--once")
    assert capsys.readouterr().out.strip() == "1 jobs run"
    assert open_task(instance.pk, "Escalated")


def test_a_handler_sees_what_a_parallel_branch_set_since_its_job_was_made(db):
    deploy("jobs_parallel_service.bpmn")
    instance, _ = process_instance_start(key="jobs_parallel_service", variables={"n": 1},
                                         now=NOW)
    handlers.TRACKED.clear()
    assert run_due_jobs(worker_id="w1", limit=1, now=NOW) == 1
    assert run_due_jobs(worker_id="w1", limit=1, now=NOW) == 1
    (first, _, _, seen_first), (_, _, _, seen_second) = handlers.TRACKED
    assert seen_first == ["n"]
    assert seen_second == sorted(["n", f"{first}_done"])
    assert status(instance) == "completed"
