"""The BPMN 2.0.2 model as frozen dataclasses: what the parser produces and the engine runs.

Vendor extensions (camunda:, operaton:, flowable:, activiti:, zeebe:, spiffworkflow:) are
already translated into the neutral `Extensions` of each element, so nothing downstream
knows which modeler wrote the file. Expressions stay text (`Expr`) here; the validator
parses every one of them at load time and the engine compiles them once per definition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from bpmn.timers import TimerKind

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Expr:
    """An expression as written in the model. `language` is the element's or the file's
    expressionLanguage (None = the dialect is told by the text itself)."""

    text: str
    language: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RawExtension:
    """An extension element we do not interpret, kept so nothing in the file is lost."""

    tag: str  # `{namespace}name`
    xml: str  # the element as written, children included
    line: int | None = None


# ---------------------------------------------------------------- vendor-neutral extensions


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who a user task is offered to. Entries may be expressions (`${initiator}`, `=boss`)."""

    assignee: str | None = None
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FormField:
    id: str
    label: str | None = None
    type: str = "string"  # string, long, boolean, date, enum, or a custom type name
    default: str | None = None
    enum_values: tuple[tuple[str, str], ...] = ()  # (id, label)
    required: bool = False
    readonly: bool = False
    min: str | None = None
    max: str | None = None
    minlength: int | None = None
    maxlength: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Form:
    """A task's or start event's form: a key/reference, inline fields, or form-js JSON."""

    key: str | None = None  # camunda:formKey, zeebe formKey, flowable:formKey
    ref: str | None = None  # camunda:formRef, zeebe formId
    ref_binding: str | None = None
    fields: tuple[FormField, ...] = ()
    json: str | None = None  # embedded Camunda Forms (form-js) schema, e.g. zeebe:userTaskForm


@dataclass(frozen=True, slots=True)
class IoParameter:
    """One input or output mapping. `source` is an expression or literal; `kind` says which
    (value, expression, script, list, map) and `value` carries list/map literals."""

    target: str
    source: str | None
    kind: str = "expression"
    value: object = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class CallMapping:
    """A call activity's in/out variable mapping (camunda:in/out, zeebe ioMapping)."""

    source: str | None = None
    source_expression: str | None = None
    target: str | None = None
    all_variables: bool = False
    local: bool = False
    business_key: str | None = None


@dataclass(frozen=True, slots=True)
class Listener:
    """An execution or task listener: recorded, not run."""

    scope: str  # execution | task
    event: str
    kind: str  # class, expression, delegateExpression, script, type
    value: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceImplementation:
    """How a service, send or business rule task is carried out.

    kind: external (topic), class, delegateExpression, expression, connector, job (zeebe
    task type), operator (SpiffWorkflow serviceTaskOperator), decision (business rule),
    webService (BPMN `implementation`), none.
    """

    kind: str
    value: str | None = None
    topic: str | None = None
    retries: str | None = None
    result_variable: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Extensions:
    """Every vendor extension we understand, in one neutral shape."""

    assignment: Assignment | None = None
    form: Form | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    priority: str | None = None
    async_before: bool = False
    async_after: bool = False
    exclusive: bool = True
    retry_cycle: str | None = None  # camunda:failedJobRetryTimeCycle, e.g. R5/PT5M
    service: ServiceImplementation | None = None
    inputs: tuple[IoParameter, ...] = ()
    outputs: tuple[IoParameter, ...] = ()
    call_in: tuple[CallMapping, ...] = ()
    call_out: tuple[CallMapping, ...] = ()
    listeners: tuple[Listener, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    initiator: str | None = None  # start event: variable that receives the starting user
    pre_script: str | None = None  # SpiffWorkflow
    post_script: str | None = None  # SpiffWorkflow
    raw: tuple[RawExtension, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == _NO_EXTENSIONS


_NO_EXTENSIONS = Extensions()
NO_EXTENSIONS = _NO_EXTENSIONS


# ---------------------------------------------------------------- event definitions


class Trigger(StrEnum):
    """What an event reacts to or throws; also the suffix of `<event>:<trigger>` counts."""

    NONE = "none"
    MESSAGE = "message"
    TIMER = "timer"
    SIGNAL = "signal"
    ERROR = "error"
    ESCALATION = "escalation"
    COMPENSATE = "compensate"
    CONDITIONAL = "conditional"
    LINK = "link"
    CANCEL = "cancel"
    TERMINATE = "terminate"
    MULTIPLE = "multiple"
    PARALLEL_MULTIPLE = "parallelMultiple"


@dataclass(frozen=True, slots=True)
class EventDefinition:
    trigger: ClassVar[Trigger] = Trigger.NONE
    id: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class MessageEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.MESSAGE
    message_ref: str | None = None
    correlation_key: str | None = None  # zeebe:subscription correlationKey
    implementation: ServiceImplementation | None = None  # throw side: how it is sent


@dataclass(frozen=True, slots=True)
class TimerEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.TIMER
    kind: TimerKind | None = None  # None: the modeler left the timer empty
    text: str = ""
    text_line: int | None = None


@dataclass(frozen=True, slots=True)
class SignalEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.SIGNAL
    signal_ref: str | None = None
    # camunda:async="true" on a throw: the broadcast is delivered by a job after commit.
    asynchronous: bool = False


@dataclass(frozen=True, slots=True)
class ErrorEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.ERROR
    error_ref: str | None = None  # None on a boundary/start event = catch every error
    code_variable: str | None = None
    message_variable: str | None = None


@dataclass(frozen=True, slots=True)
class EscalationEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.ESCALATION
    escalation_ref: str | None = None
    code_variable: str | None = None


@dataclass(frozen=True, slots=True)
class CompensateEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.COMPENSATE
    activity_ref: str | None = None
    wait_for_completion: bool = True


@dataclass(frozen=True, slots=True)
class ConditionalEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.CONDITIONAL
    condition: Expr | None = None
    variable_name: str | None = None
    variable_events: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.LINK
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CancelEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.CANCEL


@dataclass(frozen=True, slots=True)
class TerminateEventDefinition(EventDefinition):
    trigger: ClassVar[Trigger] = Trigger.TERMINATE


# ---------------------------------------------------------------- loops


@dataclass(frozen=True, slots=True)
class StandardLoop:
    condition: Expr | None = None
    test_before: bool = False
    maximum: int | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MultiInstance:
    sequential: bool = False
    cardinality: Expr | None = None
    collection: str | None = None  # loopDataInputRef, camunda:collection, zeebe inputCollection
    element_variable: str | None = None
    output_collection: str | None = None
    output_element: str | None = None
    completion_condition: Expr | None = None
    line: int | None = None


LoopCharacteristics = StandardLoop | MultiInstance


# ---------------------------------------------------------------- flow elements


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    id: str
    source: str
    target: str
    name: str | None = None
    condition: Expr | None = None
    line: int | None = None
    order: int = 0  # document order within its scope: exclusive gateways take the first


@dataclass(frozen=True, slots=True)
class FlowNode:
    """Anything a token can stand on. `kind` is the BPMN local element name."""

    kind: ClassVar[str] = "flowNode"
    id: str
    name: str | None = None
    line: int | None = None
    incoming: tuple[str, ...] = ()  # sequence flow ids, document order
    outgoing: tuple[str, ...] = ()
    ext: Extensions = NO_EXTENSIONS
    documentation: str | None = None


@dataclass(frozen=True, slots=True)
class Event(FlowNode):
    definitions: tuple[EventDefinition, ...] = ()
    parallel_multiple: bool = False

    @property
    def trigger(self) -> Trigger:
        if not self.definitions:
            return Trigger.NONE
        if len(self.definitions) > 1:
            return Trigger.PARALLEL_MULTIPLE if self.parallel_multiple else Trigger.MULTIPLE
        return self.definitions[0].trigger


@dataclass(frozen=True, slots=True)
class StartEvent(Event):
    kind: ClassVar[str] = "startEvent"
    is_interrupting: bool = True  # only meaningful in an event subprocess


@dataclass(frozen=True, slots=True)
class EndEvent(Event):
    kind: ClassVar[str] = "endEvent"


@dataclass(frozen=True, slots=True)
class IntermediateCatchEvent(Event):
    kind: ClassVar[str] = "intermediateCatchEvent"


@dataclass(frozen=True, slots=True)
class IntermediateThrowEvent(Event):
    kind: ClassVar[str] = "intermediateThrowEvent"


@dataclass(frozen=True, slots=True)
class BoundaryEvent(Event):
    kind: ClassVar[str] = "boundaryEvent"
    attached_to: str = ""
    cancel_activity: bool = True


@dataclass(frozen=True, slots=True)
class Activity(FlowNode):
    loop: LoopCharacteristics | None = None
    is_for_compensation: bool = False
    default_flow: str | None = None
    boundary_events: tuple[str, ...] = ()  # ids of the boundary events attached here
    completion_quantity: int = 1
    start_quantity: int = 1


@dataclass(frozen=True, slots=True)
class Task(Activity):
    kind: ClassVar[str] = "task"


@dataclass(frozen=True, slots=True)
class UserTask(Activity):
    kind: ClassVar[str] = "userTask"
    implementation: str | None = None


@dataclass(frozen=True, slots=True)
class ManualTask(Activity):
    kind: ClassVar[str] = "manualTask"


@dataclass(frozen=True, slots=True)
class ServiceTask(Activity):
    kind: ClassVar[str] = "serviceTask"
    operation_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SendTask(Activity):
    kind: ClassVar[str] = "sendTask"
    message_ref: str | None = None
    operation_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiveTask(Activity):
    kind: ClassVar[str] = "receiveTask"
    message_ref: str | None = None
    instantiate: bool = False
    correlation_key: str | None = None


@dataclass(frozen=True, slots=True)
class BusinessRuleTask(Activity):
    kind: ClassVar[str] = "businessRuleTask"


@dataclass(frozen=True, slots=True)
class ScriptTask(Activity):
    kind: ClassVar[str] = "scriptTask"
    script_format: str | None = None
    script: str | None = None
    script_line: int | None = None
    result_variable: str | None = None


@dataclass(frozen=True, slots=True)
class CallActivity(Activity):
    kind: ClassVar[str] = "callActivity"
    called_element: str | None = None  # a process id; may be an expression
    binding: str = "latest"  # latest | deployment | version | versionTag
    version: str | None = None
    propagate_all_child_variables: bool = False


@dataclass(frozen=True, slots=True)
class Scope:
    """What a process and every kind of subprocess share: the elements inside them."""

    nodes: Mapping[str, FlowNode] = field(default_factory=dict)
    flows: Mapping[str, SequenceFlow] = field(default_factory=dict)
    data_objects: Mapping[str, DataObject] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True, slots=True)
class SubProcess(Activity):
    kind: ClassVar[str] = "subProcess"
    triggered_by_event: bool = False
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True, slots=True)
class Transaction(SubProcess):
    kind: ClassVar[str] = "transaction"
    method: str | None = None


@dataclass(frozen=True, slots=True)
class AdHocSubProcess(SubProcess):
    kind: ClassVar[str] = "adHocSubProcess"
    ordering: str = "Parallel"
    completion_condition: Expr | None = None
    cancel_remaining_instances: bool = True


@dataclass(frozen=True, slots=True)
class Gateway(FlowNode):
    direction: str | None = None  # gatewayDirection as written (Diverging, Converging, ...)


@dataclass(frozen=True, slots=True)
class ExclusiveGateway(Gateway):
    kind: ClassVar[str] = "exclusiveGateway"
    default_flow: str | None = None


@dataclass(frozen=True, slots=True)
class InclusiveGateway(Gateway):
    kind: ClassVar[str] = "inclusiveGateway"
    default_flow: str | None = None


@dataclass(frozen=True, slots=True)
class ParallelGateway(Gateway):
    kind: ClassVar[str] = "parallelGateway"


@dataclass(frozen=True, slots=True)
class ComplexGateway(Gateway):
    kind: ClassVar[str] = "complexGateway"
    default_flow: str | None = None
    activation_condition: Expr | None = None


@dataclass(frozen=True, slots=True)
class EventBasedGateway(Gateway):
    kind: ClassVar[str] = "eventBasedGateway"
    instantiate: bool = False
    event_gateway_type: str = "Exclusive"


# ---------------------------------------------------------------- data and artifacts


@dataclass(frozen=True, slots=True)
class DataObject:
    id: str
    name: str | None = None
    item_ref: str | None = None
    is_collection: bool = False
    is_reference: bool = False  # a dataObjectReference / dataStoreReference
    ref: str | None = None  # the referenced dataObject / dataStore
    is_store: bool = False
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Artifact:
    """A text annotation, group or association: drawn, not executed."""

    kind: str  # textAnnotation, group, association
    id: str
    text: str | None = None
    source: str | None = None
    target: str | None = None
    line: int | None = None


# ---------------------------------------------------------------- process and collaboration


@dataclass(frozen=True, slots=True)
class Lane:
    id: str
    name: str | None = None
    node_ids: tuple[str, ...] = ()
    children: tuple[Lane, ...] = ()
    line: int | None = None

    def walk(self) -> Iterator[Lane]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Process:
    id: str
    name: str | None = None
    is_executable: bool = False
    line: int | None = None
    scope: Scope = field(default_factory=Scope)
    lanes: tuple[Lane, ...] = ()
    ext: Extensions = NO_EXTENSIONS
    version_tag: str | None = None
    candidate_starter_groups: tuple[str, ...] = ()
    candidate_starter_users: tuple[str, ...] = ()
    documentation: str | None = None

    def lane_of(self, node_id: str) -> Lane | None:
        """The innermost lane that lists `node_id`."""
        found: Lane | None = None
        for top in self.lanes:
            for lane in top.walk():
                if node_id in lane.node_ids:
                    found = lane
        return found


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    name: str | None = None
    process_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MessageFlow:
    id: str
    source: str
    target: str
    name: str | None = None
    message_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Collaboration:
    id: str
    name: str | None = None
    participants: tuple[Participant, ...] = ()
    message_flows: tuple[MessageFlow, ...] = ()
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    name: str | None = None
    item_ref: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    name: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Error:
    id: str
    name: str | None = None
    code: str | None = None
    message: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    id: str
    name: str | None = None
    code: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ItemDefinition:
    id: str
    structure_ref: str | None = None
    item_kind: str | None = None
    is_collection: bool = False
    line: int | None = None


# ---------------------------------------------------------------- diagram (BPMNDI)


@dataclass(frozen=True, slots=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Shape:
    element_id: str
    bounds: Bounds
    is_expanded: bool | None = None
    is_horizontal: bool | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    element_id: str
    waypoints: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Diagram:
    id: str | None
    plane_element: str | None
    shapes: Mapping[str, Shape] = field(default_factory=dict)
    edges: Mapping[str, Edge] = field(default_factory=dict)


# ---------------------------------------------------------------- the file


@dataclass(frozen=True, slots=True)
class Definitions:
    """One BPMN file."""

    id: str | None
    target_namespace: str | None = None
    expression_language: str | None = None
    exporter: str | None = None
    exporter_version: str | None = None
    processes: tuple[Process, ...] = ()
    collaborations: tuple[Collaboration, ...] = ()
    messages: Mapping[str, Message] = field(default_factory=dict)
    signals: Mapping[str, Signal] = field(default_factory=dict)
    errors: Mapping[str, Error] = field(default_factory=dict)
    escalations: Mapping[str, Escalation] = field(default_factory=dict)
    item_definitions: Mapping[str, ItemDefinition] = field(default_factory=dict)
    data_stores: Mapping[str, DataObject] = field(default_factory=dict)  # root <dataStore>
    diagrams: tuple[Diagram, ...] = ()
    namespaces: Mapping[str, str] = field(default_factory=dict)

    def process(self, process_id: str) -> Process | None:
        for process in self.processes:
            if process.id == process_id:
                return process
        return None

    @property
    def executable_processes(self) -> tuple[Process, ...]:
        return tuple(p for p in self.processes if p.is_executable)

    @property
    def element_counts(self) -> dict[str, int]:
        """How many of each kind the model holds (computed on demand; see count_elements)."""
        return count_elements(self)


def walk_scope(scope: Scope) -> Iterator[FlowNode]:
    """Every flow node in `scope` and in its subprocesses, depth first, document order."""
    stack: list[Iterator[FlowNode]] = [iter(scope.nodes.values())]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        yield node
        if isinstance(node, SubProcess):
            stack.append(iter(node.scope.nodes.values()))


def walk_flows(scope: Scope) -> Iterator[SequenceFlow]:
    """Every sequence flow in `scope` and its subprocesses."""
    yield from scope.flows.values()
    for node in walk_scope(scope):
        if isinstance(node, SubProcess):
            yield from node.scope.flows.values()


def count_elements(definitions: Definitions) -> dict[str, int]:
    """How many of each kind the model holds, in the vocabulary of the corpus INDEX:
    local names of flow nodes and loop markers plus `<event>:<trigger>` and the derived
    kinds (`boundaryEvent:nonInterrupting`, `subProcess:event`, ...)."""
    counts: Counter[str] = Counter()
    for process in definitions.processes:
        counts["process"] += 1
        for node in walk_scope(process.scope):
            counts[node.kind] += 1
            if isinstance(node, Event):
                for trigger in {d.trigger for d in node.definitions}:
                    counts[f"{node.kind}:{trigger}"] += 1
                if len(node.definitions) > 1:
                    # The corpus vocabulary says `multiple` for both; parallel is extra.
                    counts[f"{node.kind}:multiple"] += 1
                    if node.parallel_multiple:
                        counts[f"{node.kind}:parallelMultiple"] += 1
                if isinstance(node, BoundaryEvent) and not node.cancel_activity:
                    counts["boundaryEvent:nonInterrupting"] += 1
                if isinstance(node, StartEvent) and not node.is_interrupting:
                    counts["startEvent:nonInterrupting"] += 1
            if isinstance(node, Activity):
                if node.is_for_compensation:
                    counts["activity:forCompensation"] += 1
                if isinstance(node.loop, StandardLoop):
                    counts["standardLoopCharacteristics"] += 1
                elif isinstance(node.loop, MultiInstance):
                    counts["multiInstanceLoopCharacteristics"] += 1
                    mode = "sequential" if node.loop.sequential else "parallel"
                    counts[f"multiInstanceLoopCharacteristics:{mode}"] += 1
            if isinstance(node, SubProcess):
                if node.triggered_by_event:
                    counts[f"{node.kind}:event"] += 1
                for data in node.scope.data_objects.values():
                    counts[_data_kind(data)] += 1
        counts["sequenceFlow"] += sum(1 for _ in walk_flows(process.scope))
        for data in process.scope.data_objects.values():
            counts[_data_kind(data)] += 1
        for top in process.lanes:
            counts["lane"] += sum(1 for _ in top.walk())
    for collaboration in definitions.collaborations:
        counts["participant"] += len(collaboration.participants)
        counts["messageFlow"] += len(collaboration.message_flows)
    for kind, table in (("message", definitions.messages), ("signal", definitions.signals),
                        ("error", definitions.errors), ("escalation", definitions.escalations)):
        if table:
            counts[kind] += len(table)
    return dict(sorted(counts.items()))


def _data_kind(data: DataObject) -> str:
    if data.is_store:
        return "dataStoreReference"
    return "dataObjectReference" if data.is_reference else "dataObject"
