"""Python-style conditions (SpiffWorkflow), read by our own parser."""

from __future__ import annotations

import pytest

from bpmn.expr import Dialect, EvaluationError, evaluate, parse_expression


def run(text: str, **variables: object) -> object:
    return evaluate(parse_expression(text, Dialect.PYTHON), variables)


def test_bare_text_without_a_language_is_python():
    assert parse_expression("amount > 1000 and approved").dialect is Dialect.PYTHON


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a and b > 3", True),
        ("not x", False),
        ("x == 1", True),
        ("x != 1", False),
        ("True", True),
        ("False", False),
        ("None", None),
        ("1 < x < 3", False),
        ("0 < x < 3", True),
        ("x is None", False),
        ("x is not None", True),
        ("x in [1, 2]", True),
        ("x not in [1, 2]", False),
        ("'b' in 'abc'", True),
        ("'k' in {'k': 1}", True),
        ("'yes' if x else 'no'", "yes"),
    ],
)
def test_logic_comparisons_membership_and_conditional(text: str, expected: object):
    assert run(text, a=True, b=5, x=1) == expected


def test_and_or_return_operands_like_python():
    assert run("a or 'default'", a="") == "default"
    assert run("a and b", a=1, b=2) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("-2 ** 2", -4),
        ("'ab' * 2", "abab"),
        ("[1] + [2]", [1, 2]),
        ("'a' + 'b'", "ab"),
    ],
)
def test_arithmetic(text: str, expected: object):
    assert run(text) == expected


def test_containers_subscripts_attributes_and_slices():
    assert run("d['k']", d={"k": 1}) == 1
    assert run("d.k", d={"k": 1}) == 1
    assert run("xs[-1]", xs=[1, 2]) == 2
    assert run("xs[1:]", xs=[1, 2, 3]) == [2, 3]
    assert run("{'a': 1, 'b': [1, 2]}") == {"a": 1, "b": [1, 2]}
    assert run("(1, 2)") == [1, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("len(xs)", 3),
        ("str(1)", "1"),
        ("int('4')", 4),
        ("float('1.5')", 1.5),
        ("bool(0)", False),
        ("abs(-1)", 1),
        ("min(xs)", 1),
        ("max(1, 5)", 5),
        ("sum(xs)", 6),
        ("sorted([3, 1])", [1, 3]),
        ("round(2.567, 2)", 2.57),
        ("any(x > 2 for x in xs)", True),
        ("all([True, 1])", True),
        ("[x * 2 for x in xs if x > 1]", [4, 6]),
        ("d.get('k', 0)", 0),
        ("'Ab'.lower()", "ab"),
    ],
)
def test_builtins_and_comprehensions(text: str, expected: object):
    assert run(text, xs=[1, 2, 3], d={}) == expected


def test_unknown_variable_is_an_error():
    with pytest.raises(EvaluationError, match="unknown variable 'x'"):
        run("x > 1")


def test_division_by_zero_and_type_errors_raise():
    with pytest.raises(EvaluationError, match="division by zero"):
        run("1 / 0")
    with pytest.raises(EvaluationError):
        run("1 < 'a'")
    with pytest.raises(EvaluationError):
        run("'a' + 1")


def test_unknown_functions_raise_naming_the_function():
    expr = parse_expression("'x' in vars() or 'x' in globals()", Dialect.PYTHON)
    with pytest.raises(EvaluationError, match="unknown function 'vars'"):
        evaluate(expr, {})
