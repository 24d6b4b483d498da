"""The values expressions work on: JSON-like data plus dates, times, durations and ranges."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .errors import MAX_INT_BITS, MAX_SIZE, LimitExceeded, SoftError


@dataclass(frozen=True, slots=True)
class YearsMonths:
    """A FEEL years-and-months duration (P1Y2M), kept apart from day-time durations."""

    months: int


@dataclass(frozen=True, slots=True)
class RangeValue:
    """A FEEL range such as [1..10] or (0..x]."""

    low: object
    high: object
    low_closed: bool = True
    high_closed: bool = True


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def category(value: object) -> str:
    """A coarse type name, used for type checks and in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "context"
    if isinstance(value, datetime):
        return "date and time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, YearsMonths):
        return "years and months duration"
    if isinstance(value, RangeValue):
        return "range"
    return "unsupported value"


def check_size(value: object) -> object:
    if isinstance(value, str | list | dict) and len(value) > MAX_SIZE:
        raise LimitExceeded(f"result too large (over {MAX_SIZE:,} items or characters)")
    return value


def check_number(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        raise SoftError("number out of range")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(f"integer result larger than {MAX_INT_BITS} bits")
    if isinstance(value, complex):
        raise SoftError("result is not a real number")
    return value


def int_if_whole(value: float | int) -> float | int:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


_DURATION = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: str) -> timedelta | YearsMonths:
    """ISO 8601 duration: P1Y2M is a YearsMonths, P1DT2H30M a timedelta."""
    match = _DURATION.fullmatch(text.strip()) if len(text) < 100 else None
    if match is None or text.strip().rstrip("T").endswith("P") or text.strip().endswith("T"):
        raise SoftError(f"not a duration: {text[:40]!r}")
    sign, years, months, weeks, days, hours, minutes, seconds = match.groups()
    factor = -1 if sign else 1
    if years or months:
        if weeks or days or hours or minutes or seconds:
            raise SoftError(f"mixed year-month and day-time duration: {text[:40]!r}")
        return YearsMonths(factor * (int(years or 0) * 12 + int(months or 0)))
    try:
        delta = timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds or 0),
        )
    except OverflowError as exc:
        raise SoftError("duration out of range") from exc
    return -delta if sign else delta


def format_duration(value: timedelta | YearsMonths) -> str:
    if isinstance(value, YearsMonths):
        sign = "-" if value.months < 0 else ""
        years, months = divmod(abs(value.months), 12)
        body = (f"{years}Y" if years else "") + (f"{months}M" if months or not years else "")
        return f"{sign}P{body}"
    sign = "-" if value < timedelta(0) else ""
    total = abs(value)
    days, rest = total.days, total.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    secs: str = str(seconds)
    if total.microseconds:
        secs = f"{seconds}.{total.microseconds:06d}".rstrip("0")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if seconds or total.microseconds else "")
    )
    if not days and not clock:
        return "PT0S"
    return f"{sign}P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise SoftError(f"not a date: {text[:40]!r}") from exc


def parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SoftError(f"not a time: {text[:40]!r}") from exc


def parse_datetime(text: str) -> datetime:
    raw = text.strip()
    if "@" in raw:  # FEEL zone ids (2026-01-01T10:00@Europe/Berlin) are not supported
        raise SoftError(f"time zone ids are not supported: {text[:40]!r}")
    try:
        if "T" not in raw:
            return datetime.combine(date.fromisoformat(raw), time())
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SoftError(f"not a date and time: {text[:40]!r}") from exc


def parse_temporal(text: str) -> object:
    """A FEEL @"..." literal: a duration, date and time, date or time, by its shape."""
    raw = text.strip()
    if raw.startswith(("P", "-P")):
        return parse_duration(raw)
    if "T" in raw:
        return parse_datetime(raw)
    if ":" in raw:
        return parse_time(raw)
    return parse_date(raw)


def add_months(value: date, months: int) -> date:
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    if not 1 <= year <= 9999:
        raise SoftError("date out of range")
    days_in_month = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return value.replace(year=year, month=month, day=min(value.day, days_in_month))


def feel_string(value: object) -> str | None:
    """FEEL string(x): null stays null, booleans are lowercase, durations ISO 8601."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(int_if_whole(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta | YearsMonths):
        return format_duration(value)
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_quoted(item)}" for key, item in value.items()) + "}"
    if isinstance(value, RangeValue):
        return f"{_quoted(value.low)}..{_quoted(value.high)}"
    return category(value)


def _quoted(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return feel_string(value) or "null"


def juel_string(value: object) -> str:
    """How JUEL turns a value into text inside a composite template (null is empty)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = feel_string(value)
    return "" if text is None else text


def now_in(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)
