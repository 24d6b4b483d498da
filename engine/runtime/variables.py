"""Variable values and scopes: JSON-like values only, looked up and set along the scope chain."""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from bpmn.expr.values import YearsMonths, format_duration
from engine.runtime.state import InstanceState, Token


class VariableError(ValueError):
    """A value that cannot be stored in an instance (not JSON-like)."""


def to_json_value(value: object, depth: int = 0) -> object:
    """`value` as plain JSON data (a new object; the caller's value is never shared).

    Dates, times and durations that expressions produce are stored as ISO 8601 text, the
    form FEEL and JUEL read back with date()/duration(); anything else is refused.
    """
    if depth > 100:
        raise VariableError("value nested deeper than 100 levels")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise VariableError(f"{value} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v, depth + 1) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta | YearsMonths):
        return format_duration(value)
    raise VariableError(f"a value of type {type(value).__name__} cannot be stored")


def scope_chain(state: InstanceState, token: Token) -> list[dict[str, object]]:
    """The variable dicts visible from `token`, innermost first."""
    chain: list[dict[str, object]] = []
    if token.locals is not None:
        chain.append(token.locals)
    scope_id: int | None = token.scope
    while scope_id is not None:
        scope = state.scopes[scope_id]
        chain.append(scope.variables)
        scope_id = scope.parent
    return chain


def view(state: InstanceState, token: Token) -> Mapping[str, object]:
    """What an expression evaluated at `token` sees: inner scopes shadow outer ones."""
    if token.locals is None:
        scope = state.scopes[token.scope]
        if scope.parent is None:
            return scope.variables  # the common case: a token of the process scope
    chain = scope_chain(state, token)
    return chain[0] if len(chain) == 1 else ChainMap(*chain)


def snapshot(state: InstanceState, token: Token) -> dict[str, object]:
    """A flat copy of the visible variables (for effects that carry them out)."""
    return dict(view(state, token))


def target_scope(state: InstanceState, token: Token, name: str) -> dict[str, object]:
    """Where `setVariable(name)` from `token` writes.

    Camunda 7 (AbstractVariableScope.setVariable): the nearest scope, walking outwards from
    the activity's own local variables, that already holds the name; if none does, the
    process instance (root scope). Zeebe propagates job and message variables the same way.
    """
    if token.locals is None:
        scope = state.scopes[token.scope]
        if scope.parent is None:
            return scope.variables  # a token of the process scope: the only candidate
    chain = scope_chain(state, token)
    for variables in chain:
        if name in variables:
            return variables
    return chain[-1]
