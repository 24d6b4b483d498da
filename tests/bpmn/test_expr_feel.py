"""FEEL (Camunda 8 / Zeebe) expressions: text starting with '='."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bpmn.expr import (
    Dialect,
    EvaluationError,
    YearsMonths,
    evaluate,
    parse_expression,
)


def run(text: str, **variables: object) -> object:
    return evaluate(parse_expression(text), variables)


def test_equality_is_a_single_equals_sign():
    assert run('= x = "a"', x="a") is True
    assert run("=conditionVariable=false", conditionVariable=False) is True
    assert run('= x != "a"', x="b") is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1 < 2", True),
        ("=2 > 3", False),
        ("=2 <= 2", True),
        ("=3 >= 4", False),
        ("=1 + 2 * 3", 7),
        ("=(1 + 2) * 3", 9),
        ("=7 / 2", 3.5),
        ("=6 / 2", 3),
        ("=2 ** 10", 1024),
        ("=-3 + 1", -2),
        ('="a" + "b"', "ab"),
    ],
)
def test_comparison_and_arithmetic(text: str, expected: object):
    assert run(text) == expected


def test_three_valued_logic():
    assert run("=true and false") is False
    assert run("=false or true") is True
    assert run("=null and false") is False
    assert run("=null and true") is None
    assert run("=null or true") is True
    assert run("=not(approved)", approved=False) is True
    assert run("=not(1)") is None


def test_if_then_else():
    assert run('=if amount > 100 then "big" else "small"', amount=500) == "big"
    assert run('=if x then "yes" else "no"', x=None) == "no"


def test_lists_contexts_and_paths():
    assert run("=[1, 2, 3]") == [1, 2, 3]
    assert run('={a: 1, "b c": 2}') == {"a": 1, "b c": 2}
    assert run("={a: 1, b: a + 1}.b") == 2
    assert run("=order.customer.name", order={"customer": {"name": "Ada"}}) == "Ada"
    assert run("=orders.price", orders=[{"price": 1}, {"price": 2}]) == [1, 2]


def test_list_index_is_one_based_and_negative_counts_from_the_end():
    assert run("=xs[1]", xs=["a", "b", "c"]) == "a"
    assert run("=xs[-1]", xs=["a", "b", "c"]) == "c"
    assert run("=xs[4]", xs=["a", "b", "c"]) is None


def test_filter_keeps_items_where_the_condition_holds():
    assert run("=xs[item > 1]", xs=[1, 2, 3]) == [2, 3]
    people = [{"age": 17, "n": "a"}, {"age": 30, "n": "b"}]
    assert run("=people[age >= 18].n", people=people) == ["b"]


def test_in_between_and_ranges():
    assert run("=x in [1, 2]", x=2) is True
    assert run("=x in (1, 2)", x=3) is False
    assert run("=x in [1..10]", x=10) is True
    assert run("=x in (1..10)", x=10) is False
    assert run("=x in (< 5, > 10)", x=11) is True
    assert run("=x between 1 and 10", x=5) is True


def test_for_some_every():
    assert run("=for x in [1, 2, 3] return x * 2") == [2, 4, 6]
    assert run("=for i in 1..3 return i") == [1, 2, 3]
    assert run("=for x in [1, 2], y in [10, 20] return x + y") == [11, 21, 12, 22]
    assert run('= some risk in riskLevels satisfies risk = "red"', riskLevels=["red"]) is True
    assert (
        run('= every risk in riskLevels satisfies risk = "red"', riskLevels=["red", "x"]) is False
    )


def test_unknown_variable_is_null():
    assert run("=missing") is None
    assert run("=missing > 1") is None


def test_type_errors_and_division_by_zero_are_null():
    assert run("=1 / 0") is None
    assert run('=1 < "a"') is None
    assert run('=1 = "1"') is None
    assert run('="a" + 1') is None


def test_unknown_function_is_an_error_naming_it():
    with pytest.raises(EvaluationError, match="unknown function 'frobnicate'"):
        run("=frobnicate(1)")


def test_names_may_contain_spaces():
    assert run('=Vacation Approval = "Approved"', **{"Vacation Approval": "Approved"}) is True


def test_temporal_functions_and_literals():
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert run('=date("2026-01-01")') == date(2026, 1, 1)
    assert run('=date("2026-01-31") + duration("P1M")') == date(2026, 2, 28)
    assert run('=date and time("2026-01-01T10:00:00") + duration("PT1H")') == datetime(
        2026, 1, 1, 11
    )
    assert run('=duration("P1DT2H")') == timedelta(days=1, hours=2)
    assert run('=@"P1Y2M"') == YearsMonths(14)
    assert run('=@"2026-01-01" < @"2026-02-01"') is True
    assert run('=date("2026-05-17").month') == 5
    assert evaluate(parse_expression("=now()"), {}, now=now) == now
    assert evaluate(parse_expression("=today()"), {}, now=now) == date(2026, 3, 1)
    assert run('=years and months duration(date("2020-01-15"), date("2021-03-14"))') == YearsMonths(
        13
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=string length("abc")', 3),
        ('=substring("foobar", 3)', "obar"),
        ('=substring("foobar", -2, 1)', "a"),
        ('=upper case("a")', "A"),
        ('=lower case("A")', "a"),
        ('=contains("foobar", "ob")', True),
        ('=starts with("foobar", "fo")', True),
        ('=ends with("foobar", "ar")', True),
        ('=matches("foobar", "^fo+")', True),
        ('=replace("abc", "b", "[$0]")', "a[b]c"),
        ('=split("a,b", ",")', ["a", "b"]),
        ('=string join(["a", "b"], "-")', "a-b"),
        ("=string(1.5)", "1.5"),
        ('=number("42")', 42),
        ("=list contains([1, 2], 2)", True),
        ("=count([1, 2])", 2),
        ("=min([3, 1])", 1),
        ("=max(3, 1)", 3),
        ("=sum([1, 2, 3])", 6),
        ("=mean([1, 2, 3])", 2),
        ("=all([true, true])", True),
        ("=any([false, true])", True),
        ("=sublist([1, 2, 3], 2)", [2, 3]),
        ("=append([1], 2)", [1, 2]),
        ("=concatenate([1], [2])", [1, 2]),
        ("=distinct values([1, 1, 2])", [1, 2]),
        ("=flatten([[1, [2]], 3])", [1, 2, 3]),
        ("=sort([3, 1, 2])", [1, 2, 3]),
        ("=reverse([1, 2])", [2, 1]),
        ("=index of([1, 2, 1], 1)", [1, 3]),
        ("=is defined(x)", True),
        ("=is defined(nope)", False),
        ("=get or else(null, 1)", 1),
        ('=get value({a: 1}, "a")', 1),
        ('=context put({}, "a", 1)', {"a": 1}),
        ("=abs(-2)", 2),
        ("=floor(1.5)", 1),
        ("=ceiling(1.2)", 2),
        ("=round up(-1.2)", -2),
        ("=round down(1.7)", 1),
        ("=decimal(1.234, 2)", 1.23),
        ("=modulo(-5, 3)", 1),
        ("=odd(3)", True),
        ("=even(3)", False),
    ],
)
def test_builtin_functions(text: str, expected: object):
    assert run(text, x=1) == expected


def test_xpath_get_data_object_reads_the_variable():
    expr = parse_expression(
        "bpmn:getDataObject('clarified') = 'no'", expression_language="http://www.w3.org/1999/XPath"
    )
    assert expr.dialect is Dialect.FEEL
    assert expr.variables == frozenset({"clarified"})
    assert evaluate(expr, {"clarified": "no"}) is True


def test_comments_are_ignored():
    assert run("=1 + /* two */ 2 // three") == 3
