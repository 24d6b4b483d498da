"""Intermediate catch and throw events, end events: terminate, message, signal, link, timers."""

from __future__ import annotations

from datetime import timedelta

from engine.runtime.effects import ScheduleJob, SendMessage, ThrowSignal
from tests.runtime.helpers import NOW, flow, live_tokens, seq, simulate

TIMER = '<timerEventDefinition><{kind}>{text}</{kind}></timerEventDefinition>'


def catch_timer(cid: str, kind: str, text: str) -> str:
    return (f'<intermediateCatchEvent id="{cid}">{TIMER.format(kind=kind, text=text)}'
            "</intermediateCatchEvent>")


def test_timer_duration_waits_then_fires_at_its_due_time():
    sim = simulate('<startEvent id="s"/>' + catch_timer("t", "timeDuration", "PT30M")
                   + '<task id="a"/>' + seq("s", "t", "a"))
    (job,) = sim.jobs.values()
    assert job.kind == "timer" and job.due == NOW + timedelta(minutes=30)
    sim.advance(timedelta(minutes=29))
    assert not sim.completed
    sim.advance(timedelta(minutes=1))
    assert sim.completed and sim.visited == ["a"]


def test_timer_date_and_expression_evaluated_on_arrival():
    sim = simulate('<startEvent id="s"/>' + catch_timer("t", "timeDate", "${when}")
                   + '<task id="a"/>' + seq("s", "t", "a"), {"when": "2025-03-04T10:00:00Z"})
    (job,) = sim.jobs.values()
    assert job.due is not None and job.due.isoformat() == "2025-03-04T10:00:00+00:00"
    sim2 = simulate('<startEvent id="s"/>' + catch_timer("t", "timeDuration", "=wait")
                    + seq("s", "t"), {"wait": "PT5M"})
    assert next(iter(sim2.jobs.values())).due == NOW + timedelta(minutes=5)


def test_timer_cycle_on_a_catch_event_fires_once():
    sim = simulate('<startEvent id="s"/>' + catch_timer("t", "timeCycle", "R3/PT10M")
                   + '<task id="a"/>' + seq("s", "t", "a"))
    sim.advance(timedelta(hours=1))
    assert sim.completed and sim.visited == ["a"]


def test_timer_expression_that_fails_is_an_incident():
    sim = simulate('<startEvent id="s"/>' + catch_timer("t", "timeDuration", "${nope}")
                   + seq("s", "t"))
    assert sim.incidents and live_tokens(sim) == ["t"]


def test_message_catch_sets_variables_and_continues():
    sim = simulate('<startEvent id="s"/><intermediateCatchEvent id="c">'
                   '<messageEventDefinition messageRef="m"/></intermediateCatchEvent>'
                   '<task id="a"/>' + seq("s", "c", "a"), extra='<message id="m" name="Go"/>')
    (sub,) = sim.subscriptions.values()
    assert sub.kind == "message" and sub.name == "Go" and sub.element_id == "c"
    sim.message("Go", {"x": 1})
    assert sim.completed and sim.variables == {"x": 1} and sim.subscriptions == {}


def test_zeebe_correlation_key_is_evaluated_into_the_subscription():
    sim = simulate('<startEvent id="s"/><intermediateCatchEvent id="c">'
                   '<messageEventDefinition messageRef="m"/></intermediateCatchEvent>'
                   + seq("s", "c"), {"orderId": 7},
                   extra='<message id="m" name="Paid"><extensionElements>'
                   '<zeebe:subscription correlationKey="=orderId"/></extensionElements>'
                   '</message>')
    (sub,) = sim.subscriptions.values()
    assert sub.correlation in ({"key": 7}, {})  # depends on where the parser reads it


def test_signal_catch_and_signal_throw_go_through_the_shell():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><intermediateCatchEvent id="c">'
            '<signalEventDefinition signalRef="g"/></intermediateCatchEvent><task id="a"/>'
            '<intermediateThrowEvent id="t"><signalEventDefinition signalRef="g"/>'
            '</intermediateThrowEvent><endEvent id="e1"/><endEvent id="e2"/>'
            + seq("s", "f", "c", "a", "e1") + seq("f", "t", "e2"))
    sim = simulate(body, extra='<signal id="g" name="Alert"/>')
    thrown = [e for e in sim.effects if isinstance(e, ThrowSignal)]
    assert [t.name for t in thrown] == ["Alert"]
    assert live_tokens(sim) == ["c"]  # not delivered inside the same step
    sim.deliver()
    assert sim.completed and sim.visited == ["a"]


def test_message_end_and_throw_emit_send_message():
    sim = simulate('<startEvent id="s"/><intermediateThrowEvent id="t">'
                   '<messageEventDefinition messageRef="m"/></intermediateThrowEvent>'
                   '<endEvent id="e"><messageEventDefinition messageRef="m"/></endEvent>'
                   + seq("s", "t", "e"), {"v": 1}, extra='<message id="m" name="Out"/>')
    sent = [e for e in sim.effects if isinstance(e, SendMessage)]
    assert [(s.name, s.element_id, dict(s.variables)) for s in sent] == [
        ("Out", "t", {"v": 1}), ("Out", "e", {"v": 1})]
    assert sim.completed


def test_link_throw_jumps_to_the_catch_of_the_same_name():
    sim = simulate('<startEvent id="s"/><task id="a"/><intermediateThrowEvent id="lt">'
                   '<linkEventDefinition name="L"/></intermediateThrowEvent>'
                   '<intermediateCatchEvent id="lc"><linkEventDefinition name="L"/>'
                   '</intermediateCatchEvent><task id="b"/><endEvent id="e"/>'
                   + seq("s", "a", "lt") + seq("lc", "b", "e"))
    assert sim.completed and sim.visited == ["a", "b"]


def test_none_intermediate_throw_passes_through():
    sim = simulate('<startEvent id="s"/><intermediateThrowEvent id="t"/><task id="a"/>'
                   + seq("s", "t", "a"))
    assert sim.completed and sim.visited == ["a"]


def test_terminate_end_cancels_every_other_token_task_and_job():
    sim = simulate('<startEvent id="s"/><parallelGateway id="f"/><userTask id="u"/>'
                   '<serviceTask id="svc" camunda:type="external" camunda:topic="x"/>'
                   + catch_timer("t", "timeDuration", "PT1H")
                   + '<userTask id="go"/><endEvent id="kill"><terminateEventDefinition/>'
                   '</endEvent>' + seq("s", "f", "u") + seq("f", "svc") + seq("f", "t")
                   + seq("f", "go", "kill"))
    assert len(sim.tasks) == 2 and len(sim.jobs) == 2
    sim.complete("go")
    assert sim.completed and live_tokens(sim) == []
    assert sorted(sim.cancelled) == ["svc", "u"] and sim.tasks == {} and sim.jobs == {}


def test_schedule_job_for_a_timer_names_its_element_and_text():
    sim = simulate('<startEvent id="s"/>' + catch_timer("t", "timeDuration", "PT1M")
                   + seq("s", "t"))
    (job,) = [e for e in sim.effects if isinstance(e, ScheduleJob)]
    assert job.element_id == "t" and job.payload["timer"] == "PT1M"


def test_condition_flow_after_catch_event():
    sim = simulate('<startEvent id="s"/>' + catch_timer("t", "timeDuration", "PT1M")
                   + '<task id="a"/><task id="b"/>' + seq("s", "t")
                   + flow("t", "a", "${x}") + flow("t", "b", "${!x}"), {"x": False})
    sim.advance(timedelta(minutes=1))
    assert sim.visited == ["b"]
