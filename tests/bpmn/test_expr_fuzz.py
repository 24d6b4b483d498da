"""Property tests: any text parses or fails with ExpressionError; evaluation fails only with
EvaluationError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpmn.expr import (
    Dialect,
    EvaluationError,
    Expression,
    ExpressionError,
    evaluate,
    parse_expression,
    parse_script,
)

VARIABLES: dict[str, object] = {
    "x": 1,
    "y": 2.5,
    "s": "text",
    "xs": [1, 2, 3],
    "d": {"a": 1, "b": [1, {"c": None}]},
    "flag": True,
    "n": None,
}

_PIECES = [
    "x",
    "y",
    "s",
    "xs",
    "d",
    "flag",
    "n",
    "item",
    "a",
    "1",
    "0",
    "-1",
    "2.5",
    "1e3",
    "'a'",
    '"b"',
    "true",
    "false",
    "null",
    "True",
    "None",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "==",
    "=",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "&&",
    "||",
    "!",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "then",
    "else",
    "for",
    "return",
    "some",
    "every",
    "satisfies",
    "between",
    "?",
    ":",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "..",
    "${",
    "#{",
    "@",
    "empty",
    "div",
    "mod",
    "count",
    "sum",
    "len",
    "str",
    "date",
    "duration",
    "string length",
    "matches",
    "sort",
    "substring",
    "upper case",
    "min",
    "max",
    "sorted",
    "range",
    "now",
    "today",
    "execution.getVariable",
    "__class__",
    " ",
    " ",
]

expression_soup = st.lists(st.sampled_from(_PIECES), max_size=25).map("".join)
dialects = st.sampled_from([None, Dialect.JUEL, Dialect.FEEL, Dialect.PYTHON])


def _parse(text: str, dialect: Dialect | None) -> Expression | None:
    try:
        expr = parse_expression(text, dialect)
    except ExpressionError:
        return None
    assert isinstance(expr, Expression)
    return expr


def _evaluate(expr: Expression) -> None:
    with contextlib.suppress(EvaluationError):
        evaluate(expr, VARIABLES)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=st.text(max_size=200), dialect=dialects)
def test_any_text_parses_or_raises_expression_error(text: str, dialect: Dialect | None):
    expr = _parse(text, dialect)
    if expr is not None:
        _evaluate(expr)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=expression_soup, dialect=dialects)
def test_expression_like_text_evaluates_or_raises_evaluation_error(
    text: str, dialect: Dialect | None
):
    expr = _parse(text, dialect)
    if expr is not None:
        _evaluate(expr)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=st.text(max_size=200), dialect=st.sampled_from(list(Dialect)))
def test_any_script_text_parses_or_raises_expression_error(text: str, dialect: Dialect):
    with contextlib.suppress(ExpressionError):
        parse_script(text, dialect)
