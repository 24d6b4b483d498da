"""Instantiating receive tasks and event-based gateways (BPMN 2.0.2 §10.5.6 / §13.4.5;
engine/runtime/instantiate.py)."""

from __future__ import annotations

import pytest

from engine import runtime
from tests.runtime.helpers import compiled, seq, simulate

MSGS = '<message id="m1" name="Order"/><message id="m2" name="Cancel"/><signal id="sg" name="G"/>'


def test_instantiating_receive_task_starts_with_its_message_received():
    body = ('<receiveTask id="r" messageRef="m1" instantiate="true"/><userTask id="u"/>'
            + seq("r", "u"))
    proc = compiled(body, MSGS)
    assert [(p.element_id, p.kind, p.name) for p in proc.start_subscriptions] == [
        ("r", "message", "Order")]
    sim = simulate(body, {"order": 7}, extra=MSGS, start_event_id="r")
    assert sim.open_tasks == ["u"] and sim.subscriptions == {}
    assert sim.variables == {"order": 7} and sim.visited == ["r"]


def test_instantiating_event_gateway_starts_at_the_event_that_fired():
    body = ('<eventBasedGateway id="g" instantiate="true" eventGatewayType="Exclusive"/>'
            '<intermediateCatchEvent id="c1"><messageEventDefinition messageRef="m1"/>'
            '</intermediateCatchEvent><intermediateCatchEvent id="c2">'
            '<signalEventDefinition signalRef="sg"/></intermediateCatchEvent>'
            '<receiveTask id="r" messageRef="m2"/><task id="a"/><task id="b"/><task id="x"/>'
            + seq("g", "c1", "a") + seq("g", "c2", "b") + seq("g", "r", "x"))
    proc = compiled(body, MSGS)
    assert [(p.element_id, p.kind, p.name) for p in proc.start_subscriptions] == [
        ("c1", "message", "Order"), ("c2", "signal", "G"), ("r", "message", "Cancel")]
    sim = simulate(body, {"v": 1}, extra=MSGS, start_event_id="c2")
    assert sim.completed and sim.visited == ["b"] and sim.subscriptions == {}
    sim = simulate(body, extra=MSGS, start_event_id="r")
    assert sim.completed and sim.visited == ["r", "x"]


def test_instantiating_gateway_with_a_timer_is_refused():
    body = ('<eventBasedGateway id="g" instantiate="true"/><intermediateCatchEvent id="c">'
            '<timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition>'
            '</intermediateCatchEvent>' + seq("g", "c"))
    with pytest.raises(runtime.CompileError):
        compiled(body, MSGS)
