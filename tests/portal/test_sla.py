"""SLA: states at their exact boundaries, policies, escalation on breach by the durable job
runner, and the dashboard's numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.models import AuditEvent, AuditKind, Job, UserTask
from engine.services.user_tasks import user_task_claim, user_task_complete
from tasks_portal.models import Notification, SlaPolicy
from tasks_portal.sla import (
    SLA_AT_RISK_KIND,
    SLA_BREACHED_KIND,
    sla_advance,
    sla_dashboard,
    sla_instants,
    sla_state,
    sla_sweep,
)
from tests.engine._inbox import review, start, user
from tests.engine._instances import NOW

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _task(**fields) -> UserTask:
    return UserTask(created_at=NOW, status="open", **fields)


def test_states_change_exactly_at_the_at_risk_and_due_instants():
    due, risk = NOW + DAY, NOW + DAY * 0.8
    task = _task(due=due, at_risk_at=risk)
    tick = timedelta(microseconds=1)
    assert sla_state(task, NOW) == "on_track"
    assert sla_state(task, risk - tick) == "on_track"
    assert sla_state(task, risk) == "at_risk"
    assert sla_state(task, due - tick) == "at_risk"
    assert sla_state(task, due) == "breached"
    assert sla_state(_task(), NOW) == "none"
    assert sla_state(_task(due=due), due - tick) == "on_track"  # no at-risk instant


def test_an_ended_task_is_judged_when_it_was_completed():
    task = _task(due=NOW + DAY, at_risk_at=NOW + DAY / 2)
    task.status, task.completed_at = "completed", NOW + DAY / 4
    assert sla_state(task, NOW + DAY * 30) == "on_track"
    task.completed_at = NOW + DAY
    assert sla_state(task, NOW + DAY * 30) == "breached"


def test_policy_instants_and_the_default_fraction(settings):
    policy = SlaPolicy(process_key="p", due_after=DAY, at_risk_after=timedelta(hours=6))
    assert sla_instants(NOW, None, policy) == (NOW + DAY, NOW + timedelta(hours=6))
    # The model's due date wins over due_after; at_risk_after still applies.
    assert sla_instants(NOW, NOW + 2 * DAY, policy) == (NOW + 2 * DAY, NOW + timedelta(hours=6))
    settings.FLOWDESK_SLA_AT_RISK_FRACTION = 0.5
    assert sla_instants(NOW, NOW + DAY, None) == (NOW + DAY, NOW + DAY / 2)
    assert sla_instants(NOW, None, None) == (None, None)
    late = SlaPolicy(process_key="p", at_risk_after=3 * DAY)
    assert sla_instants(NOW, NOW + DAY, late) == (NOW + DAY, NOW + DAY)  # never after due


@pytest.fixture
def policy(db):
    return SlaPolicy.objects.create(process_key="inbox_plain", element_id="Work",
                                    due_after=DAY, at_risk_after=timedelta(hours=12),
                                    escalate_to_group="managers", notify_groups="leads")


def test_a_policy_gives_a_task_without_due_date_one_and_schedules_its_wake_up(policy):
    instance = start("inbox_plain")
    task = UserTask.objects.get(instance=instance)
    assert (task.due, task.at_risk_at) == (NOW + DAY, NOW + timedelta(hours=12))
    job = Job.objects.get(kind="sla")
    assert (job.due_at, job.payload["task"], job.instance_id) == (task.at_risk_at, task.pk,
                                                                  instance.pk)


def test_at_risk_notifies_the_pool_and_breach_escalates_notifies_and_audits(policy):
    worker, lead = user("wim", "pool"), user("lea", "leads")
    manager = user("max", "managers")
    instance = start("inbox_plain")
    task = UserTask.objects.get(instance=instance)
    assert sla_advance(task_id=task.pk, now=NOW + timedelta(hours=1)) == "on_track"
    assert not Notification.objects.filter(kind__in=["at_risk", "breached"]).exists()

    assert sla_advance(task_id=task.pk, now=NOW + timedelta(hours=12)) == "at_risk"
    assert set(Notification.objects.filter(kind="at_risk").values_list(
        "user__username", flat=True)) == {"wim", "lea"}
    assert sla_advance(task_id=task.pk, now=NOW + timedelta(hours=13)) == "at_risk"
    assert Notification.objects.filter(kind="at_risk").count() == 2  # once only

    assert sla_advance(task_id=task.pk, now=NOW + DAY) == "breached"
    task.refresh_from_db()
    assert task.candidate_groups == ["pool", "managers"] and task.escalated_at == NOW + DAY
    assert set(Notification.objects.filter(kind="breached").values_list(
        "user__username", flat=True)) == {"wim", "lea"}
    assert list(Notification.objects.filter(kind="escalated").values_list(
        "user__username", flat=True)) == ["max"]
    kinds = list(AuditEvent.objects.filter(instance_id=instance.pk, kind__in=[
        SLA_AT_RISK_KIND, SLA_BREACHED_KIND, AuditKind.TASK_ESCALATED]).values_list(
        "kind", flat=True))
    assert kinds == [SLA_AT_RISK_KIND, SLA_BREACHED_KIND, AuditKind.TASK_ESCALATED]
    # The escalation group may now take it.
    user_task_claim(task_id=task.pk, actor=manager, now=NOW + DAY)
    assert sla_advance(task_id=task.pk, now=NOW + 2 * DAY) == "breached"
    assert AuditEvent.objects.filter(kind=AuditKind.TASK_ESCALATED).count() == 1
    del worker, lead


def test_the_durable_job_runner_escalates_on_breach(policy):
    from engine.jobs import run_due_jobs

    user("max", "managers")
    instance = start("inbox_plain")
    task = UserTask.objects.get(instance=instance)
    assert run_due_jobs(worker_id="t", now=NOW + timedelta(hours=11)) == 0
    assert run_due_jobs(worker_id="t", now=NOW + timedelta(hours=12)) == 1
    assert Notification.objects.filter(kind="at_risk").count() == 0  # nobody in pool
    nxt = Job.objects.get(kind="sla")
    assert nxt.due_at == NOW + DAY
    assert run_due_jobs(worker_id="t", now=NOW + DAY) == 1
    task.refresh_from_db()
    assert "managers" in task.candidate_groups and task.sla_stage == 2
    assert not Job.objects.filter(kind="sla").exists()


def test_a_completed_task_is_left_alone_by_its_sla_job(policy):
    from engine.jobs import run_due_jobs

    wim = user("wim", "pool")
    task = UserTask.objects.get(instance=start("inbox_plain"))
    user_task_claim(task_id=task.pk, actor=wim, now=NOW)
    user_task_complete(task_id=task.pk, actor=wim, now=NOW)
    run_due_jobs(worker_id="t", now=NOW + 2 * DAY)
    assert not AuditEvent.objects.filter(kind__in=[SLA_AT_RISK_KIND, SLA_BREACHED_KIND]).exists()


def test_the_sweep_catches_tasks_that_crossed_a_boundary(db):
    _instance, task = review()  # due from the model: 2025-03-05T17:00Z
    assert sla_sweep(now=NOW) == 0
    assert sla_sweep(now=task.due) == 1
    task.refresh_from_db()
    assert task.sla_stage == 2
    assert sla_sweep(now=task.due) == 0


def test_dashboard_counts_and_time_to_complete(db):
    ann = user("ann", "finance")
    tasks = [review(deployed=i > 0)[1] for i in range(4)]
    for hours, task in zip((1, 2, 10), tasks[:3], strict=True):
        user_task_claim(task_id=task.pk, actor=ann, now=NOW)
        user_task_complete(task_id=task.pk, actor=ann, now=NOW + timedelta(hours=hours))
    # The fourth stays open; at 2025-03-05T16:00Z it is at risk (due 17:00).
    at = tasks[3].due - timedelta(hours=1)
    rows = {(r.process_key, r.element_id): r for r in sla_dashboard(
        since=NOW, until=NOW + DAY, now=at)}
    row = rows[("inbox_review", "Review")]
    assert (row.open, row.at_risk, row.breached, row.completed) == (1, 1, 0, 3)
    assert row.median_seconds == 2 * 3600 and row.p90_seconds == 10 * 3600
    assert row.name == "Review the request" and row.completed_late == 0
    submit = rows[("inbox_review", "Submit")]
    assert (submit.open, submit.completed, submit.median_seconds) == (0, 4, 0)
    later = sla_dashboard(since=NOW + DAY, until=NOW + 2 * DAY, now=at,
                          process_key="inbox_review")
    assert [(r.element_id, r.open, r.completed) for r in later] == [("Review", 1, 0)]
    assert sla_dashboard(since=NOW, until=NOW + DAY, now=at, process_key="other") == []


def test_a_policy_may_take_a_held_task_back_on_breach(policy):
    wim, boss = user("wim", "pool"), user("max", "managers")
    policy.reclaim_on_breach = True
    policy.save()
    task = UserTask.objects.get(instance=start("inbox_plain"))
    user_task_claim(task_id=task.pk, actor=wim, now=NOW)
    sla_advance(task_id=task.pk, now=NOW + DAY)
    task.refresh_from_db()
    assert task.assignee is None and task.status == "open"
    user_task_claim(task_id=task.pk, actor=boss, now=NOW + DAY)
    assert AuditEvent.objects.filter(kind=AuditKind.TASK_ASSIGNED, actor=None).count() == 1
