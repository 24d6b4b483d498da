"""Scripts of assignments (script tasks): parse_script and run_script."""

from __future__ import annotations

import pytest

from bpmn.expr import (
    Dialect,
    EvaluationError,
    ExpressionError,
    parse_script,
    run_script,
    script_dialect,
)


def run(text: str, dialect: Dialect, **variables: object) -> dict[str, object]:
    return run_script(parse_script(text, dialect), variables)


def test_assignments_run_in_order_and_return_what_they_set():
    result = run("counter = counter + 1\nx = a\ny = x * 2", Dialect.PYTHON, counter=1, a=5)
    assert result == {"counter": 2, "x": 5, "y": 10}
    assert list(result) == ["counter", "x", "y"]


def test_augmented_assignment():
    assert run("n += 2\nn *= 3", Dialect.PYTHON, n=1) == {"n": 9}
    assert run("s += '!'", Dialect.PYTHON, s="hi") == {"s": "hi!"}


def test_blank_lines_comments_and_semicolons():
    text = "# set up\n\n// groovy comment\na = 1;\nb = a + 1; c = 'x;y'\n"
    assert run(text, Dialect.JUEL) == {"a": 1, "b": 2, "c": "x;y"}


def test_groovy_and_javascript_declarations():
    assert run("def total = 2 * 3\nvar ok = total > 5 && true", Dialect.JUEL) == {
        "total": 6,
        "ok": True,
    }


def test_juel_scripts_may_be_wrapped_or_call_set_variable():
    text = '${x = 1}\nexecution.setVariable("y", x + 1)\n${execution.setVariable(\'z\', "a")}'
    assert run(text, Dialect.JUEL) == {"x": 1, "y": 2, "z": "a"}


def test_feel_script_lines_assign_with_the_first_equals_sign():
    assert run('ok = x = "a"', Dialect.FEEL, x="a") == {"ok": True}


def test_input_variables_are_not_changed():
    variables = {"n": 1}
    run_script(parse_script("n = n + 1", Dialect.PYTHON), variables)
    assert variables == {"n": 1}


def test_a_line_that_is_not_an_assignment_is_a_syntax_error_with_position():
    with pytest.raises(ExpressionError) as caught:
        parse_script("a = 1\nprint(a)", Dialect.PYTHON)
    assert caught.value.position == 6
    assert "line 2" in str(caught.value)


def test_syntax_error_in_a_value_points_into_the_line():
    with pytest.raises(ExpressionError) as caught:
        parse_script("a = 1\nb = (1 +", Dialect.PYTHON)
    assert caught.value.position == 14


def test_evaluation_errors_name_the_line():
    with pytest.raises(EvaluationError, match="line 2: unknown variable 'nope'"):
        run("a = 1\nb = nope", Dialect.PYTHON)


def test_script_dialect_from_script_format():
    assert script_dialect("python") is Dialect.PYTHON
    assert script_dialect("groovy") is Dialect.JUEL
    assert script_dialect("javascript") is Dialect.JUEL
    assert script_dialect("feel") is Dialect.FEEL


def test_a_bare_expression_line_becomes_the_result_variable():
    script = parse_script("a + b", Dialect.JUEL, result_variable="sum")
    assert run_script(script, {"a": 1, "b": 2}) == {"sum": 3}


def test_a_bare_expression_line_without_result_variable_is_refused():
    with pytest.raises(ExpressionError):
        parse_script("a + b", Dialect.JUEL)
