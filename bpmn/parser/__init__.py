"""XML element tree -> `Definitions`, through a registry of builders keyed by element name.

The parser is forgiving: it reads whatever a modeler wrote into the model, records what it
cannot make sense of as a diagnostic, and leaves judging executability to `bpmn.validate`.
It never raises for a tree that `bpmn.xml` accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from lxml import etree

from bpmn import diagnostics as diag
from bpmn.model import (
    BPMN_NS,
    AdHocSubProcess,
    Artifact,
    Assignment,
    BoundaryEvent,
    Bounds,
    BusinessRuleTask,
    CallActivity,
    CancelEventDefinition,
    Collaboration,
    CompensateEventDefinition,
    ComplexGateway,
    ConditionalEventDefinition,
    DataObject,
    Definitions,
    Diagram,
    Edge,
    EndEvent,
    Error,
    ErrorEventDefinition,
    Escalation,
    EscalationEventDefinition,
    EventBasedGateway,
    EventDefinition,
    ExclusiveGateway,
    Expr,
    FlowNode,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ItemDefinition,
    Lane,
    LinkEventDefinition,
    ManualTask,
    Message,
    MessageEventDefinition,
    MessageFlow,
    MultiInstance,
    ParallelGateway,
    Participant,
    Process,
    ReceiveTask,
    Scope,
    ScriptTask,
    SendTask,
    SequenceFlow,
    ServiceTask,
    Shape,
    Signal,
    SignalEventDefinition,
    StandardLoop,
    StartEvent,
    SubProcess,
    Task,
    TerminateEventDefinition,
    TimerEventDefinition,
    TimerKind,
    Transaction,
    UserTask,
)
from bpmn.parser.extensions import (
    ReadExtensions,
    embedded_forms,
    local,
    namespace,
    read_extensions,
)

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"


@dataclass
class _Context:
    """State of one parse: diagnostics, ids seen, file-level lookups."""

    expression_language: str | None
    forms: dict[str, str] = field(default_factory=dict)
    event_definitions: dict[str, etree._Element] = field(default_factory=dict)
    ids: dict[str, int | None] = field(default_factory=dict)
    diagnostics: list[diag.Diagnostic] = field(default_factory=list)

    def element_id(self, el: etree._Element, *, fallback: str | None = None) -> str:
        """The element's id; ids are optional in the XSD, so elements nothing refers to by
        id (sequence flows, associations) get `fallback` instead of a diagnostic."""
        value = el.get("id")
        if (value is None or not value.strip()) and fallback is not None:
            while fallback in self.ids:
                fallback += "'"
            self.ids[fallback] = el.sourceline
            return fallback
        if value is None or not value.strip():
            self.diagnostics.append(diag.error(
                "bpmn.missing-id", f"<{local(el.tag)}> has no id attribute", None,
                el.sourceline))
            return f"_{local(el.tag)}_line{el.sourceline}"
        value = value.strip()
        if value in self.ids:
            self.diagnostics.append(diag.error(
                "bpmn.duplicate-id",
                f"id {value!r} is used again (first at line {self.ids[value]})",
                value, el.sourceline))
        else:
            self.ids[value] = el.sourceline
        return value

    def expr(self, el: etree._Element | None) -> Expr | None:
        if el is None:
            return None
        text = "".join(el.itertext()).strip()
        if not text:
            return None
        return Expr(text=text, language=el.get("language") or self.expression_language,
                    line=el.sourceline)


def _children(el: etree._Element, name: str | None = None) -> Iterator[etree._Element]:
    """Element children, or only the BPMN children called `name` (filtered in C)."""
    if name is None:
        return (child for child in el if isinstance(child.tag, str))
    return el.iterchildren(f"{{{BPMN_NS}}}{name}")


def _child(el: etree._Element, name: str) -> etree._Element | None:
    # iterchildren filters in C; find() would go through lxml's Python ElementPath.
    return next(el.iterchildren(f"{{{BPMN_NS}}}{name}"), None)


def _ref(el: etree._Element, value: str | None) -> str | None:
    """A QName reference (`tns:Message_1`) reduced to the id it names."""
    if not value:
        return None
    value = value.strip()
    if ":" in value:
        prefix, rest = value.split(":", 1)
        if prefix in (el.nsmap or {}) or prefix in ("tns", "bpmn", "bpmn2"):
            return rest
    return value


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() == "true"


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    text = "".join(el.itertext()).strip()
    return text or None


def _documentation(el: etree._Element) -> str | None:
    docs = [t for t in (_text(d) for d in _children(el, "documentation")) if t]
    return "\n".join(docs) or None


# ---------------------------------------------------------------- event definitions

_TIMER_KINDS = {"timeDate": TimerKind.DATE, "timeDuration": TimerKind.DURATION,
                "timeCycle": TimerKind.CYCLE}


def _event_definition(el: etree._Element, ctx: _Context) -> EventDefinition | None:
    name = local(el.tag)
    ident = el.get("id")
    line = el.sourceline
    if name == "messageEventDefinition":
        read = read_extensions(el, _child(el, "extensionElements"))
        return MessageEventDefinition(
            ident, line, message_ref=_ref(el, el.get("messageRef")),
            implementation=read.ext.service)
    if name == "timerEventDefinition":
        for child in _children(el):
            kind = _TIMER_KINDS.get(local(child.tag))
            if kind is not None:
                return TimerEventDefinition(ident, line, kind=kind,
                                            text=_text(child) or "",
                                            text_line=child.sourceline)
        return TimerEventDefinition(ident, line)
    if name == "signalEventDefinition":
        # camunda:async (operaton:, flowable: alike) is read as async_before.
        read = read_extensions(el, None)
        return SignalEventDefinition(ident, line, signal_ref=_ref(el, el.get("signalRef")),
                                     asynchronous=read.ext.async_before)
    if name == "errorEventDefinition":
        read = read_extensions(el, None)
        return ErrorEventDefinition(
            ident, line, error_ref=_ref(el, el.get("errorRef")),
            code_variable=read.ext.properties.get("camunda:errorCodeVariable"),
            message_variable=read.ext.properties.get("camunda:errorMessageVariable"))
    if name == "escalationEventDefinition":
        read = read_extensions(el, None)
        return EscalationEventDefinition(
            ident, line, escalation_ref=_ref(el, el.get("escalationRef")),
            code_variable=read.ext.properties.get("camunda:escalationCodeVariable"))
    if name == "compensateEventDefinition":
        return CompensateEventDefinition(
            ident, line, activity_ref=_ref(el, el.get("activityRef")),
            wait_for_completion=_bool(el.get("waitForCompletion"), True))
    if name == "conditionalEventDefinition":
        read = read_extensions(el, None)
        events = read.ext.properties.get("camunda:variableEvents") or ""
        return ConditionalEventDefinition(
            ident, line, condition=ctx.expr(_child(el, "condition")),
            variable_name=read.ext.properties.get("camunda:variableName"),
            variable_events=tuple(e.strip() for e in events.split(",") if e.strip()))
    if name == "linkEventDefinition":
        return LinkEventDefinition(ident, line, name=el.get("name"))
    if name == "cancelEventDefinition":
        return CancelEventDefinition(ident, line)
    if name == "terminateEventDefinition":
        return TerminateEventDefinition(ident, line)
    return None


def _event_definitions(el: etree._Element, ctx: _Context) -> tuple[EventDefinition, ...]:
    found: list[EventDefinition] = []
    for child in _children(el):
        if namespace(child.tag) != BPMN_NS:
            continue
        name = local(child.tag)
        if name == "eventDefinitionRef":
            target = ctx.event_definitions.get(_ref(child, _text(child)) or "")
            if target is None:
                ctx.diagnostics.append(diag.error(
                    "bpmn.ref-missing",
                    f"eventDefinitionRef {_text(child)!r} names no event definition",
                    el.get("id"), child.sourceline))
                continue
            child = target
        elif not name.endswith("EventDefinition"):
            continue
        definition = _event_definition(child, ctx)
        if definition is not None:
            found.append(definition)
    return tuple(found)


# ---------------------------------------------------------------- flow nodes


@dataclass(frozen=True, slots=True)
class _Wiring:
    """What a scope knows about a node before building it."""

    incoming: tuple[str, ...]
    outgoing: tuple[str, ...]
    boundary_events: tuple[str, ...]


def _common(el: etree._Element, ctx: _Context, wiring: _Wiring,
            read: ReadExtensions) -> dict[str, Any]:
    return {
        "id": ctx.element_id(el),
        "name": el.get("name"),
        "line": el.sourceline,
        "incoming": wiring.incoming,
        "outgoing": wiring.outgoing,
        "ext": read.ext,
        "documentation": _documentation(el),
    }


def _loop(el: etree._Element, ctx: _Context) -> StandardLoop | MultiInstance | None:
    standard = _child(el, "standardLoopCharacteristics")
    if standard is not None:
        maximum = standard.get("loopMaximum")
        return StandardLoop(
            condition=ctx.expr(_child(standard, "loopCondition")),
            test_before=_bool(standard.get("testBefore"), False),
            maximum=int(maximum) if maximum and maximum.strip().isdigit() else None,
            line=standard.sourceline)
    multi = _child(el, "multiInstanceLoopCharacteristics")
    if multi is None:
        return None
    read = read_extensions(multi, _child(multi, "extensionElements"))
    loop = dict(read.loop)
    input_ref = _text(_child(multi, "loopDataInputRef"))
    output_ref = _text(_child(multi, "loopDataOutputRef"))
    input_item = _child(multi, "inputDataItem")
    output_item = _child(multi, "outputDataItem")
    return MultiInstance(
        sequential=_bool(multi.get("isSequential"), False),
        cardinality=ctx.expr(_child(multi, "loopCardinality")),
        collection=loop.get("collection") or input_ref,
        element_variable=loop.get("element_variable") or (
            None if input_item is None else input_item.get("name") or input_item.get("id")),
        output_collection=loop.get("output_collection") or output_ref,
        output_element=loop.get("output_element") or (
            None if output_item is None else output_item.get("name") or output_item.get("id")),
        completion_condition=ctx.expr(_child(multi, "completionCondition")),
        line=multi.sourceline)


def _activity(el: etree._Element, ctx: _Context, wiring: _Wiring,
              read: ReadExtensions) -> dict[str, Any]:
    values = _common(el, ctx, wiring, read)
    values.update(
        loop=_loop(el, ctx),
        is_for_compensation=_bool(el.get("isForCompensation"), False),
        default_flow=el.get("default"),
        boundary_events=wiring.boundary_events,
    )
    for attr, key in (("completionQuantity", "completion_quantity"),
                      ("startQuantity", "start_quantity")):
        value = el.get(attr)
        if value and value.strip().isdigit():
            values[key] = int(value)
    return values


def _resource_assignment(el: etree._Element, read: ReadExtensions) -> ReadExtensions:
    """BPMN potentialOwner / humanPerformer -> Assignment (`user(x)`, `group(y)`; a bare
    name is a group, as in Camunda 7 and Activiti)."""
    users: list[str] = []
    groups: list[str] = []
    assignee: str | None = None
    for role in _children(el):
        kind = local(role.tag)
        if kind not in ("potentialOwner", "humanPerformer", "performer"):
            continue
        text = _text(next((c for c in role.iter() if isinstance(c.tag, str)
                           and local(c.tag) == "formalExpression"), None))
        if not text:
            continue
        for part in (p.strip() for p in text.split(",")):
            if part.startswith("user(") and part.endswith(")"):
                users.append(part[5:-1].strip())
            elif part.startswith("group(") and part.endswith(")"):
                groups.append(part[6:-1].strip())
            elif kind == "humanPerformer":
                assignee = part
            elif part:
                groups.append(part)
        if kind == "humanPerformer" and users and assignee is None:
            assignee = users.pop(0)
    if not (users or groups or assignee):
        return read
    current = read.ext.assignment or Assignment()
    assignment = Assignment(
        assignee=current.assignee or assignee,
        candidate_users=current.candidate_users + tuple(users),
        candidate_groups=current.candidate_groups + tuple(groups))
    return replace(read, ext=replace(read.ext, assignment=assignment))


_Builder = Callable[[etree._Element, _Context, _Wiring, ReadExtensions], FlowNode]


def _event_values(el: etree._Element, ctx: _Context, wiring: _Wiring,
                  read: ReadExtensions) -> dict[str, Any]:
    values = _common(el, ctx, wiring, read)
    definitions = _event_definitions(el, ctx)
    if read.message_correlation_key:
        definitions = tuple(
            MessageEventDefinition(d.id, d.line, message_ref=d.message_ref,
                                   correlation_key=read.message_correlation_key,
                                   implementation=d.implementation)
            if isinstance(d, MessageEventDefinition) else d for d in definitions)
    values["definitions"] = definitions
    values["parallel_multiple"] = _bool(el.get("parallelMultiple"), False)
    return values


def _start_event(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return StartEvent(**_event_values(el, ctx, w, r),
                      is_interrupting=_bool(el.get("isInterrupting"), True))


def _end_event(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return EndEvent(**_event_values(el, ctx, w, r))


def _catch_event(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return IntermediateCatchEvent(**_event_values(el, ctx, w, r))


def _throw_event(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return IntermediateThrowEvent(**_event_values(el, ctx, w, r))


def _boundary_event(el: etree._Element, ctx: _Context, w: _Wiring,
                    r: ReadExtensions) -> FlowNode:
    return BoundaryEvent(**_event_values(el, ctx, w, r),
                         attached_to=_ref(el, el.get("attachedToRef")) or "",
                         cancel_activity=_bool(el.get("cancelActivity"), True))


def _task(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return Task(**_activity(el, ctx, w, r))


def _user_task(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    r = _resource_assignment(el, r)
    return UserTask(**_activity(el, ctx, w, r), implementation=el.get("implementation"))


def _manual_task(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return ManualTask(**_activity(el, ctx, w, r))


def _service_task(el: etree._Element, ctx: _Context, w: _Wiring,
                  r: ReadExtensions) -> FlowNode:
    return ServiceTask(**_activity(el, ctx, w, r),
                       operation_ref=_ref(el, el.get("operationRef")))


def _send_task(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return SendTask(**_activity(el, ctx, w, r), message_ref=_ref(el, el.get("messageRef")),
                    operation_ref=_ref(el, el.get("operationRef")))


def _receive_task(el: etree._Element, ctx: _Context, w: _Wiring,
                  r: ReadExtensions) -> FlowNode:
    return ReceiveTask(**_activity(el, ctx, w, r), message_ref=_ref(el, el.get("messageRef")),
                       instantiate=_bool(el.get("instantiate"), False),
                       correlation_key=r.message_correlation_key)


def _business_rule_task(el: etree._Element, ctx: _Context, w: _Wiring,
                        r: ReadExtensions) -> FlowNode:
    return BusinessRuleTask(**_activity(el, ctx, w, r))


def _script_task(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    script_el = _child(el, "script")
    script = r.script if r.script is not None else (
        None if script_el is None else "".join(script_el.itertext()))
    resource = r.ext.properties.get("camunda:resource")
    return ScriptTask(**_activity(el, ctx, w, r),
                      script_format=r.script_format or el.get("scriptFormat"),
                      script=script if script is not None else resource,
                      script_line=script_el.sourceline if script_el is not None else el.sourceline,
                      result_variable=r.result_variable)


def _call_activity(el: etree._Element, ctx: _Context, w: _Wiring,
                   r: ReadExtensions) -> FlowNode:
    return CallActivity(**_activity(el, ctx, w, r),
                        called_element=r.called_element or _ref(el, el.get("calledElement")),
                        binding=r.binding or "latest", version=r.version,
                        propagate_all_child_variables=r.propagate_all)


def _sub_process_values(el: etree._Element, ctx: _Context, w: _Wiring,
                        r: ReadExtensions) -> dict[str, Any]:
    values = _activity(el, ctx, w, r)
    values["triggered_by_event"] = _bool(el.get("triggeredByEvent"), False)
    values["scope"] = _scope(el, ctx)
    return values


def _sub_process(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return SubProcess(**_sub_process_values(el, ctx, w, r))


def _transaction(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return Transaction(**_sub_process_values(el, ctx, w, r), method=el.get("method"))


def _ad_hoc(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return AdHocSubProcess(
        **_sub_process_values(el, ctx, w, r), ordering=el.get("ordering") or "Parallel",
        completion_condition=ctx.expr(_child(el, "completionCondition")),
        cancel_remaining_instances=_bool(el.get("cancelRemainingInstances"), True))


def _gateway_values(el: etree._Element, ctx: _Context, w: _Wiring,
                    r: ReadExtensions) -> dict[str, Any]:
    values = _common(el, ctx, w, r)
    values["direction"] = el.get("gatewayDirection")
    return values


def _exclusive(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return ExclusiveGateway(**_gateway_values(el, ctx, w, r), default_flow=el.get("default"))


def _inclusive(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return InclusiveGateway(**_gateway_values(el, ctx, w, r), default_flow=el.get("default"))


def _parallel(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return ParallelGateway(**_gateway_values(el, ctx, w, r))


def _complex(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return ComplexGateway(**_gateway_values(el, ctx, w, r), default_flow=el.get("default"),
                          activation_condition=ctx.expr(_child(el, "activationCondition")))


def _event_based(el: etree._Element, ctx: _Context, w: _Wiring, r: ReadExtensions) -> FlowNode:
    return EventBasedGateway(**_gateway_values(el, ctx, w, r),
                             instantiate=_bool(el.get("instantiate"), False),
                             event_gateway_type=el.get("eventGatewayType") or "Exclusive")


NODE_BUILDERS: dict[str, _Builder] = {
    "startEvent": _start_event,
    "endEvent": _end_event,
    "intermediateCatchEvent": _catch_event,
    "intermediateThrowEvent": _throw_event,
    "boundaryEvent": _boundary_event,
    "task": _task,
    "userTask": _user_task,
    "manualTask": _manual_task,
    "serviceTask": _service_task,
    "sendTask": _send_task,
    "receiveTask": _receive_task,
    "businessRuleTask": _business_rule_task,
    "scriptTask": _script_task,
    "callActivity": _call_activity,
    "subProcess": _sub_process,
    "transaction": _transaction,
    "adHocSubProcess": _ad_hoc,
    "exclusiveGateway": _exclusive,
    "inclusiveGateway": _inclusive,
    "parallelGateway": _parallel,
    "complexGateway": _complex,
    "eventBasedGateway": _event_based,
}

# Children of a process or subprocess that are not flow nodes and carry nothing to execute.
_PASSIVE = frozenset({
    "extensionElements", "documentation", "ioSpecification", "property", "laneSet",
    "auditing", "monitoring", "supportedInterfaceRef", "correlationSubscription",
    "resourceRole", "performer", "humanPerformer", "potentialOwner", "dataInputAssociation",
    "dataOutputAssociation", "ioBinding", "sequenceFlow", "incoming", "outgoing",
    "multiInstanceLoopCharacteristics", "standardLoopCharacteristics", "completionCondition",
    "categoryValueRef",
})
_DATA = {"dataObject": (False, False), "dataObjectReference": (True, False),
         "dataStoreReference": (True, True)}
_ARTIFACTS = frozenset({"textAnnotation", "group", "association"})


def _scope(container: etree._Element, ctx: _Context) -> Scope:
    children = [c for c in container if isinstance(c.tag, str) and namespace(c.tag) == BPMN_NS]
    flows: dict[str, SequenceFlow] = {}
    by_source: dict[str, list[str]] = {}
    by_target: dict[str, list[str]] = {}
    attached: dict[str, list[str]] = {}
    for el in children:
        name = local(el.tag)
        if name == "sequenceFlow":
            source = _ref(el, el.get("sourceRef")) or ""
            target = _ref(el, el.get("targetRef")) or ""
            flow = SequenceFlow(
                id=ctx.element_id(el, fallback=f"{source}->{target}"), source=source,
                target=target, name=el.get("name"),
                condition=ctx.expr(_child(el, "conditionExpression")), line=el.sourceline,
                order=len(flows))
            flows[flow.id] = flow
            by_source.setdefault(flow.source, []).append(flow.id)
            by_target.setdefault(flow.target, []).append(flow.id)
        elif name == "boundaryEvent":
            host = _ref(el, el.get("attachedToRef"))
            if host:
                attached.setdefault(host, []).append(str(el.get("id") or ""))

    nodes: dict[str, FlowNode] = {}
    data: dict[str, DataObject] = {}
    artifacts: list[Artifact] = []
    for el in children:
        name = local(el.tag)
        builder = NODE_BUILDERS.get(name)
        if builder is not None:
            node_id = (el.get("id") or "").strip()
            wiring = _Wiring(tuple(by_target.get(node_id, ())),
                             tuple(by_source.get(node_id, ())),
                             tuple(attached.get(node_id, ())))
            read = read_extensions(el, _child(el, "extensionElements"), ctx.forms)
            node = builder(el, ctx, wiring, read)
            nodes[node.id] = node
        elif name in _DATA:
            is_reference, is_store = _DATA[name]
            ident = ctx.element_id(el)
            data[ident] = DataObject(
                id=ident, name=el.get("name"), item_ref=_ref(el, el.get("itemSubjectRef")),
                is_collection=_bool(el.get("isCollection"), False), is_reference=is_reference,
                ref=_ref(el, el.get("dataObjectRef") or el.get("dataStoreRef")),
                is_store=is_store, line=el.sourceline)
        elif name in _ARTIFACTS:
            artifacts.append(Artifact(
                kind=name, id=ctx.element_id(el, fallback=f"_{name}_line{el.sourceline}"),
                text=_text(_child(el, "text")),
                source=_ref(el, el.get("sourceRef")), target=_ref(el, el.get("targetRef")),
                line=el.sourceline))
        elif name not in _PASSIVE:
            ctx.diagnostics.append(diag.warning(
                "bpmn.unsupported-element",
                f"<{name}> is not a BPMN process element this engine reads; it is ignored",
                el.get("id"), el.sourceline))
    return Scope(nodes=nodes, flows=flows, data_objects=data, artifacts=tuple(artifacts))


# ---------------------------------------------------------------- process, lanes, collaboration


def _lanes(container: etree._Element, ctx: _Context) -> tuple[Lane, ...]:
    lanes: list[Lane] = []
    for lane_set in _children(container):
        if local(lane_set.tag) not in ("laneSet", "childLaneSet"):
            continue
        for lane_el in _children(lane_set, "lane"):
            refs = tuple(t for t in (_text(r) for r in _children(lane_el, "flowNodeRef")) if t)
            lanes.append(Lane(id=ctx.element_id(lane_el), name=lane_el.get("name"),
                              node_ids=refs, children=_lanes(lane_el, ctx),
                              line=lane_el.sourceline))
    return tuple(lanes)


def _process(el: etree._Element, ctx: _Context) -> Process:
    ext_el = _child(el, "extensionElements")
    if ext_el is not None:
        ctx.forms.update(embedded_forms(ext_el))
    read = read_extensions(el, ext_el)
    props = read.ext.properties
    return Process(
        id=ctx.element_id(el), name=el.get("name"),
        # A process without isExecutable="true" is a drawing: Camunda 7 and Zeebe skip it
        # at deployment too, and every modeler that targets an engine writes the attribute.
        is_executable=_bool(el.get("isExecutable"), False),
        line=el.sourceline, scope=_scope(el, ctx), lanes=_lanes(el, ctx), ext=read.ext,
        version_tag=props.get("camunda:versionTag"),
        candidate_starter_groups=tuple(
            g.strip() for g in (props.get("camunda:candidateStarterGroups") or "").split(",")
            if g.strip()),
        candidate_starter_users=tuple(
            u.strip() for u in (props.get("camunda:candidateStarterUsers") or "").split(",")
            if u.strip()),
        documentation=_documentation(el))


def _collaboration(el: etree._Element, ctx: _Context) -> Collaboration:
    participants = tuple(
        Participant(id=ctx.element_id(p), name=p.get("name"),
                    process_ref=_ref(p, p.get("processRef")), line=p.sourceline)
        for p in _children(el, "participant"))
    flows = tuple(
        MessageFlow(id=ctx.element_id(f), source=_ref(f, f.get("sourceRef")) or "",
                    target=_ref(f, f.get("targetRef")) or "", name=f.get("name"),
                    message_ref=_ref(f, f.get("messageRef")), line=f.sourceline)
        for f in _children(el, "messageFlow"))
    return Collaboration(id=ctx.element_id(el), name=el.get("name"), participants=participants,
                         message_flows=flows, line=el.sourceline)


def _float(value: str | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


_SHAPE = f"{{{BPMNDI_NS}}}BPMNShape"
_EDGE = f"{{{BPMNDI_NS}}}BPMNEdge"
_BOUNDS = f"{{{DC_NS}}}Bounds"
_WAYPOINT = f"{{{DI_NS}}}waypoint"


def _bounds(el: etree._Element) -> Bounds:
    get = el.get
    try:
        return Bounds(float(get("x")), float(get("y")), float(get("width")),
                      float(get("height")))
    except (TypeError, ValueError):  # a missing or garbled number: draw it at 0
        return Bounds(_float(get("x")), _float(get("y")), _float(get("width")),
                      _float(get("height")))


def _waypoints(el: etree._Element) -> tuple[tuple[float, float], ...]:
    points = []
    for point in el.iterchildren(_WAYPOINT):
        try:
            points.append((float(point.get("x")), float(point.get("y"))))
        except (TypeError, ValueError):
            points.append((_float(point.get("x")), _float(point.get("y"))))
    return tuple(points)


def _diagram(el: etree._Element) -> Diagram:
    shapes: dict[str, Shape] = {}
    edges: dict[str, Edge] = {}
    plane = next(el.iterchildren(f"{{{BPMNDI_NS}}}BPMNPlane"), None)
    if plane is not None:
        for item in plane.iterchildren(_SHAPE, _EDGE):
            target = item.get("bpmnElement")
            if not target:
                continue
            if item.tag == _EDGE:
                edges[target] = Edge(target, _waypoints(item))
                continue
            bounds = next(item.iterchildren(_BOUNDS), None)
            if bounds is None:
                continue
            expanded = item.get("isExpanded")
            horizontal = item.get("isHorizontal")
            shapes[target] = Shape(
                target, _bounds(bounds),
                None if expanded is None else expanded == "true",
                None if horizontal is None else horizontal == "true")
    return Diagram(id=el.get("id"), plane_element=None if plane is None
                   else plane.get("bpmnElement"), shapes=shapes, edges=edges)


def build_definitions(root: etree._Element) -> tuple[Definitions, list[diag.Diagnostic]]:
    """Read a `<definitions>` element (already checked to be BPMN) into the model."""
    ctx = _Context(expression_language=root.get("expressionLanguage"))
    processes: list[Process] = []
    collaborations: list[Collaboration] = []
    messages: dict[str, Message] = {}
    signals: dict[str, Signal] = {}
    errors: dict[str, Error] = {}
    escalations: dict[str, Escalation] = {}
    items: dict[str, ItemDefinition] = {}
    data_stores: dict[str, DataObject] = {}
    diagrams: list[Diagram] = []

    top = [c for c in root if isinstance(c.tag, str)]
    for el in top:  # root-level event definitions, for eventDefinitionRef
        if namespace(el.tag) == BPMN_NS and local(el.tag).endswith("EventDefinition") \
                and el.get("id"):
            ctx.event_definitions[str(el.get("id"))] = el
    for el in top:
        name = local(el.tag)
        ns = namespace(el.tag)
        if ns == BPMNDI_NS and name == "BPMNDiagram":
            diagrams.append(_diagram(el))
            continue
        if ns != BPMN_NS:
            continue
        if name == "process":
            processes.append(_process(el, ctx))
        elif name == "collaboration":
            collaborations.append(_collaboration(el, ctx))
        elif name == "message":
            m = Message(ctx.element_id(el), el.get("name"), _ref(el, el.get("itemRef")),
                        el.sourceline)
            messages[m.id] = m
        elif name == "signal":
            s = Signal(ctx.element_id(el), el.get("name"), el.sourceline)
            signals[s.id] = s
        elif name == "error":
            e = Error(ctx.element_id(el), el.get("name"), el.get("errorCode"),
                      el.get("{http://camunda.org/schema/1.0/bpmn}errorMessage"), el.sourceline)
            errors[e.id] = e
        elif name == "escalation":
            x = Escalation(ctx.element_id(el), el.get("name"), el.get("escalationCode"),
                           el.sourceline)
            escalations[x.id] = x
        elif name == "dataStore":
            store = DataObject(id=ctx.element_id(el), name=el.get("name"),
                               item_ref=_ref(el, el.get("itemSubjectRef")), is_store=True,
                               line=el.sourceline)
            data_stores[store.id] = store
        elif name == "itemDefinition":
            i = ItemDefinition(ctx.element_id(el), _ref(el, el.get("structureRef")),
                               el.get("itemKind"), _bool(el.get("isCollection"), False),
                               el.sourceline)
            items[i.id] = i

    definitions = Definitions(
        id=root.get("id"), target_namespace=root.get("targetNamespace"),
        expression_language=root.get("expressionLanguage"), exporter=root.get("exporter"),
        exporter_version=root.get("exporterVersion"), processes=tuple(processes),
        collaborations=tuple(collaborations), messages=messages, signals=signals,
        errors=errors, escalations=escalations, item_definitions=items,
        data_stores=data_stores,
        diagrams=tuple(diagrams),
        namespaces={str(k or ""): str(v) for k, v in (root.nsmap or {}).items()})
    return definitions, ctx.diagnostics


__all__ = ["NODE_BUILDERS", "build_definitions"]
