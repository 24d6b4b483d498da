"""Job writes: fire a due timer, take a service task's result, fail an attempt for good.

The `*_locked` functions do the work for a caller that already holds the locks (the job
runner, engine.jobs, locks the instance then the job and checks its lease first).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from bpmn.timers import parse_timer
from engine import locks, runtime
from engine.errors import (
    JobNotDue,
    JobNotFound,
    JobWrongKind,
)
from engine.models import Incident, Job, ProcessInstance
from engine.services._shell import json_variables, run_trigger, start_instance

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = [
    "JobNotDue", "JobNotFound", "JobWrongKind", "job_complete", "job_complete_locked",
    "job_delete_done", "job_fail", "job_fail_locked", "job_fire", "job_fire_locked",
]

TIMER = "timer"
# A timer start event of a deployed definition (no instance yet).
START_TIMER = "start-timer"
# Jobs a worker completes: service/send/business rule calls, and async continuations
# (asyncBefore/asyncAfter: nothing to call, the job only marks a transaction boundary).
WORK_KINDS = frozenset({"service", "send", "businessRule", "async"})


def job_delete_done(*job_pks: int) -> None:
    """Delete finished job rows. Incidents keep pointing at nothing (Incident.job is SET
    NULL); on PostgreSQL that is one statement instead of the ORM's select-then-delete."""
    if not job_pks:
        return
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        Job.objects.filter(pk__in=job_pks).delete()
        return
    qn = connection.ops.quote_name
    job, incident = qn(Job._meta.db_table), qn(Incident._meta.db_table)
    pks = list(job_pks)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH i AS (UPDATE {incident} SET job_id = NULL WHERE job_id = ANY(%s)) "  # noqa: S608
            f"DELETE FROM {job} WHERE id = ANY(%s)", [pks, pks])


def _finish(job: Job, done: list[int] | None) -> None:
    """Delete the job now, or leave it to the caller's one delete for a batch (`done`)."""
    if done is None:
        job_delete_done(job.pk)
    else:
        done.append(job.pk)


def _lock(job_id: int) -> tuple[ProcessInstance | None, Job]:
    """Lock the job's instance, then the job (the lock order), and check the job is there.

    A start timer of a definition has no instance: its job row is the only lock.
    """
    owner = Job.objects.filter(pk=job_id).values_list("instance_id", flat=True)
    if not owner:
        raise JobNotFound(job_id)
    instance_id = owner[0]
    instance = locks.lock_instance(instance_id) if instance_id is not None else None
    try:
        job = locks.lock_job(job_id)
    except Job.DoesNotExist:
        raise JobNotFound(job_id) from None
    return instance, job


@transaction.atomic
def job_fire(*, job_id: int, now: datetime | None = None) -> ProcessInstance:
    """Fire the due timer job `job_id` (the row's pk); returns the instance it moved.

    An instance's timer: the waiting token moves on, and a cycle's next repetition comes
    back from the runtime as a new job row. A start timer of a definition: a new instance
    starts at its timer start event, and the job moves to the cycle's next repetition
    (or is deleted after the last one).
    """
    at = now or timezone.now()
    instance, job = _lock(job_id)
    return job_fire_locked(instance, job, at)


def job_fire_locked(instance: ProcessInstance | None, job: Job, at: datetime,
                    done: list[int] | None = None) -> ProcessInstance:
    """job_fire for a caller holding the instance and job locks. With `done`, an
    instance's fired job is not deleted but added to it, for the caller to delete in the
    same transaction (a batch deletes all its jobs in one statement)."""
    if job.kind not in (TIMER, START_TIMER):
        raise JobWrongKind(job.pk, job.kind, TIMER)
    if job.due_at > at:
        raise JobNotDue(job.pk, job.due_at)
    if instance is None:
        return _fire_start_timer(job, at)
    run_trigger(instance, runtime.TimerFired(job.job_id), now=at, actor=None, job=job)
    _finish(job, done)
    return instance


def _fire_start_timer(job: Job, at: datetime) -> ProcessInstance:
    definition = job.definition
    if definition is None:  # pragma: no cover - a job has an instance or a definition
        raise JobNotFound(job.pk)
    instance, _ = start_instance(definition=definition, variables=None, business_key=None,
                                 actor=None, now=at, start_event_id=job.element_id)
    fired = int(str(job.payload.get("repetition", 1)))
    spec = parse_timer(str(job.payload["timer_kind"]), str(job.payload["timer"]))
    due = spec.next_due(job.due_at, fired)
    if due is None:
        job_delete_done(job.pk)
    else:
        # The next repetition is a new due time for anyone: the lease ends with this one.
        Job.objects.filter(pk=job.pk).update(
            due_at=due, payload={**job.payload, "repetition": fired + 1}, lease_owner=None,
            lease_expires_at=None,
        )
    return instance


def _work_job(job_id: int) -> tuple[ProcessInstance, Job]:
    instance, job = _lock(job_id)
    if instance is None or job.kind not in WORK_KINDS:
        raise JobWrongKind(job_id, job.kind, "service/send/business rule/async")
    return instance, job


@transaction.atomic
def job_complete(
    *,
    job_id: int,
    variables: Mapping[str, object] | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> ProcessInstance:
    """A worker finished service/send/business rule job `job_id` with `variables`."""
    instance, job = _work_job(job_id)
    return job_complete_locked(instance, job, variables, now=now or timezone.now(), actor=actor)


def job_complete_locked(instance: ProcessInstance, job: Job,
                        variables: Mapping[str, object] | None, *, now: datetime,
                        actor: AbstractBaseUser | None = None,
                        done: list[int] | None = None) -> ProcessInstance:
    """job_complete for a caller holding the instance and job locks (`done`: as in
    job_fire_locked)."""
    run_trigger(instance, runtime.JobDone(job.job_id, json_variables(variables)),
                now=now, actor=actor, job=job)
    _finish(job, done)
    return instance


@transaction.atomic
def job_fail(
    *,
    job_id: int,
    error_code: str | None = None,
    message: str = "",
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> ProcessInstance:
    """A worker failed job `job_id` for good (no retries yet).

    With `error_code` it is a BPMN error (an error boundary event may catch it) and the
    job is gone; without, the runtime raises an Incident and the job row stays, with no
    retries left, so that an admin can retry it later.
    """
    instance, job = _work_job(job_id)
    return job_fail_locked(instance, job, error_code=error_code, message=message,
                           now=now or timezone.now(), actor=actor)


def job_fail_locked(instance: ProcessInstance, job: Job, *, error_code: str | None,
                    message: str, now: datetime,
                    actor: AbstractBaseUser | None = None) -> ProcessInstance:
    """job_fail for a caller holding the instance and job locks. Without `error_code` the
    lease is released too: the job waits for an admin's retry, not for a worker."""
    run_trigger(instance, runtime.JobFailed(job.job_id, error_code, message),
                now=now, actor=actor, job=job)
    if error_code is None:
        Job.objects.filter(pk=job.pk).update(retries_left=0, lease_owner=None,
                                             lease_expires_at=None, last_error=message)
    else:
        job_delete_done(job.pk)
    return instance
