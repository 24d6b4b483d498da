"""Boundary events: timers, messages, signals; interrupting and not; armed only while active."""

from __future__ import annotations

from datetime import timedelta

from tests.runtime.helpers import live_tokens, seq, simulate


def boundary(bid: str, on: str, definition: str, interrupting: bool = True) -> str:
    cancel = "" if interrupting else ' cancelActivity="false"'
    return f'<boundaryEvent id="{bid}" attachedToRef="{on}"{cancel}>{definition}</boundaryEvent>'


def timer(kind: str, text: str) -> str:
    return f"<timerEventDefinition><{kind}>{text}</{kind}></timerEventDefinition>"


TASK = '<startEvent id="s"/><userTask id="u"/><endEvent id="e"/><task id="late"/>' \
       '<endEvent id="e2"/>' + seq("s", "u", "e") + seq("b", "late", "e2")


def test_interrupting_timer_cancels_the_task_and_continues_from_the_boundary():
    sim = simulate(TASK + boundary("b", "u", timer("timeDuration", "PT1H")))
    assert len(sim.jobs) == 1 and sim.open_tasks == ["u"]
    sim.advance(timedelta(hours=1))
    assert sim.completed and sim.cancelled == ["u"] and sim.visited == ["late"]
    assert sim.tasks == {}


def test_boundary_timer_is_cancelled_when_the_activity_completes_first():
    sim = simulate(TASK + boundary("b", "u", timer("timeDuration", "PT1H")))
    sim.complete("u")
    assert sim.completed and sim.jobs == {} and sim.visited == ["u"]


def test_non_interrupting_cycle_fires_r_times_and_keeps_the_task():
    sim = simulate(TASK + boundary("b", "u", timer("timeCycle", "R3/PT10M"), False))
    sim.advance(timedelta(hours=2))
    assert sim.visited == ["late", "late", "late"] and sim.open_tasks == ["u"]
    assert sim.jobs == {}
    sim.complete("u")
    assert sim.completed


def test_non_interrupting_cycle_stops_when_the_task_completes():
    sim = simulate(TASK + boundary("b", "u", timer("timeCycle", "R5/PT10M"), False))
    sim.advance(timedelta(minutes=25))
    assert sim.visited == ["late", "late"]
    sim.complete("u")
    assert sim.completed and sim.jobs == {}


def test_message_boundary_interrupts_a_service_task():
    sim = simulate(TASK.replace("userTask", "serviceTask") + boundary(
        "b", "u", '<messageEventDefinition messageRef="m"/>'),
        extra='<message id="m" name="Stop"/>')
    assert len(sim.jobs) == 1 and len(sim.subscriptions) == 1
    sim.message("Stop")
    assert sim.completed and sim.cancelled == ["u"] and sim.jobs == {}
    assert sim.subscriptions == {}


def test_non_interrupting_signal_boundary_forks_and_stays_subscribed():
    sim = simulate(TASK + boundary("b", "u", '<signalEventDefinition signalRef="g"/>', False),
                   extra='<signal id="g" name="Ping"/>')
    sim.signal("Ping")
    sim.signal("Ping")
    assert sim.visited == ["late", "late"] and sim.open_tasks == ["u"]
    assert len(sim.subscriptions) == 1
    sim.complete("u")
    assert sim.completed and sim.subscriptions == {}


def test_boundary_on_a_subprocess_cancels_everything_inside():
    body = ('<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/>'
            '<parallelGateway id="f"/><userTask id="i1"/><serviceTask id="i2"/>'
            '<intermediateCatchEvent id="i3"><messageEventDefinition messageRef="m"/>'
            '</intermediateCatchEvent>' + seq("ss", "f", "i1") + seq("f", "i2") + seq("f", "i3")
            + '</subProcess><endEvent id="e"/><task id="late"/>'
            + seq("s", "sub", "e") + seq("b", "late")
            + boundary("b", "sub", timer("timeDuration", "PT1H")))
    sim = simulate(body, extra='<message id="m" name="M"/>')
    assert len(sim.tasks) == 1 and len(sim.subscriptions) == 1 and len(sim.jobs) == 2
    sim.fire_next_timer()
    assert sim.completed and sorted(sim.cancelled) == ["i1", "i2", "sub"]
    assert sim.tasks == {} and sim.jobs == {} and sim.subscriptions == {}
    assert sim.state is not None and len(sim.state.scopes) == 1


def test_waiting_boundary_has_no_effect_on_an_activity_that_never_waits():
    sim = simulate('<startEvent id="s"/><task id="u"/><endEvent id="e"/>' + seq("s", "u", "e")
                   + boundary("b", "u", timer("timeDuration", "PT1H")) + '<task id="late"/>'
                   + seq("b", "late"))
    assert sim.completed and sim.jobs == {} and live_tokens(sim) == []
