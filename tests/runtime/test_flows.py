"""Sequence flows, conditions on activity outgoing flows, start events and the run loop."""

from __future__ import annotations

import pytest

from engine import runtime
from engine.runtime.effects import Audit, AuditKind
from tests.runtime.helpers import NOW, compiled, flow, live_tokens, script, seq, simulate


def test_sequence_of_tasks_runs_start_to_end_in_one_step():
    sim = simulate('<startEvent id="s"/><task id="a"/><manualTask id="b"/><endEvent id="e"/>'
                   + seq("s", "a", "b", "e"))
    assert sim.completed and sim.visited == ["a", "b"] and live_tokens(sim) == []
    assert sim.steps == 1


def test_every_token_move_is_audited_in_order():
    sim = simulate('<startEvent id="s"/><task id="a"/><endEvent id="e"/>' + seq("s", "a", "e"))
    kinds = [(e.kind, e.element_id) for e in sim.effects if isinstance(e, Audit)]
    assert kinds == [(AuditKind.PROCESS_STARTED, "s"), (AuditKind.EVENT_PASSED, "s"),
                     (AuditKind.ACTIVITY_STARTED, "a"), (AuditKind.ACTIVITY_COMPLETED, "a"),
                     (AuditKind.EVENT_PASSED, "e"), (AuditKind.PROCESS_COMPLETED, "p")]
    assert isinstance(sim.effects[-1], runtime.Completed)


def test_activity_with_two_unconditional_flows_forks_and_both_paths_end():
    sim = simulate('<startEvent id="s"/><task id="a"/><task id="b"/><task id="c"/>'
                   '<endEvent id="e1"/><endEvent id="e2"/>'
                   + seq("s", "a", "b", "e1") + seq("a", "c", "e2"))
    assert sim.completed and sorted(sim.visited) == ["a", "b", "c"]


def test_conditional_flows_on_an_activity_take_only_true_ones_or_the_default():
    body = ('<startEvent id="s"/><task id="a" default="a-d"/><task id="b"/><task id="c"/>'
            '<task id="d"/><endEvent id="e"/>' + seq("s", "a")
            + flow("a", "b", "${x > 1}") + flow("a", "c", "${x > 2}") + flow("a", "d")
            + seq("b", "e") + seq("c", "e") + seq("d", "e"))
    assert simulate(body, {"x": 5}).visited == ["a", "b", "c"]
    assert simulate(body, {"x": 2}).visited == ["a", "b"]
    assert simulate(body, {"x": 0}).visited == ["a", "d"]


def test_conditions_all_false_without_default_is_an_incident_and_the_token_stays():
    sim = simulate('<startEvent id="s"/><task id="a"/><task id="b"/><endEvent id="e"/>'
                   + seq("s", "a") + flow("a", "b", "${x > 1}") + seq("b", "e"), {"x": 0})
    assert not sim.completed and live_tokens(sim) == ["a"]
    assert sim.incidents and sim.incidents[0].element_id == "a"


def test_a_path_without_end_event_ends_when_it_has_nowhere_to_go():
    sim = simulate('<startEvent id="s"/><task id="a"/>' + seq("s", "a"))
    assert sim.completed and sim.visited == ["a"]


def test_several_none_start_events_need_start_event_id():
    cp = compiled('<startEvent id="s1"/><startEvent id="s2"/><task id="a"/><task id="b"/>'
                  + seq("s1", "a") + seq("s2", "b"))
    with pytest.raises(runtime.NoDefaultStart):
        runtime.start(cp, {}, now=NOW)
    step = runtime.start(cp, {}, now=NOW, start_event_id="s2")
    done = [e.element_id for e in step.effects
            if isinstance(e, Audit) and e.kind == AuditKind.ACTIVITY_COMPLETED]
    assert done == ["b"] and step.state.completed


def test_message_and_timer_start_events_are_reported_for_deploy_and_can_start():
    extra = '<message id="m" name="Order"/>'
    cp = compiled('<startEvent id="sm"><messageEventDefinition messageRef="m"/></startEvent>'
                  '<startEvent id="st"><timerEventDefinition><timeCycle>R/PT1H</timeCycle>'
                  '</timerEventDefinition></startEvent><startEvent id="sg">'
                  '<signalEventDefinition signalRef="g"/></startEvent>'
                  '<task id="a"/>' + seq("sm", "a") + seq("st", "a") + seq("sg", "a"),
                  extra + '<signal id="g" name="Go"/>')
    assert [(s.element_id, s.kind, s.name) for s in cp.start_subscriptions] == [
        ("sm", "message", "Order"), ("sg", "signal", "Go")]
    assert [(s.element_id, s.timer_text) for s in cp.start_timers] == [("st", "R/PT1H")]
    assert cp.none_starts == ()
    step = runtime.start(cp, {"order": 7}, now=NOW, start_event_id="sm", business_key="B-7")
    assert step.state.completed and step.state.business_key == "B-7"
    assert any(isinstance(e, Audit) and e.kind == AuditKind.EVENT_CAUGHT and
               e.element_id == "sm" for e in step.effects)


def test_a_long_sequence_does_not_recurse():
    ids = [f"t{i}" for i in range(3000)]
    body = '<startEvent id="s"/>' + "".join(f'<task id="{t}"/>' for t in ids) + \
        '<endEvent id="e"/>' + seq("s", *ids, "e")
    sim = simulate(body)
    assert sim.completed and len(sim.visited) == 3000


def test_script_results_flow_into_conditions_downstream():
    sim = simulate('<startEvent id="s"/>' + script("a", "x = 3") +
                   '<exclusiveGateway id="g" default="g-c"/><task id="b"/><task id="c"/>'
                   + seq("s", "a", "g") + flow("g", "b", "x == 3") + flow("g", "c"))
    assert sim.visited == ["a", "b"]
