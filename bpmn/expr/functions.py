"""The one registry of functions and value methods that expressions may call."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import NoneType

from .dialect import Dialect
from .errors import (
    MAX_MATCH_INPUT,
    MAX_PATTERN_LENGTH,
    MAX_SIZE,
    LimitExceeded,
    SoftError,
)
from .operators import arithmetic, compare, equals, truthy
from .values import (
    RangeValue,
    YearsMonths,
    add_months,
    category,
    check_number,
    check_size,
    feel_string,
    int_if_whole,
    is_number,
    now_in,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_time,
)

FEEL, JUEL, PYTHON = Dialect.FEEL, Dialect.JUEL, Dialect.PYTHON


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a function may know about the evaluation: the dialect and the clock."""

    dialect: Dialect
    now: datetime | None


Impl = Callable[..., object]


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    impl: Impl
    min_args: int
    max_args: int | None  # None: any number


_REGISTRY: dict[tuple[Dialect, str], Function] = {}


def _register(
    names: str | tuple[str, ...],
    *dialects: Dialect,
    args: tuple[int, int | None] = (1, 1),
) -> Callable[[Impl], Impl]:
    def decorate(impl: Impl) -> Impl:
        for name in (names,) if isinstance(names, str) else names:
            for dialect in dialects:
                _REGISTRY[(dialect, name)] = Function(name, impl, args[0], args[1])
        return impl

    return decorate


def lookup_function(dialect: Dialect, name: str) -> Function | None:
    return _REGISTRY.get((dialect, name))


def function_names(dialect: Dialect) -> frozenset[str]:
    return frozenset(name for (d, name) in _REGISTRY if d is dialect)


# --- argument checks --------------------------------------------------------------------


def _string(value: object, what: str = "argument") -> str:
    if not isinstance(value, str):
        raise SoftError(f"{what} must be a string, got {category(value)}")
    return value


def _number(value: object, what: str = "argument") -> int | float:
    if not is_number(value):
        raise SoftError(f"{what} must be a number, got {category(value)}")
    return value  # type: ignore[return-value]


def _integer(value: object, what: str = "argument") -> int:
    number = _number(value, what)
    if isinstance(number, float):
        if not number.is_integer():
            raise SoftError(f"{what} must be a whole number")
        return int(number)
    return number


def _list(value: object, what: str = "argument") -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, RangeValue) and isinstance(value.low, int) and isinstance(value.high, int):
        return list(_range_items(value))
    raise SoftError(f"{what} must be a list, got {category(value)}")


def _range_items(rng: RangeValue) -> range:
    low, high = rng.low, rng.high
    assert isinstance(low, int) and isinstance(high, int)  # noqa: S101 - checked by caller
    step = 1 if high >= low else -1
    start = low if rng.low_closed else low + step
    stop = high + step if rng.high_closed else high
    if abs(stop - start) > MAX_SIZE:
        raise LimitExceeded(f"range too large (over {MAX_SIZE:,} items)")
    return range(start, stop, step)


def _items(args: tuple[object, ...]) -> list[object]:
    """min(list) and min(a, b, c) both work, as in FEEL and Python."""
    if len(args) == 1 and isinstance(args[0], list | RangeValue):
        return _list(args[0])
    return list(args)


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: re.Pattern[str]
    max_input: int

    def text(self, value: object) -> str:
        text = _string(value, "input")
        if len(text) > self.max_input:
            raise LimitExceeded(
                f"text of {len(text):,} characters is too long for this regular expression "
                f"(limit {self.max_input:,})"
            )
        return text


# Python's backtracking regex engine can take time polynomial in the input, with a degree
# that grows with each unbounded quantifier (.*x.*y is cubic), so the longer the pattern's
# list of unbounded quantifiers, the shorter the text it may run on.
_INPUT_LIMITS = (MAX_MATCH_INPUT, 5_000, 1_000, 200)


def _checked_regex(pattern: object, flags: object = None) -> _Regex:
    text = _string(pattern, "pattern")
    if len(text) > MAX_PATTERN_LENGTH:
        raise LimitExceeded(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    unbounded = _refuse_catastrophic(text)
    options = 0
    for flag in _string(flags, "flags") if flags is not None else "":
        options |= {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}.get(
            flag, 0
        )
    try:
        compiled = re.compile(text, options)
    except (re.error, OverflowError, RecursionError) as exc:
        raise SoftError(f"invalid regular expression: {exc}") from exc
    return _Regex(compiled, _INPUT_LIMITS[min(unbounded, len(_INPUT_LIMITS) - 1)])


def _refuse_catastrophic(pattern: str) -> int:
    """Refuse the shapes that make a backtracking engine take exponential time: back-references,
    a quantified group holding a quantifier, (a+)+, or an alternation, (a|aa)*.

    Returns how many unbounded quantifiers (*, +, {n,} or {n,m} with m > 10) the pattern has.
    """
    if re.search(r"\\[1-9]|\(\?P=|\\k<|\\g<", pattern):
        raise LimitExceeded("back-references are not allowed in regular expressions")
    stack: list[bool] = []  # per open group: does it contain a quantifier or alternation?
    i = 0
    unbounded = 0
    quantifiers = "*+?{"
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")":
            inner = stack.pop() if stack else False
            quantified = i + 1 < len(pattern) and pattern[i + 1] in quantifiers
            if inner and quantified:
                raise LimitExceeded(
                    "a repeated group may not hold a quantifier or '|' in a regular expression"
                )
            if stack and (inner or quantified):
                stack[-1] = True
        elif ch == "|" and stack:
            stack[-1] = True
        elif ch in quantifiers and i > 0 and pattern[i - 1] != "(":
            if stack:
                stack[-1] = True
            unbounded += _is_unbounded(pattern, i)
        i += 1
    return unbounded


def _is_unbounded(pattern: str, i: int) -> int:
    ch = pattern[i]
    if ch in "*+":
        return 1 if i == 0 or pattern[i - 1] not in "*+?}" else 0  # a*? or a++ is one
    if ch == "{":
        close = pattern.find("}", i)
        body = pattern[i + 1 : close] if close > 0 else ""
        _low, comma, high = body.partition(",")
        upper = high.strip()
        bounded = upper.isascii() and upper.isdigit() and len(upper) < 6 and int(upper) <= 10
        if comma and not bounded:
            return 1
    return 0


# --- FEEL: conversion and temporal ------------------------------------------------------


@_register("now", FEEL, JUEL, PYTHON, args=(0, 0))
def _now(ctx: CallContext) -> object:
    return now_in(ctx.now)


@_register("dateTime", JUEL, args=(0, 0))
def _date_time(ctx: CallContext) -> object:
    return now_in(ctx.now)


@_register("today", FEEL, args=(0, 0))
def _today(ctx: CallContext) -> object:
    return now_in(ctx.now).date()


@_register("date", FEEL, args=(1, 3))
def _date(ctx: CallContext, *args: object) -> object:
    if len(args) == 3:
        try:
            return date(*(_integer(arg) for arg in args))
        except ValueError as exc:
            raise SoftError(f"not a date: {exc}") from exc
    if len(args) != 1:
        raise SoftError("date() takes a string, a date, or year, month, day")
    value = args[0]
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_date(_string(value))


@_register("date and time", FEEL, args=(1, 2))
def _date_and_time(ctx: CallContext, value: object, clock: object = None) -> object:
    if clock is not None:
        if isinstance(value, date) and isinstance(clock, time):
            day = value.date() if isinstance(value, datetime) else value
            return datetime.combine(day, clock)
        raise SoftError("date and time(date, time) needs a date and a time")
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    return parse_datetime(_string(value))


@_register("time", FEEL, args=(1, 4))
def _time(ctx: CallContext, *args: object) -> object:
    if len(args) >= 3:
        try:
            seconds = _number(args[2])
            return time(_integer(args[0]), _integer(args[1]), int(seconds))
        except ValueError as exc:
            raise SoftError(f"not a time: {exc}") from exc
    value = args[0]
    if isinstance(value, datetime):
        return value.timetz()
    if isinstance(value, time):
        return value
    return parse_time(_string(value))


@_register("duration", FEEL, args=(1, 1))
def _duration(ctx: CallContext, value: object) -> object:
    return parse_duration(_string(value))


@_register("years and months duration", FEEL, args=(2, 2))
def _years_months(ctx: CallContext, start: object, end: object) -> object:
    if not isinstance(start, date) or not isinstance(end, date):
        raise SoftError("years and months duration needs two dates")
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and end.day < start.day:
        months -= 1
    elif months < 0 and end.day > start.day:
        months += 1
    return YearsMonths(months)


@_register("string", FEEL, args=(1, 1))
def _feel_string(ctx: CallContext, value: object) -> object:
    return check_size(feel_string(value))


@_register("number", FEEL, args=(1, 3))
def _feel_number(
    ctx: CallContext, value: object, group: object = None, dec: object = None
) -> object:
    text = _string(value).strip()
    if isinstance(group, str):
        text = text.replace(group, "")
    if isinstance(dec, str):
        text = text.replace(dec, ".")
    if len(text) > 400:
        raise SoftError("number too long")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return check_number(float(text))
    except ValueError as exc:
        raise SoftError(f"not a number: {text[:40]!r}") from exc


@_register("not", FEEL, args=(1, 1))
def _not(ctx: CallContext, value: object) -> object:
    return (not value) if isinstance(value, bool) else None


# --- FEEL: strings ----------------------------------------------------------------------


@_register("string length", FEEL)
def _string_length(ctx: CallContext, value: object) -> object:
    return len(_string(value))


@_register("substring", FEEL, args=(2, 3))
def _substring(ctx: CallContext, value: object, start: object, length: object = None) -> object:
    text = _string(value)
    first = _integer(start, "start position")
    index = first - 1 if first > 0 else len(text) + first
    index = max(index, 0)
    if length is None:
        return text[index:]
    return text[index : index + max(_integer(length, "length"), 0)]


@_register("substring before", FEEL, args=(2, 2))
def _substring_before(ctx: CallContext, value: object, match: object) -> object:
    text, needle = _string(value), _string(match)
    at = text.find(needle)
    return "" if at < 0 else text[:at]


@_register("substring after", FEEL, args=(2, 2))
def _substring_after(ctx: CallContext, value: object, match: object) -> object:
    text, needle = _string(value), _string(match)
    at = text.find(needle)
    return "" if at < 0 else text[at + len(needle) :]


@_register("upper case", FEEL)
def _upper(ctx: CallContext, value: object) -> object:
    return check_size(_string(value).upper())


@_register("lower case", FEEL)
def _lower(ctx: CallContext, value: object) -> object:
    return check_size(_string(value).lower())


@_register("contains", FEEL, args=(2, 2))
def _contains(ctx: CallContext, value: object, match: object) -> object:
    return _string(match) in _string(value)


@_register("starts with", FEEL, args=(2, 2))
def _starts_with(ctx: CallContext, value: object, match: object) -> object:
    return _string(value).startswith(_string(match))


@_register("ends with", FEEL, args=(2, 2))
def _ends_with(ctx: CallContext, value: object, match: object) -> object:
    return _string(value).endswith(_string(match))


@_register("matches", FEEL, args=(2, 3))
def _matches(ctx: CallContext, value: object, pattern: object, flags: object = None) -> object:
    regex = _checked_regex(pattern, flags)
    return regex.pattern.search(regex.text(value)) is not None


@_register("replace", FEEL, args=(3, 4))
def _replace(
    ctx: CallContext, value: object, pattern: object, replacement: object, flags: object = None
) -> object:
    regex = _checked_regex(pattern, flags)
    # FEEL (like XPath) writes group references as $1; Python wants \g<1>.
    template = re.sub(r"\$(\d)", r"\\g<\1>", _string(replacement).replace("\\", "\\\\"))
    try:
        return check_size(regex.pattern.sub(template, regex.text(value)))
    except (re.error, IndexError) as exc:
        raise SoftError(f"invalid replacement: {exc}") from exc


@_register("split", FEEL, args=(2, 2))
def _split(ctx: CallContext, value: object, delimiter: object) -> object:
    regex = _checked_regex(delimiter)
    return regex.pattern.split(regex.text(value))


@_register("string join", FEEL, args=(1, 4))
def _string_join(
    ctx: CallContext,
    items: object,
    delimiter: object = None,
    prefix: object = None,
    suffix: object = None,
) -> object:
    parts = [_string(item, "list item") for item in _list(items) if item is not None]
    sep = "" if delimiter is None else _string(delimiter, "delimiter")
    start = "" if prefix is None else _string(prefix)
    end = "" if suffix is None else _string(suffix)
    total = sum(len(part) for part in parts) + len(sep) * len(parts) + len(start) + len(end)
    if total > MAX_SIZE:
        raise LimitExceeded(f"result too large (over {MAX_SIZE:,} characters)")
    return start + sep.join(parts) + end


# --- FEEL: lists ------------------------------------------------------------------------


@_register("list contains", FEEL, args=(2, 2))
def _list_contains(ctx: CallContext, items: object, value: object) -> object:
    return any(_same(ctx, item, value) for item in _list(items))


def _same(ctx: CallContext, left: object, right: object) -> bool:
    try:
        return equals(left, right, ctx.dialect)
    except SoftError:
        return False


@_register("count", FEEL)
def _count(ctx: CallContext, items: object) -> object:
    return len(_list(items))


def _ordered(ctx: CallContext, values: list[object]) -> list[object]:
    kinds = {category(value) for value in values}
    unordered = len(kinds) > 1 or kinds & {"null", "boolean", "list", "context", "range"}
    if unordered and not (ctx.dialect is PYTHON and kinds <= {"number", "boolean"}):
        raise SoftError("values cannot be ordered: " + ", ".join(sorted(kinds)))
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError as exc:
        raise SoftError(f"values cannot be ordered: {exc}") from exc


@_register("min", FEEL, PYTHON, args=(1, None))
def _min(ctx: CallContext, *args: object) -> object:
    values = _ordered(ctx, _items(args))
    if not values:
        if ctx.dialect is PYTHON:
            raise SoftError("min() of an empty list")
        return None
    return values[0]


@_register("max", FEEL, PYTHON, args=(1, None))
def _max(ctx: CallContext, *args: object) -> object:
    values = _ordered(ctx, _items(args))
    if not values:
        if ctx.dialect is PYTHON:
            raise SoftError("max() of an empty list")
        return None
    return values[-1]


@_register("sum", FEEL, PYTHON, args=(1, None))
def _sum(ctx: CallContext, *args: object) -> object:
    values = _items(args)
    if ctx.dialect is FEEL and not values:
        return None
    total: int | float = 0
    for value in values:
        total += _number(value, "list item")
        check_number(total)
    return total


@_register("mean", FEEL, args=(1, None))
def _mean(ctx: CallContext, *args: object) -> object:
    values = _items(args)
    if not values:
        return None
    total = _number(_sum(ctx, values))
    return int_if_whole(_number(check_number(total / len(values))))


@_register("all", FEEL, PYTHON, args=(1, None))
def _all(ctx: CallContext, *args: object) -> object:
    values = _items(args) if ctx.dialect is FEEL else _list_or_string(args[0])
    if ctx.dialect is PYTHON:
        return all(truthy(value) for value in values)
    if any(value is False for value in values):
        return False
    return True if all(value is True for value in values) else None


@_register("any", FEEL, PYTHON, args=(1, None))
def _any(ctx: CallContext, *args: object) -> object:
    values = _items(args) if ctx.dialect is FEEL else _list_or_string(args[0])
    if ctx.dialect is PYTHON:
        return any(truthy(value) for value in values)
    if any(value is True for value in values):
        return True
    return False if all(value is False for value in values) else None


@_register("sublist", FEEL, args=(2, 3))
def _sublist(ctx: CallContext, items: object, start: object, length: object = None) -> object:
    values = _list(items)
    first = _integer(start, "start position")
    index = first - 1 if first > 0 else len(values) + first
    if first == 0 or not 0 <= index < len(values):
        raise SoftError("start position out of range")
    if length is None:
        return values[index:]
    return values[index : index + max(_integer(length, "length"), 0)]


@_register("append", FEEL, args=(1, None))
def _append(ctx: CallContext, items: object, *more: object) -> object:
    return check_size([*_list(items), *more])


@_register("concatenate", FEEL, args=(0, None))
def _concatenate(ctx: CallContext, *lists: object) -> object:
    out: list[object] = []
    for items in lists:
        out.extend(_list(items))
        check_size(out)
    return out


@_register("distinct values", FEEL)
def _distinct(ctx: CallContext, items: object) -> object:
    out: list[object] = []
    seen_scalars: set[tuple[str, object]] = set()
    others: list[object] = []
    for item in _list(items):
        if isinstance(item, str | int | float | bool | NoneType):
            key = (category(item), item)
            if key not in seen_scalars:
                seen_scalars.add(key)
                out.append(item)
            continue
        if len(others) > 2_000:
            # Pairwise comparison of structured values is quadratic: keep it small.
            raise LimitExceeded("distinct values of more than 2,000 lists or contexts")
        if not any(_same(ctx, item, seen) for seen in others):
            others.append(item)
            out.append(item)
    return out


@_register("flatten", FEEL)
def _flatten(ctx: CallContext, items: object) -> object:
    out: list[object] = []
    stack: list[Iterable[object]] = [iter(_list(items))]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
            check_size(out)
        else:
            stack.pop()
    return out


@_register("sort", FEEL)
def _sort(ctx: CallContext, items: object) -> object:
    return _ordered(ctx, list(_list(items)))


@_register("reverse", FEEL)
def _reverse(ctx: CallContext, items: object) -> object:
    return list(reversed(_list(items)))


@_register("index of", FEEL, args=(2, 2))
def _index_of(ctx: CallContext, items: object, match: object) -> object:
    return [i for i, item in enumerate(_list(items), start=1) if _same(ctx, item, match)]


@_register("product", FEEL, args=(1, None))
def _product(ctx: CallContext, *args: object) -> object:
    values = _items(args)
    if not values:
        return None
    result: object = 1
    for value in values:
        result = arithmetic("*", result, _number(value, "list item"), FEEL)
    return result


# --- FEEL: contexts and null handling ---------------------------------------------------


@_register("get value", FEEL, args=(2, 2))
def _get_value(ctx: CallContext, context: object, key: object) -> object:
    if not isinstance(context, dict):
        raise SoftError(f"get value needs a context, got {category(context)}")
    return context.get(_string(key, "key"))


@_register("get or else", FEEL, args=(2, 2))
def _get_or_else(ctx: CallContext, value: object, default: object) -> object:
    return default if value is None else value


@_register("context put", FEEL, args=(3, 3))
def _context_put(ctx: CallContext, context: object, key: object, value: object) -> object:
    if not isinstance(context, dict):
        raise SoftError(f"context put needs a context, got {category(context)}")
    return check_size({**context, _string(key, "key"): value})


# --- FEEL: numbers ----------------------------------------------------------------------


@_register("abs", FEEL, PYTHON)
def _abs(ctx: CallContext, value: object) -> object:
    if isinstance(value, timedelta):
        return abs(value)
    return abs(_number(value))


@_register("floor", FEEL, args=(1, 2))
def _floor(ctx: CallContext, value: object, scale: object = None) -> object:
    return _rounded(value, scale, math.floor)


@_register("ceiling", FEEL, args=(1, 2))
def _ceiling(ctx: CallContext, value: object, scale: object = None) -> object:
    return _rounded(value, scale, math.ceil)


@_register("round up", FEEL, args=(1, 2))
def _round_up(ctx: CallContext, value: object, scale: object = None) -> object:
    return _rounded(value, scale, lambda x: math.copysign(math.ceil(abs(x)), x))


@_register("round down", FEEL, args=(1, 2))
def _round_down(ctx: CallContext, value: object, scale: object = None) -> object:
    return _rounded(value, scale, lambda x: math.copysign(math.floor(abs(x)), x))


@_register("round half up", FEEL, args=(1, 2))
def _round_half_up(ctx: CallContext, value: object, scale: object = None) -> object:
    return _rounded(value, scale, lambda x: math.copysign(math.floor(abs(x) + 0.5), x))


@_register("decimal", FEEL, args=(2, 2))
def _decimal(ctx: CallContext, value: object, scale: object) -> object:
    return _rounded(value, scale, round)


def _rounded(value: object, scale: object, how: Callable[[float], float | int]) -> object:
    number = _number(value)
    digits = 0 if scale is None else _integer(scale, "scale")
    if not -50 <= digits <= 50:
        raise SoftError("scale out of range")
    factor = 10.0**digits
    try:
        result = how(number * factor) / factor
    except (OverflowError, ValueError) as exc:
        raise SoftError("number out of range") from exc
    if digits <= 0:
        return int_if_whole(_number(check_number(float(result))))
    return check_number(result)


@_register("modulo", FEEL, args=(2, 2))
def _modulo(ctx: CallContext, dividend: object, divisor: object) -> object:
    if _number(divisor) == 0:
        raise SoftError("division by zero")
    return _number(dividend) % _number(divisor)


@_register("sqrt", FEEL)
def _sqrt(ctx: CallContext, value: object) -> object:
    number = _number(value)
    if number < 0:
        raise SoftError("square root of a negative number")
    return int_if_whole(math.sqrt(number))


@_register("odd", FEEL)
def _odd(ctx: CallContext, value: object) -> object:
    return _integer(value) % 2 == 1


@_register("even", FEEL)
def _even(ctx: CallContext, value: object) -> object:
    return _integer(value) % 2 == 0


# --- XPath data access (BPMN 2.0.2 §10.4.4, bpmn:getDataObject) ------------------------
# Resolved by the evaluator, which knows the variables; registered so the name is known.


@_register(("getDataObject", "is defined"), FEEL, args=(1, 1))
def _special_form(ctx: CallContext, value: object) -> object:
    raise SoftError("evaluated by the evaluator")


# --- Python builtins --------------------------------------------------------------------


def _list_or_string(value: object) -> list[object]:
    if isinstance(value, str):
        return list(value)
    if isinstance(value, dict):
        return list(value)
    return _list(value)


@_register("len", PYTHON)
def _len(ctx: CallContext, value: object) -> object:
    if isinstance(value, str | list | dict):
        return len(value)
    raise SoftError(f"object of type {category(value)} has no len()")


@_register("str", PYTHON, args=(0, 1))
def _str(ctx: CallContext, value: object = "") -> object:
    if isinstance(value, RangeValue | YearsMonths):
        return feel_string(value)
    try:
        return check_size(str(value))
    except ValueError as exc:  # int too large to convert
        raise SoftError(str(exc)) from exc


@_register("int", PYTHON, args=(0, 1))
def _int(ctx: CallContext, value: object = 0) -> object:
    if isinstance(value, bool) or is_number(value):
        try:
            return int(value)  # type: ignore[call-overload]
        except (OverflowError, ValueError) as exc:
            raise SoftError(f"cannot convert to int: {exc}") from exc
    text = _string(value).strip()
    if len(text) > 400:
        raise SoftError("number too long")
    try:
        return int(text)
    except ValueError as exc:
        raise SoftError(f"invalid literal for int(): {text[:40]!r}") from exc


@_register("float", PYTHON, args=(0, 1))
def _float(ctx: CallContext, value: object = 0.0) -> object:
    if isinstance(value, bool) or is_number(value):
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError as exc:
            raise SoftError("number out of range") from exc
    text = _string(value).strip()
    try:
        return check_number(float(text[:400]))
    except ValueError as exc:
        raise SoftError(f"could not convert string to float: {text[:40]!r}") from exc


@_register("bool", PYTHON, args=(0, 1))
def _bool(ctx: CallContext, value: object = False) -> object:
    return truthy(value)


@_register("sorted", PYTHON)
def _sorted(ctx: CallContext, value: object) -> object:
    return _ordered(ctx, _list_or_string(value))


@_register("round", PYTHON, args=(1, 2))
def _round(ctx: CallContext, value: object, digits: object = None) -> object:
    number = _number(value)
    if digits is None:
        if isinstance(number, float) and not math.isfinite(number):
            raise SoftError("cannot round infinity")
        return round(number)
    places = _integer(digits, "ndigits")
    if not -50 <= places <= 50:
        raise SoftError("ndigits out of range")
    return round(number, places)


# --- value methods: obj.name(args) ------------------------------------------------------

Method = Callable[..., object]
_METHODS: dict[tuple[str, str], Method] = {}


def _method(kind: str, *names: str) -> Callable[[Method], Method]:
    def decorate(impl: Method) -> Method:
        for name in names:
            _METHODS[(kind, name)] = impl
        return impl

    return decorate


def lookup_method(value: object, name: str) -> Method | None:
    """A whitelisted method for this kind of value (Java-style names for JUEL models)."""
    kind = category(value)
    if kind in ("date", "date and time"):
        kind = "temporal"
    return _METHODS.get((kind, name))


@_method("string", "length", "size")
def _m_length(ctx: CallContext, value: str) -> object:
    return len(value)


@_method("string", "upper", "toUpperCase")
def _m_upper(ctx: CallContext, value: str) -> object:
    return value.upper()


@_method("string", "lower", "toLowerCase")
def _m_lower(ctx: CallContext, value: str) -> object:
    return value.lower()


@_method("string", "strip", "trim")
def _m_strip(ctx: CallContext, value: str) -> object:
    return value.strip()


@_method("string", "startswith", "startsWith")
def _m_startswith(ctx: CallContext, value: str, prefix: object) -> object:
    return value.startswith(_string(prefix))


@_method("string", "endswith", "endsWith")
def _m_endswith(ctx: CallContext, value: str, suffix: object) -> object:
    return value.endswith(_string(suffix))


@_method("string", "contains")
def _m_str_contains(ctx: CallContext, value: str, part: object) -> object:
    return _string(part) in value


@_method("string", "equals")
def _m_equals(ctx: CallContext, value: object, other: object) -> object:
    return value == other


@_method("string", "equalsIgnoreCase")
def _m_equals_ignore_case(ctx: CallContext, value: str, other: object) -> object:
    return isinstance(other, str) and value.casefold() == other.casefold()


@_method("string", "isEmpty")
@_method("list", "isEmpty")
@_method("context", "isEmpty")
def _m_is_empty(ctx: CallContext, value: str | list[object] | dict[str, object]) -> object:
    return len(value) == 0


@_method("list", "size")
@_method("context", "size")
def _m_size(ctx: CallContext, value: list[object] | dict[str, object]) -> object:
    return len(value)


@_method("list", "contains")
def _m_list_contains(ctx: CallContext, value: list[object], item: object) -> object:
    return any(_same(ctx, element, item) for element in value)


@_method("list", "count")
def _m_list_count(ctx: CallContext, value: list[object], item: object) -> object:
    return sum(1 for element in value if _same(ctx, element, item))


@_method("list", "index")
def _m_list_index(ctx: CallContext, value: list[object], item: object) -> object:
    for i, element in enumerate(value):
        if _same(ctx, element, item):
            return i
    raise SoftError("value is not in list")


@_method("list", "get")
def _m_list_get(ctx: CallContext, value: list[object], index: object) -> object:
    i = _integer(index, "index")
    if not 0 <= i < len(value):
        raise SoftError(f"index {i} out of range")
    return value[i]


@_method("context", "get")
def _m_get(
    ctx: CallContext, value: dict[str, object], key: object, default: object = None
) -> object:
    return value.get(key, default) if isinstance(key, str) else default


@_method("context", "containsKey")
def _m_contains_key(ctx: CallContext, value: dict[str, object], key: object) -> object:
    return key in value if isinstance(key, str) else False


@_method("context", "keys", "keySet")
def _m_keys(ctx: CallContext, value: dict[str, object]) -> object:
    return list(value)


@_method("context", "values")
def _m_values(ctx: CallContext, value: dict[str, object]) -> object:
    return list(value.values())


@_method("context", "items")
def _m_items(ctx: CallContext, value: dict[str, object]) -> object:
    return [[key, item] for key, item in value.items()]


def _shift(unit: str, sign: int) -> Method:
    def shift(ctx: CallContext, value: date, amount: object) -> object:
        count = sign * _integer(amount, "amount")
        try:
            if unit == "months":
                return add_months(value, count)
            if unit == "years":
                return add_months(value, 12 * count)
            return value + timedelta(**{unit: count})
        except (OverflowError, ValueError) as exc:
            raise SoftError("date out of range") from exc

    return shift


for _unit in ("seconds", "minutes", "hours", "days", "weeks", "months", "years"):
    _title = _unit.capitalize()
    _METHODS[("temporal", f"plus{_title}")] = _shift(_unit, 1)
    _METHODS[("temporal", f"minus{_title}")] = _shift(_unit, -1)


@_method("temporal", "toDate")
def _m_to_date(ctx: CallContext, value: date) -> object:
    return value


@_method("temporal", "isBefore")
def _m_is_before(ctx: CallContext, value: date, other: object) -> object:
    return compare("<", value, other, ctx.dialect)


@_method("temporal", "isAfter")
def _m_is_after(ctx: CallContext, value: date, other: object) -> object:
    return compare(">", value, other, ctx.dialect)
