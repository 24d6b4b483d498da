"""Semantic checks of a parsed model: diagnostics with stable codes, element ids and lines.

Severity follows executability: a problem in an executable process is an error (it cannot
be deployed); the same problem in a process marked `isExecutable="false"` (a drawing, a
documentation model) is a warning, because nobody will run it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from bpmn import diagnostics as diag
from bpmn.expr import Dialect, ExpressionError, parse_expression, parse_script, script_dialect
from bpmn.model import (
    Activity,
    BoundaryEvent,
    CallActivity,
    ComplexGateway,
    ConditionalEventDefinition,
    Definitions,
    ErrorEventDefinition,
    EscalationEventDefinition,
    Event,
    EventBasedGateway,
    ExclusiveGateway,
    Expr,
    FlowNode,
    Gateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    LinkEventDefinition,
    MessageEventDefinition,
    MultiInstance,
    ParallelGateway,
    Process,
    ReceiveTask,
    Scope,
    ScriptTask,
    SendTask,
    SignalEventDefinition,
    StandardLoop,
    StartEvent,
    SubProcess,
    TimerEventDefinition,
    UserTask,
    walk_scope,
)
from bpmn.parser.extensions import SPIFF_NS
from bpmn.timers import TimerError, is_expression, parse_timer


@dataclass
class _Checker:
    definitions: Definitions
    executable: bool = True
    found: list[diag.Diagnostic] = field(default_factory=list)

    @property
    def timers_are_python(self) -> bool:
        language = (self.definitions.expression_language or "").lower()
        return "python" in language or SPIFF_NS in self.definitions.namespaces.values()


    def report(self, code: str, message: str, node_id: str | None, line: int | None,
               *, always_error: bool = False) -> None:
        make = diag.error if (self.executable or always_error) else diag.warning
        self.found.append(make(code, message, node_id, line))

    def warn(self, code: str, message: str, node_id: str | None, line: int | None) -> None:
        self.found.append(diag.warning(code, message, node_id, line))

    # ------------------------------------------------------------ expressions

    def expression(self, expr: Expr | None, node_id: str | None, what: str) -> None:
        if expr is None:
            return
        try:
            parse_expression(expr.text, expression_language=expr.language)
        except ExpressionError as exc:
            self.report("expr.syntax", f"{what} {_clip(expr.text)!r} does not parse: {exc}",
                        node_id, expr.line)

    def text_expression(self, text: str | None, node_id: str, line: int | None,
                        what: str) -> None:
        """An attribute that may hold an expression (`${initiator}`, `=manager`) or a
        literal; only the expression form is parsed."""
        if text and is_expression(text):
            self.expression(Expr(text, None, line), node_id, what)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def validate(definitions: Definitions) -> list[diag.Diagnostic]:
    """All diagnostics for `definitions` (the parser's own come separately)."""
    checker = _Checker(definitions)
    if definitions.processes and not definitions.executable_processes:
        checker.warn("definitions.no-executable-process",
                     "no process is marked executable (isExecutable=\"true\"); the file can be "
                     "viewed but not run", None, None)
    for process in definitions.processes:
        checker.executable = process.is_executable
        _check_process(checker, process)
    _check_collaborations(checker)
    return checker.found


def _check_process(c: _Checker, process: Process) -> None:
    starts = [n for n in process.scope.nodes.values() if isinstance(n, StartEvent)
              # §10.5.6 / §13.4.5: an instantiating receive task or event-based gateway
              # starts the process instead (§14.4.1 allows no start event then).
              or (isinstance(n, ReceiveTask | EventBasedGateway) and n.instantiate)]
    if not starts and process.scope.nodes:
        c.report("process.no-start-event",
                 f"process {process.id!r} has no start event, so it cannot be started",
                 process.id, process.line)
    elif not process.scope.nodes and process.is_executable:
        c.report("process.empty", f"process {process.id!r} has no elements", process.id,
                 process.line)
    _check_scope(c, process.scope, process.id, is_process=True)
    _check_lanes(c, process)


def _check_scope(c: _Checker, scope: Scope, scope_id: str, *, is_process: bool) -> None:
    nodes = scope.nodes
    for flow in scope.flows.values():
        for end, ref in (("source", flow.source), ("target", flow.target)):
            if not ref:
                c.report(f"flow.{end}-missing", f"sequence flow has no {end}Ref", flow.id,
                         flow.line)
            elif ref not in nodes:
                c.report(f"flow.{end}-missing",
                         f"sequence flow {end} {ref!r} is not an element of this "
                         f"{'process' if is_process else 'subprocess'}", flow.id, flow.line)
        c.expression(flow.condition, flow.id, "condition")
        source = nodes.get(flow.source)
        if flow.condition is not None and isinstance(source, ParallelGateway | EventBasedGateway):
            c.warn("flow.condition-ignored",
                   "a condition on a flow leaving a parallel or event-based gateway is "
                   "ignored", flow.id, flow.line)

    link_catches = {d.name for n in nodes.values() if isinstance(n, IntermediateCatchEvent)
                    for d in n.definitions if isinstance(d, LinkEventDefinition)}
    for node in nodes.values():
        _check_node(c, node, scope, link_catches)
        if isinstance(node, SubProcess):
            if node.triggered_by_event:
                _check_event_subprocess(c, node)
            elif node.scope.nodes and not any(
                    isinstance(n, StartEvent) for n in node.scope.nodes.values()) and not any(
                    not n.incoming for n in node.scope.nodes.values()
                    if not isinstance(n, BoundaryEvent | StartEvent)):
                c.report("subprocess.no-start",
                         "subprocess has no start event and no element without incoming "
                         "flows to begin with", node.id, node.line)
            _check_scope(c, node.scope, node.id, is_process=False)
    _check_reachability(c, scope)


def _check_node(c: _Checker, node: FlowNode, scope: Scope, link_catches: set[str | None]
                ) -> None:
    if isinstance(node, Gateway):
        if not node.outgoing:
            c.report("gateway.no-outgoing", f"{node.kind} has no outgoing sequence flow",
                     node.id, node.line)
        default = getattr(node, "default_flow", None)
        if default and default not in node.outgoing:
            c.report("gateway.default-invalid",
                     f"default flow {default!r} is not an outgoing flow of this gateway",
                     node.id, node.line)
        # An inclusive split may take a flow without condition every time (a common
        # pattern); on an exclusive split such a flow shadows all later ones.
        if isinstance(node, ExclusiveGateway) and len(node.outgoing) > 1:
            for flow_id in node.outgoing:
                flow = scope.flows.get(flow_id)
                if flow is not None and flow.condition is None and flow_id != default:
                    c.warn("gateway.flow-without-condition",
                           f"flow {flow_id!r} leaves a splitting {node.kind} without a "
                           "condition and is not the default flow", node.id, node.line)
        if isinstance(node, ComplexGateway):
            c.expression(node.activation_condition, node.id, "activation condition")
        if isinstance(node, EventBasedGateway):
            for flow_id in node.outgoing:
                flow = scope.flows.get(flow_id)
                target = scope.nodes.get(flow.target) if flow else None
                if target is not None and not isinstance(
                        target, IntermediateCatchEvent | ReceiveTask):
                    c.report("gateway.event-target",
                             f"an event-based gateway must lead to catch events or receive "
                             f"tasks, not to {target.kind} {target.id!r}", node.id, node.line)
    if isinstance(node, Activity):
        _check_activity(c, node)
    if isinstance(node, Event):
        _check_event(c, node, scope, link_catches)


def _check_activity(c: _Checker, node: Activity) -> None:
    if node.default_flow and node.default_flow not in node.outgoing:
        c.report("activity.default-invalid",
                 f"default flow {node.default_flow!r} is not an outgoing flow", node.id,
                 node.line)
    loop = node.loop
    if isinstance(loop, StandardLoop):
        c.expression(loop.condition, node.id, "loop condition")
    elif isinstance(loop, MultiInstance):
        c.expression(loop.cardinality, node.id, "loop cardinality")
        c.expression(loop.completion_condition, node.id, "completion condition")
        if loop.collection:
            c.text_expression(loop.collection, node.id, loop.line, "input collection")
    ext = node.ext
    if ext.assignment is not None:
        a = ext.assignment
        for text in (a.assignee, *a.candidate_users, *a.candidate_groups):
            c.text_expression(text, node.id, node.line, "assignment")
    for text, what in ((ext.due_date, "due date"), (ext.follow_up_date, "follow-up date"),
                       (ext.priority, "priority")):
        c.text_expression(text, node.id, node.line, what)
    for mapping in (*ext.inputs, *ext.outputs):
        if mapping.kind == "expression" and mapping.source:
            c.text_expression(mapping.source, node.id, mapping.line,
                              f"mapping of {mapping.target!r}")
    for call in (*ext.call_in, *ext.call_out):
        c.text_expression(call.source_expression, node.id, node.line, "call mapping")
    if ext.retry_cycle and not is_expression(ext.retry_cycle):
        _check_retry_cycle(c, node, ext.retry_cycle)
    if isinstance(node, ScriptTask):
        _check_script(c, node)
    if isinstance(node, CallActivity):
        if not node.called_element:
            c.report("call.no-called-element", "call activity names no process to call",
                     node.id, node.line)
        else:
            c.text_expression(node.called_element, node.id, node.line, "called element")
    if isinstance(node, SendTask | ReceiveTask) and node.message_ref and \
            node.message_ref not in c.definitions.messages:
        c.report("ref.message-missing",
                 f"messageRef {node.message_ref!r} names no <message> in this file",
                 node.id, node.line)
    if isinstance(node, UserTask) and ext.form is not None:
        for form_field in ext.form.fields:
            if not form_field.id:
                c.report("form.field-no-id", "a form field has no id", node.id,
                         form_field.line)


def _check_retry_cycle(c: _Checker, node: Activity, text: str) -> None:
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            parse_timer("cycle" if part.upper().startswith("R") else "duration", part)
        except TimerError as exc:
            c.report("timer.syntax", f"retry time cycle {part!r} does not parse: "
                     f"{exc.message}", node.id, node.line)


def _check_script(c: _Checker, node: ScriptTask) -> None:
    if node.script is None or not node.script.strip():
        c.report("script.empty", "script task has no script", node.id, node.line)
        return
    fmt = (node.script_format or "").strip().lower()
    if node.ext.properties.get("camunda:resource"):
        c.report("script.external-resource",
                 "scripts loaded from a resource are not supported; put the script inline",
                 node.id, node.line)
        return
    # No scriptFormat at all is SpiffWorkflow's habit, and its scripts are Python.
    dialect = script_dialect(fmt) if fmt else Dialect.PYTHON
    try:
        parse_script(node.script, dialect, result_variable=node.result_variable)
    except ExpressionError as exc:
        c.report("script.syntax",
                 f"{fmt or 'the'} script is not in the assignment language this engine runs "
                 f"({exc})", node.id, node.script_line)


def _check_event(c: _Checker, node: Event, scope: Scope, link_catches: set[str | None]
                 ) -> None:
    d = c.definitions
    for definition in node.definitions:
        if isinstance(definition, TimerEventDefinition):
            _check_timer(c, node, definition)
        elif isinstance(definition, MessageEventDefinition):
            if definition.message_ref and definition.message_ref not in d.messages:
                c.report("ref.message-missing",
                         f"messageRef {definition.message_ref!r} names no <message>",
                         node.id, definition.line)
        elif isinstance(definition, SignalEventDefinition):
            if definition.signal_ref and definition.signal_ref not in d.signals:
                c.report("ref.signal-missing",
                         f"signalRef {definition.signal_ref!r} names no <signal>", node.id,
                         definition.line)
        elif isinstance(definition, ErrorEventDefinition):
            if definition.error_ref and definition.error_ref not in d.errors:
                c.report("ref.error-missing",
                         f"errorRef {definition.error_ref!r} names no <error>", node.id,
                         definition.line)
        elif isinstance(definition, EscalationEventDefinition):
            if definition.escalation_ref and definition.escalation_ref not in d.escalations:
                c.report("ref.escalation-missing",
                         f"escalationRef {definition.escalation_ref!r} names no <escalation>",
                         node.id, definition.line)
        elif isinstance(definition, ConditionalEventDefinition):
            if definition.condition is None:
                c.report("condition.empty", "conditional event has no condition", node.id,
                         definition.line)
            c.expression(definition.condition, node.id, "condition")
        elif isinstance(definition, LinkEventDefinition) and isinstance(
                node, IntermediateThrowEvent) and definition.name not in link_catches:
            c.report("link.unmatched",
                     f"no link catch event named {definition.name!r} in the same scope",
                     node.id, node.line)
    if isinstance(node, BoundaryEvent):
        host = scope.nodes.get(node.attached_to)
        if not node.attached_to or host is None:
            c.report("boundary.attached-missing",
                     f"boundary event is attached to {node.attached_to!r}, which is not an "
                     "activity of the same scope" if node.attached_to else
                     "boundary event is attached to nothing (no attachedToRef)",
                     node.id, node.line)
        elif not isinstance(host, Activity):
            c.report("boundary.attached-missing",
                     f"boundary event is attached to {host.kind} {host.id!r}, not an activity",
                     node.id, node.line)
        if node.incoming:
            c.report("boundary.incoming", "a boundary event cannot have incoming flows",
                     node.id, node.line)


def _check_timer(c: _Checker, node: Event, timer: TimerEventDefinition) -> None:
    if timer.kind is None or not timer.text.strip():
        c.report("timer.empty", "timer has no date, duration or cycle", node.id,
                 timer.line or node.line)
        return
    if is_expression(timer.text):
        c.text_expression(timer.text, node.id, timer.text_line, "timer")
        return
    try:
        parse_timer(timer.kind, timer.text)
        return
    except TimerError as exc:
        problem = exc.message
    # SpiffWorkflow evaluates every timer text as Python (`"PT1H"`, `due_date`), and its
    # models often declare no namespace that would tell us; such text is an expression.
    try:
        parse_expression(timer.text, Dialect.PYTHON)
    except ExpressionError:
        c.report("timer.syntax", f"timer {timer.kind} {_clip(timer.text)!r} does not parse: "
                 f"{problem}", node.id, timer.text_line)
        return
    if not c.timers_are_python:
        c.warn("timer.python-expression",
               f"timer {timer.kind} {_clip(timer.text)!r} is not ISO 8601 or cron; it will "
               "be evaluated as a Python expression when the timer starts (SpiffWorkflow "
               "style)", node.id, timer.text_line)


def _check_event_subprocess(c: _Checker, node: SubProcess) -> None:
    starts = [n for n in node.scope.nodes.values() if isinstance(n, StartEvent)]
    if len(starts) != 1:
        c.report("event-subprocess.start",
                 f"an event subprocess needs exactly one start event, it has {len(starts)}",
                 node.id, node.line)
    elif not starts[0].definitions:
        c.report("event-subprocess.start-trigger",
                 "the start event of an event subprocess needs a trigger (message, timer, "
                 "signal, error, escalation, conditional or compensation)", starts[0].id,
                 starts[0].line)
    if node.incoming or node.outgoing:
        c.report("event-subprocess.flows",
                 "an event subprocess cannot have incoming or outgoing sequence flows",
                 node.id, node.line)


def _is_link_catch(node: FlowNode) -> bool:
    return isinstance(node, IntermediateCatchEvent) and any(
        isinstance(d, LinkEventDefinition) for d in node.definitions)


def _entry_points(scope: Scope) -> Iterator[FlowNode]:
    """Where tokens can appear in a scope without arriving over a sequence flow."""
    has_start = any(isinstance(n, StartEvent) for n in scope.nodes.values())
    for node in scope.nodes.values():
        event_subprocess = isinstance(node, SubProcess) and node.triggered_by_event
        compensation_handler = isinstance(node, Activity) and node.is_for_compensation
        # An activity without incoming flow starts with its scope when the scope has no
        # start event (Camunda 7 does the same); with one, it is unreachable.
        implicit_start = (not has_start and not node.incoming
                          and not isinstance(node, Event | Gateway))
        if (isinstance(node, StartEvent | BoundaryEvent) or _is_link_catch(node)
                or event_subprocess or compensation_handler or implicit_start):
            yield node


def _check_reachability(c: _Checker, scope: Scope) -> None:
    seen: set[str] = set()
    stack = [n.id for n in _entry_points(scope)]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = scope.nodes.get(node_id)
        if node is None:
            continue
        for flow_id in node.outgoing:
            flow = scope.flows.get(flow_id)
            if flow is not None and flow.target not in seen:
                stack.append(flow.target)
        if isinstance(node, Activity):
            stack.extend(node.boundary_events)
    for node in scope.nodes.values():
        if node.id not in seen:
            c.warn("node.unreachable",
                   f"{node.kind} cannot be reached from any start event", node.id, node.line)


def _check_lanes(c: _Checker, process: Process) -> None:
    if not process.lanes:
        return
    known = {node.id for node in walk_scope(process.scope)}
    for top in process.lanes:
        for lane in top.walk():
            for node_id in lane.node_ids:
                if node_id not in known:
                    c.warn("lane.ref-missing",
                           f"lane lists {node_id!r}, which is not in the process", lane.id,
                           lane.line)


def _check_collaborations(c: _Checker) -> None:
    process_ids = {p.id for p in c.definitions.processes}
    for collaboration in c.definitions.collaborations:
        for participant in collaboration.participants:
            if participant.process_ref and participant.process_ref not in process_ids:
                c.warn("participant.process-missing",
                       f"participant refers to process {participant.process_ref!r}, which "
                       "is not in this file", participant.id, participant.line)
