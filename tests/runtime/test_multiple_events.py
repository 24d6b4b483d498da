"""Multiple and parallel-multiple events (BPMN 2.0.2 §10.5.1; engine/runtime/multiple.py)."""

from __future__ import annotations

from datetime import timedelta

from engine.runtime.effects import SendMessage, ThrowSignal
from tests.runtime.helpers import compiled, live_tokens, seq, simulate

MSGS = ('<message id="m1" name="A"/><message id="m2" name="B"/>'
        '<signal id="g" name="G"/>')
TWO = '<messageEventDefinition messageRef="m1"/><signalEventDefinition signalRef="g"/>'


def _catch(parallel: bool) -> str:
    flag = ' parallelMultiple="true"' if parallel else ""
    return (f'<startEvent id="s"/><intermediateCatchEvent id="c"{flag}>{TWO}'
            '</intermediateCatchEvent><task id="a"/>' + seq("s", "c", "a"))


def test_multiple_catch_fires_on_any_definition_and_withdraws_the_others():
    sim = simulate(_catch(False), extra=MSGS)
    assert sorted(s.kind for s in sim.subscriptions.values()) == ["message", "signal"]
    assert {s.element_id for s in sim.subscriptions.values()} == {"c#0", "c#1"}
    sim.signal("G", {"x": 1})
    assert sim.completed and sim.variables == {"x": 1} and sim.subscriptions == {}


def test_multiple_catch_with_a_timer_fires_on_the_timer():
    body = ('<startEvent id="s"/><intermediateCatchEvent id="c">'
            '<messageEventDefinition messageRef="m1"/><timerEventDefinition>'
            '<timeDuration>PT5M</timeDuration></timerEventDefinition>'
            '</intermediateCatchEvent><task id="a"/>' + seq("s", "c", "a"))
    sim = simulate(body, extra=MSGS)
    sim.advance(timedelta(minutes=5))
    assert sim.completed and sim.subscriptions == {} and sim.jobs == {}


def test_parallel_multiple_catch_waits_for_all_definitions():
    sim = simulate(_catch(True), extra=MSGS)
    sim.message("A", {"a": 1})
    assert not sim.completed and live_tokens(sim) == ["c"]
    assert [s.kind for s in sim.subscriptions.values()] == ["signal"]
    sim.signal("G", {"g": 2})
    assert sim.completed and sim.variables == {"a": 1, "g": 2}


def test_multiple_boundary_interrupts_on_any_definition():
    body = ('<startEvent id="s"/><userTask id="u"/><endEvent id="e"/>'
            f'<boundaryEvent id="b" attachedToRef="u">{TWO}</boundaryEvent><task id="x"/>'
            + seq("s", "u", "e") + seq("b", "x"))
    sim = simulate(body, extra=MSGS)
    assert len(sim.subscriptions) == 2
    sim.message("A")
    assert sim.completed and sim.visited[-1] == "x" and sim.subscriptions == {}
    assert sim.tasks == {}


def test_parallel_multiple_non_interrupting_boundary_needs_both_and_rearms():
    body = ('<startEvent id="s"/><userTask id="u"/><endEvent id="e"/>'
            '<boundaryEvent id="b" attachedToRef="u" cancelActivity="false" '
            f'parallelMultiple="true">{TWO}</boundaryEvent><task id="x"/>'
            + seq("s", "u", "e") + seq("b", "x"))
    sim = simulate(body, extra=MSGS)
    sim.signal("G")
    assert "x" not in sim.visited
    sim.message("A")
    assert sim.visited.count("x") == 1 and sim.open_tasks == ["u"]
    assert len(sim.subscriptions) == 2  # armed again for the next round
    sim.complete("u")
    assert sim.completed and sim.subscriptions == {}


def test_multiple_event_subprocess_start():
    body = ('<startEvent id="s"/><userTask id="u"/>' + seq("s", "u")
            + f'<subProcess id="esp" triggeredByEvent="true"><startEvent id="es">{TWO}'
            '</startEvent><task id="h"/>' + seq("es", "h") + '</subProcess>')
    sim = simulate(body, extra=MSGS)
    assert len(sim.subscriptions) == 2
    sim.signal("G")
    assert sim.completed and "h" in sim.visited and sim.tasks == {}


def test_multiple_throw_throws_every_definition():
    body = ('<startEvent id="s"/><intermediateThrowEvent id="t">'
            '<messageEventDefinition messageRef="m2"/><signalEventDefinition signalRef="g"/>'
            '</intermediateThrowEvent><endEvent id="e"><messageEventDefinition messageRef="m1"/>'
            '<messageEventDefinition messageRef="m2"/></endEvent>' + seq("s", "t", "e"))
    sim = simulate(body, extra=MSGS)
    assert sim.completed
    sent = [(type(e).__name__, e.name) for e in sim.effects
            if isinstance(e, SendMessage | ThrowSignal)]
    assert sent == [("SendMessage", "B"), ("ThrowSignal", "G"), ("SendMessage", "A"),
                    ("SendMessage", "B")]


def test_multiple_process_start_lists_every_definition():
    body = (f'<startEvent id="s">{TWO}</startEvent><task id="a"/>' + seq("s", "a"))
    proc = compiled(body, MSGS)
    assert [(p.element_id, p.kind, p.name) for p in proc.start_subscriptions] == [
        ("s", "message", "A"), ("s", "signal", "G")]
    sim = simulate(body, {"v": 1}, extra=MSGS, start_event_id="s")
    assert sim.completed and sim.visited == ["a"]
