"""BPMN timer definitions: ISO 8601 dates, durations and repeating cycles, and cron, in UTC."""

# Decisions, in one place:
#
# - Every datetime we return is timezone-aware UTC. Text without an offset
#   ("2019-09-09T12:00:00") is read as UTC. Camunda 7 reads it in the server's default zone;
#   we choose UTC so a model means the same thing on every machine.
# - Designators are case-insensitive ("pt5m", "r3/pt10m", "2026-01-01t10:00z"), as in
#   java.time and Joda-Time, which Zeebe and Camunda 7 use to read these texts.
# - Only the smallest unit of a duration may have a fraction (ISO 8601 §4.4.3.2), and never
#   years or months: a month has no fixed length. Years and months are added by the
#   calendar (Jan 31 + P1M = Feb 28/29); weeks, days and time as exact lengths (in UTC a
#   day is always 24 hours).
# - A timeDate may hold a duration ("PT5M"): Camunda 7 (DueDateBusinessCalendar) reads a
#   timeDate starting with "P" as "now plus this duration", and real models rely on it.
# - A timeCycle starting with "R" is an ISO 8601 repeating interval, anything else is cron
#   (Camunda 7's CycleBusinessCalendar draws the same line).
# - Expressions (`${...}`, `#{...}`, `=...`) are not timer literals. Callers check
#   `is_expression(text)` first, evaluate it when the timer starts, and parse the result;
#   parse_timer refuses an expression with a TimerError saying so.

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from croniter import CroniterError, croniter

MAX_TEXT_LENGTH = 200
MAX_REPETITIONS = 1_000_000
# A duration longer than this cannot be added to any datetime Python can represent.
_MAX_SPAN = timedelta(days=10_000 * 366)


class TimerError(Exception):
    """A timer text we cannot read. `message` says what is wrong with the text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TimerKind(StrEnum):
    DATE = "date"
    DURATION = "duration"
    CYCLE = "cycle"


def is_expression(text: str) -> bool:
    """True when the text is an expression (JUEL `${...}`/`#{...}`, FEEL `=...`), not a literal."""
    stripped = text.strip()
    return "${" in stripped or "#{" in stripped or stripped.startswith("=")


def _quote(text: str) -> str:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return repr(shown)


# -- durations ------------------------------------------------------------------------------

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"""
    (?P<sign>[-+])?P
    (?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?
    (?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?
    (?P<time>T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_APPROX_SECONDS = (366 * 86400, 31 * 86400, 7 * 86400, 86400, 3600, 60, 1)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration. Years and months are calendar units, the rest exact lengths."""

    years: int = 0
    months: int = 0
    weeks: float | int = 0
    days: float | int = 0
    hours: float | int = 0
    minutes: float | int = 0
    seconds: float | int = 0
    negative: bool = False

    @property
    def is_zero(self) -> bool:
        return not any(getattr(self, unit) for unit in _UNITS)

    def _fixed(self) -> timedelta:
        return timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )

    def add_to(self, dt: datetime) -> datetime:
        """`dt` plus (or minus, when negative) this duration, in UTC.

        Years and months move the calendar and clamp the day to the month's end; a naive
        `dt` is read as UTC. Raises TimerError when the result is outside years 1..9999.
        """
        return _shift(_as_utc(dt), self, -1 if self.negative else 1)


def _shift(dt: datetime, duration: Duration, factor: int) -> datetime:
    """`dt` plus `factor` times `duration` (sign included), computed without drift."""
    try:
        total_months = (duration.years * 12 + duration.months) * factor
        if total_months:
            index = dt.year * 12 + (dt.month - 1) + total_months
            year, month = divmod(index, 12)
            month += 1
            if not 1 <= year <= 9999:
                raise OverflowError
            day = min(dt.day, calendar.monthrange(year, month)[1])
            dt = dt.replace(year=year, month=month, day=day)
        return dt + duration._fixed() * factor
    except (OverflowError, ValueError):
        raise TimerError(
            f"adding the duration to {dt.isoformat()} goes beyond the years 1..9999"
        ) from None


def parse_duration(text: str) -> Duration:
    """Read an ISO 8601 duration: PnYnMnDTnHnMnS, PnW (combinable), optional leading sign."""
    stripped = text.strip()
    _check_length(stripped)
    match = _DURATION.fullmatch(stripped)
    if match is None:
        raise TimerError(_duration_problem(stripped))
    raw = [match.group(unit) for unit in _UNITS]
    if all(value is None for value in raw):
        if match.group("time"):
            raise TimerError(f"{_quote(stripped)} has no time components after 'T'")
        raise TimerError(f"{_quote(stripped)} has no date or time components")
    if match.group("time") and all(value is None for value in raw[4:]):
        raise TimerError(f"{_quote(stripped)} has no time components after 'T'")
    given = [index for index, value in enumerate(raw) if value is not None]
    values: dict[str, float | int] = {}
    for index in given:
        number = raw[index] or "0"
        unit = _UNITS[index]
        if "." in number or "," in number:
            if index != given[-1]:
                raise TimerError(
                    f"{_quote(stripped)}: only the smallest unit may have a fraction, not {unit}"
                )
            if unit in ("years", "months"):
                raise TimerError(
                    f"{_quote(stripped)}: {unit} cannot have a fraction "
                    "(a month has no fixed length)"
                )
            values[unit] = float(number.replace(",", "."))
        else:
            values[unit] = int(number)
    approx = sum(float(values.get(unit, 0)) * _APPROX_SECONDS[i] for i, unit in enumerate(_UNITS))
    if approx > _MAX_SPAN.total_seconds():
        raise TimerError(f"{_quote(stripped)} is longer than 10,000 years")
    return Duration(
        years=int(values.get("years", 0)),
        months=int(values.get("months", 0)),
        weeks=values.get("weeks", 0),
        days=values.get("days", 0),
        hours=values.get("hours", 0),
        minutes=values.get("minutes", 0),
        seconds=values.get("seconds", 0),
        negative=match.group("sign") == "-",
    )


def _duration_problem(text: str) -> str:
    upper = text.upper().lstrip("+-")
    if not upper.startswith("P"):
        return f"{_quote(text)} is not an ISO 8601 duration (it must start with 'P', e.g. 'PT5M')"
    trailing = re.search(r"\d+(?:[.,]\d+)?$", upper)
    if trailing:
        return f"{_quote(text)}: the number {trailing.group(0)!r} at the end has no unit letter"
    if "T" not in upper and re.search(r"\d[HS]", upper):
        return f"{_quote(text)}: hours, minutes and seconds must come after 'T' (e.g. 'PT5H')"
    return (
        f"{_quote(text)} is not an ISO 8601 duration; expected units in the order "
        "Y M W D, then T H M S (e.g. 'P1DT12H', 'PT0.5S')"
    )


# -- dates ----------------------------------------------------------------------------------

_DATETIME = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:T(?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
        (?P<zone>Z|[-+]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.VERBOSE | re.IGNORECASE,
)


def parse_datetime(text: str) -> datetime:
    """Read an ISO 8601 date or date-time and return it as an aware UTC datetime.

    Accepts '2026-01-01T10:00:00Z', offsets ('+02:00', '+0200', '+02'), fractional
    seconds, minutes without seconds ('2026-01-01T10:00Z'), and a date alone
    ('2026-01-01', meaning midnight UTC). Text without an offset is read as UTC.
    """
    stripped = text.strip()
    _check_length(stripped)
    match = _DATETIME.fullmatch(stripped)
    if match is None:
        raise TimerError(
            f"{_quote(stripped)} is not an ISO 8601 date; expected e.g. "
            "'2026-01-01T10:00:00Z' or '2026-01-01'"
        )
    year, month, day = (int(match.group(name)) for name in ("year", "month", "day"))
    if not 1 <= month <= 12:
        raise TimerError(f"{_quote(stripped)}: month {month} out of range 1-12")
    if year < 1:
        raise TimerError(f"{_quote(stripped)}: year {year} out of range 1-9999")
    last_day = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        raise TimerError(f"{_quote(stripped)}: day {day} out of range 1-{last_day}")
    hour = int(match.group("hour") or 0)
    minute = int(match.group("minute") or 0)
    second = int(match.group("second") or 0)
    if hour > 23:
        raise TimerError(f"{_quote(stripped)}: hour {hour} out of range 0-23")
    if minute > 59:
        raise TimerError(f"{_quote(stripped)}: minute {minute} out of range 0-59")
    if second > 59:
        raise TimerError(f"{_quote(stripped)}: second {second} out of range 0-59")
    fraction = match.group("fraction") or ""
    microsecond = int((fraction + "000000")[:6])
    tz = _zone(stripped, match.group("zone"))
    local = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise TimerError(f"{_quote(stripped)} is outside the years 1..9999 in UTC") from None


def _zone(text: str, zone: str | None) -> timezone:
    if zone is None or zone.upper() == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise TimerError(f"{_quote(text)}: offset {zone} out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _check_length(text: str) -> None:
    if len(text) > MAX_TEXT_LENGTH:
        raise TimerError(
            f"timer text is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH}"
        )


# -- cron -----------------------------------------------------------------------------------

_CRON_CHARS = re.compile(r"[0-9A-Za-z*?/,#\- \t]+")
_DOW_NUMBER = re.compile(r"\d+")
_CRON_PROBE_START = datetime(2000, 1, 1, tzinfo=UTC)


def _quartz_day_of_week(text: str, field_text: str) -> str:
    """Quartz numbers days 1..7 from Sunday; croniter 0..6. Names need no change."""
    items = []
    for item in field_text.split(","):
        head, sep, tail = item.partition("/") if "/" in item else item.partition("#")
        if head.upper().endswith("L") and head[:-1].isdigit():
            head = "L" + head[:-1]  # Quartz '6L' (last Friday) is croniter 'L5'

        def shift(match: re.Match[str]) -> str:
            number = int(match.group(0))
            if not 1 <= number <= 7:
                raise TimerError(
                    f"{_quote(text)}: day-of-week {number} out of range 1-7 "
                    "(Quartz numbering, 1 = Sunday)"
                )
            return str(number - 1)

        items.append(_DOW_NUMBER.sub(shift, head) + sep + tail)
    return ",".join(items)


def _cron_expression(text: str) -> str:
    """Check a cron text and return it in the form croniter reads with our options."""
    fields = text.split()
    if not _CRON_CHARS.fullmatch(text) or len(fields) < 5:
        if _looks_like_duration(text):
            raise TimerError(
                f"{_quote(text)}: a cycle needs 'R/' (forever) or 'R<n>/' before the "
                "period, e.g. 'R/PT1H' or 'R3/PT10M'"
            )
        raise TimerError(
            f"{_quote(text)} is neither an ISO 8601 cycle (e.g. 'R3/PT10M') nor a cron "
            "expression (e.g. '0 0/5 * * * ?')"
        )
    if len(fields) > 7:
        raise TimerError(
            f"{_quote(text)}: a cron expression has 5 fields, or 6-7 (Quartz) starting with "
            f"seconds; this one has {len(fields)}"
        )
    fields = [part.replace("?", "*") for part in fields]
    if len(fields) >= 6:
        day_of_month, day_of_week = text.split()[3], text.split()[5]
        if day_of_month not in ("*", "?") and day_of_week not in ("*", "?"):
            # Quartz refuses this too: it cannot mean both "and" and "or".
            raise TimerError(
                f"{_quote(text)}: give '?' for either day-of-month or day-of-week "
                "(Quartz cron does not combine both)"
            )
        fields[5] = _quartz_day_of_week(text, fields[5])
    expression = " ".join(fields)
    try:
        probe = croniter(
            expression,
            _CRON_PROBE_START,
            second_at_beginning=len(fields) >= 6,
            max_years_between_matches=50,
        )
        probe.get_next(datetime)
    except (CroniterError, ValueError, KeyError, IndexError, TypeError) as exc:
        detail = str(exc).split("  ")[0].rstrip(".")
        raise TimerError(f"{_quote(text)} is not a valid cron expression: {detail}") from None
    return expression


def _cron_after(expression: str, instant: datetime) -> datetime | None:
    try:
        iterator = croniter(
            expression,
            instant,
            second_at_beginning=len(expression.split()) >= 6,
            max_years_between_matches=50,
        )
        result: datetime = iterator.get_next(datetime)
    except (CroniterError, ValueError, OverflowError):
        return None  # no further match (e.g. a year field in the past)
    return _as_utc(result)


# -- cycles ---------------------------------------------------------------------------------

_REPEAT = re.compile(r"R(\d*)", re.IGNORECASE)
_LOOKS_REPEATING = re.compile(r"R[\d/+-]", re.IGNORECASE)


@dataclass(frozen=True)
class TimerSpec:
    """A parsed timer. Build one with parse_timer (or TimerSpec(kind, text): same checks).

    `repetitions` is how many times the timer fires: 1 for a date or duration, the R<n>
    of a cycle, None for an unbounded cycle or cron. The other derived fields say what
    was read: `date` (timeDate), `duration` (timeDuration, or the period of a cycle),
    `start`/`end` (anchored cycles), `cron` (the expression as croniter reads it).
    """

    kind: TimerKind
    text: str
    repetitions: int | None = field(init=False, compare=False)
    date: datetime | None = field(init=False, compare=False)
    duration: Duration | None = field(init=False, compare=False)
    start: datetime | None = field(init=False, compare=False)
    end: datetime | None = field(init=False, compare=False)
    cron: str | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        kind = _kind(self.kind)
        if not isinstance(self.text, str):
            raise TimerError(f"timer text must be a string, not {type(self.text).__name__}")
        text = self.text.strip()
        _check_length(text)
        if not text:
            raise TimerError(f"{kind.value} timer text is empty")
        if is_expression(text):
            raise TimerError(
                f"{_quote(text)} is an expression; evaluate it when the timer starts and "
                "parse the result"
            )
        values: dict[str, object] = dict.fromkeys(
            ("date", "duration", "start", "end", "cron"), None
        )
        values["repetitions"] = 1
        if kind is TimerKind.DATE:
            if _looks_like_duration(text):
                values["duration"] = _timer_duration(text)
            else:
                values["date"] = parse_datetime(text)
        elif kind is TimerKind.DURATION:
            values["duration"] = _timer_duration(text)
        elif _LOOKS_REPEATING.match(text):
            values.update(_parse_repeating(text))
        else:
            values["cron"] = _cron_expression(text)
            values["repetitions"] = None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "text", text)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def first_due(self, now: datetime) -> datetime | None:
        """When the timer first fires, if it starts at `now`; None if it never will.

        date: the date itself, even when already past (the caller fires it at once).
        duration: now + duration. Cycle 'R3/PT10M': now + period. Anchored cycles
        ('R5/start/P1D', 'R3/start/end', 'R3/P1D/end'): the first scheduled occurrence
        at or after `now`; occurrences already past are skipped, None when all are past.
        cron: the first match strictly after `now`.
        """
        now = _as_utc(now)
        if self.cron is not None:
            return _cron_after(self.cron, now)
        if self.date is not None:
            return self.date
        if self.start is None and self.end is None:
            return self._period().add_to(now)
        return self._occurrence_from(now, strictly_after=False)

    def next_due(self, previous_due: datetime, fired_count: int) -> datetime | None:
        """The repetition after the one due at `previous_due`, or None when there is none.

        `fired_count` is how many times the timer has fired, the one at `previous_due`
        included; a cycle R<n> returns None once it reaches n. Relative cycles step from
        `previous_due` (the scheduled time, so late firing does not drift the schedule);
        anchored cycles and cron give their next occurrence after `previous_due`. A past
        result is returned as is: whether to catch up or skip is the caller's policy.
        Date and duration timers fire once: always None.
        """
        previous_due = _as_utc(previous_due)
        if self.kind is not TimerKind.CYCLE:
            return None
        if self.cron is not None:
            return _cron_after(self.cron, previous_due)
        if self.repetitions is not None and fired_count >= self.repetitions:
            return None
        if self.start is None and self.end is None:
            return self._period().add_to(previous_due)
        return self._occurrence_from(previous_due, strictly_after=True)

    def _period(self) -> Duration:
        if self.duration is None:
            raise TimerError(f"{_quote(self.text)} has no duration")
        return self.duration

    # An anchored cycle's occurrences are anchor + k * period for k in [k_min, k_max]:
    # from a start, k = 0..n-1; up to an end, k = -(n-1)..0. Computing each from the
    # anchor (not from the previous one) keeps month-end days from drifting.

    def _bounds(self) -> tuple[int | None, int | None]:
        n = self.repetitions
        if self.start is not None:
            return 0, None if n is None else n - 1
        return None if n is None else -(n - 1), 0

    def _occurrence(self, k: int) -> datetime | None:
        anchor = self.start or self.end
        if anchor is None or self.duration is None:
            raise TimerError(f"{_quote(self.text)} is not an anchored cycle")
        try:
            return _shift(anchor, self.duration, k)
        except TimerError:
            return None

    def _occurrence_from(self, instant: datetime, *, strictly_after: bool) -> datetime | None:
        """The first occurrence at (or strictly after) `instant`, searched in log time."""
        k_min, k_max = self._bounds()

        def reached(k: int) -> bool:
            occurrence = self._occurrence(k)
            if occurrence is None:
                return k > 0  # beyond year 9999 counts as late enough, before year 1 not
            return occurrence > instant if strictly_after else occurrence >= instant

        if k_max is not None and not reached(k_max):
            return None
        if k_min is None:
            k_max = k_max or 0  # only a cycle up to an end is unbounded below
            step = 1
            k_min = k_max - step
            while reached(k_min):
                step *= 2
                k_min = k_max - step
        if k_max is None:
            step = 1
            k_max = k_min
            while not reached(k_max):
                k_max = k_min + step
                step *= 2
        low, high = k_min, k_max  # invariant: reached(high); answer in [low, high]
        if reached(low):
            high = low
        while high - low > 1:
            middle = (low + high) // 2
            if reached(middle):
                high = middle
            else:
                low = middle
        return self._occurrence(high)


def _kind(kind: TimerKind | str) -> TimerKind:
    try:
        return TimerKind(kind)
    except ValueError:
        raise TimerError(
            f"unknown timer kind {kind!r}; expected 'date', 'duration' or 'cycle'"
        ) from None


def _timer_duration(text: str) -> Duration:
    duration = parse_duration(text)
    if duration.negative and not duration.is_zero:
        raise TimerError(f"{_quote(text)}: a timer duration cannot be negative")
    return duration


def _parse_repeating(text: str) -> dict[str, object]:
    """Read R<n>/<period>, R<n>/<start>/<period>, R<n>/<start>/<end> or R<n>/<period>/<end>."""
    parts = text.split("/")
    match = _REPEAT.fullmatch(parts[0])
    if match is None:
        raise TimerError(
            f"{_quote(text)}: the repetition count {parts[0][1:]!r} after 'R' must be a "
            "whole number of 1 or more, or nothing for a cycle without end"
        )
    count_text = match.group(1)
    repetitions: int | None = None
    if count_text:
        repetitions = int(count_text) if len(count_text) <= 8 else MAX_REPETITIONS + 1
        if repetitions > MAX_REPETITIONS:
            raise TimerError(
                f"{_quote(text)}: {count_text} repetitions is more than the limit of "
                f"{MAX_REPETITIONS:,}; use 'R/...' for a cycle without end"
            )
        if repetitions == 0:
            raise TimerError(f"{_quote(text)}: R0 never fires; give R1 or more")
    if len(parts) not in (2, 3) or not all(part.strip() for part in parts[1:]):
        raise TimerError(
            f"{_quote(text)}: expected 'R<n>/<period>', 'R<n>/<start>/<period>', "
            "'R<n>/<start>/<end>' or 'R<n>/<period>/<end>'"
        )
    values: dict[str, object] = {"repetitions": repetitions}
    if len(parts) == 2:
        values["duration"] = _cycle_period(text, parts[1])
        return values
    first, second = parts[1].strip(), parts[2].strip()
    first_is_period = _looks_like_duration(first)
    second_is_period = _looks_like_duration(second)
    if first_is_period and second_is_period:
        raise TimerError(f"{_quote(text)}: give a start or an end date, not two periods")
    if first_is_period:
        values["duration"] = _cycle_period(text, first)
        values["end"] = parse_datetime(second)
    elif second_is_period:
        values["start"] = parse_datetime(first)
        values["duration"] = _cycle_period(text, second)
    else:
        start, end = parse_datetime(first), parse_datetime(second)
        if end <= start:
            raise TimerError(f"{_quote(text)}: the end must be after the start")
        values["start"], values["end"] = start, end
        values["duration"] = _fixed_duration(end - start)
    return values


def _looks_like_duration(text: str) -> bool:
    return text.lstrip("+-")[:1].upper() == "P" and len(text) - len(text.lstrip("+-")) <= 1


def _cycle_period(text: str, period_text: str) -> Duration:
    period = parse_duration(period_text)
    if period.negative or period.is_zero:
        raise TimerError(f"{_quote(text)}: the period of a cycle must be longer than zero")
    return period


def _fixed_duration(span: timedelta) -> Duration:
    seconds: float | int = span.seconds + span.microseconds / 1_000_000
    if not span.microseconds:
        seconds = span.seconds
    return Duration(days=span.days, seconds=seconds)


def parse_timer(kind: TimerKind | str, text: str) -> TimerSpec:
    """Read a timeDate, timeDuration or timeCycle text. Raises TimerError saying what is wrong.

    Check `is_expression(text)` first: an expression is evaluated when the timer starts
    and its result parsed here; passed unevaluated it is refused.
    """
    return TimerSpec(_kind(kind), text)


__all__ = [
    "MAX_REPETITIONS",
    "MAX_TEXT_LENGTH",
    "Duration",
    "TimerError",
    "TimerKind",
    "TimerSpec",
    "is_expression",
    "parse_datetime",
    "parse_duration",
    "parse_timer",
]
