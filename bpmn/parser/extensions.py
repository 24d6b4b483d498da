"""Vendor extensions (Camunda 7/Operaton, Flowable/Activiti, Zeebe, SpiffWorkflow) -> Extensions.

Each modeler writes the same ideas (who gets a task, its form, its retries, its variable
mappings) in its own namespace. This module reads all of them into the one neutral
`Extensions` value; anything we do not interpret is kept as `RawExtension`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from lxml import etree

from bpmn.model import (
    Assignment,
    CallMapping,
    Extensions,
    Form,
    FormField,
    IoParameter,
    Listener,
    RawExtension,
    ServiceImplementation,
)
from bpmn.timers import is_expression

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
OPERATON_NS = "http://operaton.org/schema/1.0/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
ACTIVITI_NS = "http://activiti.org/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Camunda 7, Operaton (its fork, same schema), Flowable and Activiti share one vocabulary.
CAMUNDA_FAMILY = (CAMUNDA_NS, OPERATON_NS, FLOWABLE_NS, ACTIVITI_NS)


@lru_cache(maxsize=4096)
def local(tag: str) -> str:
    """`{ns}name` -> `name`. Cached: a file repeats a few dozen tags thousands of times."""
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=4096)
def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def split_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated attribute (`candidateGroups="a, b"`) as a tuple; an expression
    like `${groups}` or `=groups` stays one entry."""
    if not value:
        return ()
    stripped = value.strip()
    if is_expression(stripped):
        return (stripped,)
    return tuple(part.strip() for part in stripped.split(",") if part.strip())


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def raw(element: etree._Element) -> RawExtension:
    # One C call keeps the whole subtree; whoever needs it can parse it back.
    return RawExtension(tag=str(element.tag), xml=etree.tostring(element, encoding="unicode",
                                                                  with_tail=False),
                        line=element.sourceline)


@dataclass
class _Builder:
    """Mutable accumulator; frozen into Extensions at the end."""

    values: dict[str, Any] = field(default_factory=dict)
    candidate_users: list[str] = field(default_factory=list)
    candidate_groups: list[str] = field(default_factory=list)
    assignee: str | None = None
    form: dict[str, Any] = field(default_factory=dict)
    form_fields: list[FormField] = field(default_factory=list)
    service: dict[str, Any] = field(default_factory=dict)
    inputs: list[IoParameter] = field(default_factory=list)
    outputs: list[IoParameter] = field(default_factory=list)
    call_in: list[CallMapping] = field(default_factory=list)
    call_out: list[CallMapping] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    raw: list[RawExtension] = field(default_factory=list)
    loop: dict[str, str] = field(default_factory=dict)

    def build(self) -> Extensions:
        assignment = None
        if self.assignee or self.candidate_users or self.candidate_groups:
            assignment = Assignment(
                assignee=self.assignee,
                candidate_users=tuple(self.candidate_users),
                candidate_groups=tuple(self.candidate_groups),
            )
        form = None
        if self.form or self.form_fields:
            form = Form(fields=tuple(self.form_fields), **self.form)
        service = None
        if self.service:
            service = ServiceImplementation(**{"kind": "none", **self.service})
        return Extensions(
            assignment=assignment,
            form=form,
            service=service,
            inputs=tuple(self.inputs),
            outputs=tuple(self.outputs),
            call_in=tuple(self.call_in),
            call_out=tuple(self.call_out),
            listeners=tuple(self.listeners),
            properties=dict(self.properties),
            raw=tuple(self.raw),
            **self.values,
        )


@dataclass(frozen=True, slots=True)
class ReadExtensions:
    """What the extension reader found on one element."""

    ext: Extensions
    loop: dict[str, str]  # multi-instance collection / element variable / output, if any
    called_element: str | None = None
    binding: str | None = None
    version: str | None = None
    propagate_all: bool = False
    message_correlation_key: str | None = None
    script: str | None = None
    script_format: str | None = None
    result_variable: str | None = None


def read_extensions(element: etree._Element,
                    extension_elements: etree._Element | None,
                    forms: dict[str, str] | None = None) -> ReadExtensions:
    """Read the vendor attributes of `element` and the children of its extensionElements."""
    if extension_elements is None and not any(
            key[0] == "{" and namespace(key) in CAMUNDA_FAMILY for key in element.attrib):
        return _NOTHING  # most elements of most files: skip building anything
    b = _Builder()
    extra: dict[str, Any] = {}
    _read_attributes(element, b, extra)
    if extension_elements is not None:
        for child in extension_elements:
            if not isinstance(child.tag, str):
                continue
            ns = namespace(child.tag)
            handler = _CHILD_HANDLERS.get((_family(ns), local(child.tag)))
            if handler is None:
                b.raw.append(raw(child))
            else:
                handler(child, b, extra)
    form_key = b.form.get("key")
    if forms and form_key and "json" not in b.form:
        # zeebe: formKey="camunda-forms:bpmn:userTaskForm_1" points at an embedded form.
        embedded = forms.get(form_key.rsplit(":", 1)[-1])
        if embedded is not None:
            b.form["json"] = embedded
    if forms and b.form.get("ref") and "json" not in b.form:
        embedded = forms.get(b.form["ref"])
        if embedded is not None:
            b.form["json"] = embedded
    tag = extra.pop("version_tag", None)
    if tag is not None and extra.get("binding") == "versionTag":
        extra["version"] = tag  # the version a call activity binds to is that tag
    return ReadExtensions(ext=b.build(), loop=b.loop, **extra)


_NOTHING = ReadExtensions(ext=Extensions(), loop={})


@lru_cache(maxsize=256)
def _family(ns: str) -> str:
    if ns in CAMUNDA_FAMILY:
        return "camunda"
    if ns == ZEEBE_NS:
        return "zeebe"
    if ns == SPIFF_NS:
        return "spiff"
    return ns


# ---------------------------------------------------------------- attributes

_SERVICE_ATTRS = ("class", "delegateExpression", "expression")


def _read_attributes(element: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    for qname, value in element.attrib.items():
        key = str(qname)
        if not key.startswith("{") or namespace(key) not in CAMUNDA_FAMILY:
            continue
        name = local(key)
        if name == "assignee":
            b.assignee = value
        elif name == "candidateUsers":
            b.candidate_users.extend(split_list(value))
        elif name == "candidateGroups":
            b.candidate_groups.extend(split_list(value))
        elif name == "dueDate":
            b.values["due_date"] = value
        elif name == "followUpDate":
            b.values["follow_up_date"] = value
        elif name in ("priority", "taskPriority") and "priority" not in b.values:
            b.values["priority"] = value
        elif name == "formKey":
            b.form["key"] = value
        elif name == "formRef":
            b.form["ref"] = value
        elif name == "formRefBinding":
            b.form["ref_binding"] = value
        elif name in ("asyncBefore", "async"):
            b.values["async_before"] = _bool(value)
        elif name == "asyncAfter":
            b.values["async_after"] = _bool(value)
        elif name == "exclusive":
            b.values["exclusive"] = _bool(value, True)
        elif name == "initiator":
            b.values["initiator"] = value
        elif name in _SERVICE_ATTRS:
            b.service.setdefault("kind", name)
            b.service.setdefault("value", value)
        elif name == "type" and value == "external":
            b.service["kind"] = "external"
        elif name == "topic":
            b.service["kind"] = "external"
            b.service["topic"] = value
        elif name == "decisionRef":
            b.service.setdefault("kind", "decision")
            b.service.setdefault("value", value)
        elif name == "resultVariable":
            extra["result_variable"] = value
            b.service["result_variable"] = value
        elif name == "collection":
            b.loop["collection"] = value
        elif name == "elementVariable":
            b.loop["element_variable"] = value
        elif name == "calledElementBinding":
            extra["binding"] = value
        elif name == "calledElementVersion":
            extra["version"] = value
        elif name == "calledElementVersionTag":
            extra["version_tag"] = value
        elif name == "versionTag":
            b.values.setdefault("properties_version_tag", value)
        elif name in ("errorCodeVariable", "errorMessageVariable", "escalationCodeVariable",
                      "variableName", "variableEvents", "candidateStarterGroups",
                      "candidateStarterUsers", "historyTimeToLive", "skipExpression",
                      "jobPriority", "isStartableInTasklist", "formRefVersion"):
            b.properties[f"camunda:{name}"] = value
    # Not an Extensions field: moved into properties so nothing is lost.
    tag = b.values.pop("properties_version_tag", None)
    if tag is not None:
        b.properties["camunda:versionTag"] = tag


# ---------------------------------------------------------------- camunda family children


def _text(element: etree._Element) -> str | None:
    text = "".join(element.itertext()).strip()
    return text or None


def _camunda_form_data(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    for field_el in el:
        if not isinstance(field_el.tag, str) or local(field_el.tag) not in (
                "formField", "formProperty"):
            continue
        b.form_fields.append(_form_field(field_el))


def _form_field(el: etree._Element) -> FormField:
    attrs = el.attrib
    constraints: dict[str, str | None] = {}
    enum_values: list[tuple[str, str]] = []
    properties: dict[str, str] = {}
    for child in el.iter():
        if child is el or not isinstance(child.tag, str):
            continue
        name = local(child.tag)
        if name == "constraint":
            constraints[str(child.get("name", ""))] = child.get("config")
        elif name == "value":
            value_id = child.get("id") or ""
            enum_values.append((value_id, child.get("name") or value_id))
        elif name == "property":
            properties[str(child.get("id") or child.get("name") or "")] = str(
                child.get("value") or "")
    # Flowable formProperty uses required="true" / writable="false" attributes.
    required = "required" in constraints or _bool(attrs.get("required"))
    readonly = "readonly" in constraints or not _bool(attrs.get("writable"), True)
    return FormField(
        id=str(attrs.get("id") or ""),
        label=attrs.get("label") or attrs.get("name"),
        type=str(attrs.get("type") or "string"),
        default=attrs.get("defaultValue") or attrs.get("default"),
        enum_values=tuple(enum_values),
        required=required,
        readonly=readonly,
        min=constraints.get("min"),
        max=constraints.get("max"),
        minlength=_int(constraints.get("minlength")),
        maxlength=_int(constraints.get("maxlength")),
        properties=properties,
        line=el.sourceline,
    )


def _camunda_form_property(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.form_fields.append(_form_field(el))


def _io_value(el: etree._Element) -> tuple[str, str | None, object]:
    """(kind, source text, structured value) of an inputParameter/outputParameter body."""
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        text = (el.text or "").strip()
        if not text:
            return ("value", None, None)
        if "${" in text or "#{" in text:
            return ("expression", text, None)
        return ("value", text, text)
    body = children[0]
    name = local(body.tag)
    if name == "script":
        return ("script", _text(body), {"format": body.get("scriptFormat"),
                                        "resource": body.get("resource")})
    if name == "list":
        return ("list", None, [_io_value(item)[2] if list(item) else _text(item)
                               for item in body if isinstance(item.tag, str)])
    if name == "map":
        return ("map", None, {str(entry.get("key")): _text(entry)
                              for entry in body if isinstance(entry.tag, str)})
    return ("value", _text(body), _text(body))


def _camunda_input_output(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    for param in el:
        if not isinstance(param.tag, str):
            continue
        kind, source, value = _io_value(param)
        mapping = IoParameter(target=str(param.get("name") or ""), source=source, kind=kind,
                              value=value, line=param.sourceline)
        if local(param.tag) == "inputParameter":
            b.inputs.append(mapping)
        elif local(param.tag) == "outputParameter":
            b.outputs.append(mapping)


def _call_mapping(el: etree._Element) -> CallMapping:
    return CallMapping(
        source=el.get("source"),
        source_expression=el.get("sourceExpression"),
        target=el.get("target"),
        all_variables=el.get("variables") == "all",
        local=_bool(el.get("local")),
        business_key=el.get("businessKey"),
    )


def _camunda_in(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.call_in.append(_call_mapping(el))


def _camunda_out(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.call_out.append(_call_mapping(el))


def _listener(scope: str) -> Callable[[etree._Element, _Builder, dict[str, Any]], None]:
    def read(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
        kind, value = "script", ""
        for attr in ("class", "expression", "delegateExpression", "type"):
            if el.get(attr):
                kind, value = attr, str(el.get(attr))
                break
        else:
            script = next((c for c in el if isinstance(c.tag, str)
                           and local(c.tag) == "script"), None)
            if script is not None:
                value = _text(script) or str(script.get("resource") or "")
        b.listeners.append(Listener(scope=scope, event=str(el.get("event") or el.get(
            "eventType") or ""), kind=kind, value=value, line=el.sourceline))
    return read


def _properties(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    for prop in el:
        if isinstance(prop.tag, str) and local(prop.tag) == "property":
            b.properties[str(prop.get("name") or "")] = str(prop.get("value") or "")


def _retry_cycle(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.values["retry_cycle"] = _text(el)


def _field(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    value = el.get("stringValue") or el.get("expression")
    if value is None:
        value = next((_text(c) for c in el if isinstance(c.tag, str)), None)
    fields = dict(b.service.get("fields", {}))
    fields[str(el.get("name") or "")] = value or ""
    b.service["fields"] = fields
    b.service.setdefault("kind", "class")


def _connector(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    connector_id = None
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if local(child.tag) == "connectorId":
            connector_id = _text(child)
        elif local(child.tag) == "inputOutput":
            _camunda_input_output(child, b, extra)
    b.service["kind"] = "connector"
    b.service["value"] = connector_id


# ---------------------------------------------------------------- zeebe children


def _zeebe_task_definition(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.service["kind"] = "job"
    b.service["value"] = el.get("type")
    b.service["topic"] = el.get("type")
    if el.get("retries"):
        b.service["retries"] = el.get("retries")


def _zeebe_io_mapping(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    for param in el:
        if not isinstance(param.tag, str):
            continue
        source = param.get("source")
        # Zeebe: `=expr` is FEEL; anything else is a static value (a URL, a name).
        is_expr = source is not None and source.lstrip().startswith("=")
        mapping = IoParameter(target=str(param.get("target") or ""), source=source,
                              kind="expression" if is_expr else "value",
                              value=None if is_expr else source, line=param.sourceline)
        if local(param.tag) == "input":
            b.inputs.append(mapping)
        elif local(param.tag) == "output":
            b.outputs.append(mapping)


def _zeebe_assignment(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    if el.get("assignee"):
        b.assignee = el.get("assignee")
    b.candidate_groups.extend(split_list(el.get("candidateGroups")))
    b.candidate_users.extend(split_list(el.get("candidateUsers")))


def _zeebe_schedule(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    if el.get("dueDate"):
        b.values["due_date"] = el.get("dueDate")
    if el.get("followUpDate"):
        b.values["follow_up_date"] = el.get("followUpDate")


def _zeebe_priority(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.values["priority"] = el.get("priority")


def _zeebe_form(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    if el.get("formKey"):
        b.form["key"] = el.get("formKey")
    if el.get("formId"):
        b.form["ref"] = el.get("formId")
    if el.get("externalReference"):
        b.form["key"] = el.get("externalReference")
    if el.get("bindingType"):
        b.form["ref_binding"] = el.get("bindingType")


def _zeebe_called_element(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    extra["called_element"] = el.get("processId")
    extra["propagate_all"] = _bool(el.get("propagateAllChildVariables"), True)
    if el.get("bindingType"):
        extra["binding"] = el.get("bindingType")
    if el.get("versionTag"):
        extra["version_tag"] = el.get("versionTag")


def _zeebe_loop(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    for attr, key in (("inputCollection", "collection"), ("inputElement", "element_variable"),
                      ("outputCollection", "output_collection"),
                      ("outputElement", "output_element")):
        if el.get(attr):
            b.loop[key] = str(el.get(attr))


def _zeebe_subscription(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    extra["message_correlation_key"] = el.get("correlationKey")


def _zeebe_headers(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    headers = dict(b.service.get("headers", {}))
    for header in el:
        if isinstance(header.tag, str):
            headers[str(header.get("key") or "")] = str(header.get("value") or "")
    b.service["headers"] = headers
    b.service.setdefault("kind", "job")


def _zeebe_called_decision(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    b.service["kind"] = "decision"
    b.service["value"] = el.get("decisionId")
    b.service["result_variable"] = el.get("resultVariable")
    extra["result_variable"] = el.get("resultVariable")


def _zeebe_script(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    extra["script"] = el.get("expression")
    extra["script_format"] = "feel"
    extra["result_variable"] = el.get("resultVariable")


def _zeebe_listeners(scope: str) -> Callable[[etree._Element, _Builder, dict[str, Any]], None]:
    inner = _listener(scope)

    def read(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
        for child in el:
            if isinstance(child.tag, str):
                inner(child, b, extra)
    return read


# ---------------------------------------------------------------- spiffworkflow children


def _spiff_script(key: str) -> Callable[[etree._Element, _Builder, dict[str, Any]], None]:
    def read(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
        b.values[key] = el.text or ""
    return read


def _spiff_operator(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    fields: dict[str, str] = {}
    for param in el.iter():
        if isinstance(param.tag, str) and local(param.tag) == "parameter":
            fields[str(param.get("id") or "")] = str(param.get("value") or "")
    b.service.update(kind="operator", value=el.get("id"), fields=fields,
                     result_variable=el.get("resultVariable"))


def _spiff_properties(el: etree._Element, b: _Builder, extra: dict[str, Any]) -> None:
    _properties(el, b, extra)


_Handler = Callable[[etree._Element, _Builder, dict[str, Any]], None]

_CHILD_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("camunda", "formData"): _camunda_form_data,
    ("camunda", "formProperty"): _camunda_form_property,
    ("camunda", "inputOutput"): _camunda_input_output,
    ("camunda", "in"): _camunda_in,
    ("camunda", "out"): _camunda_out,
    ("camunda", "executionListener"): _listener("execution"),
    ("camunda", "taskListener"): _listener("task"),
    ("camunda", "eventListener"): _listener("execution"),
    ("camunda", "properties"): _properties,
    ("camunda", "failedJobRetryTimeCycle"): _retry_cycle,
    ("camunda", "field"): _field,
    ("camunda", "connector"): _connector,
    ("zeebe", "taskDefinition"): _zeebe_task_definition,
    ("zeebe", "ioMapping"): _zeebe_io_mapping,
    ("zeebe", "assignmentDefinition"): _zeebe_assignment,
    ("zeebe", "taskSchedule"): _zeebe_schedule,
    ("zeebe", "priorityDefinition"): _zeebe_priority,
    ("zeebe", "formDefinition"): _zeebe_form,
    ("zeebe", "calledElement"): _zeebe_called_element,
    ("zeebe", "loopCharacteristics"): _zeebe_loop,
    ("zeebe", "subscription"): _zeebe_subscription,
    ("zeebe", "taskHeaders"): _zeebe_headers,
    ("zeebe", "properties"): _properties,
    ("zeebe", "calledDecision"): _zeebe_called_decision,
    ("zeebe", "script"): _zeebe_script,
    ("zeebe", "executionListeners"): _zeebe_listeners("execution"),
    ("zeebe", "taskListeners"): _zeebe_listeners("task"),
    ("spiff", "preScript"): _spiff_script("pre_script"),
    ("spiff", "postScript"): _spiff_script("post_script"),
    ("spiff", "serviceTaskOperator"): _spiff_operator,
    ("spiff", "properties"): _spiff_properties,
}


def embedded_forms(extension_elements: Iterable[etree._Element]) -> dict[str, str]:
    """zeebe:userTaskForm children of a process's extensionElements, by id."""
    forms: dict[str, str] = {}
    for el in extension_elements:
        if isinstance(el.tag, str) and namespace(el.tag) == ZEEBE_NS and \
                local(el.tag) == "userTaskForm":
            forms[str(el.get("id") or "")] = (el.text or "").strip()
    return forms


def with_properties(ext: Extensions, extra: dict[str, str]) -> Extensions:
    merged = dict(ext.properties)
    merged.update(extra)
    return replace(ext, properties=merged)
