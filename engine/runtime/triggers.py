"""Triggers: the outside events `runtime.handle` applies to an instance, one per call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TaskCompleted:
    """A person completed the user task `task_id` (the id of its CreateUserTask)."""

    task_id: int
    variables: Mapping[str, object] = field(default_factory=dict)
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The timer job `job_id` (a ScheduleJob of kind 'timer') is due."""

    job_id: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message for this instance: to the subscription `subscription_id` when given, else
    to the oldest live message subscription named `name`."""

    subscription_id: int | None = None
    name: str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignalReceived:
    """A broadcast signal: every live signal subscription of this instance named `name`."""

    name: str
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobDone:
    """A service, send or business rule job finished with `variables` as its result."""

    job_id: int
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobFailed:
    """A job failed for good. With `error_code` it is a BPMN error thrown by the handler
    (caught by error boundary events); without, retries are exhausted: an incident."""

    job_id: int
    error_code: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the whole instance (an admin or API call)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChildCompleted:
    """The child instance of the call activity wait `call_id` completed; `variables` are
    its process (root scope) variables, for the out mappings."""

    call_id: int
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChildFailed:
    """The child of call `call_id` threw out a BPMN error (kind "error"; the child has
    ended) or an escalation (kind "escalation"; the child goes on), or could not be started
    at all (kind "incident": the called process is not deployed)."""

    call_id: int
    error_code: str | None = None
    message: str = ""
    kind: str = "error"


@dataclass(frozen=True, slots=True)
class VariablesSet:
    """Someone outside the process (an admin, an API client) set process variables: they
    are written to the process instance's own scope, and conditional events (catch,
    boundary, event subprocess start) whose condition turns true fire, as in Camunda 7's
    setVariables. `by` is recorded with every "variable set" audit event."""

    variables: Mapping[str, object] = field(default_factory=dict)
    by: str = "admin"


Trigger = (TaskCompleted | TimerFired | MessageReceived | SignalReceived | JobDone | JobFailed
           | Cancel | ChildCompleted | ChildFailed | VariablesSet)
