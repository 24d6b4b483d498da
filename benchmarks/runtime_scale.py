"""Time per step of the pure runtime for 50, 1,000 and 10,000 sequential tasks (flat = linear)."""

from __future__ import annotations

import gc
import itertools
import json
import time
from datetime import UTC, datetime

from bpmn.loader import load_model
from engine import runtime

NOW = datetime(2025, 1, 1, tzinfo=UTC)
HEAD = ('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
        'targetNamespace="http://example.com">')


def sequential(n: int, kind: str) -> runtime.CompiledProcess:
    body = ['<process id="p" isExecutable="true"><startEvent id="s"/>']
    body += [f'<{kind} id="t{i}"/>' for i in range(n)]
    ids = ["s", *(f"t{i}" for i in range(n)), "e"]
    body.append('<endEvent id="e"/>')
    body += [f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
             for i, (a, b) in enumerate(itertools.pairwise(ids))]
    result = load_model((HEAD + "".join(body) + "</process></definitions>").encode())
    assert result.definitions is not None
    return runtime.compile_process(result.definitions, "p")


def run_tasks(compiled: runtime.CompiledProcess, collect: bool = True) -> float:
    gc.collect()
    if not collect:
        gc.disable()
    try:
        started = time.perf_counter()
        step = runtime.start(compiled, {}, now=NOW)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    assert step.state.completed
    return elapsed


def run_user_tasks(compiled: runtime.CompiledProcess, n: int, roundtrip: bool) -> float:
    started = time.perf_counter()
    step = runtime.start(compiled, {}, now=NOW)
    state = step.state
    for _ in range(n):
        task = next(e for e in step.effects if isinstance(e, runtime.CreateUserTask))
        step = runtime.handle(compiled, state, runtime.TaskCompleted(task.task_id), now=NOW)
        state = step.state
        if roundtrip:
            state = runtime.InstanceState.from_json(json.loads(json.dumps(state.to_json())))
    assert state.completed
    return time.perf_counter() - started


def main() -> None:
    # Plain tasks run in ONE start() call; "no gc" pauses CPython's cyclic collector, whose
    # passes over the 4 audit effects per task of that one huge step are the interpreter's
    # cost. User tasks are one handle() per task, as in production.
    print("steps   tasks us/task   tasks (no gc)   user tasks us/step   user + JSON us/step")
    for n in (50, 1_000, 10_000):
        tasks, users = sequential(n, "task"), sequential(n, "userTask")
        plain = min(run_tasks(tasks) for _ in range(max(3, 50_000 // n))) / n
        no_gc = min(run_tasks(tasks, False) for _ in range(max(3, 50_000 // n))) / n
        # At least 5 runs: with 3, one busy moment on a shared machine decided the figure.
        user = min(run_user_tasks(users, n, False) for _ in range(max(5, 20_000 // n))) / n
        json_rt = min(run_user_tasks(users, n, True) for _ in range(max(5, 20_000 // n))) / n
        print(f"{n:>6}   {plain * 1e6:>13.1f}   {no_gc * 1e6:>13.1f}   {user * 1e6:>18.1f}   "
              f"{json_rt * 1e6:>19.1f}")


if __name__ == "__main__":
    main()
