"""Incidents (the dead-letter queue of jobs): an admin retries one, and the instance goes on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from engine import locks
from engine.errors import (
    IncidentAlreadyResolved,
    IncidentNotFound,
    JobNotFound,
    JobNotRetryable,
)
from engine.jobs import kick_on_commit
from engine.models import Incident, Job
from engine.services._shell import audit_instance

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = ["incident_retry", "job_retry"]


def _check_retries(retries: int) -> None:
    if not isinstance(retries, int) or retries < 1:
        raise JobNotRetryable(f"retries must be a whole number of at least 1, not {retries!r}")


@transaction.atomic
def incident_retry(*, incident_id: int, actor: AbstractBaseUser | None, retries: int = 1,
                   now: datetime | None = None) -> Incident:
    """Give the incident's job `retries` more attempts, due now; the incident is resolved.

    The job keeps its idempotency key. If it fails again after these attempts, a new
    incident is raised. Raises IncidentNotFound, IncidentAlreadyResolved, and
    JobNotRetryable for an incident with no job left to run (an expression that failed:
    fix the data, then act on the instance).
    """
    _check_retries(retries)
    at = now or timezone.now()
    owner = Incident.objects.filter(pk=incident_id).values_list("instance_id", flat=True)
    if not owner:
        raise IncidentNotFound(incident_id)
    instance = locks.lock_instance(owner[0])
    incident = Incident.objects.select_related("job").filter(pk=incident_id).first()
    if incident is None:
        raise IncidentNotFound(incident_id)
    if incident.resolved_at is not None:
        raise IncidentAlreadyResolved(incident_id, incident.resolved_at)
    if incident.job_id is None:
        raise JobNotRetryable(f"incident {incident_id} has no job to retry (its job is gone, "
                              "or it was not raised by a job)")
    job = locks.lock_job(incident.job_id)
    _make_due(job, retries, at)
    Incident.objects.filter(pk=incident.pk).update(
        resolved_at=at, resolved_by=actor.pk if actor is not None else None)
    audit_instance(instance, "incident resolved", now=at, actor=actor,
                   element_id=incident.element_id,
                   data={"incident": incident.pk, "job": job.job_id, "retries": retries,
                         "action": "retry"})
    incident.refresh_from_db()
    return incident


@transaction.atomic
def job_retry(*, job_id: int, actor: AbstractBaseUser | None, retries: int = 1,
              now: datetime | None = None) -> Job:
    """Set a failed job's retries to `retries` and make it due now (Camunda's set job
    retries); its open incidents are resolved. Raises JobNotFound, JobNotRetryable."""
    _check_retries(retries)
    at = now or timezone.now()
    owner = Job.objects.filter(pk=job_id).values_list("instance_id", flat=True)
    if not owner:
        raise JobNotFound(job_id)
    instance = locks.lock_instance(owner[0]) if owner[0] is not None else None
    try:
        job = locks.lock_job(job_id)
    except Job.DoesNotExist:
        raise JobNotFound(job_id) from None
    if job.retries_left > 0:
        raise JobNotRetryable(f"job {job_id} still has {job.retries_left} retries; it runs "
                              "on its own")
    _make_due(job, retries, at)
    resolved = list(Incident.objects.filter(job=job, resolved_at__isnull=True)
                    .values_list("pk", flat=True))
    Incident.objects.filter(pk__in=resolved).update(
        resolved_at=at, resolved_by=actor.pk if actor is not None else None)
    if instance is not None:
        audit_instance(instance, "job retries set", now=at, actor=actor,
                       element_id=job.element_id,
                       data={"job": job.job_id, "retries": retries, "incidents": resolved})
    job.refresh_from_db()
    return job


def _make_due(job: Job, retries: int, at: datetime) -> None:
    Job.objects.filter(pk=job.pk).update(retries_left=retries, due_at=at, lease_owner=None,
                                         lease_expires_at=None)
    if job.topic is not None:
        from engine.external_wakeup import announce

        announce(job.topic)  # an external task: wake the long polls of its topic on commit
    else:
        kick_on_commit()
