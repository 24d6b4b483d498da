"""Scenarios for `manage.py bpmn_run`: a YAML script of steps, checked before anything runs.

A scenario says which process to start with which variables, what scripted service tasks
return, and then a list of steps (complete a task, let time pass, correlate a message,
throw a signal, start another instance, expect a state). See docs/bpmn_run.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from bpmn.timers import Duration, TimerError, parse_datetime, parse_duration

DEFAULT_CLOCK = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
MAIN = "main"


class ScenarioError(Exception):
    """The scenario file is wrong; the message says where (step number, key)."""


@dataclass(frozen=True, slots=True)
class Complete:
    element: str
    where: Mapping[str, object] = field(default_factory=dict)
    instance: str = MAIN
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Advance:
    duration: Duration
    text: str


@dataclass(frozen=True, slots=True)
class Message:
    name: str
    correlation: Mapping[str, object] = field(default_factory=dict)
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    variables: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Start:
    process: str
    label: str
    variables: Mapping[str, object] = field(default_factory=dict)
    business_key: str | None = None


EXPECT_KEYS = ("open_tasks", "completed", "status", "variables", "visited", "cancelled",
               "service_calls", "incidents")


@dataclass(frozen=True, slots=True)
class Expect:
    checks: Mapping[str, object]
    instance: str = MAIN


ScenarioStep = Complete | Advance | Message | Signal | Start | Expect


@dataclass(frozen=True, slots=True)
class Scenario:
    process: str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)
    business_key: str | None = None
    clock: datetime = DEFAULT_CLOCK
    services: Mapping[str, tuple[Mapping[str, object], ...]] = field(default_factory=dict)
    steps: tuple[ScenarioStep, ...] = ()


_TOP_KEYS = {"process", "variables", "business_key", "clock", "services", "steps"}
_STEP_KEYS: dict[str, set[str]] = {
    "complete": {"where", "instance", "variables"},
    "advance": set(),
    "message": {"correlation", "variables"},
    "signal": {"variables"},
    "start": {"label", "variables", "business_key"},
    "expect": {"instance"},
}
_OUTCOME_KEYS = {"result", "error", "fail", "message"}


def parse_scenario(text: str) -> Scenario:
    """Read a scenario from YAML text; raise ScenarioError naming what is wrong and where."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a mapping with keys like process, variables, steps")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"unknown key(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
    clock = DEFAULT_CLOCK
    if data.get("clock") is not None:
        try:
            clock = (data["clock"] if isinstance(data["clock"], datetime)
                     else parse_datetime(str(data["clock"])))
        except TimerError as exc:
            raise ScenarioError(f"clock: {exc.message}") from None
        if clock.tzinfo is None:
            clock = clock.replace(tzinfo=UTC)
    steps = data.get("steps") or []
    if not isinstance(steps, list):
        raise ScenarioError("steps: expected a list of steps")
    return Scenario(
        process=_optional_str(data.get("process"), "process"),
        variables=_mapping(data.get("variables"), "variables"),
        business_key=_optional_str(data.get("business_key"), "business_key"),
        clock=clock,
        services=_services(data.get("services")),
        steps=tuple(_step(raw, number) for number, raw in enumerate(steps, start=1)),
    )


def _optional_str(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise ScenarioError(f"{where}: expected text, got {type(value).__name__}")
    return str(value)


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): _json_value(v) for k, v in value.items()}


def _json_value(value: Any) -> object:
    """YAML dates become ISO text: process variables are JSON values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return value


def _services(value: object) -> Mapping[str, tuple[Mapping[str, object], ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError("services: expected a mapping of task id to a list of outcomes")
    services: dict[str, tuple[Mapping[str, object], ...]] = {}
    for task_id, outcomes in value.items():
        if not isinstance(outcomes, list):
            outcomes = [outcomes]
        checked = []
        for number, outcome in enumerate(outcomes, start=1):
            where = f"services.{task_id}[{number}]"
            if not isinstance(outcome, dict) or not outcome or set(outcome) - _OUTCOME_KEYS:
                raise ScenarioError(f"{where}: expected one of result: {{...}}, error: CODE, "
                                    f"fail: MESSAGE")
            if "result" in outcome and not isinstance(outcome["result"] or {}, dict):
                raise ScenarioError(f"{where}.result: expected a mapping of variables")
            checked.append({str(k): _json_value(v) for k, v in outcome.items()})
        services[str(task_id)] = tuple(checked)
    return services


def _step(raw: object, number: int) -> ScenarioStep:
    where = f"step {number}"
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(f"{where}: expected a mapping such as 'complete: TASK_ID'")
    kinds = [k for k in raw if k in _STEP_KEYS]
    if len(kinds) != 1:
        raise ScenarioError(f"{where}: name exactly one action of {sorted(_STEP_KEYS)}, "
                            f"got {sorted(map(str, raw))}")
    kind = kinds[0]
    extra = set(raw) - {kind} - _STEP_KEYS[kind]
    if extra:
        raise ScenarioError(f"{where} ({kind}): unknown key(s) {sorted(map(str, extra))}; "
                            f"allowed: {sorted(_STEP_KEYS[kind])}")
    value = raw[kind]
    variables = _mapping(raw.get("variables"), f"{where}.variables")
    if kind == "complete":
        return Complete(_required_str(value, where, kind),
                        _mapping(raw.get("where"), f"{where}.where"),
                        _optional_str(raw.get("instance"), f"{where}.instance") or MAIN,
                        variables)
    if kind == "advance":
        text = _required_str(value, where, kind)
        try:
            return Advance(parse_duration(text), text)
        except TimerError as exc:
            raise ScenarioError(f"{where} (advance): {exc.message}") from None
    if kind == "message":
        return Message(_required_str(value, where, kind),
                       _mapping(raw.get("correlation"), f"{where}.correlation"), variables)
    if kind == "signal":
        return Signal(_required_str(value, where, kind), variables)
    if kind == "start":
        process = _required_str(value, where, kind)
        return Start(process, _optional_str(raw.get("label"), f"{where}.label") or process,
                     variables, _optional_str(raw.get("business_key"), f"{where}.business_key"))
    checks = _mapping(value, f"{where}.expect")
    unknown = set(checks) - set(EXPECT_KEYS)
    if unknown:
        raise ScenarioError(f"{where} (expect): unknown check(s) {sorted(unknown)}; "
                            f"allowed: {list(EXPECT_KEYS)}")
    return Expect(checks, _optional_str(raw.get("instance"), f"{where}.instance") or MAIN)


def _required_str(value: object, where: str, kind: str) -> str:
    if not isinstance(value, str | int) or value == "":
        raise ScenarioError(f"{where} ({kind}): expected a name or text after '{kind}:'")
    return str(value)


def check_expectation(expect: Expect, snapshot: Mapping[str, Any]) -> list[str]:
    """What in `snapshot` differs from `expect` (empty: it held)."""
    failures: list[str] = []
    for key, wanted in expect.checks.items():
        actual: object
        if key == "open_tasks":
            counts: dict[str, int] = {}
            for task in snapshot["open_tasks"]:
                counts[task["id"]] = counts.get(task["id"], 0) + 1
            if isinstance(wanted, dict):
                actual = {k: counts.get(k, 0) for k in wanted}
            else:
                actual = sorted(counts)
                wanted = sorted(wanted) if isinstance(wanted, list) else wanted
        elif key == "variables" and isinstance(wanted, dict):
            actual = {k: snapshot["variables"].get(k) for k in wanted}
        elif key == "incidents" and isinstance(wanted, int):
            actual = len(snapshot["incidents"])
        else:
            actual = snapshot[key]
        if actual != wanted:
            failures.append(f"{expect.instance}: {key} is {actual!r}, expected {wanted!r}")
    return failures
