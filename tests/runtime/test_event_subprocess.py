"""Event subprocesses: armed with their scope, interrupting or not, errors and escalations."""

from __future__ import annotations

from datetime import timedelta

from engine.runtime import effects as fx
from tests.runtime.helpers import live_tokens, seq, simulate

DEFS = ('<message id="M" name="Cancel"/><message id="N" name="Note"/><signal id="S" name="Alert"/>'
        '<error id="E1" errorCode="CARD_DECLINED"/><error id="E2" errorCode="OTHER"/>'
        '<escalation id="X1" escalationCode="LATE"/>')


def esp(sid: str, definition: str, inner: str = '<userTask id="handle"/>',
        interrupting: bool = True, start: str = "es", attrs: str = "") -> str:
    flag = "" if interrupting else ' isInterrupting="false"'
    first = inner.split('id="', 1)[1].split('"', 1)[0]
    return (f'<subProcess id="{sid}" triggeredByEvent="true"><startEvent id="{start}"{flag}'
            f"{attrs}>{definition}</startEvent>{inner}<endEvent id=\"{sid}_end\"/>"
            + seq(start, first, f"{sid}_end") + "</subProcess>")


def msg(ref: str = "M") -> str:
    return f'<messageEventDefinition messageRef="{ref}"/>'


def timer(kind: str, text: str) -> str:
    return f"<timerEventDefinition><{kind}>{text}</{kind}></timerEventDefinition>"


MAIN = '<startEvent id="s"/><userTask id="work"/><endEvent id="e"/>' + seq("s", "work", "e")


def subscriptions(sim) -> list[str]:
    return sorted(str(s.name) for s in sim.subscriptions.values())


def test_interrupting_message_cancels_the_main_flow_and_the_process_ends_with_it():
    sim = simulate(MAIN + esp("cancel", msg()), extra=DEFS)
    assert subscriptions(sim) == ["Cancel"] and sim.open_tasks == ["work"]
    sim.message("Cancel", {"why": "customer"})
    assert sim.cancelled == ["work"] and sim.open_tasks == ["handle"]
    assert sim.subscriptions == {} and sim.variables == {"why": "customer"}
    sim.complete("handle")
    assert sim.completed and sim.visited == ["handle", "cancel"]


def test_subscription_is_removed_when_the_scope_completes_first():
    sim = simulate(MAIN + esp("cancel", msg()), extra=DEFS)
    sim.complete("work")
    assert sim.completed and sim.subscriptions == {}
    assert any(isinstance(e, fx.Unsubscribe) for e in sim.effects)


def test_non_interrupting_message_runs_alongside_and_may_start_several_times():
    sim = simulate(MAIN + esp("note", msg("N"), interrupting=False), extra=DEFS)
    sim.message("Note")
    sim.message("Note")
    assert sim.open_tasks == ["work", "handle", "handle"] and sim.cancelled == []
    assert subscriptions(sim) == ["Note"]
    sim.complete("work")
    assert not sim.completed  # the process waits for the running event subprocesses
    assert subscriptions(sim) == ["Note"]  # still in its scope: still listening
    sim.complete("handle")
    sim.complete("handle")
    assert sim.completed and sim.subscriptions == {}
    assert sim.visited == ["work", "handle", "note", "handle", "note"]


def test_interrupting_timer_fires_once_and_ends_the_scope():
    sim = simulate(MAIN + esp("late", timer("timeDuration", "PT1H"),
                              '<task id="handle"/>'), extra=DEFS)
    assert len(sim.jobs) == 1
    sim.advance(timedelta(hours=2))
    assert sim.completed and sim.cancelled == ["work"] and sim.visited == ["handle", "late"]
    assert sim.tasks == {} and sim.jobs == {}


def test_non_interrupting_timer_cycle_starts_r_instances():
    sim = simulate(MAIN + esp("remind", timer("timeCycle", "R3/PT10M"), '<task id="ping"/>',
                              interrupting=False), extra=DEFS)
    sim.advance(timedelta(hours=1))
    assert sim.visited == ["ping", "remind"] * 3 and sim.open_tasks == ["work"]
    assert sim.jobs == {}
    sim.complete("work")
    assert sim.completed


def test_timer_date_start_in_an_event_subprocess():
    sim = simulate(MAIN + esp("late", timer("timeDate", "2025-03-03T10:00:00Z"),
                              '<task id="handle"/>'), extra=DEFS)
    (job,) = sim.jobs.values()
    assert job.due is not None and job.due.hour == 10
    sim.advance(timedelta(hours=1))
    assert sim.completed and sim.cancelled == ["work"]


def test_signal_start_interrupts():
    sim = simulate(MAIN + esp("alert", '<signalEventDefinition signalRef="S"/>'), extra=DEFS)
    sim.signal("Alert")
    assert sim.cancelled == ["work"] and sim.open_tasks == ["handle"]


def test_error_end_event_is_caught_by_the_error_event_subprocess_by_code():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="other"/>'
            '<endEvent id="boom"><errorEventDefinition errorRef="E1"/></endEvent>'
            + seq("s", "f", "boom") + seq("f", "other")
            + esp("any", '<errorEventDefinition/>', '<task id="generic"/>', start="es1")
            + esp("exact", '<errorEventDefinition errorRef="E1" camunda:errorCodeVariable="c"/>',
                  '<task id="specific"/>', start="es2"))
    sim = simulate(body, extra=DEFS)
    assert sim.completed and sim.cancelled == ["other"]
    assert sim.visited == ["specific", "exact"] and sim.variables == {"c": "CARD_DECLINED"}


def test_bpmn_error_from_a_job_goes_to_the_catch_all_error_event_subprocess():
    body = ('<startEvent id="s"/><serviceTask id="charge"/><endEvent id="e"/>'
            + seq("s", "charge", "e") + esp("any", '<errorEventDefinition/>', '<task id="h"/>'))
    sim = simulate(body, extra=DEFS, services={"charge": [{"error": "OTHER"}]})
    sim.run()
    assert sim.completed and sim.visited == ["h", "any"] and sim.incidents == []


def test_event_subprocess_inside_the_subprocess_beats_the_boundary_on_it():
    inner = ('<startEvent id="ss"/><serviceTask id="charge"/>' + seq("ss", "charge")
             + esp("inside", '<errorEventDefinition errorRef="E1"/>', '<task id="fix"/>'))
    body = ('<startEvent id="s"/><subProcess id="sub">' + inner + '</subProcess>'
            '<task id="after"/><task id="outside"/><endEvent id="e"/>' + seq("s", "sub", "after", "e")
            + '<boundaryEvent id="b" attachedToRef="sub"><errorEventDefinition errorRef="E1"/>'
            '</boundaryEvent>' + seq("b", "outside"))
    sim = simulate(body, extra=DEFS, services={"charge": [{"error": "CARD_DECLINED"}]})
    sim.run()
    assert sim.completed and sim.visited == ["fix", "inside", "sub", "after"]
    assert "outside" not in sim.visited


def test_boundary_on_the_throwing_activity_beats_the_event_subprocess():
    body = ('<startEvent id="s"/><serviceTask id="charge"/><task id="near"/>'
            + seq("s", "charge") + '<boundaryEvent id="b" attachedToRef="charge">'
            '<errorEventDefinition/></boundaryEvent>' + seq("b", "near")
            + esp("far", '<errorEventDefinition/>', '<task id="h"/>'))
    sim = simulate(body, extra=DEFS, services={"charge": [{"error": "X"}]})
    sim.run()
    assert sim.completed and sim.visited == ["near"]


def test_error_thrown_inside_an_error_event_subprocess_propagates_outwards():
    rethrow = ('<subProcess id="again" triggeredByEvent="true"><startEvent id="es">'
               '<errorEventDefinition/></startEvent><endEvent id="re">'
               '<errorEventDefinition errorRef="E2"/></endEvent>' + seq("es", "re")
               + "</subProcess>")
    body = ('<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/>'
            '<endEvent id="boom"><errorEventDefinition errorRef="E1"/></endEvent>'
            + seq("ss", "boom") + rethrow + '</subProcess><task id="caught"/>'
            + seq("s", "sub") + '<boundaryEvent id="b" attachedToRef="sub">'
            '<errorEventDefinition errorRef="E2"/></boundaryEvent>' + seq("b", "caught"))
    sim = simulate(body, extra=DEFS)
    assert sim.completed and sim.visited == ["caught"] and sim.cancelled == ["again", "sub"]


def test_uncaught_error_is_still_an_incident():
    body = ('<startEvent id="s"/><endEvent id="boom"><errorEventDefinition errorRef="E2"/>'
            '</endEvent>' + seq("s", "boom")
            + esp("exact", '<errorEventDefinition errorRef="E1"/>', '<task id="h"/>'))
    sim = simulate(body, extra=DEFS)
    assert not sim.completed and len(sim.incidents) == 1


def test_non_interrupting_escalation_lets_the_thrower_continue():
    body = ('<startEvent id="s"/><intermediateThrowEvent id="up">'
            '<escalationEventDefinition escalationRef="X1"/></intermediateThrowEvent>'
            '<userTask id="go_on"/><endEvent id="e"/>' + seq("s", "up", "go_on", "e")
            + esp("esc", '<escalationEventDefinition escalationRef="X1"/>', '<task id="h"/>',
                  interrupting=False))
    sim = simulate(body, extra=DEFS)
    assert sim.visited == ["h", "esc"] and sim.open_tasks == ["go_on"]
    sim.complete("go_on")
    assert sim.completed


def test_interrupting_escalation_cancels_the_thrower():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="w"/>'
            '<intermediateThrowEvent id="up"><escalationEventDefinition escalationRef="X1"/>'
            '</intermediateThrowEvent><task id="never"/>' + seq("s", "f", "up", "never")
            + seq("f", "w") + esp("esc", '<escalationEventDefinition/>', '<task id="h"/>'))
    sim = simulate(body, extra=DEFS)
    assert sim.completed and sim.visited == ["h", "esc"] and sim.cancelled == ["w"]
    assert "never" not in sim.visited


def test_event_subprocess_of_an_embedded_subprocess_lives_with_that_subprocess():
    inner = ('<startEvent id="ss"/><userTask id="inner"/><endEvent id="se"/>'
             + seq("ss", "inner", "se") + esp("stop", msg()))
    body = ('<startEvent id="s"/><subProcess id="sub">' + inner + '</subProcess>'
            '<userTask id="after"/><endEvent id="e"/>' + seq("s", "sub", "after", "e"))
    sim = simulate(body, extra=DEFS)
    assert subscriptions(sim) == ["Cancel"]
    sim.message("Cancel")
    assert sim.cancelled == ["inner"] and sim.open_tasks == ["handle"]
    sim.complete("handle")
    assert sim.visited == ["handle", "stop", "sub"] and sim.open_tasks == ["after"]
    assert sim.subscriptions == {}
    sim.complete("after")
    assert sim.completed


def test_subprocess_completing_removes_its_event_subprocess_subscription():
    inner = ('<startEvent id="ss"/><userTask id="inner"/>' + seq("ss", "inner")
             + esp("stop", msg()))
    sim = simulate('<startEvent id="s"/><subProcess id="sub">' + inner + '</subProcess>'
                   '<userTask id="after"/>' + seq("s", "sub", "after"), extra=DEFS)
    sim.complete("inner")
    assert sim.subscriptions == {} and sim.open_tasks == ["after"]


def test_interrupting_event_subprocess_cancels_a_running_non_interrupting_one():
    body = (MAIN + esp("note", msg("N"), '<userTask id="noting"/>', interrupting=False,
                       start="es1")
            + esp("stop", msg(), '<userTask id="stopping"/>', start="es2"))
    sim = simulate(body, extra=DEFS)
    sim.message("Note")
    sim.message("Cancel")
    assert sorted(sim.cancelled) == ["note", "noting", "work"]
    assert sim.open_tasks == ["stopping"] and sim.subscriptions == {}
    assert live_tokens(sim) == ["stop", "stopping"]
    sim.complete("stopping")
    assert sim.completed


def test_cancelling_the_instance_removes_event_subprocess_waits():
    from engine.runtime import triggers as tr

    sim = simulate(MAIN + esp("late", timer("timeDuration", "PT1H"), '<task id="h"/>'),
                   extra=DEFS)
    sim.send(tr.Cancel("admin"))
    assert sim.jobs == {} and sim.tasks == {}


def test_each_multi_instance_subprocess_instance_has_its_own_event_subprocess():
    inner = ('<startEvent id="ss"/><serviceTask id="charge"/>' + seq("ss", "charge")
             + esp("fix", '<errorEventDefinition/>', '<task id="repair"/>'))
    body = ('<startEvent id="s"/><subProcess id="sub"><multiInstanceLoopCharacteristics>'
            '<loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics>'
            + inner + '</subProcess><endEvent id="e"/>' + seq("s", "sub", "e"))
    sim = simulate(body, extra=DEFS,
                   services={"charge": [{"error": "X"}, {"result": {}}]})
    sim.run()
    assert sim.completed and sim.visited.count("repair") == 1
    assert sim.visited.count("charge") == 1 and sim.visited.count("sub") == 2


def test_message_start_in_each_run_of_a_standard_loop_subprocess():
    inner = ('<startEvent id="ss"/><userTask id="inner"/>' + seq("ss", "inner")
             + esp("stop", msg()))
    body = ('<startEvent id="s"/><subProcess id="sub"><standardLoopCharacteristics>'
            '<loopCondition>${loopCounter &lt; 2}</loopCondition></standardLoopCharacteristics>'
            + inner + '</subProcess>' + seq("s", "sub"))
    sim = simulate(body, extra=DEFS)
    sim.message("Cancel")
    sim.complete("handle")
    assert subscriptions(sim) == ["Cancel"]  # the second iteration armed it again
    sim.complete("inner")
    assert sim.completed and sim.subscriptions == {}
