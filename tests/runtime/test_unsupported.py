"""What the runtime cannot run is reported with element id and line, never skipped."""

from __future__ import annotations

import pytest

from engine import runtime
from tests.bpmn.fixtures import load
from tests.runtime.helpers import seq

CASES = {
    # Neither cardinality nor collection: nothing says how many instances to make.
    "multi-instance without a count": '<task id="x"><multiInstanceLoopCharacteristics '
                                      'isSequential="true"/></task>',
    # BPMN 2.0.2 13.2.7: a loop without a condition "cannot be formally executed".
    "standard loop without a condition": '<task id="x"><standardLoopCharacteristics/></task>',
    "call activity without a called element": '<callActivity id="x"/>',
    # All triggers of a parallelMultiple start would have to be collected before an
    # instance exists.
    "parallel multiple start": '<startEvent id="x" parallelMultiple="true">'
                               '<messageEventDefinition/><signalEventDefinition/></startEvent>',
    "multiple catch with an error definition": (
        '<intermediateCatchEvent id="x"><messageEventDefinition/><linkEventDefinition '
        'name="l"/></intermediateCatchEvent>'),
    "ad-hoc with a start event": '<adHocSubProcess id="x"><startEvent id="in"/>'
                                 '</adHocSubProcess>',
    "instantiating receive task in a subprocess": '<subProcess id="sp"><receiveTask id="x" '
                                                  'instantiate="true"/></subProcess>',
    # A process-level conditional start needs the shell to evaluate it outside instances.
    "conditional start": '<startEvent id="x"><conditionalEventDefinition>'
                         '<condition>${a}</condition></conditionalEventDefinition>'
                         '</startEvent>',
    # BPMN 2.0.2 10.5.3: a cancel end event is used only directly inside a transaction.
    "cancel end outside a transaction": '<endEvent id="x"><cancelEventDefinition/></endEvent>',
    "cancel boundary on a plain task": '<boundaryEvent id="x" attachedToRef="t">'
                                       '<cancelEventDefinition/></boundaryEvent><task id="t"/>',
    "compensation boundary without a handler": '<boundaryEvent id="x" attachedToRef="t">'
                                               '<compensateEventDefinition/></boundaryEvent>'
                                               '<task id="t"/>',
    "compensation handler with a loop": (
        '<task id="x" isForCompensation="true"><multiInstanceLoopCharacteristics>'
        '<loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics></task>'
        '<boundaryEvent id="b" attachedToRef="t"><compensateEventDefinition/></boundaryEvent>'
        '<task id="t"/><association id="as" sourceRef="b" targetRef="x"/>'),
    "compensation activityRef in another scope": (
        '<intermediateThrowEvent id="x"><compensateEventDefinition activityRef="in"/>'
        '</intermediateThrowEvent><subProcess id="sp"><task id="in"/></subProcess>'),
    "message start in subprocess": '<subProcess id="sp"><startEvent id="x">'
                                   '<messageEventDefinition/></startEvent></subProcess>',
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_construct_is_reported_with_element_and_line(case):
    body = f'<process id="p" isExecutable="true"><startEvent id="s"/>\n{CASES[case]}</process>'
    result = load(body)
    assert result.definitions is not None
    found = [d for d in runtime.unsupported(result.definitions, "p") if d.is_error]
    assert found and found[0].code == "runtime.unsupported"
    assert found[0].element_id == "x" and found[0].line == 2  # the line after the newline
    with pytest.raises(runtime.CompileError):
        runtime.compile_process(result.definitions, "p")


def test_event_subprocess_with_a_none_start_is_reported():
    result = load('<process id="p" isExecutable="true"><startEvent id="s"/>'
                  '<subProcess id="x" triggeredByEvent="true"><startEvent id="es"/>'
                  '</subProcess></process>')
    assert result.definitions is not None
    ids = {d.element_id for d in runtime.unsupported(result.definitions, "p")}
    assert "es" in ids


def test_a_supported_model_has_no_reasons():
    result = load('<process id="p" isExecutable="true"><startEvent id="s"/><userTask id="u"/>'
                  + seq("s", "u") + "</process>")
    assert result.definitions is not None
    assert runtime.unsupported(result.definitions, "p") == []


def test_listeners_are_a_warning_not_a_refusal():
    result = load('<process id="p" isExecutable="true"><startEvent id="s"/><task id="t">'
                  '<extensionElements><camunda:executionListener event="start" '
                  'class="a.B"/></extensionElements></task>' + seq("s", "t") + "</process>")
    assert result.definitions is not None
    (found,) = runtime.unsupported(result.definitions, "p")
    assert not found.is_error and found.code == "runtime.ignored"
    runtime.compile_process(result.definitions, "p")
