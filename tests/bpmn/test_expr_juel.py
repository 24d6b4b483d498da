"""JUEL (Camunda 7, Flowable, Activiti) conditions: ${...} and #{...} templates."""

from __future__ import annotations

import pytest

from bpmn.expr import Dialect, EvaluationError, evaluate, parse_expression


def run(text: str, **variables: object) -> object:
    return evaluate(parse_expression(text), variables)


def test_single_template_evaluates_to_the_value_itself():
    assert run("${amount > 1000}", amount=1500) is True
    assert run("#{x}", x=[1, 2]) == [1, 2]
    assert run("  ${ foo }\n", foo=3) == 3


def test_composite_template_is_a_string_concatenation():
    assert run("Hello ${name}!", name="Ada") == "Hello Ada!"
    assert run("${a}-${b}", a=1, b=None) == "1-"
    assert run("${flag} and ${n}", flag=True, n=2.5) == "true and 2.5"


def test_text_without_placeholders_is_a_literal_string():
    assert evaluate(parse_expression("plain text", Dialect.JUEL), {}) == "plain text"


def test_escaped_placeholder_stays_literal():
    assert evaluate(parse_expression(r"cost \${x}", Dialect.JUEL), {}) == "cost ${x}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 == 1}", True),
        ("${1 eq 1}", True),
        ("${1 != 2}", True),
        ("${1 ne 1}", False),
        ("${1 < 2}", True),
        ("${2 lt 1}", False),
        ("${2 > 1}", True),
        ("${1 gt 2}", False),
        ("${1 <= 1}", True),
        ("${2 le 1}", False),
        ("${1 >= 1}", True),
        ("${0 ge 1}", False),
    ],
)
def test_comparison_operators_and_their_word_forms(text: str, expected: bool):
    assert run(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${true && false}", False),
        ("${true and true}", True),
        ("${false || true}", True),
        ("${false or false}", False),
        ("${!true}", False),
        ("${not false}", True),
        ("${!approved}", False),
    ],
)
def test_logical_operators(text: str, expected: bool):
    assert run(text, approved=True) is expected


def test_logical_operators_short_circuit_past_unknown_variables():
    assert run("${false && missing}") is False
    assert run("${true || missing}") is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 + 2}", 3),
        ("${5 - 7}", -2),
        ("${3 * 4}", 12),
        ("${7 / 2}", 3.5),
        ("${7 div 2}", 3.5),
        ("${7 % 3}", 1),
        ("${7 mod 3}", 1),
        ("${-7 % 3}", -1),
        ("${-x}", -4),
        ("${'2' + 3}", 5),
    ],
)
def test_arithmetic_follows_el_rules(text: str, expected: object):
    assert run(text, x=4) == expected


def test_empty_operator():
    assert run("${empty a}", a="") is True
    assert run("${empty a}", a=None) is True
    assert run("${empty a}", a=[1]) is False
    assert run("${not empty a}", a={}) is False


def test_ternary():
    assert run("${x > 1 ? 'big' : 'small'}", x=2) == "big"
    assert run("${x > 1 ? 'big' : x == 1 ? 'one' : 'small'}", x=1) == "one"


def test_strings_in_single_or_double_quotes_and_literals():
    assert run("${a == 'x' && b == \"y\"}", a="x", b="y") is True
    assert run("${device!='fail'}", device="ok") is True
    assert run("${null == x}", x=None) is True


def test_member_and_index_access_read_dict_keys_and_list_items():
    orders = [{"price": 10}, {"price": 150}]
    assert run("${orders[1].price <= 200}", orders=orders) is True
    assert run("${content.output['break']}", content={"output": {"break": 1}}) == 1
    assert run("${m.missing}", m={}) is None
    assert run("${xs[5]}", xs=[1]) is None


def test_el_coerces_between_strings_numbers_and_booleans_when_comparing():
    assert run("${x == 5}", x="5") is True
    assert run("${flag == 'true'}", flag=True) is True
    assert run("${x < 10}", x="9") is True


def test_unknown_variable_is_an_error_naming_it():
    with pytest.raises(EvaluationError, match="unknown variable 'amount'"):
        run("${amount > 1}")


def test_division_by_zero_is_an_error():
    with pytest.raises(EvaluationError, match="division by zero"):
        run("${1 / 0}")


def test_incompatible_comparison_is_an_error():
    with pytest.raises(EvaluationError):
        run("${x < 1}", x=[1])


def test_execution_get_variable_reads_the_variable():
    expr = parse_expression('${execution.getVariable("x") > 1}')
    assert evaluate(expr, {"x": 5}) is True
    assert expr.variables == frozenset({"x"})
    assert run("${execution.getVariable('nope')}") is None
    assert run("${execution.hasVariable('x')}", x=1) is True


def test_camunda_bean_and_builtin_calls_parse_but_unknown_ones_fail_naming_the_function():
    for text in (
        '${execution.setVariable("x", 1)}',
        "${myBean.approve(order)}",
        "${dateTime().plusDays(1)}",
        '${customer.prop("age").numberValue() < 21}',
    ):
        parse_expression(text)
    with pytest.raises(EvaluationError, match=r"myBean\.approve"):
        run("${myBean.approve(order)}", order={})
    with pytest.raises(EvaluationError, match=r"execution\.setVariable"):
        run('${execution.setVariable("x", 1)}')
    with pytest.raises(EvaluationError, match="'prop'"):
        run('${customer.prop("age")}', customer={"age": 3})


def test_now_and_date_time_use_the_given_clock():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert evaluate(parse_expression("${now()}"), {}, now=now) == now
    later = evaluate(parse_expression("${dateTime().plusDays(1)}"), {}, now=now)
    assert later == datetime(2026, 2, 1, 12, tzinfo=UTC)
    month = evaluate(parse_expression("${dateTime().plusMonths(1)}"), {}, now=now)
    assert month == datetime(2026, 2, 28, 12, tzinfo=UTC)


def test_whitelisted_java_style_methods_on_values():
    assert run("${name.length() > 2}", name="Ada") is True
    assert run("${name.equals('Ada')}", name="Ada") is True
    assert run("${items.size() == 2 && items.contains(2)}", items=[1, 2]) is True
    assert run("${m.containsKey('a')}", m={"a": 1}) is True


def test_variables_lists_the_free_names():
    expr = parse_expression("${a > 1 && b.c == d[0]} and ${e}")
    assert expr.variables == frozenset({"a", "b", "d", "e"})
