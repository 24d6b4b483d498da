"""Python service task handlers: a registry by name, the call they get, and BpmnError.

A handler is registered with ``@service_task("charge_card")`` and is found for a service,
send or business rule task by (first match wins): ``camunda:delegateExpression``
(``${chargeCard}`` -> ``chargeCard``), ``camunda:class`` (the full name, then the simple
class name), ``camunda:expression`` (the whole text, then the bean name before the first
``.`` or ``(``), the zeebe ``taskDefinition type``, and last the element id.

The handler runs inside the job's transaction, with the instance row locked, so jobs of
one instance never run concurrently and the state change commits with the job's removal.
Side effects outside the database are at-least-once (a worker can die after the call and
before the commit): ``call.idempotency_key`` is the same on every attempt of one job, so
the called system can recognise a repeat.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "BpmnError",
    "ServiceCall",
    "ServiceHandler",
    "clear_registry_for_tests",
    "external_topic",
    "find_handler",
    "handler_names",
    "load_handler_modules",
    "service_task",
]


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """What a handler gets: the variables in scope when the task started, and where it is."""

    variables: Mapping[str, object]
    idempotency_key: str
    instance_id: int
    business_key: str | None
    process_key: str
    element_id: str
    attempt: int  # 1 on the first try, 2 on the first retry, ...
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)


ServiceHandler = Callable[[ServiceCall], Mapping[str, object] | None]
F = TypeVar("F", bound=ServiceHandler)


class BpmnError(Exception):
    """Raised by a handler: a business error. An error boundary event with this code (or
    a catch-all one) takes it; nothing catches it -> the runtime's rules (an incident)."""

    def __init__(self, code: str, message: str = "",
                 variables: Mapping[str, object] | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.variables: dict[str, object] = dict(variables or {})


_REGISTRY: dict[str, ServiceHandler] = {}


def service_task(name: str) -> Callable[[F], F]:
    """Register the decorated function as the handler named `name`."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a service task handler needs a non-empty name")

    def register(fn: F) -> F:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn and (
                getattr(existing, "__qualname__", None) != getattr(fn, "__qualname__", None)
                or getattr(existing, "__module__", None) != getattr(fn, "__module__", None)):
            raise ValueError(f"service task handler {name!r} is already registered "
                             f"({existing.__module__}.{existing.__qualname__})")
        _REGISTRY[name] = fn
        return fn

    return register


def handler_names() -> list[str]:
    return sorted(_REGISTRY)


def clear_registry_for_tests(*names: str) -> None:
    """Forget handlers (the named ones, or all); tests register their own."""
    for name in names or list(_REGISTRY):
        _REGISTRY.pop(name, None)


def load_handler_modules(modules: list[str] | tuple[str, ...]) -> None:
    """Import the modules that register handlers (settings.SERVICE_TASK_MODULES)."""
    for module in modules:
        importlib.import_module(module)


_EXPR = re.compile(r"^\s*[$#]\{\s*(.*?)\s*\}\s*$", re.DOTALL)
_BEAN = re.compile(r"^[A-Za-z_][\w-]*")


def candidate_names(payload: Mapping[str, object], element_id: str) -> list[str]:
    """The names a task's handler may be registered under, most specific first."""
    kind = str(payload.get("implementation") or "")
    value = str(payload.get("value") or "").strip()
    names: list[str] = []
    if value:
        inner = _EXPR.match(value)
        body = inner.group(1) if inner else value
        if kind in ("delegateExpression", "expression"):
            names += [body, value]
            bean = _BEAN.match(body)
            if bean:
                names.append(bean.group(0))
        elif kind == "class":
            names += [value, value.rsplit(".", 1)[-1]]
        else:  # zeebe job type, connector id, decision id, SpiffWorkflow operator
            names.append(value)
    topic = payload.get("topic")
    if isinstance(topic, str) and topic:
        names.append(topic)
    names.append(element_id)
    return list(dict.fromkeys(n for n in names if n))


def find_handler(payload: Mapping[str, object], element_id: str
                 ) -> tuple[str, ServiceHandler] | None:
    """(name, handler) registered for this task, or None."""
    if payload.get("implementation") == "external":
        return None  # camunda:type="external": always for an outside worker
    for name in candidate_names(payload, element_id):
        handler = _REGISTRY.get(name)
        if handler is not None:
            return name, handler
    return None


def external_topic(kind: str, payload: Mapping[str, Any], element_id: str) -> str | None:
    """The topic an outside worker fetches this job by, or None if the runner runs it.

    camunda:type="external" always is external; a zeebe task type is external unless a
    Python handler is registered for it (Zeebe has no in-engine handlers at all).
    """
    if kind not in ("service", "send", "businessRule"):
        return None
    implementation = payload.get("implementation")
    topic = payload.get("topic")
    if implementation == "external":
        return str(topic or element_id)
    if implementation == "job" and find_handler(payload, element_id) is None:
        return str(topic or payload.get("value") or element_id)
    return None
