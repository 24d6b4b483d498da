"""BPMN errors and escalations: propagation to boundary events, codes, catch-all, incidents."""

from __future__ import annotations

from tests.runtime.helpers import live_tokens, seq, simulate

ERRORS = ('<error id="E1" errorCode="CARD_DECLINED"/><error id="E2" errorCode="OTHER"/>'
          '<escalation id="X1" escalationCode="LATE"/>')


def error_boundary(bid: str, on: str, ref: str | None, extra: str = "") -> str:
    ref_attr = f' errorRef="{ref}"' if ref else ""
    return (f'<boundaryEvent id="{bid}" attachedToRef="{on}"><errorEventDefinition{ref_attr}'
            f"{extra}/></boundaryEvent>")


def test_job_failing_with_a_code_goes_to_the_matching_error_boundary():
    body = ('<startEvent id="s"/><serviceTask id="charge"/><endEvent id="e"/>'
            '<task id="declined"/><task id="other"/>' + seq("s", "charge", "e")
            + error_boundary("b1", "charge", "E2") + error_boundary("b2", "charge", "E1",
                                                                      ' camunda:errorCodeVariable="code"')
            + seq("b1", "other") + seq("b2", "declined"))
    sim = simulate(body, extra=ERRORS, services={"charge": [{"error": "CARD_DECLINED"}]})
    sim.run()
    assert sim.completed and sim.visited == ["declined"] and sim.cancelled == ["charge"]
    assert sim.jobs == {}


def test_specific_error_boundary_wins_over_catch_all():
    body = ('<startEvent id="s"/><serviceTask id="charge"/><task id="any"/><task id="exact"/>'
            + seq("s", "charge") + error_boundary("ball", "charge", None)
            + error_boundary("bx", "charge", "E1") + seq("ball", "any") + seq("bx", "exact"))
    sim = simulate(body, extra=ERRORS, services={"charge": [{"error": "CARD_DECLINED"}]})
    sim.run()
    assert sim.visited == ["exact"]


def test_error_end_in_subprocess_propagates_to_the_subprocess_boundary():
    body = ('<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/>'
            '<parallelGateway id="f"/><userTask id="waiting"/>'
            '<endEvent id="fail"><errorEventDefinition errorRef="E1"/></endEvent>'
            + seq("ss", "f", "waiting") + seq("f", "fail") + '</subProcess>'
            '<task id="handled"/><endEvent id="e"/>' + seq("s", "sub", "e")
            + error_boundary("b", "sub", None, ' camunda:errorCodeVariable="code"')
            + seq("b", "handled"))
    sim = simulate(body, extra=ERRORS)
    assert sim.completed and sim.visited == ["handled"]
    assert sorted(sim.cancelled) == ["sub", "waiting"] and sim.variables == {
        "code": "CARD_DECLINED"}


def test_error_crosses_two_subprocess_levels_to_the_outer_boundary():
    inner = ('<subProcess id="inner"><startEvent id="s3"/><endEvent id="boom">'
             '<errorEventDefinition errorRef="E1"/></endEvent>' + seq("s3", "boom")
             + '</subProcess>')
    body = ('<startEvent id="s"/><subProcess id="outer"><startEvent id="s2"/>' + inner
            + seq("s2", "inner") + '</subProcess><task id="h"/>' + seq("s", "outer")
            + error_boundary("b", "outer", "E1") + seq("b", "h"))
    sim = simulate(body, extra=ERRORS)
    assert sim.completed and sim.visited == ["h"] and sorted(sim.cancelled) == ["inner",
                                                                              "outer"]


def test_uncaught_error_is_an_incident_and_the_token_stays():
    body = ('<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/>'
            '<endEvent id="fail"><errorEventDefinition errorRef="E1"/></endEvent>'
            + seq("ss", "fail") + '</subProcess>' + seq("s", "sub")
            + error_boundary("b", "sub", "E2") + '<task id="h"/>' + seq("b", "h"))
    sim = simulate(body, extra=ERRORS)
    assert not sim.completed and sim.incidents[0].element_id == "fail"
    assert live_tokens(sim) == ["fail", "sub"]


def escalation_sub(interrupting: bool) -> str:
    cancel = "" if interrupting else ' cancelActivity="false"'
    return ('<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/>'
            '<intermediateThrowEvent id="up"><escalationEventDefinition escalationRef="X1"/>'
            '</intermediateThrowEvent><userTask id="rest"/>' + seq("ss", "up", "rest")
            + '</subProcess><endEvent id="e"/><task id="manager"/>' + seq("s", "sub", "e")
            + f'<boundaryEvent id="b" attachedToRef="sub"{cancel}>'
            '<escalationEventDefinition escalationRef="X1"/></boundaryEvent>'
            + seq("b", "manager"))


def test_non_interrupting_escalation_forks_and_the_thrower_goes_on():
    sim = simulate(escalation_sub(False), extra=ERRORS)
    assert sim.visited == ["manager"] and sim.open_tasks == ["rest"]
    sim.complete("rest")
    assert sim.completed and sim.visited == ["manager", "rest", "sub"]


def test_interrupting_escalation_cancels_the_subprocess():
    sim = simulate(escalation_sub(True), extra=ERRORS)
    assert sim.completed and sim.visited == ["manager"] and sim.cancelled == ["sub"]


def test_unhandled_escalation_is_ignored_and_the_thrower_continues():
    sim = simulate('<startEvent id="s"/><intermediateThrowEvent id="up">'
                   '<escalationEventDefinition escalationRef="X1"/></intermediateThrowEvent>'
                   '<task id="a"/><endEvent id="e"><escalationEventDefinition '
                   'escalationRef="X1"/></endEvent>' + seq("s", "up", "a", "e"), extra=ERRORS)
    assert sim.completed and sim.visited == ["a"] and sim.incidents == []
