"""Compensation (BPMN 2.0.2 §10.5.4): handlers of completed activities, in reverse order."""

from __future__ import annotations

from engine.runtime import effects as fx
from engine.runtime.state import InstanceState
from tests.runtime.helpers import live_tokens, script, seq, simulate


def compensable(aid: str, handler: str | None = None, kind: str = "task",
                handler_kind: str = "task", inner: str = "") -> str:
    """An activity with a compensation boundary event and its isForCompensation handler."""
    handler = handler or f"undo_{aid}"
    body = f"<{kind} id=\"{aid}\">{inner}</{kind}>"
    return (body + f'<boundaryEvent id="cb_{aid}" attachedToRef="{aid}">'
            "<compensateEventDefinition/></boundaryEvent>"
            f'<{handler_kind} id="{handler}" isForCompensation="true"/>'
            f'<association id="as_{aid}" sourceRef="cb_{aid}" targetRef="{handler}"/>')


def throw(tid: str = "comp", ref: str | None = None, end: bool = False) -> str:
    tag = "endEvent" if end else "intermediateThrowEvent"
    attr = f' activityRef="{ref}"' if ref else ""
    return f'<{tag} id="{tid}"><compensateEventDefinition{attr}/></{tag}>'


ABC = ('<startEvent id="s"/>' + compensable("a") + compensable("b") + compensable("c")
       + throw() + '<endEvent id="e"/>')


def test_handlers_run_in_reverse_order_of_completion():
    sim = simulate(ABC + seq("s", "a", "b", "c", "comp", "e"))
    assert sim.completed
    assert sim.visited == ["a", "b", "c", "undo_c", "undo_b", "undo_a"]
    assert sim.audits(fx.AuditKind.COMPENSATION_THROWN) == ["comp"]
    assert sim.audits(fx.AuditKind.COMPENSATION_STARTED) == ["c", "b", "a"]
    assert sim.audits(fx.AuditKind.COMPENSATION_COMPLETED) == ["c", "b", "a"]


def test_activity_ref_compensates_only_that_activity():
    sim = simulate(ABC.replace(throw(), throw(ref="b")) + seq("s", "a", "b", "c", "comp", "e"))
    assert sim.completed and sim.visited == ["a", "b", "c", "undo_b"]


def test_each_activity_instance_is_compensated_once():
    body = (ABC.replace(throw(), throw(ref="a") + throw("again"))
            + seq("s", "a", "b", "comp", "again", "c", "e"))
    sim = simulate(body)
    # `comp` took a; `again` finds only b left (c completes after it).
    assert sim.completed and sim.visited == ["a", "b", "undo_a", "undo_b", "c"]


def test_activities_that_did_not_complete_are_not_compensated():
    body = ('<startEvent id="s"/><parallelGateway id="fork"/>' + compensable("a")
            + compensable("u", kind="userTask") + throw("comp", end=True)
            + seq("s", "fork", "a", "comp") + seq("fork", "u"))
    sim = simulate(body)
    # The compensation end event ends its branch; u is still open and was never completed.
    assert sim.visited == ["a", "undo_a"] and sim.open_tasks == ["u"]
    sim.complete("u")
    assert sim.completed and sim.visited == ["a", "undo_a", "u"]


def test_a_user_task_handler_holds_the_thrower_until_it_is_completed():
    body = ('<startEvent id="s"/>' + compensable("a", handler_kind="userTask")
            + compensable("b") + throw() + '<endEvent id="e"/>'
            + seq("s", "a", "b", "comp", "e"))
    sim = simulate(body)
    assert sim.visited == ["a", "b", "undo_b"] and sim.open_tasks == ["undo_a"]
    assert live_tokens(sim) == ["comp", "undo_a"] and not sim.completed
    sim.complete("undo_a")
    assert sim.completed and sim.visited == ["a", "b", "undo_b", "undo_a"]
    assert sim.audits(fx.AuditKind.EVENT_PASSED)[-1] == "e"


def test_a_completed_subprocess_is_compensated_by_its_inner_handlers():
    inner = ('<startEvent id="ss"/>' + compensable("x") + compensable("y")
             + '<endEvent id="se"/>' + seq("ss", "x", "y", "se"))
    body = ('<startEvent id="s"/>' + compensable("a") + f'<subProcess id="sp">{inner}'
            '</subProcess>' + throw() + '<endEvent id="e"/>' + seq("s", "a", "sp", "comp", "e"))
    sim = simulate(body)
    assert sim.completed
    assert sim.visited == ["a", "x", "y", "sp", "undo_y", "undo_x", "undo_a"]
    assert sim.state is not None and len(sim.state.scopes) == 1


def test_a_compensation_event_subprocess_runs_instead_of_the_inner_handlers():
    esp = ('<subProcess id="cesp" triggeredByEvent="true"><startEvent id="cs">'
           '<compensateEventDefinition/></startEvent>'
           + script("log", 'note = "undone " + order') + throw("inner_comp")
           + '<endEvent id="ce"/>' + seq("cs", "log", "inner_comp", "ce") + "</subProcess>")
    inner = ('<startEvent id="ss"/>' + compensable("x") + '<endEvent id="se"/>'
             + seq("ss", "x", "se") + esp)
    # The subprocess's own variable `order` is visible to its compensation (Camunda 7).
    body = ('<startEvent id="s"/><subProcess id="sp"><extensionElements><camunda:inputOutput>'
            '<camunda:inputParameter name="order">A-1</camunda:inputParameter>'
            f'</camunda:inputOutput></extensionElements>{inner}</subProcess>'
            + throw() + '<endEvent id="e"/>' + seq("s", "sp", "comp", "e"))
    sim = simulate(body)
    assert sim.completed, sim.incidents
    assert sim.visited == ["x", "sp", "log", "undo_x", "cesp"]
    assert sim.variables["note"] == "undone A-1"


def test_compensation_end_event_in_a_subprocess_compensates_that_scope_only():
    inner = ('<startEvent id="ss"/>' + compensable("x") + throw("sub_comp", end=True)
             + seq("ss", "x", "sub_comp"))
    body = ('<startEvent id="s"/>' + compensable("a") + f'<subProcess id="sp">{inner}'
            '</subProcess><endEvent id="e"/>' + seq("s", "a", "sp", "e"))
    sim = simulate(body)
    assert sim.completed and sim.visited == ["a", "x", "undo_x", "sp"]


def test_handler_sees_the_activity_locals_at_completion():
    task = ('<extensionElements><camunda:inputOutput><camunda:inputParameter name="amount">'
            '${price * 2}</camunda:inputParameter></camunda:inputOutput></extensionElements>')
    body = ('<startEvent id="s"/>' + compensable("a", inner=task).replace(
        '<task id="undo_a" isForCompensation="true"/>',
        script("undo_a", "refunded = amount").replace(
            "<scriptTask", '<scriptTask isForCompensation="true"'))
        + throw() + '<endEvent id="e"/>' + seq("s", "a", "comp", "e"))
    sim = simulate(body, {"price": 21})
    assert sim.completed, sim.incidents
    assert sim.variables["refunded"] == 42 and "amount" not in sim.variables


def test_state_keeps_only_activities_with_handlers_and_survives_json():
    body = ('<startEvent id="s"/><task id="plain"/>' + compensable("a")
            + '<userTask id="wait"/>' + throw() + '<endEvent id="e"/>'
            + seq("s", "plain", "a", "wait", "comp", "e"))
    sim = simulate(body)
    assert sim.state is not None
    data = sim.state.to_json()
    assert data["s"][0]["cp"] == {"done": [{"a": "a"}]}
    assert InstanceState.from_json(data).to_json() == data
    sim.complete("wait")
    assert sim.completed and sim.visited == ["plain", "a", "wait", "undo_a"]


def test_nothing_to_compensate_passes_through():
    sim = simulate('<startEvent id="s"/><task id="t"/>' + throw() + '<endEvent id="e"/>'
                   + seq("s", "t", "comp", "e"))
    assert sim.completed and sim.visited == ["t"]


def test_cancelling_the_instance_during_compensation_cancels_the_handler():
    from engine.runtime import triggers as tr

    body = ('<startEvent id="s"/>' + compensable("a", handler_kind="userTask") + throw()
            + '<endEvent id="e"/>' + seq("s", "a", "comp", "e"))
    sim = simulate(body)
    assert sim.open_tasks == ["undo_a"]
    sim.send(tr.Cancel("stop"))
    assert sim.open_tasks == [] and "undo_a" in sim.cancelled


def test_every_completed_multi_instance_instance_is_compensated_last_first():
    mi = ('<multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>3'
          '</loopCardinality></multiInstanceLoopCharacteristics>')
    handler = script("undo_a", "undone = undone + [loopCounter]").replace(
        "<scriptTask", '<scriptTask isForCompensation="true"')
    body = ('<startEvent id="s"/>' + compensable("a", inner=mi).replace(
        '<task id="undo_a" isForCompensation="true"/>', handler)
        + throw() + '<endEvent id="e"/>' + seq("s", "a", "comp", "e"))
    sim = simulate(body, {"undone": []})
    assert sim.completed, sim.incidents
    assert sim.variables["undone"] == [2, 1, 0]
    assert sim.visited.count("undo_a") == 3


def test_a_throw_in_an_event_subprocess_compensates_the_scope_around_it():
    esp = ('<subProcess id="oops" triggeredByEvent="true"><startEvent id="es">'
           '<messageEventDefinition messageRef="M"/></startEvent>' + throw("esp_comp")
           + '<endEvent id="ee"/>' + seq("es", "esp_comp", "ee") + "</subProcess>")
    body = ('<startEvent id="s"/>' + compensable("a") + '<userTask id="wait"/>'
            '<endEvent id="e"/>' + seq("s", "a", "wait", "e") + esp)
    sim = simulate(body, extra='<message id="M" name="Undo"/>')
    sim.message("Undo")
    assert sim.completed and sim.visited == ["a", "undo_a", "oops"]
