"""Long models run without recursion and the state does not grow with the model or history.

Timing is not asserted here (a shared 2-core machine makes timed tests flaky); the figures
for 50 / 1,000 / 10,000 tasks come from `python -m benchmarks.runtime_scale`.
"""

from __future__ import annotations

import itertools
import json

from bpmn.loader import load_model
from engine import runtime
from tests.bpmn.fixtures import wrap
from tests.runtime.helpers import NOW


def sequential_model(n: int, kind: str = "task") -> runtime.CompiledProcess:
    parts = ['<process id="p" isExecutable="true"><startEvent id="s"/>']
    parts += [f'<{kind} id="t{i}"/>' for i in range(n)]
    parts.append('<endEvent id="e"/>')
    ids = ["s", *(f"t{i}" for i in range(n)), "e"]
    parts += [f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
              for i, (a, b) in enumerate(itertools.pairwise(ids))]
    parts.append("</process>")
    result = load_model(wrap("".join(parts)).encode())
    assert result.ok and result.definitions is not None
    return runtime.compile_process(result.definitions, "p")


def test_ten_thousand_tasks_in_a_row_complete_in_one_start():
    step = runtime.start(sequential_model(10_000), {}, now=NOW)
    assert step.state.completed
    completed = [e for e in step.effects if isinstance(e, runtime.Audit)
                 and e.kind is runtime.AuditKind.ACTIVITY_COMPLETED]
    assert len(completed) == 10_000


def _state_sizes(n: int, steps: int) -> list[int]:
    compiled = sequential_model(n, "userTask")
    step = runtime.start(compiled, {}, now=NOW)
    sizes = []
    for _ in range(steps):
        (task,) = [e for e in step.effects if isinstance(e, runtime.CreateUserTask)]
        step = runtime.handle(compiled, step.state, runtime.TaskCompleted(task.task_id),
                              now=NOW)
        sizes.append(len(json.dumps(step.state.to_json())))
    return sizes


def test_state_size_does_not_grow_with_history_or_model_size():
    small, large = _state_sizes(50, 40), _state_sizes(10_000, 40)
    # History lives in the audit rows: after 1 or 40 completed tasks the state is the same
    # size (give or take the digits of a counter), in a 50-task and a 10,000-task model.
    assert max(small) - min(small) <= 8
    assert max(large) - min(large) <= 8
    assert abs(max(large) - max(small)) <= 8
