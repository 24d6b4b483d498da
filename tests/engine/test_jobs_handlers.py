"""Service task handlers the job tests use, in-process and in spawned worker processes.

No tests here: worker processes import this module through SERVICE_TASK_MODULES, so it
registers its handlers on import. In-process tests steer `BEHAVIOUR`; handlers meant for
other processes are steered by files named in the instance's variables.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from engine.service_tasks import BpmnError, ServiceCall, service_task

# name -> what the in-process handler does next: "ok" | "fail" | "bpmn:<code>"
BEHAVIOUR: dict[str, str] = {}
CALLS: list[tuple[str, ServiceCall]] = []


def _behave(name: str, call: ServiceCall) -> Mapping[str, object]:
    CALLS.append((name, call))
    what = BEHAVIOUR.get(name, "ok")
    if what == "fail":
        raise RuntimeError(f"{name} is down")
    if what.startswith("bpmn:"):
        raise BpmnError(what[5:], f"{name} says no")
    return {f"{name}_done": True, f"{name}_key": call.idempotency_key}


@service_task("jobsTestDelegate")
def by_delegate(call: ServiceCall) -> Mapping[str, object]:
    return _behave("delegate", call)


@service_task("JobsTestClass")
def by_class(call: ServiceCall) -> Mapping[str, object]:
    return _behave("class", call)


@service_task("jobsTestBean")
def by_expression(call: ServiceCall) -> Mapping[str, object]:
    return _behave("expression", call)


@service_task("jobs-test-zeebe")
def by_zeebe(call: ServiceCall) -> Mapping[str, object]:
    return _behave("zeebe", call)


@service_task("jobs_test_by_id")
def by_id(call: ServiceCall) -> Mapping[str, object]:
    return _behave("by_id", call)


@service_task("jobsCharge")
def charge(call: ServiceCall) -> Mapping[str, object]:
    return _behave("charge", call)


@service_task("jobsFlaky")
def flaky(call: ServiceCall) -> Mapping[str, object]:
    return _behave("flaky", call)


@service_task("jobs-flaky-zeebe")
def flaky_zeebe(call: ServiceCall) -> Mapping[str, object]:
    return _behave("flaky_zeebe", call)


@service_task("jobsNoop")
def noop(call: ServiceCall) -> None:
    return None


def _log(call: ServiceCall, event: str) -> None:
    path = call.variables.get("log")
    if isinstance(path, str):
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, "key": call.idempotency_key,
                                  "pid": os.getpid(), "at": time.time(),
                                  "attempt": call.attempt}) + "\n")


@service_task("jobsSlowOnce")
def slow_once(call: ServiceCall) -> Mapping[str, object]:
    """Sleeps the first time it sees its key (the crash test kills it then); later, not."""
    marker = Path(str(call.variables["log"]) + ".seen")
    first = not marker.exists()
    marker.touch()
    _log(call, "start")
    if first:
        time.sleep(float(str(call.variables.get("sleep", 30))))
    _log(call, "end")
    return {"slow_done": True}


@service_task("jobsFailUntilFixed")
def fail_until_fixed(call: ServiceCall) -> Mapping[str, object]:
    _log(call, "attempt")
    if not Path(str(call.variables["fixed"])).exists():
        raise RuntimeError("the downstream system is down")
    return {"fixed_done": True}
