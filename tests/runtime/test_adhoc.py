"""Ad-hoc subprocesses (BPMN 2.0.2 §10.3.4; engine/runtime/adhoc.py)."""

from __future__ import annotations

from html import escape

from tests.runtime.helpers import script, seq, simulate


def _adhoc(inner: str, ordering: str = "Parallel", condition: str | None = None,
           cancel: bool = True) -> str:
    cond = ("" if condition is None else
            f'<completionCondition xsi:type="tFormalExpression">{escape(condition)}'
            "</completionCondition>")
    return (f'<startEvent id="s"/><adHocSubProcess id="ah" ordering="{ordering}" '
            f'cancelRemainingInstances="{str(cancel).lower()}">{inner}{cond}'
            '</adHocSubProcess><task id="after"/>' + seq("s", "ah", "after"))


def test_parallel_starts_every_activity_without_incoming_flow():
    sim = simulate(_adhoc('<userTask id="a"/><userTask id="b"/><userTask id="c"/>'
                          '<task id="then"/>' + seq("c", "then")))
    assert sorted(sim.open_tasks) == ["a", "b", "c"]
    for task in ("b", "a", "c"):
        sim.complete(task)
    assert sim.completed and sim.visited[-2:] == ["ah", "after"] and "then" in sim.visited


def test_sequential_runs_one_after_another_in_document_order():
    sim = simulate(_adhoc('<userTask id="a"/><userTask id="b"/><task id="a2"/>'
                          + seq("a", "a2"), ordering="Sequential"))
    assert sim.open_tasks == ["a"]
    sim.complete("a")
    assert sim.open_tasks == ["b"] and "a2" in sim.visited
    sim.complete("b")
    assert sim.completed


def test_completion_condition_cancels_the_remaining_ones():
    sim = simulate(_adhoc('<userTask id="a"/><userTask id="b"/>', condition="${done}"),
                   {"done": False})
    sim.complete("a", {"done": True})
    assert sim.completed and sim.tasks == {} and "b" in sim.cancelled


def test_completion_condition_without_cancel_lets_running_ones_finish():
    sim = simulate(_adhoc('<userTask id="a"/><userTask id="b"/>', condition="${done}",
                          cancel=False), {"done": False})
    sim.complete("a", {"done": True})
    assert not sim.completed and sim.open_tasks == ["b"]
    sim.complete("b")
    assert sim.completed


def test_sequential_completion_condition_starts_nothing_more():
    sim = simulate(_adhoc(script("a", "n = n + 1") + script("b", "n = n + 10")
                          + script("c", "n = n + 100"), ordering="Sequential",
                          condition="${n >= 11}"), {"n": 0})
    assert sim.completed and sim.variables == {"n": 11}
    assert "c" not in sim.visited


def test_empty_sequential_ad_hoc_completes():
    sim = simulate(_adhoc("", ordering="Sequential"))
    assert sim.completed
