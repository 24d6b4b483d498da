"""Celery tasks: thin wrappers over engine.jobs (the same loop every host runs)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from engine import jobs


@shared_task(name="flowdesk.run_due_jobs", ignore_result=True)
def run_due_jobs_task() -> int:
    """A kick after a commit that made a due job: run what is due until nothing is."""
    return _run()


@shared_task(name="flowdesk.sweep_due_jobs", ignore_result=True)
def sweep_due_jobs() -> int:
    """The beat's sweep, every second: timers that came due since the last one."""
    return _run()


def _run() -> int:
    limit = int(getattr(settings, "JOB_CLAIM_LIMIT", 50))
    ran = jobs.run_due_jobs(worker_id=jobs.worker_name(), limit=limit)
    if ran >= limit:
        # More is due than one claim holds: let an idle worker join before we go on.
        run_due_jobs_task.apply_async(ignore_result=True)
        ran += jobs.run_until_idle(max_seconds=20.0, limit=limit)
    return ran
