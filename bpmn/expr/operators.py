"""Arithmetic, comparison and truth rules of each dialect, over JSON-like values only."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

from .dialect import Dialect
from .errors import MAX_INT_BITS, MAX_SIZE, LimitExceeded, SoftError
from .values import (
    RangeValue,
    YearsMonths,
    add_months,
    category,
    check_number,
    check_size,
    int_if_whole,
    is_number,
)

_NOT_DONE = object()


def _mismatch(op: str, left: object, right: object) -> SoftError:
    return SoftError(f"cannot apply '{op}' to {category(left)} and {category(right)}")


def juel_number(value: object) -> int | float:
    """EL coercion to a number: null is 0, numeric strings are read, anything else fails."""
    if value is None:
        return 0
    if is_number(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise SoftError(f"cannot coerce {category(value)} {str(value)[:30]!r} to a number")


def juel_bool(value: object) -> bool:
    """EL coercion to a boolean: null is false, "true" (any case) is true."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    raise SoftError(f"cannot coerce {category(value)} to a boolean")


def truthy(value: object) -> bool:
    """Python truthiness, for the Python dialect."""
    if isinstance(value, RangeValue | YearsMonths):
        return True
    return bool(value)


def _temporal(op: str, left: object, right: object) -> object:
    sign = 1 if op == "+" else -1
    if isinstance(left, date | time) and isinstance(right, timedelta | YearsMonths):
        if isinstance(right, YearsMonths):
            if isinstance(left, time):
                raise _mismatch(op, left, right)
            return add_months(left, sign * right.months)
        if isinstance(left, time):
            moved = datetime.combine(date(2000, 1, 1), left) + sign * right
            return moved.timetz()
        return left + sign * right
    if op == "+" and isinstance(left, timedelta | YearsMonths) and isinstance(right, date | time):
        return _temporal("+", right, left)
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left + sign * right
    if isinstance(left, YearsMonths) and isinstance(right, YearsMonths):
        return YearsMonths(left.months + sign * right.months)
    if op == "-" and isinstance(left, date) and isinstance(right, date):
        if isinstance(left, datetime) != isinstance(right, datetime):
            raise _mismatch(op, left, right)
        return left - right
    return _NOT_DONE


def arithmetic(op: str, left: object, right: object, dialect: Dialect) -> object:
    """Apply + - * / // % ** under the dialect's rules; errors are SoftError."""
    try:
        result = _arithmetic(op, left, right, dialect)
    except (OverflowError, ValueError, TypeError) as exc:
        raise SoftError(f"cannot apply '{op}': {exc}") from exc
    return check_number(check_size(result))


def _arithmetic(op: str, left: object, right: object, dialect: Dialect) -> object:
    if dialect is Dialect.FEEL and (left is None or right is None):
        return None
    if op in "+-" and (
        isinstance(left, date | time | timedelta | YearsMonths)
        or isinstance(right, date | time | timedelta | YearsMonths)
    ):
        result = _temporal(op, left, right)
        if result is _NOT_DONE:
            raise _mismatch(op, left, right)
        return result
    if op == "*" and isinstance(left, timedelta) and is_number(right):
        return left * right  # type: ignore[operator]
    if dialect is Dialect.JUEL:
        a, b = juel_number(left), juel_number(right)
    elif dialect is Dialect.PYTHON and op in "+*":
        return _python_sequence(op, left, right)
    elif dialect is Dialect.FEEL and op == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_SIZE:
            raise LimitExceeded(f"result too large (over {MAX_SIZE:,} characters)")
        return left + right
    else:
        if not (is_number(left) and is_number(right)):
            raise _mismatch(op, left, right)
        a, b = left, right  # type: ignore[assignment]
    return _numeric(op, a, b, dialect)


def _python_sequence(op: str, left: object, right: object) -> object:
    if is_number(left) and is_number(right):
        return _numeric(op, left, right, Dialect.PYTHON)  # type: ignore[arg-type]
    if op == "+":
        if (isinstance(left, str) and isinstance(right, str)) or (
            isinstance(left, list) and isinstance(right, list)
        ):
            if len(left) + len(right) > MAX_SIZE:
                raise LimitExceeded(f"result too large (over {MAX_SIZE:,} items or characters)")
            return left + right  # type: ignore[operator]
        raise _mismatch(op, left, right)
    sequence, count = (left, right) if isinstance(left, str | list) else (right, left)
    if isinstance(sequence, str | list) and isinstance(count, int) and not isinstance(count, bool):
        if count > 0 and len(sequence) * count > MAX_SIZE:
            raise LimitExceeded(f"result too large (over {MAX_SIZE:,} items or characters)")
        return sequence * max(count, 0)
    raise _mismatch(op, left, right)


def _numeric(op: str, a: int | float, b: int | float, dialect: Dialect) -> object:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        if (
            isinstance(a, int)
            and isinstance(b, int)
            and (a.bit_length() + b.bit_length() > MAX_INT_BITS + 1)
        ):
            raise LimitExceeded(f"integer result larger than {MAX_INT_BITS} bits")
        return a * b
    if op == "**":
        return _power(a, b)
    if b == 0:
        raise SoftError("division by zero")
    if op == "/":
        if dialect is Dialect.FEEL and isinstance(a, int) and isinstance(b, int) and a % b == 0:
            return a // b
        return a / b
    if op == "//":
        return a // b
    if op == "%":
        if dialect is Dialect.JUEL:  # Java remainder keeps the sign of the dividend
            if isinstance(a, int) and isinstance(b, int):
                remainder = abs(a) % abs(b)
                return -remainder if a < 0 else remainder
            return math.fmod(a, b)
        return a % b
    raise SoftError(f"unknown operator {op!r}")


def _power(base: int | float, exponent: int | float) -> object:
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1 and base.bit_length() * exponent > MAX_INT_BITS:
            raise LimitExceeded(f"integer result larger than {MAX_INT_BITS} bits")
        return base**exponent
    if base == 0 and exponent < 0:
        raise SoftError("division by zero")
    return math.pow(base, exponent)


def negate(value: object, dialect: Dialect) -> object:
    if dialect is Dialect.FEEL and value is None:
        return None
    if dialect is Dialect.JUEL:
        value = juel_number(value)
    if is_number(value) or isinstance(value, timedelta):
        return -value  # type: ignore[operator]
    if isinstance(value, YearsMonths):
        return YearsMonths(-value.months)
    raise SoftError(f"cannot negate {category(value)}")


def _same_kind(left: object, right: object) -> bool:
    return category(left) == category(right)


def equals(left: object, right: object, dialect: Dialect) -> bool:
    """Equality under the dialect's rules; a FEEL type mismatch raises SoftError (null)."""
    if dialect is Dialect.PYTHON:
        return left == right
    if left is None or right is None:
        return left is None and right is None
    if is_number(left) and is_number(right):
        return left == right
    if dialect is Dialect.JUEL:
        if is_number(left) and isinstance(right, str):
            return left == juel_number(right)
        if is_number(right) and isinstance(left, str):
            return juel_number(left) == right
        if isinstance(left, bool) and isinstance(right, str):
            return left == juel_bool(right)
        if isinstance(right, bool) and isinstance(left, str):
            return juel_bool(left) == right
    if not _same_kind(left, right):
        raise _mismatch("=", left, right)
    try:
        return left == right
    except TypeError as exc:
        raise _mismatch("=", left, right) from exc


def compare(op: str, left: object, right: object, dialect: Dialect) -> bool:
    """Ordering < > <= >= under the dialect's rules."""
    if dialect is Dialect.JUEL:
        if left is None or right is None:
            return False
        if is_number(left) and isinstance(right, str):
            right = juel_number(right)
        elif is_number(right) and isinstance(left, str):
            left = juel_number(left)
    if dialect is not Dialect.PYTHON and not _same_kind(left, right):
        raise _mismatch(op, left, right)
    unordered = isinstance(left, bool | dict | RangeValue) or isinstance(
        right, bool | dict | RangeValue
    )
    if unordered and dialect is not Dialect.PYTHON:
        raise _mismatch(op, left, right)
    try:
        if op == "<":
            return bool(left < right)  # type: ignore[operator]
        if op == ">":
            return bool(left > right)  # type: ignore[operator]
        if op == "<=":
            return bool(left <= right)  # type: ignore[operator]
        return bool(left >= right)  # type: ignore[operator]
    except TypeError as exc:
        raise _mismatch(op, left, right) from exc


def compare_any(op: str, left: object, right: object, dialect: Dialect) -> bool:
    if op == "==":
        return equals(left, right, dialect)
    if op == "!=":
        return not equals(left, right, dialect)
    return compare(op, left, right, dialect)


def in_range(value: object, rng: RangeValue, dialect: Dialect) -> bool:
    low_ok = rng.low is None or (compare(">=" if rng.low_closed else ">", value, rng.low, dialect))
    return low_ok and (
        rng.high is None or compare("<=" if rng.high_closed else "<", value, rng.high, dialect)
    )


def python_contains(container: object, item: object) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise _mismatch("in", item, container)
        return item in container
    if isinstance(container, list | dict):
        try:
            return item in container
        except TypeError as exc:  # unhashable key looked up in a dict
            raise _mismatch("in", item, container) from exc
    raise _mismatch("in", item, container)


def ordered_numbers(value: object) -> float | int:
    if not is_number(value):
        raise SoftError(f"expected a number, got {category(value)}")
    return int_if_whole(value)  # type: ignore[arg-type]
