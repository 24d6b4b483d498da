"""External tasks: outside workers fetch-and-lock service jobs by topic and report back.

An external task is a Job row with a `topic` (camunda:type="external" camunda:topic, or a
zeebe task type no Python handler serves); its id is the row's pk. The lock is the job's
lease (lease_owner = the worker id, lease_expires_at); an expired lock makes the task
available to the next fetch. Complete, failure, BPMN error and extend lock need the
worker's own, unexpired lock; each is one transaction that locks the instance first.

A long poll (`async_response_timeout_ms`) sleeps between fetches until the earliest of: a
wake-up for one of its topics (engine.external_wakeup: NOTIFY on PostgreSQL, an in-process
wake on SQLite; announced by whatever makes a task available), the moment the soonest
lock of its topics expires or retry falls due (those come with no event), a safety
re-check, and its timeout. Without wake-ups it looks again every 100 ms, as it used to.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DateTimeField, Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from engine import external_wakeup, locks
from engine.errors import (
    ExternalTaskInvalid,
    ExternalTaskLockedByOther,
    ExternalTaskLockExpired,
    ExternalTaskNotFound,
)
from engine.jobs import current_variables, record_attempt_failed
from engine.models import Job, ProcessInstance
from engine.services.jobs import job_complete_locked, job_fail_locked
from engine.status import InstanceStatus

__all__ = [
    "LockedExternalTask",
    "TopicRequest",
    "external_task_bpmn_error",
    "external_task_complete",
    "external_task_extend_lock",
    "external_task_failure",
    "external_task_fetch_and_lock",
    "external_task_unlock",
]

# How often a long poll looks again while no wake-up can reach it, or while a task that is
# free is held by another transaction's row lock (a fetch is one indexed query).
POLL_INTERVAL_S = external_wakeup.POLL_INTERVAL_S
# Waking a hair after a lock expires, so the fetch's own clock sees it expired.
_AFTER_EXPIRY_S = 0.002
MAX_ASYNC_RESPONSE_TIMEOUT_MS = 30 * 60 * 1000


@dataclass(frozen=True, slots=True)
class TopicRequest:
    """One topic a worker asks for. `variables`: names to return, None = all."""

    topic_name: str
    lock_duration_ms: int
    variables: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class LockedExternalTask:
    id: int
    topic_name: str
    worker_id: str
    lock_expiration_time: datetime
    retries: int | None
    process_instance_id: int
    process_definition_key: str
    activity_id: str
    business_key: str | None
    variables: dict[str, object] = field(default_factory=dict)
    priority: int = 0
    error_message: str | None = None


def _check_worker(worker_id: str) -> None:
    if not isinstance(worker_id, str) or not worker_id.strip():
        raise ExternalTaskInvalid("workerId is required")


def external_task_fetch_and_lock(
    *,
    worker_id: str,
    topics: Sequence[TopicRequest],
    max_tasks: int = 10,
    async_response_timeout_ms: int = 0,
) -> list[LockedExternalTask]:
    """Lock up to `max_tasks` available tasks of `topics` for `worker_id`.

    With `async_response_timeout_ms` it is a long poll: if nothing is available it waits
    for a task of its topics to appear (see the module's docstring) and returns as soon as
    it could lock one, or [] when the timeout passes.
    """
    _check_worker(worker_id)
    if max_tasks < 1:
        raise ExternalTaskInvalid(f"maxTasks must be at least 1, not {max_tasks}")
    if not topics:
        raise ExternalTaskInvalid("at least one topic is required")
    for topic in topics:
        if not topic.topic_name:
            raise ExternalTaskInvalid("a topic needs a topicName")
        if topic.lock_duration_ms <= 0:
            raise ExternalTaskInvalid(f"lockDuration of topic {topic.topic_name!r} must be "
                                      f"positive, not {topic.lock_duration_ms}")
    if not 0 <= async_response_timeout_ms <= MAX_ASYNC_RESPONSE_TIMEOUT_MS:
        raise ExternalTaskInvalid(f"asyncResponseTimeout must be 0..{MAX_ASYNC_RESPONSE_TIMEOUT_MS}"
                                  f" ms, not {async_response_timeout_ms}")
    if async_response_timeout_ms == 0:
        return _fetch_once(worker_id, topics, max_tasks)
    deadline = time.monotonic() + async_response_timeout_ms / 1000
    names = [t.topic_name for t in topics]
    with external_wakeup.waiting_for(names) as waiter:
        while True:
            waiter.clear()  # a wake from here on makes the next wait return at once
            locked = _fetch_once(worker_id, topics, max_tasks)
            left = deadline - time.monotonic()
            if locked or left <= 0:
                return locked
            free_in = _seconds_until_free(names)
            woken = waiter.wait(left if free_in is None else min(left, free_in))
            if not woken and time.monotonic() >= deadline and waiter.can_be_woken():
                return []  # slept to the timeout and nothing came (polling: one last look)


def _seconds_until_free(names: list[str]) -> float | None:
    """How long until a task of `names` that is locked or not yet due becomes available
    by time alone (lock expiry, retry due): None if no such task, POLL_INTERVAL_S when one
    is free already (another transaction holds its row: look again soon)."""
    free_at = (
        Job.objects.filter(topic__in=names, retries_left__gt=0,
                           instance__status=InstanceStatus.RUNNING)
        .aggregate(at=Min(Greatest("due_at", Coalesce("lease_expires_at", "due_at"),
                                   output_field=DateTimeField())))["at"]
    )
    if free_at is None:
        return None
    seconds = (free_at - timezone.now()).total_seconds()
    return seconds + _AFTER_EXPIRY_S if seconds > 0 else POLL_INTERVAL_S


@transaction.atomic
def _fetch_once(worker_id: str, topics: Sequence[TopicRequest], max_tasks: int
                ) -> list[LockedExternalTask]:
    now = timezone.now()
    by_name = {t.topic_name: t for t in topics}
    # SKIP LOCKED: two workers fetching at once split the tasks, neither waits, and a row
    # one of them is locking is never handed to the other.
    rows = list(
        locks.skip_locked_jobs(Job.objects.all())
        .filter(topic__in=list(by_name), due_at__lte=now, retries_left__gt=0,
                instance__status=InstanceStatus.RUNNING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .order_by("due_at", "id")[:max_tasks]
    )
    if not rows:
        return []
    instances = {
        i.pk: i for i in ProcessInstance.objects.select_related("definition")
        .defer("definition__bpmn_bytes").filter(pk__in={r.instance_id for r in rows})
    }
    out: list[LockedExternalTask] = []
    for job in rows:
        request = by_name[str(job.topic)]
        expires = now + timedelta(milliseconds=request.lock_duration_ms)
        Job.objects.filter(pk=job.pk).update(lease_owner=worker_id, lease_expires_at=expires)
        instance = instances[job.instance_id]  # type: ignore[index]
        payload = job.payload or {}
        variables = current_variables(instance, job)
        if request.variables is not None:
            variables = {k: v for k, v in variables.items() if k in set(request.variables)}
        priority = payload.get("priority")
        out.append(LockedExternalTask(
            id=job.pk, topic_name=str(job.topic), worker_id=worker_id,
            lock_expiration_time=expires,
            retries=job.retries_left if job.attempts else None,
            process_instance_id=instance.pk, process_definition_key=instance.definition.key,
            activity_id=job.element_id, business_key=instance.business_key,
            variables=variables, priority=int(priority) if isinstance(priority, int) else 0,
            error_message=job.last_error or None,
        ))
    return out


def _locked_task(task_id: int, worker_id: str | None, now: datetime
                 ) -> tuple[ProcessInstance, Job]:
    """Lock the task's instance, then the task; check `worker_id` holds a live lock."""
    instance_id = (Job.objects.filter(pk=task_id, topic__isnull=False)
                   .values_list("instance_id", flat=True).first())
    if instance_id is None:
        raise ExternalTaskNotFound(task_id)
    instance = locks.lock_instance(instance_id)
    try:
        job = locks.lock_job(task_id)
    except Job.DoesNotExist:
        raise ExternalTaskNotFound(task_id) from None
    if worker_id is not None:
        _check_worker(worker_id)
        if job.lease_owner != worker_id:
            raise ExternalTaskLockedByOther(task_id, worker_id, job.lease_owner)
        if job.lease_expires_at is None or job.lease_expires_at <= now:
            raise ExternalTaskLockExpired(task_id, worker_id, job.lease_expires_at or now)
    return instance, job


@transaction.atomic
def external_task_complete(*, task_id: int, worker_id: str,
                           variables: Mapping[str, object] | None = None) -> None:
    """The worker did the task: its variables go to the process, which moves on."""
    now = timezone.now()
    instance, job = _locked_task(task_id, worker_id, now)
    job_complete_locked(instance, job, variables, now=now)


@transaction.atomic
def external_task_failure(*, task_id: int, worker_id: str, error_message: str,
                          error_details: str = "", retries: int | None = None,
                          retry_timeout_ms: int = 0) -> None:
    """The attempt failed. `retries` left (None: the model's plan) and `retry_timeout_ms`
    until it may be fetched again; with 0 retries left the incident is raised."""
    if retries is not None and retries < 0:
        raise ExternalTaskInvalid(f"retries must not be negative, not {retries}")
    if retry_timeout_ms < 0:
        raise ExternalTaskInvalid(f"retryTimeout must not be negative, not {retry_timeout_ms}")
    now = timezone.now()
    instance, job = _locked_task(task_id, worker_id, now)
    retried = record_attempt_failed(
        job, instance, message=error_message or "the external worker reported a failure",
        details=error_details, at=now, retries=retries,
        retry_in=timedelta(milliseconds=retry_timeout_ms) if retries is not None else None)
    if retried:
        # Due now or later: either way waiting long polls look again and learn when.
        external_wakeup.announce(str(job.topic))


@transaction.atomic
def external_task_bpmn_error(*, task_id: int, worker_id: str, error_code: str,
                             error_message: str = "",
                             variables: Mapping[str, object] | None = None) -> None:
    """A business error: an error boundary event with `error_code` takes the token.

    `variables` are set on the instance first (Camunda sets them on the task's scope).
    """
    if not error_code:
        raise ExternalTaskInvalid("errorCode is required")
    now = timezone.now()
    instance, job = _locked_task(task_id, worker_id, now)
    if variables:
        from engine.services._shell import json_variables, load_state, save_instance

        state = load_state(instance)
        state.variables.update(json_variables(variables))
        save_instance(instance, state)
    job_fail_locked(instance, job, error_code=error_code, message=error_message, now=now)


@transaction.atomic
def external_task_extend_lock(*, task_id: int, worker_id: str, new_duration_ms: int) -> None:
    """Keep the task `new_duration_ms` longer, counted from now."""
    if new_duration_ms <= 0:
        raise ExternalTaskInvalid(f"newDuration must be positive, not {new_duration_ms}")
    now = timezone.now()
    _instance, job = _locked_task(task_id, worker_id, now)
    Job.objects.filter(pk=job.pk).update(
        lease_expires_at=now + timedelta(milliseconds=new_duration_ms))


@transaction.atomic
def external_task_unlock(*, task_id: int) -> None:
    """Drop any lock (an admin's action): the next fetch may take the task."""
    _instance, job = _locked_task(task_id, None, timezone.now())
    Job.objects.filter(pk=job.pk).update(lease_owner=None, lease_expires_at=None)
    external_wakeup.announce(str(job.topic))
