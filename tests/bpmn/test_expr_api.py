"""The public API of bpmn.expr: dialect detection, syntax errors, variables, evaluation."""

from __future__ import annotations

import pytest

from bpmn.expr import Dialect, ExpressionError, detect_dialect, evaluate, parse_expression


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("${a}", None, Dialect.JUEL),
        ("x #{a}", "python", Dialect.JUEL),
        ("  = a", None, Dialect.FEEL),
        ("=a", "python", Dialect.FEEL),
        ("a", "python", Dialect.PYTHON),
        ("a", "https://www.omg.org/spec/DMN/20191111/FEEL/", Dialect.FEEL),
        ("a", "http://camunda.org/juel", Dialect.JUEL),
        ("a", "http://www.w3.org/1999/XPath", Dialect.FEEL),
        ("a", None, Dialect.PYTHON),
        ("a", "groovy", Dialect.PYTHON),
    ],
)
def test_detect_dialect(text: str, language: str | None, expected: Dialect):
    assert detect_dialect(text, language) is expected


def test_expression_keeps_its_text_dialect_and_free_variables():
    expr = parse_expression("=for x in xs return x + y")
    assert expr.text == "=for x in xs return x + y"
    assert expr.dialect is Dialect.FEEL
    assert expr.variables == frozenset({"xs", "y"})
    assert parse_expression("=xs[item > limit]").variables == frozenset({"xs", "limit"})


@pytest.mark.parametrize(
    ("text", "dialect", "position", "message"),
    [
        ("(1 + 2))", Dialect.PYTHON, 7, "unexpected ')' at column 8"),
        ("${a >}", None, 5, "unexpected end of expression"),
        ("${a + 'x}", None, 6, "unterminated string"),
        ("${a", None, 0, "unterminated '${'"),
        ("= if a then b", None, 13, "expected 'else'"),
        ("a ==", Dialect.PYTHON, 4, "unexpected end"),
        ("", Dialect.PYTHON, 0, "empty expression"),
        ("a § b", Dialect.PYTHON, 2, "unexpected character"),
    ],
)
def test_syntax_errors_carry_a_position_and_a_clear_message(
    text: str, dialect: Dialect | None, position: int, message: str
):
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text, dialect)
    assert caught.value.position == position
    assert message in str(caught.value)


def test_error_in_multi_line_text_names_line_and_column():
    with pytest.raises(ExpressionError, match="line 2, column 3"):
        parse_expression("a and\nb )", Dialect.PYTHON)


def test_parsed_expressions_are_reusable_values():
    expr = parse_expression("${n * 2}")
    assert evaluate(expr, {"n": 2}) == 4
    assert evaluate(expr, {"n": 3}) == 6
    assert expr == parse_expression("${n * 2}")
    assert hash(expr) == hash(parse_expression("${n * 2}"))
