"""The expression sandbox: no Python objects, no eval, and limits on size, depth and time."""

from __future__ import annotations

import time

import pytest

from bpmn.expr import (
    Dialect,
    EvaluationError,
    ExpressionError,
    LimitExceeded,
    evaluate,
    parse_expression,
    parse_script,
    run_script,
)
from bpmn.expr.errors import MAX_NESTING, MAX_TEXT_LENGTH


def run(text: str, dialect: Dialect | None = None, **variables: object) -> object:
    return evaluate(parse_expression(text, dialect), variables)


@pytest.mark.parametrize(
    "text",
    [
        "${x.__class__}",
        "${''.__class__.__mro__}",
        "${x.__class__.__subclasses__()}",
        "${x.getClass().forName('java.lang.Runtime')}",
        "${''.join}",
        "${x.__dict__}",
    ],
)
def test_juel_cannot_reach_python_attributes(text: str):
    with pytest.raises(EvaluationError):
        run(text, x="s")


@pytest.mark.parametrize(
    "text",
    [
        "x.__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "x.__globals__",
        "(1).real",
        "__import__('os').system('true')",
        "eval('1')",
        "exec('x = 1')",
        "getattr(x, '__class__')",
        "open('/etc/passwd')",
        "x.format",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "type(x)",
        "compile('1', 'f', 'eval')",
    ],
)
def test_python_dialect_cannot_reach_python_objects_or_builtins(text: str):
    try:
        expr = parse_expression(text, Dialect.PYTHON)
    except ExpressionError:
        return
    with pytest.raises(EvaluationError):
        evaluate(expr, {"x": "s"})


@pytest.mark.parametrize("text", ["=x.__class__", '="".__class__.__mro__', "=x.__dict__"])
def test_feel_attribute_lookups_on_values_are_null(text: str):
    assert run(text, x="s") is None


def test_dunder_names_are_only_dict_keys():
    assert run("${d.__class__}", d={"__class__": 1}) == 1


def test_import_and_lambda_are_syntax_errors_in_python():
    for text in ("import os", "lambda: 1", "x := 1"):
        with pytest.raises(ExpressionError):
            parse_expression(text, Dialect.PYTHON)


def test_text_longer_than_the_limit_is_refused():
    with pytest.raises(ExpressionError, match="longer than"):
        parse_expression("1" + " + 1" * MAX_TEXT_LENGTH, Dialect.PYTHON)
    with pytest.raises(ExpressionError, match="longer than"):
        parse_script("x = 1\n" * MAX_TEXT_LENGTH, Dialect.PYTHON)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 500 + "1" + ")" * 500,
        "[" * 500 + "]" * 500,
        "-" * 500 + "1",
        "not " * 500 + "x",
        "2 ** " * 500 + "2",
        "1" + " + 1" * 500,
        "a" + ".b" * 500,
        "f(" * 500 + ")" * 500,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text: str):
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse_expression(text, Dialect.PYTHON)


def test_deep_nesting_in_juel_and_feel_is_refused_too():
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse_expression("${" + "!" * 300 + "x}")
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse_expression("=" + "if a then " * 200 + "1" + " else 2" * 200)


def test_moderate_nesting_is_fine():
    depth = MAX_NESTING // 3
    assert run("(" * depth + "1" + ")" * depth, Dialect.PYTHON) == 1


def test_deeply_nested_input_values_fail_cleanly():
    def nested() -> object:
        value: object = []
        for _ in range(100_000):
            value = [value]
        return value

    with pytest.raises(EvaluationError):
        run("x == y", Dialect.PYTHON, x=nested(), y=nested())
    with pytest.raises(EvaluationError):
        run("str(x)", Dialect.PYTHON, x=nested())


@pytest.mark.parametrize(
    "text",
    ["2 ** 100000", "10 ** 10 ** 10", "(2 ** 4000) * (2 ** 4000)", "9 ** 9999"],
)
def test_exponentiation_is_capped(text: str):
    with pytest.raises(LimitExceeded):
        run(text, Dialect.PYTHON)


def test_float_overflow_is_an_error_not_infinity():
    with pytest.raises(EvaluationError):
        run("10.0 ** 400", Dialect.PYTHON)
    assert run("=10.0 ** 400") is None
    with pytest.raises(EvaluationError):
        run("(-8) ** 0.5", Dialect.PYTHON)


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("'a' * 10 ** 7", {}),
        ("[0] * 10 ** 7", {}),
        ("s + s", {"s": "x" * 600_000}),
        ("xs + xs", {"xs": [0] * 600_000}),
    ],
)
def test_string_and_list_growth_is_capped(text: str, variables: dict[str, object]):
    with pytest.raises(LimitExceeded):
        run(text, Dialect.PYTHON, **variables)


def test_feel_string_growth_is_capped_and_not_turned_into_null():
    with pytest.raises(LimitExceeded):
        run("=s + s", s="x" * 600_000)
    with pytest.raises(LimitExceeded):
        run('=string join(for i in 1..100 return s, "")', s="x" * 20_000)


def test_juel_template_growth_is_capped():
    with pytest.raises(LimitExceeded):
        run("${s}${s}", s="x" * 600_000)


@pytest.mark.parametrize(
    "text",
    [
        "=for i in 1..100000000 return i",
        "=some i in 1..100000000 satisfies i < 0",
        "=count(for i in 1..10000 return for j in 1..10000 return j)",
        "=every x in for i in 1..100000000 return i satisfies x > 0",
    ],
)
def test_loops_are_stopped_by_the_step_budget(text: str):
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="steps"):
        run(text)
    assert time.monotonic() - started < 10


def test_python_comprehension_over_a_huge_list_is_stopped():
    with pytest.raises(LimitExceeded, match="steps"):
        run("[x for x in xs for y in xs]", Dialect.PYTHON, xs=list(range(1000)))


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a*)*b", "(a|aa)*b", "(x+x+)+y", r"(\w+\s?)+$", r"(a)\1"],
)
def test_catastrophic_regular_expressions_are_refused(pattern: str):
    with pytest.raises(LimitExceeded):
        run("=matches(s, p)", s="a" * 40, p=pattern)


def test_long_regular_expressions_are_refused():
    with pytest.raises(LimitExceeded, match="longer than"):
        run("=matches(s, p)", s="a", p="a" * 1000)


def test_regular_expression_input_is_capped_by_pattern_shape():
    with pytest.raises(LimitExceeded, match="too long"):
        run("=matches(s, p)", s="1" * 3000, p=r".*x.*y")
    assert run("=matches(s, p)", s="1" * 3000, p=r"^\d+$") is True


def test_number_literals_cannot_be_huge():
    with pytest.raises(ExpressionError):
        parse_expression("1" * 5000, Dialect.PYTHON)
    with pytest.raises(ExpressionError, match="out of range"):
        parse_expression("1e999", Dialect.PYTHON)


def test_int_conversion_of_huge_text_is_an_error():
    with pytest.raises(EvaluationError):
        run("int(s)", Dialect.PYTHON, s="9" * 5000)


def test_script_cannot_escape_either():
    script = parse_script("x = ''.__class__\n", Dialect.PYTHON)
    with pytest.raises(EvaluationError):
        run_script(script, {})
    with pytest.raises(LimitExceeded):
        run_script(parse_script("s = 'a'\ns = s * 2000000", Dialect.PYTHON), {})
