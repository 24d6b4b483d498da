"""SLA: a task's state (on track, at risk, breached), policies, escalation, the dashboard.

States are half-open ranges of time, so every instant has exactly one state:
  on_track  [created, at_risk_at)    at_risk  [at_risk_at, due)    breached  [due, ...)
and "none" for a task without a due date. An ended task is judged at its completion.
Both instants are columns of engine.UserTask (indexed with status), so the inbox
filters and sorts by SLA in SQL (engine.selectors.sla_state_q).

A task gets its due date from the model (camunda:dueDate, zeebe:taskSchedule) or from
an SlaPolicy (due_after); its at-risk instant from the policy (at_risk_after) or, by
default, FLOWDESK_SLA_AT_RISK_FRACTION (0.8) of the way from creation to due. A durable
job of kind "sla" (engine.jobs) wakes at the next boundary: at risk tells the people
working it, breach escalates to the policy's group, notifies and audits.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine import locks
from engine import rows as db_rows
from engine.audit import audit_append
from engine.models import Job, UserTask, instance_chain
from engine.selectors import sla_state_q
from engine.services.user_tasks import user_task_assign, user_task_escalate
from engine.status import USER_TASK_ACTIVE, UserTaskStatus
from tasks_portal.models import NotificationKind, SlaPolicy
from tasks_portal.notifications import candidate_ids, group_member_ids, notify

log = logging.getLogger(__name__)

ON_TRACK, AT_RISK, BREACHED, NONE = "on_track", "at_risk", "breached", "none"
SLA_JOB_KIND = "sla"
# Audit kinds, in the vocabulary of engine.models.AuditKind (words and spaces).
SLA_AT_RISK_KIND, SLA_BREACHED_KIND = "task sla at risk", "task sla breached"
DEFAULT_AT_RISK_FRACTION = 0.8
STAGE_AT_RISK, STAGE_BREACHED = 1, 2


def sla_state(task: UserTask, now: datetime) -> str:
    """"on_track" | "at_risk" | "breached" | "none" of `task` at `now` (an ended task at
    its completion time)."""
    if task.due is None:
        return NONE
    at = now
    if task.status not in USER_TASK_ACTIVE and task.completed_at is not None:
        at = task.completed_at
    if at >= task.due:
        return BREACHED
    if task.at_risk_at is not None and at >= task.at_risk_at:
        return AT_RISK
    return ON_TRACK


def at_risk_fraction() -> float:
    value = float(getattr(settings, "FLOWDESK_SLA_AT_RISK_FRACTION", DEFAULT_AT_RISK_FRACTION))
    return min(max(value, 0.0), 1.0)


def policy_for(process_key: str, element_id: str) -> SlaPolicy | None:
    """The task's own policy, else its process's policy for every task (one indexed read;
    not cached, so a policy saved in a transaction that rolls back is never applied).
    On PostgreSQL a prepared statement: every new task asks, most processes have none."""
    if db_rows.postgresql():
        return _policy_for_pg(process_key, element_id)
    rows = list(SlaPolicy.objects.filter(process_key=process_key,
                                         element_id__in=[element_id, ""]))
    rows.sort(key=lambda p: p.element_id == "")
    return rows[0] if rows else None


_POLICY_SQL: list[Any] = []


def _policy_for_pg(process_key: str, element_id: str) -> SlaPolicy | None:
    if not _POLICY_SQL:
        columns, fields = db_rows.select_columns(SlaPolicy, "p")
        table = transaction.get_connection().ops.quote_name(SlaPolicy._meta.db_table)
        _POLICY_SQL.extend([
            f"SELECT {columns} FROM {table} p WHERE p.process_key = %s"  # noqa: S608
            " AND p.element_id IN (%s, '') ORDER BY p.element_id = '' LIMIT 1", fields])
    sql, fields = _POLICY_SQL
    with db_rows.cursor() as cur:
        cur.execute(sql, [process_key, element_id])
        row = cur.fetchone()
    return None if row is None else db_rows.fetch(SlaPolicy, fields, row)


def sla_instants(created: datetime, due: datetime | None,
                 policy: SlaPolicy | None) -> tuple[datetime | None, datetime | None]:
    """(due, at_risk_at) for a task created at `created` with model due date `due`."""
    if due is None and policy is not None and policy.due_after is not None:
        due = created + policy.due_after
    if due is None:
        return None, None
    if policy is not None and policy.at_risk_after is not None:
        at_risk = created + policy.at_risk_after
    else:
        span = (due - created).total_seconds()
        at_risk = created + timedelta(seconds=max(span, 0) * at_risk_fraction())
    return due, min(at_risk, due)


def _schedule(task: UserTask, at: datetime) -> None:
    from engine.jobs import schedule_job

    schedule_job(kind=SLA_JOB_KIND, due_at=at, instance=task.instance,
                 payload={"task": task.pk, "element_id": task.element_id})


def on_task_created(sender: Any, task: UserTask, **_: Any) -> None:
    """Receiver of user_task_created: due date and at-risk instant by policy, and the job
    that wakes at the first SLA boundary."""
    policy = policy_for(task.process_key, task.element_id)
    due, at_risk = sla_instants(task.created_at, task.due, policy)
    if due is None:
        return
    task.due, task.at_risk_at = due, at_risk
    task.save(update_fields=["due", "at_risk_at"])
    _schedule(task, at_risk or due)


def sla_advance(*, task_id: int, now: datetime | None = None) -> str:
    """Do what the task's SLA state asks at `now`, once: at risk -> notify the people
    working it; breached -> escalate to the policy's group, notify, audit. Schedules the
    next wake-up. Returns the state. Safe to run twice (sla_stage remembers)."""
    at = now or timezone.now()
    with transaction.atomic():
        instance_id = (UserTask.objects.filter(pk=task_id)
                       .values_list("instance_id", flat=True).first())
        if instance_id is None:
            return NONE
        locks.lock_instance(instance_id)
        task = locks.lock_user_task(task_id)
        state = sla_state(task, at)
        if task.status not in USER_TASK_ACTIVE or state in (NONE, ON_TRACK):
            if task.status in USER_TASK_ACTIVE and state == ON_TRACK:
                _schedule(task, task.at_risk_at or task.due)  # type: ignore[arg-type]
            return state
        policy = policy_for(task.process_key, task.element_id)
        label = task.name or task.element_id
        extra = group_member_ids(policy.notify_group_names) if policy else []
        people = [task.assignee_id] if task.assignee_id else candidate_ids(task)
        if state == AT_RISK and task.sla_stage < STAGE_AT_RISK:
            task.sla_stage = STAGE_AT_RISK
            task.save(update_fields=["sla_stage"])
            audit_append(chain=instance_chain(instance_id), kind=SLA_AT_RISK_KIND, at=at,
                         instance_id=instance_id, element_id=task.element_id,
                         data={"task": task.pk, "due": task.due.isoformat()
                               if task.due else None})
            notify(user_ids=[*people, *extra], kind=NotificationKind.AT_RISK, task=task,
                   message=f"{label} is at risk: due {task.due:%Y-%m-%d %H:%M} UTC.",
                   now=at)
            _schedule(task, task.due)  # type: ignore[arg-type]
        elif state == BREACHED and task.sla_stage < STAGE_BREACHED:
            task.sla_stage = STAGE_BREACHED
            task.save(update_fields=["sla_stage"])
            audit_append(chain=instance_chain(instance_id), kind=SLA_BREACHED_KIND, at=at,
                         instance_id=instance_id, element_id=task.element_id,
                         data={"task": task.pk, "due": task.due.isoformat()
                               if task.due else None})
            notify(user_ids=[*people, *extra], kind=NotificationKind.BREACHED, task=task,
                   message=f"{label} is overdue since {task.due:%Y-%m-%d %H:%M} UTC.",
                   now=at)
            if policy is not None and policy.reclaim_on_breach and task.assignee_id:
                user_task_assign(task_id=task.pk, actor=None, assignee=None, now=at)
            if policy is not None and policy.escalate_to_group:
                user_task_escalate(task_id=task.pk, to_group=policy.escalate_to_group,
                                   reason="SLA breached", now=at)
        return state


def sla_job(job: Job, now: datetime) -> None:
    """Handler of the durable "sla" jobs (engine.jobs.register_job_kind)."""
    task_id = job.payload.get("task") if isinstance(job.payload, dict) else None
    if not isinstance(task_id, int):
        log.warning("sla job %s has no task id in its payload", job.pk)
        return
    sla_advance(task_id=task_id, now=now)


def sla_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Advance every open task that crossed a boundary it was not handled for (a safety
    net for tasks made before a policy existed, or without the job runner). Indexed."""
    at = now or timezone.now()
    due = (UserTask.objects.filter(status__in=list(USER_TASK_ACTIVE))
           .filter(Q(at_risk_at__lte=at, sla_stage__lt=STAGE_AT_RISK)
                   | Q(due__lte=at, sla_stage__lt=STAGE_BREACHED))
           .order_by("due", "id").values_list("pk", flat=True)[:limit])
    count = 0
    for task_id in list(due):
        sla_advance(task_id=task_id, now=at)
        count += 1
    return count


# --- The SLA dashboard ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaRow:
    """One process task on the dashboard. Times to complete are in seconds."""

    process_key: str
    element_id: str
    name: str
    open: int
    at_risk: int
    breached: int
    completed: int
    completed_late: int
    median_seconds: float | None
    p90_seconds: float | None


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (the value below which q of the values lie)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def sla_dashboard(*, since: datetime, until: datetime, now: datetime | None = None,
                  process_key: str | None = None) -> list[SlaRow]:
    """Per process and task: open / at risk / breached now, and over [since, until):
    completed, completed late, median and p90 time to complete. Two grouped reads."""
    from django.db.models import Count, Max

    at = now or timezone.now()
    live = UserTask.objects.filter(status__in=list(USER_TASK_ACTIVE))
    done = UserTask.objects.filter(status=UserTaskStatus.COMPLETED,
                                   completed_at__gte=since, completed_at__lt=until)
    if process_key:
        live, done = live.filter(process_key=process_key), done.filter(process_key=process_key)
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def slot(key: str, element: str, name: str) -> dict[str, Any]:
        return rows.setdefault((key, element), {"name": name, "open": 0, "at_risk": 0,
                                                "breached": 0, "durations": [], "late": 0})

    grouped = live.values("process_key", "element_id").annotate(
        n=Count("id"), risk=Count("id", filter=sla_state_q(AT_RISK, at)),
        late=Count("id", filter=sla_state_q(BREACHED, at)), label=Max("name")).order_by()
    for row in grouped:
        entry = slot(row["process_key"], row["element_id"], row["label"] or "")
        entry.update(open=row["n"], at_risk=row["risk"], breached=row["late"])
    for named in done.values("process_key", "element_id").annotate(label=Max("name")
                                                                   ).order_by():
        slot(named["process_key"], named["element_id"], named["label"] or "")
    for key, element, created, completed, due in done.values_list(
            "process_key", "element_id", "created_at", "completed_at", "due").iterator():
        entry = rows[(key, element)]
        if completed is None:
            continue
        entry["durations"].append((completed - created).total_seconds())
        if due is not None and completed >= due:
            entry["late"] += 1
    out = []
    for (key, element), entry in sorted(rows.items()):
        durations = sorted(entry["durations"])
        out.append(SlaRow(
            process_key=key, element_id=element, name=entry["name"] or element,
            open=entry["open"], at_risk=entry["at_risk"], breached=entry["breached"],
            completed=len(durations), completed_late=entry["late"],
            median_seconds=statistics.median(durations) if durations else None,
            p90_seconds=_percentile(durations, 0.9)))
    return out
