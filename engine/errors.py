"""Typed domain errors: each has a stable `code` and the HTTP status it maps to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpmn.diagnostics import Diagnostic

if TYPE_CHECKING:
    from datetime import datetime


class EngineError(Exception):
    """Base of every error the engine raises on purpose. Mapped to HTTP in one place."""

    code: str = "engine.error"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class FileDiagnostics:
    """What the loader found in one uploaded file."""

    source: str
    diagnostics: tuple[Diagnostic, ...]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "diagnostics": [d.as_dict() for d in self.diagnostics]}


class DeploymentInvalid(EngineError):
    """At least one file of a deployment has an error; nothing was deployed."""

    code = "deployment.invalid"
    http_status = 400

    def __init__(self, diagnostics: Sequence[FileDiagnostics]) -> None:
        self.diagnostics: tuple[FileDiagnostics, ...] = tuple(diagnostics)
        errors = [
            d.format(f.source) for f in self.diagnostics for d in f.diagnostics if d.is_error
        ]
        summary = "; ".join(errors[:3])
        if len(errors) > 3:
            summary += f" (and {len(errors) - 3} more)"
        super().__init__(f"deployment refused: {summary}" if summary else "deployment refused")

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "files": [f.as_dict() for f in self.diagnostics]}


class AuditIsAppendOnly(EngineError):
    """Something tried to change or delete an audit row; history is never rewritten."""

    code = "audit.append-only"
    http_status = 403

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(f"audit events are append-only: {operation} refused")


class AuditNeedsTransaction(EngineError):
    """An audit append ran outside a transaction, so it could not commit with its cause."""

    code = "audit.no-transaction"
    http_status = 500

    def __init__(self) -> None:
        super().__init__(
            "audit events must be appended inside the transaction of the change they record"
        )


class InstanceNotFound(EngineError):
    code = "instance.not-found"
    http_status = 404

    def __init__(self, instance_id: int) -> None:
        self.instance_id = instance_id
        super().__init__(f"no process instance {instance_id}")


class InstanceSuspended(EngineError):
    """A suspended instance refuses every trigger until it is resumed."""

    code = "instance.suspended"
    http_status = 409

    def __init__(self, instance_id: int) -> None:
        self.instance_id = instance_id
        super().__init__(f"process instance {instance_id} is suspended")


class InstanceNotRunning(EngineError):
    """The instance has ended (completed or cancelled)."""

    code = "instance.not-running"
    http_status = 409

    def __init__(self, instance_id: int, status: str) -> None:
        self.instance_id, self.status = instance_id, status
        super().__init__(f"process instance {instance_id} is {status}")


class TriggerRejected(EngineError):
    """The runtime found nothing live in the instance that the trigger names."""

    code = "instance.trigger-rejected"
    http_status = 409


class InvalidVariables(EngineError):
    """Variables that are not JSON-like values."""

    code = "instance.invalid-variables"
    http_status = 400


class NoStartEvent(EngineError):
    """The definition cannot be started that way (e.g. no single none start event)."""

    code = "instance.no-start-event"
    http_status = 400


class StaleInstance(EngineError):
    """The instance row changed under a lock: a bug, never expected. Nothing was saved."""

    code = "instance.stale"
    http_status = 409


class DeliveryTooDeep(EngineError):
    """Signals/messages thrown in reaction to signals/messages nested too deep (a loop)."""

    code = "instance.delivery-too-deep"
    http_status = 409

    def __init__(self, name: str | None, depth: int) -> None:
        super().__init__(
            f"delivering {name!r} would nest more than {depth} throws deep; "
            "instances seem to signal each other in a loop"
        )


class MessageNotCorrelated(EngineError):
    """No waiting instance subscription and no message start event matches the message."""

    code = "message.not-correlated"
    http_status = 404

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no process instance or start event waits for message {name!r}")


class MessageAmbiguous(EngineError):
    """More than one target matches the message; it must reach exactly one."""

    code = "message.ambiguous"
    http_status = 409

    def __init__(self, name: str, count: int) -> None:
        self.name, self.count = name, count
        super().__init__(f"message {name!r} matches {count} targets; it must match exactly one")


class DefinitionNotFound(EngineError):
    """No deployed definition with that id, or no version of that key."""

    code = "definition.not-found"
    http_status = 404


class JobNotFound(EngineError):
    code = "job.not-found"
    http_status = 404

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"no job {job_id} (done, cancelled or never made)")


class JobNotDue(EngineError):
    code = "job.not-due"
    http_status = 409

    def __init__(self, job_id: int, due_at: datetime) -> None:
        self.job_id, self.due_at = job_id, due_at
        super().__init__(f"job {job_id} is not due before {due_at.isoformat()}")


class JobWrongKind(EngineError):
    code = "job.wrong-kind"
    http_status = 409

    def __init__(self, job_id: int, kind: str, wanted: str) -> None:
        super().__init__(f"job {job_id} is a {kind} job; this call takes {wanted} jobs")


class TaskNotFound(EngineError):
    code = "task.not-found"
    http_status = 404

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        super().__init__(f"no user task {task_id}")


class TaskNotOpen(EngineError):
    """The task was already completed or cancelled (perhaps a moment ago, by someone else)."""

    code = "task.not-open"
    http_status = 409

    def __init__(self, task_id: int, status: str) -> None:
        self.task_id, self.status = task_id, status
        super().__init__(f"user task {task_id} is {status}, not open")


class DefinitionNotRunnable(EngineError):
    """A stored definition that cannot be compiled (deployed before a check existed)."""

    code = "definition.not-runnable"
    http_status = 409

    def __init__(self, definition_id: int, reason: str) -> None:
        self.definition_id = definition_id
        super().__init__(f"process definition {definition_id} cannot run: {reason}")


class InvalidTransition(EngineError):
    """A status change the transition table does not allow."""

    code = "status.invalid-transition"
    http_status = 409

    def __init__(self, what: str, current: str, target: str) -> None:
        self.what, self.current, self.target = what, current, target
        super().__init__(f"a {what} cannot go from {current!r} to {target!r}")


# --- Job runner, external tasks, incidents (issue 4) ----------------------------------


class NoServiceHandler(EngineError):
    """A service/send/business rule job whose task names no registered Python handler."""

    code = "job.no-handler"
    http_status = 500

    def __init__(self, element_id: str, names: Sequence[str]) -> None:
        self.element_id, self.names = element_id, tuple(names)
        super().__init__(
            f"no @service_task handler for task {element_id!r} (looked for: "
            f"{', '.join(repr(n) for n in self.names)}); register one or make the task "
            "external (camunda:type=\"external\")")


class UnknownJobKind(EngineError):
    code = "job.unknown-kind"
    http_status = 500

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(f"no job handler for job kind {kind!r} (engine.jobs.register_job_kind)")


class ExternalTaskNotFound(EngineError):
    code = "external-task.not-found"
    http_status = 404

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        super().__init__(f"no external task {task_id} (completed, cancelled or never made)")


class ExternalTaskLockedByOther(EngineError):
    code = "external-task.locked-by-other"
    http_status = 409

    def __init__(self, task_id: int, worker_id: str, holder: str | None) -> None:
        self.task_id, self.worker_id, self.holder = task_id, worker_id, holder
        held = f"locked by worker {holder!r}" if holder else "not locked"
        super().__init__(f"external task {task_id} is {held}, not by {worker_id!r}")


class ExternalTaskLockExpired(EngineError):
    code = "external-task.lock-expired"
    http_status = 409

    def __init__(self, task_id: int, worker_id: str, expired_at: datetime) -> None:
        self.task_id, self.worker_id = task_id, worker_id
        super().__init__(f"the lock of worker {worker_id!r} on external task {task_id} "
                         f"expired at {expired_at.isoformat()}; fetch and lock it again")


class ExternalTaskInvalid(EngineError):
    """A fetch/complete/failure request with a bad argument (what and why in the message)."""

    code = "external-task.invalid"
    http_status = 400


class IncidentNotFound(EngineError):
    code = "incident.not-found"
    http_status = 404

    def __init__(self, incident_id: int) -> None:
        self.incident_id = incident_id
        super().__init__(f"no incident {incident_id}")


class IncidentAlreadyResolved(EngineError):
    code = "incident.resolved"
    http_status = 409

    def __init__(self, incident_id: int, resolved_at: datetime) -> None:
        self.incident_id = incident_id
        super().__init__(f"incident {incident_id} was resolved at {resolved_at.isoformat()}")


class JobNotRetryable(EngineError):
    """An admin retry of a job that still has retries, or whose incident cannot be retried."""

    code = "job.not-retryable"
    http_status = 409


# --- The approvers' inbox (issue 5): claiming, four-eyes, delegation, bulk actions ----


class TaskAlreadyClaimed(EngineError):
    """Someone else holds the task; `by` says who."""

    code = "task.already-claimed"
    http_status = 409

    def __init__(self, task_id: int, by: str) -> None:
        self.task_id, self.by = task_id, by
        super().__init__(f"user task {task_id} is already claimed by {by}")

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "by": self.by}


class TaskNotPermitted(EngineError):
    """The user may not do that to this task (not offered to them, not theirs, not admin)."""

    code = "task.not-permitted"
    http_status = 403

    def __init__(self, task_id: int, action: str, username: str) -> None:
        self.task_id, self.action, self.username = task_id, action, username
        super().__init__(f"{username} may not {action} user task {task_id}")


class FourEyesViolation(EngineError):
    """The user completed an earlier task of the instance that this task excludes."""

    code = "task.four-eyes"
    http_status = 403

    def __init__(self, task_id: int, username: str, element_id: str) -> None:
        self.task_id, self.username, self.element_id = task_id, username, element_id
        super().__init__(
            f"{username} completed {element_id!r} of this instance and so may not take "
            f"user task {task_id} (four-eyes rule)"
        )


class TaskDelegationPending(EngineError):
    """A delegated task goes back to its owner with resolve; only the owner completes it."""

    code = "task.delegation-pending"
    http_status = 409

    def __init__(self, task_id: int, owner: str) -> None:
        self.task_id, self.owner = task_id, owner
        super().__init__(
            f"user task {task_id} is delegated: resolve it to hand it back to {owner}"
        )


class TaskNotDelegated(EngineError):
    code = "task.not-delegated"
    http_status = 409

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        super().__init__(f"user task {task_id} is not delegated, so it cannot be resolved")


class InvalidTaskAction(EngineError):
    """Bad input to a task action: an unknown user, an empty comment, an unknown view."""

    code = "task.invalid-action"
    http_status = 400


class BulkFormsDiffer(EngineError):
    """Bulk completion with one decision needs tasks whose forms agree."""

    code = "task.bulk-forms-differ"
    http_status = 400

    def __init__(self, kinds: Sequence[str]) -> None:
        self.kinds = tuple(kinds)
        super().__init__(
            "these tasks have different forms, so one decision cannot complete them all: "
            + ", ".join(self.kinds)
        )
