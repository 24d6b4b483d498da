"""Compile one process of a model into the indexes and parsed expressions the machine runs."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bpmn import model as m
from bpmn.diagnostics import Diagnostic
from bpmn.expr import (
    Dialect,
    Expression,
    ExpressionError,
    Script,
    parse_expression,
    parse_script,
    script_dialect,
)
from bpmn.timers import TimerError, TimerKind, TimerSpec, is_expression, parse_timer

if TYPE_CHECKING:
    from engine.runtime.compensation import CompensationIndex

# What a node does when a token reaches it; the machine dispatches on this.
PASS = "pass"  # noqa: S105 - task, manual task
USER = "user"
SCRIPT = "script"
JOB = "job"  # service, send, business rule tasks
RECEIVE = "receive"
SUBPROCESS = "subprocess"
CALL = "call"  # call activity (engine/runtime/call_activity.py)
EXCLUSIVE = "exclusive"
INCLUSIVE = "inclusive"
PARALLEL = "parallel"
EVENT_GATEWAY = "eventGateway"
COMPLEX = "complex"
START = "start"
END = "end"
CATCH = "catch"
THROW = "throw"
BOUNDARY = "boundary"

_JOB_KINDS = {"serviceTask": "service", "sendTask": "send", "businessRuleTask": "businessRule"}


class CompileError(Exception):
    """The process cannot be run by this runtime; `diagnostics` say where and why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        where = f" ({first.element_id}, line {first.line}): {first.message}" if first else ""
        super().__init__(f"{len(diagnostics)} reason(s) this process cannot run{where}")


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    source: str
    target: str
    condition: Expression | None
    order: int


@dataclass(frozen=True, slots=True)
class Text:
    """An attribute that is either a literal or an expression evaluated at run time."""

    literal: object = None
    expr: Expression | None = None


@dataclass(frozen=True, slots=True)
class IoMapping:
    target: str
    value: Text
    items: tuple[tuple[str | None, Text], ...] | None = None  # list (key None) / map entries
    kind: str = "value"


@dataclass(frozen=True, slots=True)
class TimerPlan:
    kind: TimerKind
    spec: TimerSpec | None  # a literal timer, parsed once
    expr: Expression | None  # an expression, evaluated when the timer starts


@dataclass(frozen=True, slots=True)
class ThrowCode:
    """An error or escalation as thrown or caught: matched by reference or code."""

    ref: str | None
    code: str | None

    @property
    def catches_all(self) -> bool:
        return self.ref is None or self.code is None

    def matches(self, thrown: ThrowCode) -> bool:
        if self.catches_all:
            return True
        return self.ref == thrown.ref or (self.code is not None and self.code == thrown.code)


@dataclass(frozen=True, slots=True)
class UserPlan:
    assignee: Text | None = None
    candidate_users: tuple[Text, ...] = ()
    candidate_groups: tuple[Text, ...] = ()
    due: Text | None = None
    follow_up: Text | None = None
    priority: Text | None = None


@dataclass(frozen=True, slots=True)
class StandardPlan:
    """A standard loop (BPMN 2.0.2 §13.2.7 StandardLoopCharacteristics)."""

    condition: Expression | None
    test_before: bool
    maximum: int | None


@dataclass(frozen=True, slots=True)
class MultiPlan:
    """A multi-instance activity (BPMN 2.0.2 §13.2.7 MultiInstanceLoopCharacteristics), with
    the Camunda 7 / Zeebe / SpiffWorkflow spellings of collection and output read into one."""

    sequential: bool
    cardinality: Expression | None
    collection: Expression | None
    element_variable: str | None
    output_collection: str | None
    output_element: Expression | None
    output_local: str | None  # the output element is a plain variable name: made local
    completion: Expression | None


LoopPlan = StandardPlan | MultiPlan


@dataclass(slots=True)
class Node:
    """A flow node with everything the machine needs precomputed. Not changed after compile."""

    id: str
    behaviour: str
    model: m.FlowNode
    scope: str  # id of the enclosing process or subprocess
    outgoing: tuple[Flow, ...] = ()  # document order of the sequence flows
    incoming: tuple[str, ...] = ()
    default: str | None = None
    trigger: m.Trigger = m.Trigger.NONE
    boundaries: tuple[str, ...] = ()
    inputs: tuple[IoMapping, ...] = ()
    outputs: tuple[IoMapping, ...] = ()
    script: Script | None = None
    result_variable: str | None = None
    job_kind: str | None = None
    job_payload: dict[str, object] = field(default_factory=dict)
    user: UserPlan | None = None
    timer: TimerPlan | None = None
    name_text: Text | None = None  # message or signal name
    correlation: Expression | None = None
    code: ThrowCode | None = None  # error or escalation thrown or caught
    code_variable: str | None = None
    message_variable: str | None = None
    attached_to: str | None = None
    cancel_activity: bool = True
    link_target: str | None = None  # a link throw: the catch it jumps to
    entry: tuple[str, ...] = ()  # a subprocess: where its tokens begin
    # An inclusive join: for each incoming flow, the nodes of its scope from which that
    # flow can be reached without passing through the join itself.
    upstream: dict[str, frozenset[str]] = field(default_factory=dict)
    gateway_flows: dict[str, Flow] = field(default_factory=dict)  # event gateway: target -> flow
    loop: LoopPlan | None = None  # a standard loop or multi-instance activity
    event_subprocess: bool = False  # a subprocess with triggeredByEvent="true"
    async_before: bool = False
    async_after: bool = False
    pre_script: Script | None = None  # SpiffWorkflow preScript: before the activity's work
    post_script: Script | None = None  # SpiffWorkflow postScript: after it, before leaving
    activation: Expression | None = None  # a complex gateway's activationCondition
    condition: Expression | None = None  # a conditional event's condition
    call: object | None = None  # a call activity's call_activity.CallPlan
    # Several event definitions (engine/runtime/multiple.py): MultiplePlan on the event,
    # PartOf on each of its synthetic per-definition part nodes.
    multiple: object | None = None
    # A signal throw with camunda:async="true": broadcast by a job after commit.
    async_signal: bool = False

    @property
    def name(self) -> str | None:
        return self.model.name

    @property
    def kind(self) -> str:
        return self.model.kind


@dataclass(frozen=True, slots=True)
class StartPoint:
    """A start event the shell must arm at deploy time (subscription or timer)."""

    element_id: str
    kind: str  # message | signal | timer
    name: str | None = None  # message or signal name
    timer_kind: TimerKind | None = None
    timer_text: str | None = None


@dataclass(slots=True)
class CompiledProcess:
    """One executable process, indexed for the machine. Build it with compile_process."""

    process_id: str
    name: str | None
    nodes: dict[str, Node]
    none_starts: tuple[str, ...]
    start_subscriptions: tuple[StartPoint, ...]
    start_timers: tuple[StartPoint, ...]
    definitions: m.Definitions
    # Process or subprocess id -> the start events of the event subprocesses directly in it
    # (armed when a scope instance of it starts, BPMN 2.0.2 §10.3.5).
    event_starts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Compensation handlers, compensation event subprocesses and throws (None: none).
    compensation: CompensationIndex | None = None
    # Ad-hoc subprocess id -> its adhoc.AdHocPlan (engine/runtime/adhoc.py).
    adhoc: dict[str, object] = field(default_factory=dict)
    # Has an inclusive or complex gateway: only then can a token wait at a join that
    # gateways.recheck_inclusive_joins must try again (True: unknown, always try).
    joins: bool = True

    @property
    def starts(self) -> tuple[str, ...]:
        return (*self.none_starts, *(s.element_id for s in self.start_subscriptions),
                *(s.element_id for s in self.start_timers))

    @property
    def version_tag(self) -> str | None:
        """The process's camunda:versionTag (what a versionTag binding looks for)."""
        process = self.definitions.process(self.process_id)
        return None if process is None else process.version_tag


def compile_process(definitions: m.Definitions, process_id: str) -> CompiledProcess:
    """Precompute indexes, parse expressions and join reachability for `process_id`.

    Raises CompileError (with diagnostics naming element and line) when the process uses
    something this runtime cannot execute, or has an expression or timer it cannot read.
    """
    from engine.runtime.support import unsupported  # one module owns the list

    process = definitions.process(process_id)
    if process is None:
        raise CompileError([_diag(f"no process {process_id!r} in this model", process_id,
                                  None)])
    refused = [d for d in unsupported(definitions, process_id) if d.is_error]
    if refused:
        raise CompileError(refused)
    builder = _Builder(definitions, process)
    builder.scope(process.scope, process.id)
    if builder.problems:
        raise CompileError(builder.problems)
    root = process.scope.nodes
    none_starts = tuple(n.id for n in root.values()
                        if isinstance(n, m.StartEvent) and n.trigger is m.Trigger.NONE)
    subscriptions: list[StartPoint] = []
    timers: list[StartPoint] = []
    from engine.runtime.multiple import start_points

    for node in root.values():
        if not isinstance(node, m.StartEvent) or not node.definitions:
            continue
        # A multiple start event: one point per definition, all starting at the event.
        for source, definition in start_points(builder.nodes, node):
            compiled = builder.nodes[source]
            name = compiled.name_text.literal if compiled.name_text else None
            if isinstance(definition, m.MessageEventDefinition | m.SignalEventDefinition):
                subscriptions.append(StartPoint(node.id, str(definition.trigger),
                                                None if name is None else str(name)))
            elif isinstance(definition, m.TimerEventDefinition) and \
                    definition.kind is not None:
                timers.append(StartPoint(node.id, "timer", timer_kind=definition.kind,
                                         timer_text=definition.text.strip()))
    from engine.runtime.adhoc import compile_plans
    from engine.runtime.compensation import build_index
    from engine.runtime.instantiate import start_points as instantiating

    subscriptions.extend(instantiating(builder.nodes, process))
    adhoc = compile_plans(builder, process)
    if builder.problems:
        raise CompileError(builder.problems)
    return CompiledProcess(process.id, process.name, builder.nodes, none_starts,
                           tuple(subscriptions), tuple(timers), definitions,
                           builder.event_starts, compensation=build_index(process),
                           adhoc=adhoc,
                           joins=any(n.behaviour in (INCLUSIVE, COMPLEX)
                                     for n in builder.nodes.values()))


def _diag(message: str, element_id: str | None, line: int | None) -> Diagnostic:
    from bpmn.diagnostics import error

    return error("runtime.compile", message, element_id, line)


class _Builder:
    def __init__(self, definitions: m.Definitions, process: m.Process) -> None:
        self.definitions = definitions
        self.process = process
        self.nodes: dict[str, Node] = {}
        self.problems: list[Diagnostic] = []
        self.event_starts: dict[str, tuple[str, ...]] = {}

    # -- expressions

    def expr(self, text: str, element: m.FlowNode | m.SequenceFlow, what: str,
             language: str | None = None, dialect: Dialect | None = None) -> Expression | None:
        try:
            return parse_expression(text, dialect,
                                    expression_language=language or
                                    self.definitions.expression_language)
        except ExpressionError as exc:
            self.problems.append(_diag(f"{what} {text!r} does not parse: {exc}", element.id,
                                       element.line))
            return None

    def text(self, value: str | None, element: m.FlowNode, what: str) -> Text | None:
        if value is None or not value.strip():
            return None
        if is_expression(value):
            return Text(expr=self.expr(value, element, what))
        return Text(literal=value)

    def timer(self, definition: m.TimerEventDefinition, node: m.FlowNode) -> TimerPlan | None:
        if definition.kind is None or not definition.text.strip():
            self.problems.append(_diag("timer has no date, duration or cycle", node.id,
                                       node.line))
            return None
        text = definition.text.strip()
        if is_expression(text):
            return TimerPlan(definition.kind, None, self.expr(text, node, "timer"))
        try:
            return TimerPlan(definition.kind, parse_timer(definition.kind, text), None)
        except TimerError as exc:
            # SpiffWorkflow evaluates timer text as Python (`"PT1H"`, `due_date`).
            try:
                return TimerPlan(definition.kind, None, parse_expression(text, Dialect.PYTHON))
            except ExpressionError:
                self.problems.append(_diag(f"timer {text!r}: {exc.message}", node.id,
                                           definition.text_line or node.line))
                return None

    def mapping(self, param: m.IoParameter, node: m.FlowNode) -> IoMapping:
        what = f"mapping of {param.target!r}"
        if param.kind == "list" and isinstance(param.value, list):
            items = tuple((None, self.item(v, node, what)) for v in param.value)
            return IoMapping(param.target, Text(), items, "list")
        if param.kind == "map" and isinstance(param.value, dict):
            entries = tuple((str(k), self.item(v, node, what)) for k, v in param.value.items())
            return IoMapping(param.target, Text(), entries, "map")
        source = param.source
        if source is None or not source.strip():
            return IoMapping(param.target, Text())
        if param.kind == "script":
            fmt = param.value.get("format") if isinstance(param.value, dict) else None
            dialect = script_dialect(str(fmt)) if fmt else None
            return IoMapping(param.target, Text(expr=self.expr(source, node, what,
                                                               dialect=dialect)), kind="script")
        if param.kind == "expression":
            # The parser marks only `${...}`/`#{...}`/`=...` sources as expressions; a
            # Zeebe source without '=' is a static value (Camunda 8 connectors use them).
            return IoMapping(param.target, Text(expr=self.expr(source, node, what)),
                             kind="expression")
        return IoMapping(param.target, Text(literal=param.value if param.value is not None
                                            else source))

    def item(self, value: object, node: m.FlowNode, what: str) -> Text:
        if isinstance(value, str) and is_expression(value):
            return Text(expr=self.expr(value, node, what))
        return Text(literal=value)

    def named(self, table: Mapping[str, m.Message] | Mapping[str, m.Signal],
              ref: str | None) -> str | None:
        """The name of a referenced message or signal (its id when it has no name)."""
        if ref is None:
            return None
        found = table.get(ref)
        return (found.name or found.id) if found is not None else ref

    # -- scopes and nodes

    def scope(self, scope: m.Scope, scope_id: str) -> None:
        flows = {f.id: f for f in scope.flows.values()}
        compiled_flows: dict[str, Flow] = {}
        for flow in flows.values():
            condition = None
            if flow.condition is not None and flow.condition.text.strip():
                condition = self.expr(flow.condition.text, flow, "condition",
                                      flow.condition.language)
            compiled_flows[flow.id] = Flow(flow.id, flow.source, flow.target, condition,
                                           flow.order)
        links = {d.name: n.id for n in scope.nodes.values()
                 if isinstance(n, m.IntermediateCatchEvent)
                 for d in n.definitions if isinstance(d, m.LinkEventDefinition)}
        for node in scope.nodes.values():
            outgoing = tuple(sorted((compiled_flows[f] for f in node.outgoing
                                     if f in compiled_flows), key=lambda f: f.order))
            self.nodes[node.id] = self.node(node, scope_id, outgoing, links, scope)
            if isinstance(node, m.SubProcess):
                self.scope(node.scope, node.id)
        starts = tuple(n.id for sub in scope.nodes.values()
                       if isinstance(sub, m.SubProcess) and sub.triggered_by_event
                       for n in sub.scope.nodes.values() if isinstance(n, m.StartEvent))
        if starts:
            self.event_starts[scope_id] = starts
        self.joins(scope, compiled_flows)

    def node(self, node: m.FlowNode, scope_id: str, outgoing: tuple[Flow, ...],
             links: dict[str | None, str], scope: m.Scope) -> Node:
        behaviour = _behaviour(node)
        out = Node(node.id, behaviour, node, scope_id, outgoing, node.incoming)
        ext = node.ext
        out.inputs = tuple(self.mapping(p, node) for p in ext.inputs)
        out.outputs = tuple(self.mapping(p, node) for p in ext.outputs)
        if isinstance(node, m.Activity):
            out.default = node.default_flow
            out.boundaries = node.boundary_events
            if node.loop is not None:
                out.loop = self.loop(node.loop, node)
        if isinstance(node, m.ExclusiveGateway | m.InclusiveGateway | m.ComplexGateway):
            out.default = node.default_flow
        if isinstance(node, m.ComplexGateway) and node.activation_condition is not None \
                and node.activation_condition.text.strip():
            out.activation = self.expr(node.activation_condition.text,
                                       node, "activation condition",
                                       node.activation_condition.language)
        if isinstance(node, m.UserTask):
            a = ext.assignment or m.Assignment()
            out.user = UserPlan(
                self.text(a.assignee, node, "assignee"),
                tuple(t for t in (self.text(u, node, "candidate users")
                                  for u in a.candidate_users) if t is not None),
                tuple(t for t in (self.text(g, node, "candidate groups")
                                  for g in a.candidate_groups) if t is not None),
                self.text(ext.due_date, node, "due date"),
                self.text(ext.follow_up_date, node, "follow-up date"),
                self.text(ext.priority, node, "priority"))
        if isinstance(node, m.ScriptTask):
            self.script_task(node, out)
        if behaviour == JOB:
            out.job_kind = _JOB_KINDS[node.kind]
            out.job_payload = _job_payload(node, self)
        if isinstance(node, m.ReceiveTask):
            out.name_text = self.message_name(node.message_ref, node)
            out.correlation = self.correlation_key(node.correlation_key, node)
        if isinstance(node, m.Event):
            self.event(node, out, links)
        if isinstance(node, m.IntermediateThrowEvent | m.EndEvent):
            self.send_job(node, out)
        out.async_before = ext.async_before
        out.async_after = ext.async_after
        out.pre_script = self.extra_script(ext.pre_script, node, "preScript")
        out.post_script = self.extra_script(ext.post_script, node, "postScript")
        if isinstance(node, m.StartEvent):
            # In an event subprocess: interrupting or not (BPMN 2.0.2 §10.3.5).
            out.cancel_activity = node.is_interrupting
        if isinstance(node, m.SubProcess):
            out.event_subprocess = node.triggered_by_event
            starts = [n.id for n in node.scope.nodes.values() if isinstance(n, m.StartEvent)]
            if not starts:
                # No start event: every node without incoming flow begins (BPMN 2.0.2
                # §10.5.2 "implicit start"; Camunda 7 does the same in subprocesses).
                starts = [n.id for n in node.scope.nodes.values() if not n.incoming and not
                          isinstance(n, m.BoundaryEvent | m.Gateway)
                          and not (isinstance(n, m.SubProcess) and n.triggered_by_event)
                          # a compensation handler runs only when compensating (§10.5.4)
                          and not (isinstance(n, m.Activity) and n.is_for_compensation)
                          and not (isinstance(n, m.IntermediateCatchEvent) and any(
                              isinstance(d, m.LinkEventDefinition) for d in n.definitions))]
            out.entry = tuple(starts)
        if isinstance(node, m.EventBasedGateway):
            out.gateway_flows = {f.target: f for f in outgoing}
        if isinstance(node, m.CallActivity):
            from engine.runtime.call_activity import call_plan

            out.call = call_plan(self, node)
        if isinstance(node, m.Event) and len(node.definitions) > 1:
            from engine.runtime.multiple import expand

            expand(self, node, out, scope_id, links)
        return out

    def loop(self, loop: m.LoopCharacteristics, node: m.FlowNode) -> LoopPlan:
        def model_expr(value: m.Expr | None, what: str) -> Expression | None:
            if value is None or not value.text.strip():
                return None
            return self.expr(value.text.strip(), node, what, value.language)

        if isinstance(loop, m.StandardLoop):
            return StandardPlan(model_expr(loop.condition, "loop condition"), loop.test_before,
                                loop.maximum)
        output = (loop.output_element or "").strip() or None
        return MultiPlan(
            loop.sequential, model_expr(loop.cardinality, "loop cardinality"),
            self.reference(loop.collection, node, "input collection"),
            (loop.element_variable or "").strip() or None,
            (loop.output_collection or "").strip() or None,
            self.reference(output, node, "output element"),
            _plain_name(output), model_expr(loop.completion_condition, "completion condition"))

    def reference(self, text: str | None, node: m.FlowNode, what: str) -> Expression | None:
        """A collection or element written as an expression (`${items}`, `=items`) or, as in
        camunda:collection="items" and SpiffWorkflow's loopDataInputRef, a bare name."""
        if text is None or not text.strip():
            return None
        text = text.strip()
        return self.expr(text, node, what, dialect=None if is_expression(text) else Dialect.FEEL)

    def script_task(self, node: m.ScriptTask, out: Node) -> None:
        text = node.script or ""
        fmt = (node.script_format or "").strip()
        # No scriptFormat is SpiffWorkflow's habit, and its scripts are Python.
        dialect = script_dialect(fmt) if fmt else Dialect.PYTHON
        out.result_variable = node.result_variable
        try:
            out.script = parse_script(text, dialect, result_variable=node.result_variable)
        except ExpressionError as exc:
            self.problems.append(_diag(f"script does not parse: {exc}", node.id,
                                       node.script_line or node.line))

    def extra_script(self, text: str | None, node: m.FlowNode, what: str) -> Script | None:
        """A SpiffWorkflow preScript/postScript: Python assignments, one per line."""
        if text is None or not text.strip():
            return None
        try:
            return parse_script(text, Dialect.PYTHON)
        except ExpressionError as exc:
            self.problems.append(_diag(f"{what} does not parse: {exc}", node.id, node.line))
            return None

    def correlation_key(self, text: str | None, node: m.FlowNode) -> Expression | None:
        """A Zeebe correlation key: `=expr` (or `${...}`), and FEEL even without '='."""
        if not text:
            return None
        return self.expr(text, node, "correlation key",
                         dialect=None if is_expression(text) else Dialect.FEEL)

    def message_name(self, ref: str | None, node: m.FlowNode) -> Text | None:
        name = self.named(self.definitions.messages, ref)
        return None if name is None else self.text(name, node, "message name")

    def event(self, node: m.Event, out: Node, links: dict[str | None, str]) -> None:
        out.trigger = node.trigger
        if isinstance(node, m.BoundaryEvent):
            out.attached_to = node.attached_to
            out.cancel_activity = node.cancel_activity
        if not node.definitions:
            return
        d = node.definitions[0]
        if isinstance(d, m.TimerEventDefinition):
            out.timer = self.timer(d, node)
        elif isinstance(d, m.MessageEventDefinition):
            out.name_text = self.message_name(d.message_ref, node)
            out.correlation = self.correlation_key(d.correlation_key, node)
        elif isinstance(d, m.SignalEventDefinition):
            name = self.named(self.definitions.signals, d.signal_ref)
            out.name_text = None if name is None else self.text(name, node, "signal name")
            out.async_signal = d.asynchronous and isinstance(
                node, m.IntermediateThrowEvent | m.EndEvent)
        elif isinstance(d, m.ErrorEventDefinition):
            error = self.definitions.errors.get(d.error_ref) if d.error_ref else None
            # A catcher (boundary, event subprocess start) of an error without errorCode
            # catches all of them (Camunda 7); a thrower without one throws its name.
            catcher = isinstance(node, m.BoundaryEvent | m.StartEvent)
            code = None if error is None else (error.code or
                                               (None if catcher else error.name or error.id))
            out.code = ThrowCode(d.error_ref, code)
            out.code_variable = d.code_variable
            out.message_variable = d.message_variable
        elif isinstance(d, m.EscalationEventDefinition):
            esc = self.definitions.escalations.get(d.escalation_ref) if d.escalation_ref \
                else None
            code = None if esc is None else (esc.code or (
                None if isinstance(node, m.BoundaryEvent | m.StartEvent)
                else esc.name or esc.id))
            out.code = ThrowCode(d.escalation_ref, code)
            out.code_variable = d.code_variable
        elif isinstance(d, m.ConditionalEventDefinition):
            if d.condition is None or not d.condition.text.strip():
                self.problems.append(_diag("a conditional event without a condition", node.id,
                                           node.line))
            else:
                out.condition = self.expr(d.condition.text, node, "condition",
                                          d.condition.language)
        elif isinstance(d, m.LinkEventDefinition) and isinstance(node, m.IntermediateThrowEvent):
            out.link_target = links.get(d.name)

    def send_job(self, node: m.IntermediateThrowEvent | m.EndEvent, out: Node) -> None:
        """A message throw or end event with an implementation (Camunda 7 camunda:class,
        delegateExpression, expression or type="external" on the messageEventDefinition;
        Zeebe's zeebe:taskDefinition on the event) behaves like a send task, as in Camunda
        7 and 8: its token waits for a "send" job that a handler or an outside worker does."""
        service = message_implementation(node)
        if service is None:
            return
        if len(node.definitions) > 1:
            # A multiple event throws all its definitions at once (§10.5.1); one of them
            # waiting for a job would need a join of its own.
            self.problems.append(_diag(
                "a message definition with an implementation (a send job) in an event with "
                "several event definitions is not supported by this engine yet", node.id,
                node.line))
            return
        definition = node.definitions[0]
        assert isinstance(definition, m.MessageEventDefinition)  # noqa: S101 - checked above
        out.job_kind = "send"
        out.job_payload = _job_payload(node, self, service=service,
                                       message_ref=definition.message_ref)

    # -- inclusive joins

    def joins(self, scope: m.Scope, flows: dict[str, Flow]) -> None:
        joins = [n for n in scope.nodes.values()
                 if isinstance(n, m.InclusiveGateway | m.ComplexGateway) and len(n.incoming) > 1]
        if not joins:
            return
        # Predecessors inside this scope: sequence flows, an activity before each of its
        # boundary events, a link throw before its catch.
        preds: dict[str, list[str]] = {n: [] for n in scope.nodes}
        for flow in flows.values():
            if flow.target in preds and flow.source in preds:
                preds[flow.target].append(flow.source)
        for node in scope.nodes.values():
            if isinstance(node, m.BoundaryEvent) and node.attached_to in preds:
                preds[node.id].append(node.attached_to)
            target = self.nodes[node.id].link_target
            if target is not None and target in preds:
                preds[target].append(node.id)
        for join in joins:
            upstream: dict[str, frozenset[str]] = {}
            for flow_id in join.incoming:
                incoming = flows.get(flow_id)
                if incoming is None or incoming.source == join.id:
                    upstream[flow_id] = frozenset()
                    continue
                seen = {incoming.source}
                todo = deque([incoming.source])
                while todo:
                    for pred in preds.get(todo.popleft(), ()):
                        if pred != join.id and pred not in seen:
                            seen.add(pred)
                            todo.append(pred)
                upstream[flow_id] = frozenset(seen)
            self.nodes[join.id].upstream = upstream


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain_name(text: str | None) -> str | None:
    """`result`, `=result` or `${result}`: the variable name; anything else None."""
    if text is None:
        return None
    bare = text[1:] if text.startswith("=") else text
    if bare[:2] in ("${", "#{") and bare.endswith("}"):
        bare = bare[2:-1]
    bare = bare.strip()
    return bare if _NAME.fullmatch(bare) else None


def _behaviour(node: m.FlowNode) -> str:
    if isinstance(node, m.SubProcess):
        return SUBPROCESS
    kinds = {
        "task": PASS, "manualTask": PASS, "userTask": USER, "scriptTask": SCRIPT,
        "serviceTask": JOB, "sendTask": JOB, "businessRuleTask": JOB, "receiveTask": RECEIVE,
        "exclusiveGateway": EXCLUSIVE, "inclusiveGateway": INCLUSIVE,
        "parallelGateway": PARALLEL, "eventBasedGateway": EVENT_GATEWAY,
        "complexGateway": COMPLEX, "callActivity": CALL,
        "startEvent": START, "endEvent": END, "intermediateCatchEvent": CATCH,
        "intermediateThrowEvent": THROW, "boundaryEvent": BOUNDARY,
    }
    return kinds.get(node.kind, "unsupported")


def message_implementation(node: m.FlowNode) -> m.ServiceImplementation | None:
    """How a message throw or end event is carried out, if the model says: Camunda 7
    puts it on the messageEventDefinition, Zeebe on the event (zeebe:taskDefinition)."""
    if not isinstance(node, m.IntermediateThrowEvent | m.EndEvent):
        return None
    for definition in node.definitions:
        if not isinstance(definition, m.MessageEventDefinition):
            continue
        for service in (definition.implementation, node.ext.service):
            if service is None or service.kind == "none":
                continue
            if service.kind == "expression" and not (service.value or "").strip().startswith(
                    ("${", "#{")):
                # camunda:expression="plan_details": SpiffWorkflow's message payload (its
                # camunda-flavoured models), not a Camunda 7 expression to call.
                continue
            return service
    return None


def _job_payload(node: m.FlowNode, builder: _Builder,
                 service: m.ServiceImplementation | None = None,
                 message_ref: str | None = None) -> dict[str, object]:
    service = service or node.ext.service
    payload: dict[str, object] = {}
    if service is not None:
        payload["implementation"] = service.kind
        for key, value in (("value", service.value), ("topic", service.topic),
                           ("retries", service.retries),
                           ("result_variable", service.result_variable)):
            if value is not None:
                payload[key] = value
        if service.headers:
            payload["headers"] = dict(service.headers)
        if service.fields:
            payload["fields"] = dict(service.fields)
    if node.ext.retry_cycle:
        payload["retry_cycle"] = node.ext.retry_cycle
    if isinstance(node, m.SendTask):
        message_ref = node.message_ref
    if message_ref:
        payload["message"] = builder.named(builder.definitions.messages, message_ref)
    return payload
