"""What this runtime cannot execute yet, as diagnostics: deploying such a model is refused."""

from __future__ import annotations

from collections.abc import Callable

from bpmn import diagnostics as diag
from bpmn import model as m
from bpmn.timers import is_expression
from engine.runtime import compensation, multiple
from engine.runtime.compile import CompiledProcess, CompileError, compile_process

_Refuse = Callable[[m.FlowNode, str], None]

CODE = "runtime.unsupported"
IGNORED = "runtime.ignored"

# Triggers the runtime runs, per kind of event. Anything else is refused.
_START = {m.Trigger.NONE, m.Trigger.MESSAGE, m.Trigger.TIMER, m.Trigger.SIGNAL}
_END = {m.Trigger.NONE, m.Trigger.TERMINATE, m.Trigger.ERROR, m.Trigger.ESCALATION,
        m.Trigger.MESSAGE, m.Trigger.SIGNAL, m.Trigger.COMPENSATE, m.Trigger.CANCEL}
_CATCH = {m.Trigger.MESSAGE, m.Trigger.TIMER, m.Trigger.SIGNAL, m.Trigger.LINK,
          m.Trigger.CONDITIONAL}
_THROW = {m.Trigger.NONE, m.Trigger.MESSAGE, m.Trigger.SIGNAL, m.Trigger.ESCALATION,
          m.Trigger.LINK, m.Trigger.COMPENSATE}
_BOUNDARY = {m.Trigger.TIMER, m.Trigger.MESSAGE, m.Trigger.SIGNAL, m.Trigger.ERROR,
             m.Trigger.ESCALATION, m.Trigger.CONDITIONAL, m.Trigger.COMPENSATE,
             m.Trigger.CANCEL}
_ALLOWED: dict[type[m.Event], set[m.Trigger]] = {
    m.StartEvent: _START, m.EndEvent: _END, m.IntermediateCatchEvent: _CATCH,
    m.IntermediateThrowEvent: _THROW, m.BoundaryEvent: _BOUNDARY,
}
# Start events of an event subprocess (BPMN 2.0.2 §10.3.5, Table 10.84).
_EVENT_SUB_START = {m.Trigger.MESSAGE, m.Trigger.TIMER, m.Trigger.SIGNAL, m.Trigger.ERROR,
                    m.Trigger.ESCALATION, m.Trigger.CONDITIONAL, m.Trigger.COMPENSATE}
_EVENT_WORDS = {"startEvent": "start event", "endEvent": "end event",
                "intermediateCatchEvent": "intermediate catch event",
                "intermediateThrowEvent": "intermediate throw event",
                "boundaryEvent": "boundary event"}


# Call activity bindings (Camunda 7 calledElementBinding, Zeebe bindingType).
_CALL_BINDINGS = frozenset({"latest", "deployment", "version", "versionTag"})


def unsupported(definitions: m.Definitions, process_id: str) -> list[diag.Diagnostic]:
    """Every element of `process_id` this runtime cannot execute (code runtime.unsupported,
    an error) or executes while ignoring part of it (code runtime.ignored, a warning)."""
    process = definitions.process(process_id)
    if process is None:
        return [diag.error(CODE, f"no process {process_id!r} in this model", process_id, None)]
    found: list[diag.Diagnostic] = []

    def refuse(node: m.FlowNode, what: str) -> None:
        if what.startswith("a ") and what[2:3] in "aeiou":
            what = "an " + what[2:]
        found.append(diag.error(CODE, f"{what} is not supported by this engine yet", node.id,
                                node.line))

    roots = process.scope.nodes.values()
    if not any(isinstance(n, m.StartEvent) and _startable(n) for n in roots) and not any(
            isinstance(n, m.ReceiveTask | m.EventBasedGateway) and n.instantiate
            for n in roots):
        found.append(diag.error(CODE, "the process has no start event this engine can start "
                                "it from (none, message, timer or signal)", process.id,
                                process.line))
    inner_starts = {n.id for sub in m.walk_scope(process.scope) if isinstance(sub, m.SubProcess)
                    and not sub.triggered_by_event
                    for n in sub.scope.nodes.values() if isinstance(n, m.StartEvent)}
    event_starts = {n.id for sub in m.walk_scope(process.scope) if isinstance(sub, m.SubProcess)
                    and sub.triggered_by_event
                    for n in sub.scope.nodes.values() if isinstance(n, m.StartEvent)}
    for node in m.walk_scope(process.scope):
        if node.id in event_starts:
            _check_event_start(node, refuse)
        else:
            _check_node(node, refuse, node.id in inner_starts)
        if node.ext.listeners:
            found.append(diag.warning(IGNORED, "execution/task listeners are recorded but not "
                                      "run", node.id, node.line))
        if isinstance(node, m.Event) and any(
                isinstance(d, m.CompensateEventDefinition) and not d.wait_for_completion
                for d in node.definitions):
            # Camunda 7 always waits for the handlers; so do we (BPMN 2.0.2 §10.5.4 would
            # let the thrower go on at once).
            found.append(diag.warning(IGNORED, "waitForCompletion=\"false\" is ignored: the "
                                      "thrower waits for the compensation handlers",
                                      node.id, node.line))
    compensation.check(process, refuse)
    _check_instantiating(process, refuse)
    return found


def _check_node(node: m.FlowNode, refuse: _Refuse, in_subprocess: bool) -> None:
    if isinstance(node, m.Activity):
        _check_loop(node, refuse)
    if isinstance(node, m.Transaction):
        pass  # runs as an embedded subprocess; cancel events: compensation.check
    elif isinstance(node, m.AdHocSubProcess):
        _check_adhoc(node, refuse)
    elif isinstance(node, m.SubProcess) and node.triggered_by_event:
        starts = [n for n in node.scope.nodes.values() if isinstance(n, m.StartEvent)]
        if len(starts) != 1:
            # §10.3.5: an event subprocess has exactly one start event.
            refuse(node, "an event subprocess without exactly one start event")
        if node.ext.async_before:
            # It starts from its start event's trigger, never from an arriving token.
            refuse(node, "asyncBefore on an event subprocess")
    elif isinstance(node, m.CallActivity) and not (node.called_element or "").strip():
        refuse(node, "a call activity without a called element")
    elif isinstance(node, m.CallActivity) and node.binding not in _CALL_BINDINGS:
        refuse(node, f"a call activity with binding {node.binding!r} (known: "
                     f"{', '.join(sorted(_CALL_BINDINGS))})")
    elif isinstance(node, m.CallActivity) and node.binding in ("version", "versionTag") \
            and not (node.version or "").strip():
        refuse(node, f"a call activity with binding {node.binding!r} but no "
                     f"{'version' if node.binding == 'version' else 'versionTag'}")
    elif node.kind not in _KNOWN_KINDS:
        refuse(node, f"<{node.kind}>")
    if (node.ext.pre_script or node.ext.post_script) and not isinstance(node, m.Activity):
        # Run on activities only (before/after their work); elsewhere we would have to
        # guess when SpiffWorkflow runs them.
        refuse(node, "a SpiffWorkflow pre/post script on a non-activity")
    if isinstance(node, m.Event):
        _check_event(node, refuse, in_subprocess)


def _check_event_start(node: m.FlowNode, refuse: _Refuse) -> None:
    if node.ext.async_before or node.ext.async_after:
        refuse(node, "asynchronous continuation on an event subprocess start event")
    if not isinstance(node, m.Event):
        return
    if node.trigger in (m.Trigger.MULTIPLE, m.Trigger.PARALLEL_MULTIPLE):
        _check_definitions(node, multiple.CATCH_TRIGGERS, "an event subprocess start event",
                           refuse)
    elif node.trigger not in _EVENT_SUB_START:
        refuse(node, f"a {node.trigger} start event of an event subprocess")


def _check_loop(node: m.Activity, refuse: _Refuse) -> None:
    loop = node.loop
    if isinstance(loop, m.StandardLoop) and (loop.condition is None
                                             or not loop.condition.text.strip()):
        # BPMN 2.0.2 §13.2.7: without a loopCondition the loop is "underspecified" and
        # "cannot be formally executed"; running it would loop forever or guess.
        refuse(node, "a standard loop without a loopCondition")
    elif isinstance(loop, m.MultiInstance) and (
            loop.cardinality is None or not loop.cardinality.text.strip()) and not (
            loop.collection or "").strip():
        # Neither loopCardinality nor an input collection: nothing says how many
        # instances to create (§13.2.7); Camunda 7 refuses such a model too.
        refuse(node, "a multi-instance activity without cardinality or collection")


def _check_event(node: m.Event, refuse: _Refuse, in_subprocess: bool) -> None:
    trigger = node.trigger
    word = _EVENT_WORDS.get(node.kind, node.kind)
    if trigger in (m.Trigger.MULTIPLE, m.Trigger.PARALLEL_MULTIPLE):
        _check_multiple(node, word, refuse, in_subprocess)
        return
    allowed = _ALLOWED.get(type(node), set())
    if trigger not in allowed:
        refuse(node, f"a {trigger} {word}")
    elif in_subprocess and isinstance(node, m.StartEvent) and trigger is not m.Trigger.NONE:
        refuse(node, f"a {trigger} start event inside a subprocess")


def _startable(node: m.StartEvent) -> bool:
    if node.trigger is m.Trigger.MULTIPLE:
        return all(d.trigger in multiple.START_TRIGGERS for d in node.definitions)
    return node.trigger in _START


def _check_definitions(node: m.Event, allowed: frozenset[m.Trigger], word: str,
                       refuse: _Refuse) -> None:
    for d in node.definitions:
        if d.trigger not in allowed:
            refuse(node, f"a {d.trigger} definition in a {word} with several event "
                   "definitions")
            return


def _check_multiple(node: m.Event, word: str, refuse: _Refuse, in_subprocess: bool) -> None:
    """Multiple / parallelMultiple events (BPMN 2.0.2 §10.5.1; engine/runtime/multiple.py)."""
    trigger = node.trigger
    if isinstance(node, m.StartEvent):
        if in_subprocess:
            refuse(node, f"a {trigger} start event inside a subprocess")
        elif trigger is m.Trigger.PARALLEL_MULTIPLE:
            # All triggers before an instance exists: the shell would have to collect
            # messages and signals for instances not yet created.
            refuse(node, "a parallelMultiple start event of a process")
        else:
            _check_definitions(node, multiple.START_TRIGGERS, word, refuse)
    elif isinstance(node, m.IntermediateCatchEvent | m.BoundaryEvent):
        _check_definitions(node, multiple.CATCH_TRIGGERS, word, refuse)
    elif isinstance(node, m.IntermediateThrowEvent | m.EndEvent):
        _check_definitions(node, multiple.THROW_TRIGGERS, word, refuse)
    else:
        refuse(node, f"a {word} with several event definitions ({trigger})")


def _check_adhoc(node: m.AdHocSubProcess, refuse: _Refuse) -> None:
    """Ad-hoc subprocesses (engine/runtime/adhoc.py, §10.3.4)."""
    if node.ordering.strip().lower() not in ("parallel", "sequential"):
        refuse(node, f"an ad-hoc subprocess with ordering {node.ordering!r}")
    if any(isinstance(n, m.StartEvent | m.EndEvent) for n in node.scope.nodes.values()):
        # §10.3.4: an ad-hoc subprocess has no start or end events.
        refuse(node, "an ad-hoc subprocess with start or end events")


def _check_instantiating(process: m.Process, refuse: _Refuse) -> None:
    """Instantiating receive tasks and event-based gateways (§10.5.6 / §13.4.5,
    engine/runtime/instantiate.py): only at the process level, started by messages (or
    signals after a gateway) the deploy step can subscribe to."""
    roots = process.scope.nodes
    for node in m.walk_scope(process.scope):
        if not (isinstance(node, m.ReceiveTask | m.EventBasedGateway) and node.instantiate):
            continue
        what = "receive task" if isinstance(node, m.ReceiveTask) else "event-based gateway"
        if node.id not in roots:
            refuse(node, f"an instantiating {what} inside a subprocess")
        elif isinstance(node, m.EventBasedGateway):
            if node.event_gateway_type.strip().lower() == "parallel":
                # eventGatewayType="Parallel": all events start one instance together.
                refuse(node, "a parallel instantiating event-based gateway")
            for flow_id in node.outgoing:
                flow = process.scope.flows.get(flow_id)
                target = roots.get(flow.target) if flow is not None else None
                if isinstance(target, m.ReceiveTask) or (
                        isinstance(target, m.IntermediateCatchEvent) and target.trigger in
                        (m.Trigger.MESSAGE, m.Trigger.SIGNAL)):
                    continue
                refuse(node, "an instantiating event-based gateway followed by anything but "
                       "message or signal catch events and receive tasks")
                break


_KNOWN_KINDS = frozenset({
    "task", "manualTask", "userTask", "scriptTask", "serviceTask", "sendTask",
    "businessRuleTask", "receiveTask", "subProcess", "exclusiveGateway", "inclusiveGateway",
    "parallelGateway", "eventBasedGateway", "complexGateway", "startEvent", "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent", "boundaryEvent", "callActivity",
})


def runnable(definitions: m.Definitions, process_id: str
             ) -> tuple[list[diag.Diagnostic], CompiledProcess | None]:
    """The one check before a process is deployed or run: what this runtime cannot run
    (errors: refuse, never run half a model) and, when nothing is refused, the compiled
    process."""
    found = unsupported(definitions, process_id)
    if any(d.is_error for d in found):
        return found, None
    try:
        compiled = compile_process(definitions, process_id)
    except CompileError as exc:
        # An expression, script or timer the runtime cannot read: refused with its place.
        return found + [d if d.is_error else diag.error(d.code, d.message, d.element_id,
                                                        d.line) for d in exc.diagnostics], None
    process = definitions.process(process_id)
    for point in compiled.start_timers:
        if point.timer_text is not None and is_expression(point.timer_text):
            # No instance exists yet, so there are no variables to evaluate it against.
            start = process.scope.nodes.get(point.element_id) if process else None
            found.append(diag.error(
                CODE, "a timer start event with an expression is not supported by this "
                "engine yet", point.element_id, start.line if start else None))
    if any(d.is_error for d in found):
        return found, None
    return found, compiled
