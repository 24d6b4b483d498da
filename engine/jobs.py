"""The job runner: claim due jobs under a lease, run them, retry with backoff, raise incidents.

One code path, three hosts: Celery tasks (engine/tasks.py: a kick after every commit that
makes a due job, and a beat sweep every second), a thread of the server process in the
embedded default (`start_embedded_runner`, no broker), and `manage.py run_jobs`. All of
them call `run_due_jobs` in a loop.

A run is two kinds of transaction:

1. claim (`claim_due_jobs`): due jobs nobody holds are selected with FOR UPDATE SKIP
   LOCKED, so concurrent workers split them without waiting, and get a lease (owner +
   expiry). The claim commits at once.
2. run, one per job (timers and async continuations up to JOB_BATCH_SIZE per
   transaction, rerun one by one if any of them fails): lock the instance row (lock
   order: instance first), read the job row, check the lease is still ours, do the work,
   delete the job, commit. The state change and the job's removal commit together. The
   instance lock makes jobs of one instance run one after the other, on any number of
   workers.

The claim's FOR UPDATE SKIP LOCKED is `engine.locks.skip_locked_jobs`: it never waits, so
it takes no part in the lock order.

A worker that dies mid-job gives up nothing explicitly: its transaction is rolled back by
PostgreSQL when the connection drops, and its lease expires, after which another worker
claims the job. A failed attempt is written in its own transaction: the retry plan of the
model (camunda:failedJobRetryTimeCycle, zeebe retries) or the default (3 tries, exponential
backoff with jitter) gives the next due time; after the last try the runtime raises the
Incident (engine/services/incidents.py retries it).
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from bpmn.timers import TimerError, is_expression, parse_duration, parse_timer
from engine.models import Job

if TYPE_CHECKING:
    from engine.models import ProcessInstance

__all__ = [
    "JobHandler",
    "claim_due_jobs",
    "idempotency_key",
    "kick_on_commit",
    "register_job_kind",
    "retry_plan",
    "run_due_jobs",
    "run_forever",
    "run_until_idle",
    "schedule_job",
    "start_embedded_runner",
    "worker_name",
]

log = logging.getLogger("engine.jobs")

JobHandler = Callable[[Job, datetime], None]

TIMER_KINDS = frozenset({"timer", "start-timer"})
WORK_KINDS = frozenset({"service", "send", "businessRule", "async"})
# Kinds whose run touches nothing outside the database: several share one transaction.
BATCHED_KINDS = frozenset({"timer", "start-timer", "async"})
# An asynchronous signal throw (camunda:async="true"): the broadcast, after the thrower's
# commit. Its row has no instance, so it outlives the thrower (engine/services/_shell.py).
SIGNAL_JOB_KIND = "signal"
# Custom job rows of one instance get job ids far above the runtime's wait ids.
_CUSTOM_JOB_ID_BASE = 1 << 48

_KINDS: dict[str, JobHandler] = {}


def setting(name: str, default: Any) -> Any:
    """A job runner setting (config/settings.py, "Job runner" block)."""
    return getattr(settings, name, default)


def lease_duration() -> timedelta:
    return timedelta(seconds=float(setting("JOB_LEASE_SECONDS", 60)))


def worker_name() -> str:
    """host:pid:thread, the lease owner of this worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def idempotency_key(job: Job) -> str:
    """Stable across every attempt of one job (and an admin's retry of it)."""
    if job.instance_id is None:
        return f"job:{job.pk}"
    return f"instance:{job.instance_id}:job:{job.job_id}"


# --- Custom kinds and scheduling --------------------------------------------------------


def register_job_kind(kind: str, handler: JobHandler) -> None:
    """Run `handler(job, now)` for due jobs of `kind`, in the transaction that deletes them."""
    if kind in TIMER_KINDS or kind in WORK_KINDS or kind == SIGNAL_JOB_KIND:
        raise ValueError(f"job kind {kind!r} belongs to the engine")
    _KINDS[kind] = handler


def schedule_job(*, kind: str, due_at: datetime, payload: dict[str, object],
                 instance: ProcessInstance | None = None) -> Job:
    """Insert a custom job (instance may be None); the runner is kicked on commit."""
    if kind in TIMER_KINDS or kind in WORK_KINDS:
        raise ValueError(f"job kind {kind!r} is scheduled by the runtime, not by hand")
    job_id = 0 if instance is None else _CUSTOM_JOB_ID_BASE + secrets.randbelow(1 << 40)
    job = Job.objects.create(instance=instance, job_id=job_id, kind=kind,
                             element_id=str(payload.get("element_id", kind)), due_at=due_at,
                             payload=payload, created_at=timezone.now())
    kick_on_commit()
    return job


# --- Retry plans ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """How many attempts a job gets in all, and the wait before each retry.

    `delays[k]` is the wait after failure k+1; when retries outlast the list (an admin
    gave more), the last delay repeats. `jitter` spreads default backoffs so a burst of
    failures does not come back as a burst.
    """

    attempts: int
    delays: tuple[timedelta, ...]
    jitter: float = 0.0
    source: str = "default"

    def delay_after(self, failure: int) -> timedelta:
        if not self.delays:
            return timedelta(0)
        base = self.delays[min(failure, len(self.delays)) - 1]
        if self.jitter:
            # Not for security: spreading retries. random is fine and cheap.
            factor = 1 + random.uniform(-self.jitter, self.jitter)  # noqa: S311
            return base * factor
        return base


def _default_plan(attempts: int) -> RetryPlan:
    base = float(setting("JOB_RETRY_BASE_SECONDS", 10))
    delays = tuple(timedelta(seconds=base * (2 ** k)) for k in range(max(attempts - 1, 0)))
    return RetryPlan(attempts=max(attempts, 1), delays=delays, jitter=0.25)


def retry_plan(payload: Mapping[str, object], now: datetime | None = None) -> RetryPlan:
    """The plan for a job: camunda:failedJobRetryTimeCycle, zeebe retries, or the default.

    `R5/PT5M` is 5 retries (6 attempts) 5 minutes apart, as in Camunda 7 and Flowable; a
    list `PT1M,PT5M,PT10M` is one retry per interval. A zeebe `retries="3"` is 3 attempts
    in all (Zeebe counts the first). An expression (evaluated nowhere yet) falls back to
    the default, which is JOB_DEFAULT_ATTEMPTS tries (3) with exponential backoff.
    """
    at = now or timezone.now()
    default_attempts = int(setting("JOB_DEFAULT_ATTEMPTS", 3))
    cycle = payload.get("retry_cycle")
    if isinstance(cycle, str) and cycle.strip() and not is_expression(cycle):
        try:
            return _cycle_plan(cycle, at)
        except TimerError as exc:
            log.warning("retry cycle %r does not parse (%s); default retries", cycle, exc)
    retries = payload.get("retries")
    if retries is not None:
        try:
            count = int(str(retries).strip().lstrip("="))
        except ValueError:
            count = default_attempts
        else:
            return _with_source(_default_plan(count), "zeebe retries")
    return _default_plan(default_attempts)


def _cycle_plan(cycle: str, at: datetime) -> RetryPlan:
    parts = [p.strip() for p in cycle.split(",") if p.strip()]
    if len(parts) == 1 and parts[0].upper().startswith("R"):
        spec = parse_timer("cycle", parts[0])
        if spec.duration is None or spec.repetitions is None:
            raise TimerError(f"retry cycle {cycle!r} needs R<n>/<duration>")
        delay = spec.duration.add_to(at) - at
        return RetryPlan(attempts=spec.repetitions + 1, delays=(delay,) * spec.repetitions,
                         source=cycle)
    delays = tuple(parse_duration(p).add_to(at) - at for p in parts)
    return RetryPlan(attempts=len(delays) + 1, delays=delays, source=cycle)


def _with_source(plan: RetryPlan, source: str) -> RetryPlan:
    return RetryPlan(plan.attempts, plan.delays, plan.jitter, source)


# --- Kicks: wake a runner as soon as a job is committed --------------------------------

_wake = threading.Event()


def _kick() -> None:
    mode = runner_mode()
    if mode == "celery":
        try:
            from engine.tasks import run_due_jobs_task

            run_due_jobs_task.apply_async(ignore_result=True, retry=False)
        except Exception:  # the beat sweep picks the job up within a second
            log.warning("could not kick the job runner through the broker", exc_info=True)
    _wake.set()


def kick_on_commit() -> None:
    """After the current transaction commits, wake a runner (once per transaction)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _kick()
        return
    if any(entry[1] is _kick for entry in connection.run_on_commit):
        return
    transaction.on_commit(_kick)


def runner_mode() -> str:
    """celery | embedded | off (settings.JOB_RUNNER)."""
    return str(setting("JOB_RUNNER", "embedded"))


# --- Claiming ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    pk: int
    kind: str
    instance_id: int | None


def claim_due_jobs(*, worker_id: str, limit: int = 100, now: datetime | None = None,
                   lease: timedelta | None = None) -> list[Claimed]:
    """Lease up to `limit` due jobs to `worker_id`, oldest due first; commits at once.

    Skipped: external tasks (they wait for fetch-and-lock), jobs with no retries left (an
    incident holds them), jobs of suspended or ended instances, and jobs under another
    live lease. Rows another claim holds right now are skipped, never waited for.
    """
    from engine import locks

    at = now or timezone.now()
    expires = at + (lease or lease_duration())
    with transaction.atomic():
        # Never waits, so it cannot take part in a lock cycle.
        rows = list(
            locks.skip_locked_jobs(Job.objects.all())
            .filter(due_at__lte=at, topic__isnull=True, retries_left__gt=0)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=at))
            .filter(Q(instance__isnull=True) | Q(instance__status="running"))
            .order_by("due_at", "id")
            .values_list("pk", "kind", "instance_id")[:limit]
        )
        if rows:
            Job.objects.filter(pk__in=[r[0] for r in rows]).update(
                lease_owner=worker_id, lease_expires_at=expires)
    return [Claimed(pk, kind, instance_id) for pk, kind, instance_id in rows]


# --- Running ----------------------------------------------------------------------------


def run_due_jobs(*, worker_id: str, limit: int = 100, now: datetime | None = None) -> int:
    """Claim (FOR UPDATE SKIP LOCKED, lease) and run due jobs; returns how many ran.

    `now` fixes the clock (tests, bpmn_run); by default each job runs at the real time.
    A job counts as run when it was done or its attempt failed (and was recorded).
    """
    claimed = claim_due_jobs(worker_id=worker_id, limit=limit, now=now)
    if not claimed:
        return 0
    batch_size = max(int(setting("JOB_BATCH_SIZE", 20)), 1)
    ran = 0
    batch: list[Claimed] = []
    for item in claimed:
        if item.kind in BATCHED_KINDS:
            batch.append(item)
            if len(batch) >= batch_size:
                ran += _run_batch(batch, worker_id, now)
                batch = []
        else:
            ran += _run_batch([item], worker_id, now)
    if batch:
        ran += _run_batch(batch, worker_id, now)
    return ran


def _run_batch(items: list[Claimed], worker_id: str, now: datetime | None) -> int:
    """Run claimed jobs in one transaction, instances in ascending id order.

    Ascending instance ids keep the lock order of every batch the same, so two workers'
    batches wait for each other at worst, never deadlock. Batched jobs touch only the
    database, so when one of them fails the whole batch is rolled back and its jobs are
    run again one per transaction, where each failure is recorded as that job's attempt
    (cheaper than a savepoint per job, which costs two round trips every time).
    """
    from engine import locks
    from engine.services import jobs as job_services

    ordered = sorted(items, key=lambda c: (c.instance_id or 0, c.pk))
    if len(ordered) > 1:
        try:
            with transaction.atomic():
                # The batch's root instances in one statement, in the loop's lock order.
                locked = locks.lock_root_instances(
                    item.instance_id for item in ordered if item.instance_id is not None)
                rows = Job.objects.in_bulk([item.pk for item in ordered])
                finished: list[int] = []
                ran = sum(1 for item in ordered if item.pk in rows
                          and _run_one(item, worker_id, now, rows[item.pk], finished,
                                       locked.get(item.instance_id or 0)))
                job_services.job_delete_done(*finished)  # the batch's removals, one statement
                return ran
        except Exception:
            log.info("a job of a batch of %s failed; running them one by one", len(ordered))
    done = 0
    for item in ordered:
        try:
            with transaction.atomic():
                if _run_one(item, worker_id, now):
                    done += 1
            continue
        except Exception as exc:  # every failure is an attempt
            error, details = exc, traceback.format_exc()
        try:
            _record_failure(item, worker_id, error, details, now)
            done += 1
        except Exception:  # the lease expires and the job runs again
            log.exception("could not record the failure of job %s", item.pk)
    return done


def _run_one(item: Claimed, worker_id: str, now: datetime | None,
             prefetched: Job | None = None, done: list[int] | None = None,
             locked: ProcessInstance | None = None) -> bool:
    """Run one claimed job inside the caller's transaction; False if it is not ours now.

    `prefetched` (a batch read its rows in one query, unlocked) saves the job's own lock:
    the instance lock serialises the work, and if the job was cancelled or done between
    that read and the lock, the instance's state no longer has its wait, the runtime
    refuses the trigger, and the batch is rolled back and run again one job at a time.
    `locked` is the job's instance as the batch locked it (locks.lock_root_instances; the
    same object for every job of that instance, so each sees the one before's step).
    """
    from engine import locks
    from engine.models import ProcessInstance
    from engine.status import InstanceStatus

    instance = locked
    if instance is None and item.instance_id is not None:
        try:
            instance = locks.lock_instance(item.instance_id)
        except ProcessInstance.DoesNotExist:
            return False  # the instance was deleted, and its jobs with it
    if prefetched is not None and instance is not None:
        job = prefetched
    else:
        try:
            job = locks.lock_job(item.pk)
        except Job.DoesNotExist:
            return False  # done by a worker whose lease we outlived, or cancelled
    if job.lease_owner != worker_id:
        return False  # our lease expired and another worker holds the job now
    if instance is not None and instance.status != InstanceStatus.RUNNING:
        Job.objects.filter(pk=job.pk).update(lease_owner=None, lease_expires_at=None)
        return False  # suspended meanwhile: the job waits for the resume
    at = now or timezone.now()
    _dispatch(job, instance, at, done if prefetched is not None else None)
    return True


def _dispatch(job: Job, instance: ProcessInstance | None, at: datetime,
              done: list[int] | None = None) -> None:
    from engine.services import jobs as job_services

    if job.kind in TIMER_KINDS:
        job_services.job_fire_locked(instance, job, at, done)
        return
    if job.kind == "async":
        assert instance is not None  # noqa: S101 - async jobs belong to an instance
        job_services.job_complete_locked(instance, job, {}, now=at, done=done)
        return
    if job.kind in WORK_KINDS:
        assert instance is not None  # noqa: S101 - service jobs belong to an instance
        _run_service(job, instance, at)
        return
    handler = _KINDS.get(job.kind)
    if handler is None:
        from engine.errors import UnknownJobKind

        raise UnknownJobKind(job.kind)
    handler(job, at)
    job_services.job_delete_done(job.pk)


def _run_service(job: Job, instance: ProcessInstance, at: datetime) -> None:
    from engine.errors import NoServiceHandler
    from engine.service_tasks import ServiceCall, candidate_names, find_handler
    from engine.services import jobs as job_services

    payload = job.payload or {}
    found = find_handler(payload, job.element_id)
    if found is None and job.kind == "send" and isinstance(payload.get("message"), str):
        _send_message(job, instance, str(payload["message"]), at)
        return
    if found is None:
        raise NoServiceHandler(job.element_id, candidate_names(payload, job.element_id))
    _name, handler = found
    call = ServiceCall(
        variables=current_variables(instance, job),
        idempotency_key=idempotency_key(job),
        instance_id=instance.pk,
        business_key=instance.business_key,
        process_key=instance.definition.key,
        element_id=job.element_id,
        attempt=job.attempts + 1,
        headers=_str_map(payload.get("headers")),
        fields=_str_map(payload.get("fields")),
    )
    # A BpmnError (like any exception) leaves through the job's transaction, so what the
    # handler wrote is rolled back with it; _record_failure then throws the BPMN error in
    # a transaction of its own (no savepoint: that would cost two round trips per call).
    result = handler(call)
    out: dict[str, object]
    if result is None:
        out = {}
    elif isinstance(result, Mapping):
        out = dict(result)
    else:
        target = payload.get("result_variable")
        if not isinstance(target, str) or not target:
            raise TypeError(f"service task handler for {job.element_id!r} returned "
                            f"{type(result).__name__}; return a dict of variables (or set "
                            "camunda:resultVariable)")
        out = {target: result}
    if isinstance(payload.get("result_variable"), str) and isinstance(result, Mapping) \
            and payload["result_variable"] not in out:
        out = {str(payload["result_variable"]): dict(result), **out}
    job_services.job_complete_locked(instance, job, out, now=at)


def _send_message(job: Job, instance: ProcessInstance, name: str, at: datetime) -> None:
    """A send task with a messageRef and no handler of its own sends the message to the
    oldest waiting subscriber (as a message thrown by an instance does), then completes.
    Nobody waiting is not the sender's failure: it is audited as undelivered."""
    from engine.errors import MessageNotCorrelated
    from engine.services import jobs as job_services
    from engine.services._shell import audit_instance, correlate_message

    variables = job.payload.get("variables") if job.payload else None
    try:
        correlate_message(name=name, business_key=None, correlation=None,
                          variables=dict(variables) if isinstance(variables, Mapping) else {},
                          now=at, actor=None, depth=1, pick_oldest=True)
    except MessageNotCorrelated:
        audit_instance(instance, "message undelivered", now=at, actor=None,
                       element_id=job.element_id, data={"name": name})
    instance.refresh_from_db(fields=["state", "revision", "status", "ended_at"])
    job_services.job_complete_locked(instance, job, {}, now=at)


def current_variables(instance: ProcessInstance, job: Job) -> dict[str, object]:
    """The variables the job's waiting token sees now (a parallel branch may have changed
    some since the job was made); the job's snapshot if its wait is gone."""
    from engine.runtime import InstanceState
    from engine.runtime.variables import snapshot

    state = InstanceState.from_json(instance.state)
    wait = state.waits.get(job.job_id)
    token = state.tokens.get(wait.token) if wait is not None else None
    if token is not None:
        return snapshot(state, token)
    saved = (job.payload or {}).get("variables")
    return dict(saved) if isinstance(saved, Mapping) else {}


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


# --- Failed attempts ----------------------------------------------------------------------


def _record_failure(item: Claimed, worker_id: str, exc: BaseException, details: str,
                    now: datetime | None) -> None:
    """Count a failed attempt: schedule the retry, or after the last one raise the incident.
    A handler's BpmnError is not a failed attempt: it is thrown at the task."""
    from engine import locks
    from engine.service_tasks import BpmnError

    at = now or timezone.now()
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        instance = locks.lock_instance(item.instance_id) if item.instance_id else None
        try:
            job = locks.lock_job(item.pk)
        except Job.DoesNotExist:
            return
        if job.lease_owner != worker_id:
            return  # someone else holds it now; their attempt counts, not ours
        if isinstance(exc, BpmnError) and instance is not None and job.kind in WORK_KINDS:
            from engine.services import jobs as job_services

            job_services.job_fail_locked(instance, job, error_code=exc.code,
                                         message=exc.message, now=at)
            return
        record_attempt_failed(job, instance, message=message, details=details, at=at)


def record_attempt_failed(job: Job, instance: ProcessInstance | None, *, message: str,
                          details: str, at: datetime, retries: int | None = None,
                          retry_in: timedelta | None = None) -> bool:
    """Write one failed attempt of a LOCKED job. True if it will be tried again.

    `retries` and `retry_in` (an external worker's report) override the plan. With no
    retries left, an instance's service/async job gets its incident from the runtime (the
    job stays, for an admin's retry); any other job gets an incident row directly.
    """
    from engine.audit import AuditEntry
    from engine.models import Incident
    from engine.services._shell import audit_instance

    plan = retry_plan(job.payload or {}, at)
    failures = job.attempts + 1
    if retries is not None:
        left = max(retries, 0)
    elif job.attempts == 0:
        left = plan.attempts - 1
    else:
        left = max(job.retries_left - 1, 0)
    if left > 0:
        delay = retry_in if retry_in is not None else plan.delay_after(failures)
        due = at + delay
        Job.objects.filter(pk=job.pk).update(
            attempts=failures, retries_left=left, due_at=due, lease_owner=None,
            lease_expires_at=None, last_error=message, error_details=details[:20000])
        if instance is not None:
            audit_instance(instance, "job retry scheduled", now=at, actor=None,
                           element_id=job.element_id,
                           data={"job": job.job_id, "attempt": failures, "retries_left": left,
                                 "due": due.isoformat(), "error": message,
                                 "plan": plan.source})
        log.info("job %s (%s) failed attempt %s, retry at %s: %s", job.pk, job.element_id,
                 failures, due.isoformat(), message)
        if delay <= timedelta(seconds=1):
            kick_on_commit()
        return True
    Job.objects.filter(pk=job.pk).update(
        attempts=failures, retries_left=0, lease_owner=None, lease_expires_at=None,
        last_error=message, error_details=details[:20000])
    log.warning("job %s (%s) failed for good after %s attempts: %s", job.pk, job.element_id,
                failures, message)
    if instance is not None and job.kind in WORK_KINDS:
        from engine.services import jobs as job_services

        job.attempts, job.retries_left = failures, 0
        job_services.job_fail_locked(instance, job, error_code=None, message=message, now=at)
        Incident.objects.filter(job=job, resolved_at__isnull=True,
                                error_details="").update(error_details=details[:20000])
        return False
    if instance is not None:
        Incident.objects.create(instance=instance, element_id=job.element_id, job=job,
                                message=message, error_details=details[:20000], created_at=at)
        audit_instance(instance, "incident", now=at, actor=None, element_id=job.element_id,
                       data={"job": job.job_id, "message": message, "kind": job.kind})
        return False
    # A start timer or custom job with no instance: on the system chain, never dropped.
    from engine.audit import audit_append_many
    from engine.models import SYSTEM_CHAIN

    audit_append_many(SYSTEM_CHAIN, [AuditEntry(
        kind="job failed", at=at, actor=None, instance_id=None, element_id=job.element_id,
        data={"job": job.pk, "kind": job.kind, "attempts": failures, "message": message},
    )])
    return False


# --- Hosts: loops around run_due_jobs ------------------------------------------------------


def run_until_idle(*, worker_id: str | None = None, max_seconds: float = 30.0,
                   limit: int | None = None) -> int:
    """Run due jobs until none is due (or `max_seconds` passed); returns how many ran."""
    worker = worker_id or worker_name()
    batch = limit or int(setting("JOB_CLAIM_LIMIT", 50))
    deadline = time.monotonic() + max_seconds
    total = 0
    while time.monotonic() < deadline:
        ran = run_due_jobs(worker_id=worker, limit=batch)
        total += ran
        if ran == 0:
            break
    return total


def _next_due_in(default: float) -> float:
    """Seconds until the next job this runner could claim, capped at `default`."""
    nxt = (Job.objects.filter(topic__isnull=True, retries_left__gt=0)
           .order_by("due_at").values_list("due_at", flat=True).first())
    if nxt is None:
        return default
    return max(0.0, min(default, (nxt - timezone.now()).total_seconds()))


def run_forever(*, stop: threading.Event, worker_id: str | None = None,
                poll_seconds: float = 1.0) -> None:
    """The loop of the embedded runner and `manage.py run_jobs`, until `stop` is set.

    It runs what is due, then sleeps until the next due time, a kick, or `poll_seconds`
    (at most), whichever is first: timers fire within about a poll of their due time.
    """
    worker = worker_id or worker_name()
    while not stop.is_set():
        wait = poll_seconds
        try:
            close_old_connections()
            run_until_idle(worker_id=worker, max_seconds=poll_seconds * 10)
            wait = _next_due_in(poll_seconds)
        except Exception:  # a database hiccup must not end the runner
            log.exception("job runner %s: a round failed; trying again", worker)
        _wake.wait(wait)
        _wake.clear()


_embedded: threading.Thread | None = None
_embedded_stop = threading.Event()


def start_embedded_runner(*, poll_seconds: float | None = None) -> threading.Thread:
    """Start the runner loop in a daemon thread of this process (once)."""
    global _embedded  # one runner thread per process
    if _embedded is not None and _embedded.is_alive():
        return _embedded
    poll = poll_seconds if poll_seconds is not None else float(
        setting("JOB_POLL_SECONDS", 1.0))
    _embedded_stop.clear()
    _embedded = threading.Thread(
        target=run_forever, kwargs={"stop": _embedded_stop, "poll_seconds": poll},
        name="flowdesk-job-runner", daemon=True)
    _embedded.start()
    log.info("embedded job runner started (poll %.1fs)", poll)
    return _embedded


def wake() -> None:
    """Wake a sleeping run_forever loop of this process now."""
    _wake.set()


def stop_embedded_runner(timeout: float = 5.0) -> None:
    _embedded_stop.set()
    _wake.set()
    if _embedded is not None:
        _embedded.join(timeout)


def kick_soon(due: datetime | None, now: datetime) -> bool:
    """Is a job due at `due` worth a kick? Later ones are the sweep's (every second)."""
    return due is None or due <= now + timedelta(seconds=1)


def _deliver_signal(job: Job, at: datetime) -> None:
    from engine.services._shell import deliver_signal_job

    deliver_signal_job(job, now=at)


_KINDS[SIGNAL_JOB_KIND] = _deliver_signal
