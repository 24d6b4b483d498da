"""Effects: what a step asks the shell to do (rows to write, jobs to run), as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bpmn.model import Form


class AuditKind(StrEnum):
    """What an Audit effect records. Every token move yields at least one."""

    PROCESS_STARTED = "process started"
    PROCESS_COMPLETED = "process completed"
    PROCESS_CANCELLED = "process cancelled"
    ACTIVITY_STARTED = "activity started"
    ACTIVITY_COMPLETED = "activity completed"
    ACTIVITY_CANCELLED = "activity cancelled"
    # A standard loop or multi-instance body as a whole; each iteration or inner instance
    # has its own activity started/completed/cancelled.
    LOOP_STARTED = "loop started"
    LOOP_COMPLETED = "loop completed"
    LOOP_CANCELLED = "loop cancelled"
    EVENT_PASSED = "event passed"  # none start/end/intermediate, link catch
    EVENT_WAITING = "event waiting"
    EVENT_CAUGHT = "event caught"
    EVENT_THROWN = "event thrown"
    TOKEN_CANCELLED = "token cancelled"  # noqa: S105  # a token on an event or gateway was cancelled
    GATEWAY_WAITING = "gateway waiting"
    GATEWAY_JOINED = "gateway joined"
    GATEWAY_TAKEN = "gateway taken"
    TOKEN_ENDED = "token ended"  # noqa: S105  # a path ends without an end event (no outgoing flow)
    TASK_COMPLETED = "task completed"
    JOB_DONE = "job done"
    ASYNC_WAITING = "async waiting"  # an asyncBefore/asyncAfter job holds the token
    JOB_FAILED = "job failed"
    ERROR_UNHANDLED = "error unhandled"
    ESCALATION_UNHANDLED = "escalation unhandled"
    VARIABLE_SET = "variable set"
    INCIDENT = "incident"
    # Compensation (BPMN 2.0.2 §10.5.4) and transactions (§10.3.6).
    COMPENSATION_THROWN = "compensation thrown"
    COMPENSATION_STARTED = "compensation started"  # one compensated activity instance
    COMPENSATION_COMPLETED = "compensation completed"
    TRANSACTION_CANCELLED = "transaction cancelled"
    # Call activities (engine/runtime/call_activity.py).
    CALL_STARTED = "call started"
    CALL_COMPLETED = "call completed"
    CALL_FAILED = "call failed"
    ERROR_THROWN_OUT = "error thrown to caller"
    ESCALATION_THROWN_OUT = "escalation thrown to caller"


@dataclass(frozen=True, slots=True)
class CreateUserTask:
    task_id: int
    element_id: str
    name: str | None
    assignee: str | None = None
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()
    due: datetime | None = None
    follow_up: datetime | None = None
    priority: int | None = None
    form: Form | None = None
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelUserTask:
    task_id: int


@dataclass(frozen=True, slots=True)
class ScheduleJob:
    """kind: timer | service | send | businessRule | async. `due` None = run now."""

    job_id: int
    kind: str
    element_id: str
    due: datetime | None = None
    payload: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelJob:
    job_id: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    """kind: message | signal. `correlation` holds evaluated correlation keys (may be empty)."""

    subscription_id: int
    kind: str
    name: str | None
    element_id: str
    correlation: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    subscription_id: int


@dataclass(frozen=True, slots=True)
class ThrowSignal:
    """A signal broadcast. `asynchronous` (camunda:async="true" on the definition): the
    shell delivers it by a job after the thrower's transaction commits, not within it."""

    name: str | None
    variables: Mapping[str, object] = field(default_factory=dict)
    asynchronous: bool = False
    element_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendMessage:
    name: str | None
    variables: Mapping[str, object] = field(default_factory=dict)
    element_id: str | None = None


@dataclass(frozen=True, slots=True)
class Audit:
    kind: AuditKind
    element_id: str | None
    data: Mapping[str, object] = field(default_factory=dict)


_new = object.__new__
_set_kind = vars(Audit)["kind"].__set__
_set_element = vars(Audit)["element_id"].__set__
_set_data = vars(Audit)["data"].__set__


def new_audit(kind: AuditKind, element_id: str | None, data: Mapping[str, object]) -> Audit:
    """Audit(kind, element_id, data), built about twice as fast as the frozen dataclass's
    own __init__ (which goes through object.__setattr__ for every field)."""
    audit = _new(Audit)
    _set_kind(audit, kind)
    _set_element(audit, element_id)
    _set_data(audit, data)
    return audit


_user_task_setters = tuple(vars(CreateUserTask)[f].__set__ for f in (
    "task_id", "element_id", "name", "assignee", "candidate_users", "candidate_groups",
    "due", "follow_up", "priority", "form", "variables"))


def new_user_task(task_id: int, element_id: str, name: str | None, assignee: str | None,
                  candidate_users: tuple[str, ...], candidate_groups: tuple[str, ...],
                  due: datetime | None, follow_up: datetime | None, priority: int | None,
                  form: Form | None, variables: Mapping[str, object]) -> CreateUserTask:
    """CreateUserTask(...) with every field given, built without the frozen dataclass's
    object.__setattr__ path (like new_audit)."""
    task = _new(CreateUserTask)
    (s_id, s_element, s_name, s_assignee, s_users, s_groups, s_due, s_follow_up, s_priority,
     s_form, s_variables) = _user_task_setters
    s_id(task, task_id)
    s_element(task, element_id)
    s_name(task, name)
    s_assignee(task, assignee)
    s_users(task, candidate_users)
    s_groups(task, candidate_groups)
    s_due(task, due)
    s_follow_up(task, follow_up)
    s_priority(task, priority)
    s_form(task, form)
    s_variables(task, variables)
    return task


@dataclass(frozen=True, slots=True)
class Completed:
    """The process instance ended (every token consumed, or a terminate end event)."""


@dataclass(frozen=True, slots=True)
class Incident:
    element_id: str
    message: str


@dataclass(frozen=True, slots=True)
class StartCallActivity:
    """Start a child instance of `called_element` for the call activity wait `call_id`;
    the shell answers with ChildCompleted/ChildFailed for that id when the child ends."""

    call_id: int
    element_id: str
    called_element: str
    binding: str = "latest"
    version: str | None = None
    business_key: str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelCallActivity:
    """The call activity `call_id` was interrupted: cancel its child instance (and its
    children)."""

    call_id: int


@dataclass(frozen=True, slots=True)
class ErrorThrownOut:
    """A called instance threw a BPMN error nothing in it catches: it has ended, and the
    error goes on at the call activity of its caller (ChildFailed, kind "error")."""

    code: str | None
    message: str | None = None
    element_id: str | None = None


@dataclass(frozen=True, slots=True)
class EscalationThrownOut:
    """A called instance threw an escalation nothing in it catches: the child goes on and
    the escalation goes on at the caller's call activity (ChildFailed, kind "escalation")."""

    code: str | None
    element_id: str | None = None


Effect = (CreateUserTask | CancelUserTask | ScheduleJob | CancelJob | Subscribe | Unsubscribe
          | ThrowSignal | SendMessage | Audit | Completed | Incident | StartCallActivity
          | CancelCallActivity | ErrorThrownOut | EscalationThrownOut)
