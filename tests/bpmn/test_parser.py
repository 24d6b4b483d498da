"""The parser reads every executable BPMN construct and every vendor's extensions into one model."""

from __future__ import annotations

from bpmn.model import (
    AdHocSubProcess,
    BoundaryEvent,
    CallActivity,
    CompensateEventDefinition,
    ConditionalEventDefinition,
    EndEvent,
    EventBasedGateway,
    ExclusiveGateway,
    InclusiveGateway,
    IntermediateCatchEvent,
    MultiInstance,
    ReceiveTask,
    ScriptTask,
    ServiceTask,
    StandardLoop,
    SubProcess,
    TimerEventDefinition,
    TimerKind,
    Transaction,
    Trigger,
    UserTask,
)
from tests.bpmn.fixtures import SPIFF, load


def nodes(result, process_id="P"):
    assert result.definitions is not None, result.diagnostics
    return result.definitions.process(process_id).scope.nodes


def test_sequence_flows_keep_document_order_conditions_and_wiring():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/>
  <exclusiveGateway id="g" default="f3"/>
  <sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
  <sequenceFlow id="f2" sourceRef="g" targetRef="a"><conditionExpression>${x &gt; 1}</conditionExpression></sequenceFlow>
  <sequenceFlow id="f3" sourceRef="g" targetRef="b"/>
  <task id="a"/><task id="b"/>
</process>""")
    process = result.definitions.process("P")
    gateway = process.scope.nodes["g"]
    assert isinstance(gateway, ExclusiveGateway)
    assert gateway.outgoing == ("f2", "f3") and gateway.incoming == ("f0",)
    assert gateway.default_flow == "f3"
    flow = process.scope.flows["f2"]
    assert flow.condition.text == "${x > 1}" and flow.condition.line == 6
    assert [f.order for f in process.scope.flows.values()] == [0, 1, 2]


def test_every_event_definition_kind_is_read():
    result = load("""
<message id="m1" name="Paid"/><signal id="sig" name="Alarm"/>
<error id="e1" errorCode="E42"/><escalation id="x1" escalationCode="X"/>
<process id="P" isExecutable="true">
  <startEvent id="s_msg"><messageEventDefinition messageRef="m1"/></startEvent>
  <startEvent id="s_timer"><timerEventDefinition><timeCycle>R3/PT10M</timeCycle></timerEventDefinition></startEvent>
  <startEvent id="s_sig"><signalEventDefinition signalRef="sig"/></startEvent>
  <startEvent id="s_cond"><conditionalEventDefinition camunda:variableName="x" camunda:variableEvents="create, update"><condition>${x}</condition></conditionalEventDefinition></startEvent>
  <intermediateCatchEvent id="c_link"><linkEventDefinition name="L"/></intermediateCatchEvent>
  <intermediateThrowEvent id="t_link"><linkEventDefinition name="L"/></intermediateThrowEvent>
  <intermediateThrowEvent id="t_comp"><compensateEventDefinition activityRef="a" waitForCompletion="false"/></intermediateThrowEvent>
  <endEvent id="e_err"><errorEventDefinition errorRef="e1"/></endEvent>
  <endEvent id="e_esc"><escalationEventDefinition escalationRef="x1"/></endEvent>
  <endEvent id="e_term"><terminateEventDefinition/></endEvent>
  <endEvent id="e_cancel"><cancelEventDefinition/></endEvent>
  <intermediateCatchEvent id="c_multi" parallelMultiple="true"><messageEventDefinition messageRef="m1"/><signalEventDefinition signalRef="sig"/></intermediateCatchEvent>
  <task id="a"/>
</process>""")
    n = nodes(result)
    assert n["s_msg"].trigger is Trigger.MESSAGE
    assert n["s_msg"].definitions[0].message_ref == "m1"
    timer = n["s_timer"].definitions[0]
    assert isinstance(timer, TimerEventDefinition)
    assert (timer.kind, timer.text) == (TimerKind.CYCLE, "R3/PT10M")
    assert n["s_sig"].definitions[0].signal_ref == "sig"
    cond = n["s_cond"].definitions[0]
    assert isinstance(cond, ConditionalEventDefinition)
    assert cond.condition.text == "${x}" and cond.variable_name == "x"
    assert cond.variable_events == ("create", "update")
    assert n["c_link"].definitions[0].name == "L"
    comp = n["t_comp"].definitions[0]
    assert isinstance(comp, CompensateEventDefinition)
    assert comp.activity_ref == "a" and comp.wait_for_completion is False
    assert n["e_err"].definitions[0].error_ref == "e1"
    assert result.definitions.errors["e1"].code == "E42"
    assert n["e_esc"].trigger is Trigger.ESCALATION
    assert n["e_term"].trigger is Trigger.TERMINATE
    assert n["e_cancel"].trigger is Trigger.CANCEL
    assert n["c_multi"].trigger is Trigger.PARALLEL_MULTIPLE
    counts = result.definitions.element_counts
    assert counts["startEvent:message"] == 1 and counts["intermediateCatchEvent:multiple"] == 1


def test_event_definition_refs_resolve_to_root_level_definitions():
    result = load("""
<timerEventDefinition id="T"><timeDuration>PT5M</timeDuration></timerEventDefinition>
<process id="P" isExecutable="true">
  <startEvent id="s"><eventDefinitionRef>T</eventDefinitionRef></startEvent>
</process>""")
    start = nodes(result)["s"]
    assert start.trigger is Trigger.TIMER
    assert start.definitions[0].text == "PT5M"


def test_boundary_events_know_their_host_and_the_host_knows_them():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="t"/>
  <userTask id="t"/>
  <boundaryEvent id="b1" attachedToRef="t" cancelActivity="false"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
  <boundaryEvent id="b2" attachedToRef="t"><errorEventDefinition/></boundaryEvent>
</process>""")
    n = nodes(result)
    assert n["t"].boundary_events == ("b1", "b2")
    assert isinstance(n["b1"], BoundaryEvent) and n["b1"].cancel_activity is False
    assert n["b2"].cancel_activity is True and n["b2"].definitions[0].error_ref is None
    assert result.definitions.element_counts["boundaryEvent:nonInterrupting"] == 1


def test_subprocess_kinds_and_their_inner_scopes():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="sub"/>
  <subProcess id="sub"><startEvent id="s2"/><sequenceFlow id="f2" sourceRef="s2" targetRef="t2"/><task id="t2"/></subProcess>
  <subProcess id="evt" triggeredByEvent="true"><startEvent id="s3" isInterrupting="false"><messageEventDefinition/></startEvent></subProcess>
  <transaction id="tx" method="##Compensate"/>
  <adHocSubProcess id="adhoc" ordering="Sequential"><completionCondition>${done}</completionCondition><task id="x"/></adHocSubProcess>
</process>""")
    n = nodes(result)
    assert isinstance(n["sub"], SubProcess) and set(n["sub"].scope.nodes) == {"s2", "t2"}
    assert n["sub"].scope.flows["f2"].target == "t2"
    assert n["evt"].triggered_by_event is True
    assert n["evt"].scope.nodes["s3"].is_interrupting is False
    assert isinstance(n["tx"], Transaction) and n["tx"].method == "##Compensate"
    assert isinstance(n["adhoc"], AdHocSubProcess)
    assert n["adhoc"].ordering == "Sequential" and n["adhoc"].completion_condition.text == "${done}"
    counts = result.definitions.element_counts
    assert counts["subProcess:event"] == 1 and counts["startEvent:nonInterrupting"] == 1
    assert counts["task"] == 2


def test_loops_standard_and_multi_instance_from_each_vendor():
    result = load("""
<process id="P" isExecutable="true">
  <task id="std"><standardLoopCharacteristics testBefore="true" loopMaximum="5"><loopCondition>${i &lt; 3}</loopCondition></standardLoopCharacteristics></task>
  <userTask id="mi_c"><multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}" camunda:elementVariable="item"><loopCardinality>3</loopCardinality><completionCondition>${nrOfCompletedInstances &gt;= 2}</completionCondition></multiInstanceLoopCharacteristics></userTask>
  <userTask id="mi_z"><multiInstanceLoopCharacteristics><extensionElements><zeebe:loopCharacteristics inputCollection="=docs" inputElement="doc" outputCollection="results" outputElement="=r"/></extensionElements></multiInstanceLoopCharacteristics></userTask>
  <task id="mi_s"><multiInstanceLoopCharacteristics><loopDataInputRef>names</loopDataInputRef><inputDataItem id="name"/></multiInstanceLoopCharacteristics></task>
</process>""")
    n = nodes(result)
    std = n["std"].loop
    assert isinstance(std, StandardLoop)
    assert std.test_before is True and std.maximum == 5 and std.condition.text == "${i < 3}"
    c = n["mi_c"].loop
    assert isinstance(c, MultiInstance) and c.sequential is True
    assert (c.collection, c.element_variable, c.cardinality.text) == ("${items}", "item", "3")
    z = n["mi_z"].loop
    assert (z.sequential, z.collection, z.element_variable) == (False, "=docs", "doc")
    assert (z.output_collection, z.output_element) == ("results", "=r")
    s = n["mi_s"].loop
    assert (s.collection, s.element_variable) == ("names", "name")
    counts = result.definitions.element_counts
    assert counts["multiInstanceLoopCharacteristics:parallel"] == 2
    assert counts["multiInstanceLoopCharacteristics:sequential"] == 1


def test_camunda_user_task_extensions_become_the_neutral_model():
    result = load("""
<process id="P" isExecutable="true">
  <userTask id="t" camunda:assignee="${initiator}" camunda:candidateUsers="ann, bob" camunda:candidateGroups="finance,managers"
            camunda:dueDate="${due}" camunda:followUpDate="P1D" camunda:priority="70" camunda:formKey="embedded:app:forms/a.html"
            camunda:asyncBefore="true">
    <extensionElements>
      <camunda:formData>
        <camunda:formField id="amount" label="Amount" type="long" defaultValue="10">
          <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="min" config="1"/><camunda:constraint name="maxlength" config="9"/></camunda:validation>
        </camunda:formField>
        <camunda:formField id="kind" type="enum"><camunda:value id="a" name="Alpha"/><camunda:value id="b" name="Beta"/></camunda:formField>
      </camunda:formData>
      <camunda:inputOutput>
        <camunda:inputParameter name="in1">${x}</camunda:inputParameter>
        <camunda:inputParameter name="lst"><camunda:list><camunda:value>1</camunda:value><camunda:value>2</camunda:value></camunda:list></camunda:inputParameter>
        <camunda:outputParameter name="out1">${y}</camunda:outputParameter>
      </camunda:inputOutput>
      <camunda:taskListener event="create" class="com.example.Listener"/>
      <camunda:properties><camunda:property name="excludeCompletersOf" value="submit"/></camunda:properties>
      <vendor:thing xmlns:vendor="urn:other" a="1">kept</vendor:thing>
    </extensionElements>
  </userTask>
</process>""")
    task = nodes(result)["t"]
    assert isinstance(task, UserTask)
    ext = task.ext
    assert ext.assignment.assignee == "${initiator}"
    assert ext.assignment.candidate_users == ("ann", "bob")
    assert ext.assignment.candidate_groups == ("finance", "managers")
    assert (ext.due_date, ext.follow_up_date, ext.priority) == ("${due}", "P1D", "70")
    assert ext.async_before is True and ext.form.key == "embedded:app:forms/a.html"
    amount, kind = ext.form.fields
    assert (amount.id, amount.type, amount.default, amount.required) == ("amount", "long", "10", True)
    assert (amount.min, amount.maxlength) == ("1", 9)
    assert kind.enum_values == (("a", "Alpha"), ("b", "Beta"))
    assert [(p.target, p.source, p.kind) for p in ext.inputs] == [
        ("in1", "${x}", "expression"), ("lst", None, "list")]
    assert ext.inputs[1].value == ["1", "2"]
    assert ext.outputs[0].target == "out1"
    assert ext.listeners[0].event == "create" and ext.listeners[0].kind == "class"
    assert ext.properties["excludeCompletersOf"] == "submit"
    assert ext.raw[0].tag == "{urn:other}thing" and ">kept</vendor:thing>" in ext.raw[0].xml


def test_zeebe_extensions_become_the_same_neutral_model():
    result = load("""
<process id="P" isExecutable="true">
  <extensionElements><zeebe:userTaskForm id="form1">{"components": []}</zeebe:userTaskForm></extensionElements>
  <userTask id="t">
    <extensionElements>
      <zeebe:assignmentDefinition assignee="=boss" candidateGroups="finance, managers"/>
      <zeebe:taskSchedule dueDate="=due" followUpDate="2026-01-01T00:00:00Z"/>
      <zeebe:priorityDefinition priority="80"/>
      <zeebe:formDefinition formKey="camunda-forms:bpmn:form1"/>
      <zeebe:ioMapping><zeebe:input source="=a" target="b"/><zeebe:output source="=c" target="d"/></zeebe:ioMapping>
    </extensionElements>
  </userTask>
  <serviceTask id="job"><extensionElements><zeebe:taskDefinition type="charge-card" retries="5"/><zeebe:taskHeaders><zeebe:header key="k" value="v"/></zeebe:taskHeaders></extensionElements></serviceTask>
  <callActivity id="call"><extensionElements><zeebe:calledElement processId="child" propagateAllChildVariables="false"/></extensionElements></callActivity>
  <receiveTask id="r" messageRef="m"><extensionElements><zeebe:subscription correlationKey="=orderId"/></extensionElements></receiveTask>
</process><message id="m" name="Paid"/>""")
    n = nodes(result)
    ext = n["t"].ext
    assert ext.assignment.assignee == "=boss"
    assert ext.assignment.candidate_groups == ("finance", "managers")
    assert (ext.due_date, ext.priority) == ("=due", "80")
    assert ext.form.json == '{"components": []}'
    assert [(i.source, i.target) for i in ext.inputs] == [("=a", "b")]
    service = n["job"].ext.service
    assert (service.kind, service.topic, service.retries) == ("job", "charge-card", "5")
    assert service.headers == {"k": "v"}
    call = n["call"]
    assert isinstance(call, CallActivity)
    assert call.called_element == "child" and call.propagate_all_child_variables is False
    assert isinstance(n["r"], ReceiveTask) and n["r"].correlation_key == "=orderId"


def test_camunda_service_tasks_external_class_expression_and_retries():
    result = load("""
<process id="P" isExecutable="true">
  <serviceTask id="ext" camunda:type="external" camunda:topic="invoice">
    <extensionElements><camunda:failedJobRetryTimeCycle>R5/PT5M</camunda:failedJobRetryTimeCycle></extensionElements>
  </serviceTask>
  <serviceTask id="cls" camunda:class="com.example.Charge"/>
  <serviceTask id="del" camunda:delegateExpression="${charger}"/>
  <serviceTask id="exp" camunda:expression="${svc.run()}" camunda:resultVariable="out"/>
  <serviceTask id="plain"/>
</process>""")
    n = nodes(result)
    assert isinstance(n["ext"], ServiceTask)
    assert (n["ext"].ext.service.kind, n["ext"].ext.service.topic) == ("external", "invoice")
    assert n["ext"].ext.retry_cycle == "R5/PT5M"
    assert (n["cls"].ext.service.kind, n["cls"].ext.service.value) == ("class", "com.example.Charge")
    assert n["del"].ext.service.kind == "delegateExpression"
    assert n["exp"].ext.service.result_variable == "out"
    assert n["plain"].ext.service is None


def test_flowable_and_spiffworkflow_extensions():
    result = load("""
<process id="P" isExecutable="true">
  <userTask id="f" flowable:assignee="kermit" flowable:candidateGroups="management" flowable:formKey="approve"/>
  <scriptTask id="s" scriptFormat="python"><extensionElements><spiffworkflow:preScript>a = 1</spiffworkflow:preScript><spiffworkflow:postScript>b = 2</spiffworkflow:postScript></extensionElements><script>c = a + b</script></scriptTask>
  <serviceTask id="op"><extensionElements><spiffworkflow:serviceTaskOperator id="http/get" resultVariable="resp"><spiffworkflow:parameters><spiffworkflow:parameter id="url" type="str" value="'x'"/></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></extensionElements></serviceTask>
</process>""", SPIFF)
    n = nodes(result)
    assert n["f"].ext.assignment.assignee == "kermit"
    assert n["f"].ext.form.key == "approve"
    script = n["s"]
    assert isinstance(script, ScriptTask)
    assert (script.script_format, script.script) == ("python", "c = a + b")
    assert (script.ext.pre_script, script.ext.post_script) == ("a = 1", "b = 2")
    op = n["op"].ext.service
    assert (op.kind, op.value, op.result_variable, op.fields) == ("operator", "http/get", "resp", {"url": "'x'"})


def test_potential_owner_and_human_performer_become_assignment():
    result = load("""
<process id="P" isExecutable="true">
  <userTask id="t"><potentialOwner><resourceAssignmentExpression><formalExpression>user(kermit), group(management), sales</formalExpression></resourceAssignmentExpression></potentialOwner></userTask>
  <userTask id="h"><humanPerformer><resourceAssignmentExpression><formalExpression>gonzo</formalExpression></resourceAssignmentExpression></humanPerformer></userTask>
</process>""")
    n = nodes(result)
    assert n["t"].ext.assignment.candidate_users == ("kermit",)
    assert n["t"].ext.assignment.candidate_groups == ("management", "sales")
    assert n["h"].ext.assignment.assignee == "gonzo"


def test_gateways_lanes_collaboration_and_diagram():
    result = load("""
<collaboration id="C"><participant id="pool" processRef="P"/><participant id="ext" name="Customer"/>
  <messageFlow id="mf" sourceRef="ext" targetRef="r" messageRef="m"/></collaboration>
<message id="m" name="Order"/>
<process id="P" isExecutable="true">
  <laneSet><lane id="L1" name="managers"><flowNodeRef>g</flowNodeRef><childLaneSet><lane id="L2" name="finance"><flowNodeRef>r</flowNodeRef></lane></childLaneSet></lane></laneSet>
  <eventBasedGateway id="g" instantiate="true" eventGatewayType="Exclusive"/>
  <inclusiveGateway id="i" default="fi"/>
  <sequenceFlow id="fi" sourceRef="i" targetRef="r"/>
  <receiveTask id="r" messageRef="m" instantiate="true"/>
</process>
<bpmndi:BPMNDiagram id="D"><bpmndi:BPMNPlane bpmnElement="C">
  <bpmndi:BPMNShape bpmnElement="r" isExpanded="false"><dc:Bounds x="10" y="20" width="100" height="80"/></bpmndi:BPMNShape>
  <bpmndi:BPMNEdge bpmnElement="fi"><di:waypoint x="1" y="2"/><di:waypoint x="3" y="4"/></bpmndi:BPMNEdge>
</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>""")
    defs = result.definitions
    process = defs.process("P")
    n = process.scope.nodes
    assert isinstance(n["g"], EventBasedGateway) and n["g"].instantiate is True
    assert isinstance(n["i"], InclusiveGateway) and n["i"].default_flow == "fi"
    assert n["r"].instantiate is True and n["r"].message_ref == "m"
    assert process.lane_of("r").name == "finance" and process.lane_of("g").name == "managers"
    (collab,) = defs.collaborations
    assert [p.process_ref for p in collab.participants] == ["P", None]
    assert collab.message_flows[0].message_ref == "m"
    (diagram,) = defs.diagrams
    assert diagram.shapes["r"].bounds.width == 100.0
    assert diagram.edges["fi"].waypoints == ((1.0, 2.0), (3.0, 4.0))


def test_script_call_activity_and_compensation_markers():
    result = load("""
<process id="P" isExecutable="true">
  <scriptTask id="s" scriptFormat="groovy" camunda:resultVariable="r"><script>x = 1</script></scriptTask>
  <callActivity id="c" calledElement="child" camunda:calledElementBinding="version" camunda:calledElementVersion="3">
    <extensionElements><camunda:in variables="all"/><camunda:in source="a" target="b"/><camunda:out sourceExpression="${x}" target="y"/></extensionElements>
  </callActivity>
  <task id="undo" isForCompensation="true"/>
  <intermediateCatchEvent id="wait"><timerEventDefinition><timeDate>2026-01-01T00:00:00Z</timeDate></timerEventDefinition></intermediateCatchEvent>
  <endEvent id="e"/>
</process>""")
    n = nodes(result)
    assert n["s"].result_variable == "r" and n["s"].script == "x = 1"
    call = n["c"]
    assert (call.called_element, call.binding, call.version) == ("child", "version", "3")
    assert call.ext.call_in[0].all_variables is True
    assert (call.ext.call_in[1].source, call.ext.call_in[1].target) == ("a", "b")
    assert call.ext.call_out[0].source_expression == "${x}"
    assert n["undo"].is_for_compensation is True
    assert isinstance(n["wait"], IntermediateCatchEvent)
    assert n["wait"].definitions[0].kind is TimerKind.DATE
    assert isinstance(n["e"], EndEvent) and isinstance(n["s"], ScriptTask)


def test_sequence_flows_without_ids_get_a_readable_stable_id():
    result = load("""
<process id="P" isExecutable="true">
  <startEvent id="s"/><sequenceFlow sourceRef="s" targetRef="e"/><endEvent id="e"/>
</process>""")
    assert result.ok, result.diagnostics
    assert nodes(result)["s"].outgoing == ("s->e",)


def test_root_level_data_stores_and_process_data_objects_are_kept():
    result = load("""
<dataStore id="ds" name="Orders DB"/>
<process id="P" isExecutable="true">
  <startEvent id="s"/>
  <dataObject id="do1" name="invoice" isCollection="true"/>
  <dataStoreReference id="dsr" dataStoreRef="ds"/>
  <textAnnotation id="note"><text>check twice</text></textAnnotation>
  <association id="a1" sourceRef="s" targetRef="note"/>
</process>""")
    defs = result.definitions
    assert defs.data_stores["ds"].name == "Orders DB"
    scope = defs.process("P").scope
    assert scope.data_objects["do1"].is_collection is True
    assert scope.data_objects["dsr"].ref == "ds" and scope.data_objects["dsr"].is_store
    kinds = {(a.kind, a.id) for a in scope.artifacts}
    assert kinds == {("textAnnotation", "note"), ("association", "a1")}
    assert next(a for a in scope.artifacts if a.id == "note").text == "check twice"


def test_zeebe_mapping_sources_without_equals_are_static_values():
    result = load("""
<process id="P" isExecutable="true">
  <serviceTask id="t"><extensionElements><zeebe:taskDefinition type="http"/>
    <zeebe:ioMapping><zeebe:input source="https://example.com" target="url"/><zeebe:input source="=base + path" target="full"/></zeebe:ioMapping>
  </extensionElements></serviceTask>
</process>""")
    url, full = nodes(result)["t"].ext.inputs
    assert (url.kind, url.value) == ("value", "https://example.com")
    assert (full.kind, full.source) == ("expression", "=base + path")
