"""The token machine: runs a compiled BPMN process one trigger at a time, pure data in and out."""

from __future__ import annotations

from engine.runtime.compile import CompiledProcess, CompileError, StartPoint, compile_process
from engine.runtime.effects import (
    Audit,
    AuditKind,
    CancelJob,
    CancelUserTask,
    Completed,
    CreateUserTask,
    Effect,
    Incident,
    ScheduleJob,
    SendMessage,
    Subscribe,
    ThrowSignal,
    Unsubscribe,
)
from engine.runtime.machine import NoDefaultStart, Step, UnknownTrigger, handle, start
from engine.runtime.state import InstanceState
from engine.runtime.support import runnable, unsupported
from engine.runtime.triggers import (
    Cancel,
    JobDone,
    JobFailed,
    MessageReceived,
    SignalReceived,
    TaskCompleted,
    TimerFired,
    Trigger,
)

__all__ = [
    "Audit",
    "AuditKind",
    "Cancel",
    "CancelJob",
    "CancelUserTask",
    "CompileError",
    "CompiledProcess",
    "Completed",
    "CreateUserTask",
    "Effect",
    "Incident",
    "InstanceState",
    "JobDone",
    "JobFailed",
    "MessageReceived",
    "NoDefaultStart",
    "ScheduleJob",
    "SendMessage",
    "SignalReceived",
    "StartPoint",
    "Step",
    "Subscribe",
    "TaskCompleted",
    "ThrowSignal",
    "TimerFired",
    "Trigger",
    "UnknownTrigger",
    "Unsubscribe",
    "compile_process",
    "handle",
    "runnable",
    "start",
    "unsupported",
]
