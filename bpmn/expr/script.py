"""Scripts made of assignments, one per line, as found in script tasks of real models."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .dialect import Dialect
from .errors import MAX_TEXT_LENGTH, EvaluationError, ExpressionError
from .evaluator import Evaluator, compiled
from .nodes import Literal, MethodCall, Name, Node
from .operators import arithmetic
from .parser import Parser

_ASSIGNMENT = re.compile(
    r"(?:(?:def|var|let|const)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(\+=|-=|\*=|/=|=)(?!=)"
)
_SET_VARIABLE = frozenset({"setVariable", "setVariableLocal"})


@dataclass(frozen=True, slots=True)
class Assignment:
    """`name = value` (op "=") or `name += value` (op "+=", ...)."""

    name: str
    op: str
    value: Node
    line: int


@dataclass(frozen=True, slots=True)
class Script:
    text: str
    dialect: Dialect
    statements: tuple[Assignment, ...]

    @property
    def assigned(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(statement.name for statement in self.statements))


def script_dialect(script_format: str | None) -> Dialect:
    """The dialect for a scriptFormat: python reads as Python, FEEL as FEEL; groovy,
    javascript and juel assignments read as JUEL, whose operators (&&, ?:, ==) they share."""
    fmt = (script_format or "").lower()
    if "python" in fmt:
        return Dialect.PYTHON
    if "feel" in fmt:
        return Dialect.FEEL
    return Dialect.JUEL


def _statements(text: str) -> list[tuple[int, int]]:
    """(start, stop) offsets of statements: lines, also split at ';' outside strings."""
    spans: list[tuple[int, int]] = []
    start = 0
    quote: str | None = None
    i = 0
    while i <= len(text):
        ch = text[i] if i < len(text) else "\n"
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote or ch == "\n":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in ";\n":
            spans.append((start, i))
            start = i + 1
        i += 1
    return spans


def parse_script(text: str, dialect: Dialect, *, result_variable: str | None = None) -> Script:
    """Parse a script: one assignment per line (or per ';').

    Accepted lines: `name = expr`, `name += expr` (also -=, *=, /=), optionally prefixed by
    def/var/let/const; `execution.setVariable("name", expr)`; either form wrapped in
    `${...}`/`#{...}`. Blank lines and lines starting with `#` or `//` are skipped. With a
    `result_variable` (Camunda's resultVariable), a line that is a bare expression assigns
    its value to that variable, as the script's return value. Anything else is an
    ExpressionError with its position.
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise ExpressionError(f"script longer than {MAX_TEXT_LENGTH:,} characters")
    statements: list[Assignment] = []
    for start, stop in _statements(text):
        while start < stop and text[start].isspace():
            start += 1
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if start == stop or text.startswith(("#", "//"), start):
            continue
        if text.startswith(("${", "#{"), start) and text[stop - 1] == "}":
            start, stop = start + 2, stop - 1
        line = text.count("\n", 0, start) + 1
        statements.append(_statement(text, start, stop, dialect, line, result_variable))
    return Script(text, dialect, tuple(statements))


def _statement(text: str, start: int, stop: int, dialect: Dialect, line: int,
               result_variable: str | None) -> Assignment:
    match = _ASSIGNMENT.match(text, start, stop)
    if match is not None:
        value_start = match.end()
        if value_start >= stop:
            raise ExpressionError("missing value after '='", value_start, text)
        value = Parser(text, dialect, value_start, stop).parse_all()
        return Assignment(match.group(1), match.group(2), value, line)
    node = Parser(text, dialect, start, stop).parse_all()
    if (
        isinstance(node, MethodCall)
        and isinstance(node.obj, Name)
        and node.obj.name == "execution"
        and node.name in _SET_VARIABLE
        and len(node.args) == 2
        and isinstance(node.args[0], Literal)
        and isinstance(node.args[0].value, str)
    ):
        return Assignment(node.args[0].value, "=", node.args[1], line)
    if result_variable:
        return Assignment(result_variable, "=", node, line)
    raise ExpressionError("a script line must assign a variable (name = value)", start, text)


def run_script(
    script: Script, variables: Mapping[str, object], *, now: datetime | None = None
) -> dict[str, object]:
    """Run the assignments in order; return the variables set, in the order first set."""
    scope: dict[str, object] = dict(variables)
    changed: dict[str, object] = {}
    for statement in script.statements:
        try:
            fn = compiled(statement.value, script.dialect)
            if fn is not None:
                value = fn(scope)
            else:
                value = Evaluator(script.dialect, scope, now).run(statement.value)
            if statement.op != "=":
                if statement.name not in scope:
                    raise EvaluationError(f"unknown variable '{statement.name}'")
                value = arithmetic(statement.op[0], scope[statement.name], value, script.dialect)
        except EvaluationError as exc:
            raise type(exc)(f"line {statement.line}: {exc.message}") from exc
        except (RecursionError, ArithmeticError, ValueError, TypeError) as exc:
            raise EvaluationError(f"line {statement.line}: {exc}") from exc
        scope[statement.name] = value
        changed[statement.name] = value
    return changed
