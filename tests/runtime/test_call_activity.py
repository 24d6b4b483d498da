"""Call activities in the pure runtime: child instances as Simulations, variable mappings,
and errors and escalations carried from the child to the call activity."""

from __future__ import annotations

from collections.abc import Mapping

from bpmn.model import Definitions
from engine import runtime
from engine.runtime import effects as fx
from engine.runtime.simulate import Simulation
from tests.bpmn.fixtures import load
from tests.runtime.helpers import NOW, seq

CHILD_TASK = (f'<process id="child" isExecutable="true"><startEvent id="cs"/>'
              f'<userTask id="work"/><endEvent id="ce"/>{seq("cs", "work", "ce")}</process>')


def definitions(xml: str) -> Definitions:
    result = load(xml)
    assert result.ok, [d.format("t") for d in result.errors]
    assert result.definitions is not None
    return result.definitions


def parent_sim(parent_body: str, extra: str = CHILD_TASK,
               variables: Mapping[str, object] | None = None,
               business_key: str | None = None,
               services: dict[str, list[Mapping[str, object]]] | None = None) -> Simulation:
    defs = definitions(f'<process id="p" isExecutable="true">{parent_body}</process>{extra}')

    def resolve(process_id: str) -> runtime.CompiledProcess | None:
        if defs.process(process_id) is None:
            return None
        return runtime.compile_process(defs, process_id)

    sim = Simulation(runtime.compile_process(defs, "p"), NOW, services=services or {},
                     resolve=resolve)
    sim.start(variables, business_key=business_key)
    return sim


def call(extension: str = "", attrs: str = 'calledElement="child"', cid: str = "call") -> str:
    ext = f"<extensionElements>{extension}</extensionElements>" if extension else ""
    return f'<callActivity id="{cid}" {attrs}>{ext}</callActivity>'


SIMPLE = '<startEvent id="s"/>{call}<endEvent id="e"/>' + seq("s", "call", "e")


def test_a_call_activity_waits_for_its_child_and_completes_with_it():
    sim = parent_sim(SIMPLE.format(call=call()))
    (child,) = sim.children.values()
    assert child.open_tasks == ["work"] and sim.open_tasks == []
    assert child.state is not None and child.state.call == next(iter(sim.children))
    assert sim.active
    child.complete("work")
    assert child.completed and sim.completed
    assert sim.visited == ["call"] and child.visited == ["work"]
    assert sim.audits(fx.AuditKind.CALL_STARTED) == ["call"]
    assert sim.audits(fx.AuditKind.CALL_COMPLETED) == ["call"]


def test_camunda_in_and_out_mappings_copy_named_variables_and_expressions():
    mappings = ('<camunda:in source="amount" target="total"/>'
                '<camunda:in sourceExpression="${amount * 2}" target="double"/>'
                '<camunda:out source="result" target="answer"/>'
                '<camunda:out sourceExpression="${total + 1}" target="plusOne"/>')
    sim = parent_sim(SIMPLE.format(call=call(mappings)), variables={"amount": 5, "secret": 1})
    (child,) = sim.children.values()
    assert child.variables == {"total": 5, "double": 10}
    child.complete("work", {"result": "ok"})
    assert sim.completed
    assert sim.variables == {"amount": 5, "secret": 1, "answer": "ok", "plusOne": 6}


def test_variables_all_passes_everything_in_and_out():
    mappings = '<camunda:in variables="all"/><camunda:out variables="all"/>'
    sim = parent_sim(SIMPLE.format(call=call(mappings)), variables={"a": 1, "b": [1, 2]})
    (child,) = sim.children.values()
    assert child.variables == {"a": 1, "b": [1, 2]}
    child.complete("work", {"c": True, "a": 2})
    assert sim.variables == {"a": 2, "b": [1, 2], "c": True}


def test_without_mappings_a_camunda_call_passes_nothing_either_way():
    sim = parent_sim(SIMPLE.format(call=call()), variables={"a": 1})
    (child,) = sim.children.values()
    assert child.variables == {}
    child.complete("work", {"c": True})
    assert sim.completed and sim.variables == {"a": 1}


def test_zeebe_passes_all_variables_and_propagates_all_child_variables_by_default():
    zeebe = '<zeebe:calledElement processId="child"/>'
    sim = parent_sim(SIMPLE.format(call=call(zeebe, attrs="")), variables={"a": 1})
    (child,) = sim.children.values()
    assert child.variables == {"a": 1}
    child.complete("work", {"c": 3})
    assert sim.variables == {"a": 1, "c": 3}


def test_zeebe_output_mappings_decide_alone_what_comes_back():
    zeebe = ('<zeebe:calledElement processId="child"/><zeebe:ioMapping>'
             '<zeebe:output source="=c * 10" target="tenfold"/></zeebe:ioMapping>')
    sim = parent_sim(SIMPLE.format(call=call(zeebe, attrs="")), variables={"a": 1})
    sim.children[next(iter(sim.children))].complete("work", {"c": 3})
    assert sim.variables == {"a": 1, "tenfold": 30}


def test_the_business_key_is_passed_from_the_caller_or_an_expression():
    inherit = '<camunda:in businessKey="${execution.processBusinessKey}"/>'
    sim = parent_sim(SIMPLE.format(call=call(inherit)), business_key="B-7")
    (child,) = sim.children.values()
    assert child.state is not None and child.state.business_key == "B-7"
    computed = '<camunda:in businessKey="${order}"/>'
    sim = parent_sim(SIMPLE.format(call=call(computed)), variables={"order": "O-1"})
    (child,) = sim.children.values()
    assert child.state is not None and child.state.business_key == "O-1"


def test_the_called_element_may_be_an_expression():
    sim = parent_sim(SIMPLE.format(call=call(attrs='calledElement="${which}"')),
                     variables={"which": "child"})
    (child,) = sim.children.values()
    assert child.compiled.process_id == "child"


def test_a_called_process_that_does_not_exist_is_an_incident_and_the_token_stays():
    sim = parent_sim(SIMPLE.format(call=call(attrs='calledElement="nowhere"')))
    assert sim.children == {} and sim.active
    assert [i.element_id for i in sim.incidents] == ["call"]
    assert "nowhere" in sim.incidents[0].message
    assert sim.state is not None
    assert [t.node for t in sim.state.tokens.values()] == ["call"]


CHILD_ERROR = ('<error id="Err" errorCode="E1"/>'
               '<process id="child" isExecutable="true"><startEvent id="cs"/>'
               '<userTask id="work"/><endEvent id="ce"><errorEventDefinition errorRef="Err"/>'
               f'</endEvent>{seq("cs", "work", "ce")}</process>')


def test_a_child_error_is_caught_by_an_error_boundary_event_on_the_call_activity():
    body = (SIMPLE.format(call=call()) +
            '<boundaryEvent id="caught" attachedToRef="call"><errorEventDefinition '
            'errorRef="Err" camunda:errorCodeVariable="code"/></boundaryEvent>'
            '<endEvent id="e2"/>' + seq("caught", "e2"))
    sim = parent_sim(body, CHILD_ERROR)
    (child,) = sim.children.values()
    child.complete("work")
    assert child.state is not None and child.state.status == "cancelled"
    assert child.audits(fx.AuditKind.ERROR_THROWN_OUT) == ["ce"]
    assert sim.completed and sim.variables == {"code": "E1"}
    assert sim.cancelled == ["call"] and sim.incidents == []


def test_an_uncaught_child_error_is_an_incident_in_the_caller():
    sim = parent_sim(SIMPLE.format(call=call()), CHILD_ERROR)
    (child,) = sim.children.values()
    child.complete("work")
    assert child.state is not None and child.state.status == "cancelled"
    assert child.incidents == []
    assert [i.element_id for i in sim.incidents] == ["call"]
    assert sim.active and sim.audits(fx.AuditKind.ERROR_UNHANDLED) == ["call"]


def test_an_error_goes_up_through_two_levels_of_calls():
    middle = ('<process id="middle" isExecutable="true"><startEvent id="ms"/>'
              '<callActivity id="inner" calledElement="child"/><endEvent id="me"/>'
              f'{seq("ms", "inner", "me")}</process>')
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="middle"/>'
            '<endEvent id="e"/><boundaryEvent id="caught" attachedToRef="call">'
            '<errorEventDefinition errorRef="Err"/></boundaryEvent><endEvent id="e2"/>'
            + seq("s", "call", "e") + seq("caught", "e2"))
    sim = parent_sim(body, CHILD_ERROR + middle)
    (mid,) = sim.children.values()
    (leaf,) = mid.children.values()
    leaf.complete("work")
    assert sim.completed and mid.state is not None and mid.state.status == "cancelled"


CHILD_ESCALATION = ('<escalation id="Esc" escalationCode="LATE"/>'
                    '<process id="child" isExecutable="true"><startEvent id="cs"/>'
                    '<intermediateThrowEvent id="up"><escalationEventDefinition '
                    'escalationRef="Esc"/></intermediateThrowEvent><userTask id="work"/>'
                    f'<endEvent id="ce"/>{seq("cs", "up", "work", "ce")}</process>')


def test_a_child_escalation_reaches_a_non_interrupting_boundary_and_the_child_goes_on():
    body = (SIMPLE.format(call=call()) +
            '<boundaryEvent id="late" attachedToRef="call" cancelActivity="false">'
            '<escalationEventDefinition escalationRef="Esc"/></boundaryEvent>'
            '<userTask id="notify"/><endEvent id="e2"/>' + seq("late", "notify", "e2"))
    sim = parent_sim(body, CHILD_ESCALATION)
    (child,) = sim.children.values()
    assert sim.open_tasks == ["notify"] and child.open_tasks == ["work"]
    child.complete("work")
    sim.complete("notify")
    assert sim.completed and child.completed


def test_an_interrupting_escalation_boundary_cancels_the_child():
    body = (SIMPLE.format(call=call()) +
            '<boundaryEvent id="late" attachedToRef="call">'
            '<escalationEventDefinition escalationRef="Esc"/></boundaryEvent>'
            '<endEvent id="e2"/>' + seq("late", "e2"))
    sim = parent_sim(body, CHILD_ESCALATION)
    (child,) = sim.children.values()
    assert sim.completed and child.state is not None and child.state.status == "cancelled"
    assert child.open_tasks == [] and child.cancelled == ["work"]


def test_an_interrupting_timer_boundary_cancels_the_child_instance():
    body = (SIMPLE.format(call=call()) +
            '<boundaryEvent id="timeout" attachedToRef="call"><timerEventDefinition>'
            '<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>'
            '<endEvent id="e2"/>' + seq("timeout", "e2"))
    sim = parent_sim(body)
    (child,) = sim.children.values()
    sim.fire_next_timer()
    assert sim.completed and sim.cancelled == ["call"]
    assert child.state is not None and child.state.status == "cancelled"
    assert child.open_tasks == [] and child.cancelled == ["work"]


def test_cancelling_the_caller_cancels_its_children():
    sim = parent_sim(SIMPLE.format(call=call()))
    sim.send(runtime.Cancel("admin"))
    (child,) = sim.children.values()
    assert child.state is not None and child.state.status == "cancelled"


def test_a_multi_instance_call_activity_starts_one_child_per_inner_instance():
    mi = ('<callActivity id="call" calledElement="child"><extensionElements>'
          '<camunda:in source="item" target="item"/>'
          '<camunda:out source="done" target="done"/></extensionElements>'
          '<multiInstanceLoopCharacteristics camunda:collection="items" '
          'camunda:elementVariable="item"/></callActivity>')
    sim = parent_sim(SIMPLE.format(call=mi), variables={"items": ["a", "b", "c"]})
    children = list(sim.children.values())
    assert [c.variables for c in children] == [{"item": "a"}, {"item": "b"}, {"item": "c"}]
    for child in children:
        assert not sim.completed
        child.complete("work", {"done": child.variables["item"]})
    assert sim.completed and sim.visited.count("call") == 3


def test_run_works_the_tasks_of_children_too():
    sim = parent_sim(SIMPLE.format(call=call()))
    sim.run()
    assert sim.completed and sim.family()[1].completed


def test_state_of_a_called_instance_keeps_its_call_id_through_json():
    sim = parent_sim(SIMPLE.format(call=call()))
    (child,) = sim.children.values()
    assert child.state is not None
    again = runtime.InstanceState.from_json(child.state.to_json())
    assert again.call == child.state.call is not None
