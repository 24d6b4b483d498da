"""The validator names what is wrong, where (element id and line), and how bad it is."""

from __future__ import annotations

from bpmn.diagnostics import Severity
from tests.bpmn.fixtures import load


def codes(result):
    return {(d.code, d.element_id, d.line, d.severity) for d in result.diagnostics}


def only(result, code):
    found = [d for d in result.diagnostics if d.code == code]
    assert found, f"expected {code}, got {[d.code for d in result.diagnostics]}"
    return found[0]


def test_a_clean_model_has_no_diagnostics():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
  <exclusiveGateway id="g" default="f3"/>
  <sequenceFlow id="f2" sourceRef="g" targetRef="e"><conditionExpression>${amount &gt; 1000}</conditionExpression></sequenceFlow>
  <sequenceFlow id="f3" sourceRef="g" targetRef="e"/>
  <endEvent id="e"/>
</process>""")
    assert result.ok and result.diagnostics == ()


def test_flow_target_missing_names_the_flow_and_its_line():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/>
  <sequenceFlow id="f1" sourceRef="s" targetRef="ghost"/>
</process>""")
    d = only(result, "flow.target-missing")
    assert (d.element_id, d.line, d.severity) == ("f1", 4, Severity.ERROR)
    assert "ghost" in d.message
    assert not result.ok


def test_process_without_start_event_cannot_be_deployed():
    result = load("""
<process id="P" isExecutable="true"><userTask id="t"/></process>""")
    d = only(result, "process.no-start-event")
    assert d.element_id == "P" and d.is_error


def test_gateway_with_no_outgoing_flow():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="g"/><parallelGateway id="g"/>
</process>""")
    d = only(result, "gateway.no-outgoing")
    assert (d.element_id, d.line) == ("g", 3)


def test_unreachable_element_is_a_warning():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/><endEvent id="e"/>
  <task id="island"/><sequenceFlow id="f2" sourceRef="island" targetRef="e"/>
</process>""")
    d = only(result, "node.unreachable")
    assert d.element_id == "island" and d.severity is Severity.WARNING
    assert result.ok


def test_boundary_event_attached_to_nothing():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/>
  <boundaryEvent id="b" attachedToRef="missing"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition></boundaryEvent>
</process>""")
    d = only(result, "boundary.attached-missing")
    assert (d.element_id, d.line) == ("b", 4)


def test_condition_that_does_not_parse_names_the_flow_and_line():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><exclusiveGateway id="g"/><endEvent id="e"/>
  <sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
  <sequenceFlow id="f1" sourceRef="g" targetRef="e"><conditionExpression>${amount &gt;}</conditionExpression></sequenceFlow>
</process>""")
    d = only(result, "expr.syntax")
    assert (d.element_id, d.line, d.severity) == ("f1", 5, Severity.ERROR)
    assert "amount" in d.message


def test_timer_text_that_does_not_parse():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"><timerEventDefinition>
    <timeDuration>every 5 minutes</timeDuration></timerEventDefinition></startEvent>
</process>""")
    d = only(result, "timer.syntax")
    assert (d.element_id, d.line) == ("s", 4)
    assert "every 5 minutes" in d.message and d.is_error


def test_spiffworkflow_style_timer_text_is_accepted_as_a_python_expression():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"><timerEventDefinition><timeDuration>"PT0.5S"</timeDuration></timerEventDefinition></startEvent>
</process>""")
    assert result.ok
    assert only(result, "timer.python-expression").severity is Severity.WARNING


def test_timer_expressions_are_left_for_run_time_but_must_parse():
    good = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"><timerEventDefinition><timeDuration>${wait}</timeDuration></timerEventDefinition></startEvent>
</process>""")
    assert not [d for d in good.diagnostics if d.code.startswith("timer")]
    bad = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"><timerEventDefinition><timeDuration>${wait +}</timeDuration></timerEventDefinition></startEvent>
</process>""")
    assert only(bad, "expr.syntax").element_id == "s"


def test_problems_in_a_non_executable_process_are_only_warnings():
    result = load("""
<process id="P" isExecutable="false">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="ghost"/>
</process>""")
    d = only(result, "flow.target-missing")
    assert d.severity is Severity.WARNING
    assert result.ok


def test_references_to_undeclared_messages_signals_errors():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"><messageEventDefinition messageRef="nomsg"/></startEvent>
  <intermediateThrowEvent id="t"><signalEventDefinition signalRef="nosig"/></intermediateThrowEvent>
  <endEvent id="e"><errorEventDefinition errorRef="noerr"/></endEvent>
</process>""")
    found = {d.code: d.element_id for d in result.diagnostics}
    assert found["ref.message-missing"] == "s"
    assert found["ref.signal-missing"] == "t"
    assert found["ref.error-missing"] == "e"


def test_duplicate_ids_are_errors_with_both_lines():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="x"/>
  <endEvent id="x"/>
</process>""")
    d = only(result, "bpmn.duplicate-id")
    assert d.line == 4 and "line 3" in d.message


def test_event_subprocess_needs_one_triggered_start():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/>
  <subProcess id="es" triggeredByEvent="true"><startEvent id="es_start"/></subProcess>
</process>""")
    assert only(result, "event-subprocess.start-trigger").element_id == "es_start"


def test_unmatched_link_throw():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="t"/>
  <intermediateThrowEvent id="t"><linkEventDefinition name="nowhere"/></intermediateThrowEvent>
</process>""")
    assert only(result, "link.unmatched").element_id == "t"


def test_default_flow_must_leave_the_gateway():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="g"/>
  <exclusiveGateway id="g" default="f"/><sequenceFlow id="f2" sourceRef="g" targetRef="e"/><endEvent id="e"/>
</process>""")
    assert only(result, "gateway.default-invalid").element_id == "g"


def test_file_without_executable_process_warns():
    result = load("""
<process id="P" isExecutable="false"><startEvent id="s"/></process>""")
    assert only(result, "definitions.no-executable-process").severity is Severity.WARNING


def test_not_bpmn_root_is_refused_with_its_line():
    from bpmn.loader import load_model
    result = load_model(b'<?xml version="1.0"?>\n<root xmlns="urn:x"/>')
    d = only(result, "bpmn.not-bpmn")
    assert d.line == 2 and "urn:x" in d.message and result.definitions is None


def test_a_script_that_is_one_expression_is_accepted_with_a_result_variable():
    body = """
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="calc"/>
  <scriptTask id="calc" scriptFormat="groovy" camunda:resultVariable="{result}"><script>a + b</script></scriptTask>
</process>"""
    assert load(body.format(result="sum")).ok
    refused = load(body.replace(' camunda:resultVariable="{result}"', ""))
    assert only(refused, "script.syntax").element_id == "calc"
