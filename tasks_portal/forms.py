"""Task forms from the model: camunda:formData, Camunda Forms (form-js) JSON, or a decision.

One neutral schema (`task_form_schema`) feeds both the HTML page and the REST API, and one
validator (`validate_task_submission`) turns submitted values into process variables, so a
browser and a system client get the same rules and the same error messages.

Schema: {"kind": "formData" | "form-js" | "decision", "fields": [field, ...],
         "error": str | None (the form cannot be shown, e.g. a form file that was not
         deployed), "notice": str | None, "form_id": str | None}
field:  {"id" (the variable name), "label", "type" (string, long, number, boolean, date,
         time, datetime, enum, list, text), "widget" (textfield, textarea, number,
         checkbox, select, radio, checklist, date, ... ), "required", "readonly",
         "default" (the model's default), "value" (the current variable, else the
         default), "options" [{"value", "label"}], "validation" {min, max, minlength,
         maxlength, pattern, validation_type}, "input" (False for display-only text),
         "description", "hide_if" (a FEEL condition; hidden fields are not validated)}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime, parse_time

from bpmn.expr import EvaluationError, ExpressionError, evaluate, parse_expression
from engine.definitions import compiled_process
from engine.models import ProcessDefinition, UserTask
from engine.selectors import deployed_form_get, process_instance_variables

DECISION = "decision"
FORM_DATA = "formData"
FORM_JS = "form-js"

# Camunda 7 formData field types; a custom type is read and written as a string.
_FORM_DATA_TYPES = {"string", "long", "boolean", "date", "enum"}
# form-js components that hold no value (display or layout only) or are buttons.
_FORM_JS_DISPLAY = {"text", "html", "image", "spacer", "separator", "iframe", "table",
                    "documentPreview"}
_FORM_JS_SKIP = {"button", "expression"}
_FORM_JS_TYPES: dict[str, tuple[str, str]] = {
    # component type -> (value type, widget)
    "textfield": ("string", "textfield"),
    "textarea": ("string", "textarea"),
    "number": ("number", "number"),
    "checkbox": ("boolean", "checkbox"),
    "radio": ("enum", "radio"),
    "select": ("enum", "select"),
    "checklist": ("list", "checklist"),
    "taglist": ("list", "checklist"),
}
# form-js validationType presets (its own patterns: a plain address and E.164 phone numbers).
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_PHONE = re.compile(r"^\+[1-9]\d{1,14}$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TRUE = {"true", "on", "1", "yes"}
_FALSE = {"false", "off", "0", "no", ""}
REQUIRED = "This field is required."


# --- Schema ----------------------------------------------------------------------------


def task_form_schema(task: UserTask) -> dict[str, Any]:
    """The form of `task` as plain data (see the module docstring), values filled in from
    the instance's process variables, else from the model's defaults."""
    variables = process_instance_variables(instance=task.instance)
    form = task.form or {}
    embedded = form.get("json")
    ref = form.get("ref") or _deployment_form_key(form.get("key"))
    if embedded:
        return _form_js_schema(embedded, variables, form_id=ref)
    if ref:
        deployed = _deployed_form(ref, task)
        if isinstance(deployed, str):
            return _schema(FORM_JS, [], error=deployed, form_id=ref)
        return _form_js_schema(deployed, variables, form_id=ref)
    if form.get("fields"):
        return _schema(FORM_DATA, [_form_data_field(f, variables) for f in form["fields"]])
    notice = None
    if form.get("key"):
        notice = (f"This task names the form {form['key']!r}, which flowdesk cannot show; "
                  "a decision form is shown instead.")
    return _schema(DECISION, _decision_fields(variables), notice=notice)


def start_form_schema(definition: ProcessDefinition) -> dict[str, Any] | None:
    """The form of `definition`'s none start event (camunda:formData or form-js), as
    `task_form_schema` gives it for a task; None when the process has no single none start
    event (it starts by message, timer or signal, not by a person)."""
    compiled = compiled_process(definition)
    if len(compiled.none_starts) != 1:
        return None
    form = compiled.nodes[compiled.none_starts[0]].model.ext.form
    if form is None:
        return _schema(FORM_DATA, [])
    if form.json:
        return _form_js_schema(form.json, {}, form_id=form.ref)
    if form.ref:
        found = deployed_form_get(form_id=form.ref, definition=definition)
        if not found:
            return _schema(FORM_JS, [], form_id=form.ref, error=(
                f"The start form {form.ref!r} was not deployed with process "
                f"{definition.key!r} version {definition.version}."))
        return _form_js_schema(found, {}, form_id=form.ref)
    fields = [_form_data_field(dataclasses.asdict(f), {}) for f in form.fields]
    return _schema(FORM_DATA, fields)


def _schema(kind: str, fields: list[dict[str, Any]], *, error: str | None = None,
            notice: str | None = None, form_id: str | None = None) -> dict[str, Any]:
    return {"kind": kind, "fields": fields, "error": error, "notice": notice,
            "form_id": form_id}


def _deployment_form_key(key: str | None) -> str | None:
    """Camunda 7 `camunda:formKey="camunda-forms:deployment:forms/x.form"` names a form file
    of the deployment (deployed_form_get reads the prefix); `camunda-forms:bpmn:...`
    (embedded) is resolved by the parser."""
    if key and key.startswith("camunda-forms:deployment:"):
        return key
    return None


def _deployed_form(form_id: str, task: UserTask) -> dict[str, Any] | str:
    """The deployed form-js JSON for `form_id`, or a message saying why there is none."""
    definition = task.instance.definition
    found = deployed_form_get(form_id=form_id, definition=definition)
    if not found:
        return (f"The form {form_id!r} this task uses was not deployed with process "
                f"{definition.key!r} version {definition.version}. Deploy the form file "
                "together with the model; until then this task cannot be completed here.")
    return found


def _form_data_field(raw: Mapping[str, Any], variables: Mapping[str, object]) -> dict[str, Any]:
    kind = str(raw.get("type") or "string")
    value_type = kind if kind in _FORM_DATA_TYPES else "string"
    default = _default_value(raw.get("default"), variables)
    field_id = str(raw.get("id") or "")
    options = [{"value": str(v), "label": str(label)} for v, label in raw.get("enum_values") or ()]
    widget = {"long": "number", "boolean": "checkbox", "date": "date",
              "enum": "select"}.get(value_type, "textfield")
    validation = {
        "min": raw.get("min"), "max": raw.get("max"),
        "minlength": raw.get("minlength"), "maxlength": raw.get("maxlength"),
    }
    return {
        "id": field_id, "label": raw.get("label") or field_id, "type": value_type,
        "model_type": kind, "widget": widget, "required": bool(raw.get("required")),
        "readonly": bool(raw.get("readonly")), "default": default,
        "value": variables.get(field_id, default), "options": options,
        "validation": {k: v for k, v in validation.items() if v is not None},
        "input": True, "description": None, "hide_if": None,
    }


def _default_value(default: object, variables: Mapping[str, object]) -> object:
    """A formData defaultValue may be an expression (`${initiator}`); evaluate it over the
    process variables, and keep the text itself when it cannot be evaluated."""
    if not isinstance(default, str) or ("${" not in default and "#{" not in default):
        return default
    try:
        return evaluate(parse_expression(default), variables)
    except (ExpressionError, EvaluationError):
        return default


def _decision_fields(variables: Mapping[str, object]) -> list[dict[str, Any]]:
    return [
        {"id": "decision", "label": "Decision", "type": "enum", "model_type": "decision",
         "widget": "radio", "required": True, "readonly": False, "default": None,
         "value": None, "input": True, "description": None, "hide_if": None,
         "options": [{"value": "approve", "label": "Approve"},
                     {"value": "reject", "label": "Reject"}],
         "validation": {}},
        {"id": "comment", "label": "Comment", "type": "string", "model_type": "string",
         "widget": "textarea", "required": False, "readonly": False, "default": None,
         "value": None, "options": [], "input": True, "hide_if": None,
         "description": "Required when you reject: say why.", "validation": {"maxlength": 4000}},
    ]


def _form_js_schema(source: object, variables: Mapping[str, object], *,
                    form_id: str | None) -> dict[str, Any]:
    import json

    try:
        document = json.loads(source) if isinstance(source, str | bytes) else source
    except ValueError as exc:
        return _schema(FORM_JS, [], form_id=form_id,
                       error=f"The task's form is not valid JSON: {exc}.")
    if not isinstance(document, Mapping) or not isinstance(document.get("components"), list):
        return _schema(FORM_JS, [], form_id=form_id,
                       error="The task's form has no `components` list (not a form-js form).")
    fields: list[dict[str, Any]] = []
    unsupported: list[str] = []
    _collect_components(document["components"], "", variables, fields, unsupported)
    notice = None
    if unsupported:
        notice = "Parts of this form cannot be shown here: " + ", ".join(unsupported) + "."
    return _schema(FORM_JS, fields, notice=notice,
                   form_id=form_id or _str_or_none(document.get("id")))


def _collect_components(components: list[Any], prefix: str, variables: Mapping[str, object],
                        out: list[dict[str, Any]], unsupported: list[str]) -> None:
    for component in components:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type") or "")
        if kind == "group":
            # A group with a `path` nests its fields' values under that key (form-js 1.x).
            path = str(component.get("path") or "")
            inner = f"{prefix}{path}." if path else prefix
            _collect_components(list(component.get("components") or []), inner, variables,
                                out, unsupported)
        elif kind in _FORM_JS_SKIP:
            continue
        elif kind in _FORM_JS_DISPLAY:
            text = component.get("text") or component.get("content") or component.get("label")
            if kind in {"text", "html"} and text:
                out.append(_display_field(component, str(text)))
        elif kind in _FORM_JS_TYPES or kind == "datetime":
            out.append(_form_js_field(component, prefix, variables))
        else:
            unsupported.append(f"{kind or 'a component without type'} "
                               f"{component.get('label') or component.get('id') or ''}".strip())


def _display_field(component: Mapping[str, Any], text: str) -> dict[str, Any]:
    return {"id": str(component.get("id") or ""), "label": "", "type": "text",
            "model_type": str(component.get("type")), "widget": "text", "text": text,
            "required": False, "readonly": True, "default": None, "value": None,
            "options": [], "validation": {}, "input": False, "description": None,
            "hide_if": _hide_condition(component)}


def _form_js_field(component: Mapping[str, Any], prefix: str,
                   variables: Mapping[str, object]) -> dict[str, Any]:
    kind = str(component["type"])
    if kind == "datetime":
        subtype = str(component.get("subtype") or "date")
        value_type = subtype if subtype in {"date", "time", "datetime"} else "date"
        widget = {"date": "date", "time": "time", "datetime": "datetime-local"}[value_type]
    else:
        value_type, widget = _FORM_JS_TYPES[kind]
    key = prefix + str(component.get("key") or component.get("id") or "")
    validate = component.get("validate") or {}
    if not isinstance(validate, Mapping):
        validate = {}
    validation: dict[str, object] = {}
    for ours, theirs in (("min", "min"), ("max", "max"), ("minlength", "minLength"),
                         ("maxlength", "maxLength"), ("pattern", "pattern")):
        if validate.get(theirs) not in (None, ""):
            validation[ours] = validate[theirs]
    if validate.get("validationType") in {"email", "phone"}:
        validation["validation_type"] = validate["validationType"]
    if kind == "number" and component.get("decimalDigits") is not None:
        validation["decimal_digits"] = component["decimalDigits"]
    options = _form_js_options(component, variables)
    default = component.get("defaultValue")
    readonly = _flag(component.get("readonly"), variables) or _flag(
        component.get("disabled"), variables)
    current = _lookup(variables, key)
    return {
        "id": key, "label": _text_of(component.get("label"), variables) or key,
        "type": value_type, "model_type": kind, "widget": widget,
        "required": bool(validate.get("required")), "readonly": readonly,
        "default": default, "value": default if current is None else current,
        "options": options, "validation": validation, "input": True,
        "description": _text_of(component.get("description"), variables),
        "hide_if": _hide_condition(component),
    }


def _form_js_options(component: Mapping[str, Any],
                     variables: Mapping[str, object]) -> list[dict[str, str]]:
    values: object = component.get("values")
    if not values and component.get("valuesKey"):
        # Options from a process variable: a list of {label, value} (or of plain values).
        values = _lookup(variables, str(component["valuesKey"]))
    options: list[dict[str, str]] = []
    for item in values if isinstance(values, list) else []:
        if isinstance(item, Mapping):
            value = item.get("value")
            options.append({"value": str(value), "label": str(item.get("label", value))})
        elif item is not None:
            options.append({"value": str(item), "label": str(item)})
    return options


def _hide_condition(component: Mapping[str, Any]) -> str | None:
    conditional = component.get("conditional")
    if isinstance(conditional, Mapping) and isinstance(conditional.get("hide"), str):
        return str(conditional["hide"])
    return None


def _flag(value: object, variables: Mapping[str, object]) -> bool:
    """A form-js boolean property: true/false, or a FEEL expression (`=status = "done"`)."""
    if isinstance(value, str) and value.lstrip().startswith("="):
        return _feel_true(value, variables)
    return bool(value)


def _text_of(value: object, variables: Mapping[str, object]) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if value.lstrip().startswith("="):
        try:
            result = evaluate(parse_expression(value), variables)
        except (ExpressionError, EvaluationError):
            return value
        return "" if result is None else str(result)
    return value


def _feel_true(text: str, variables: Mapping[str, object]) -> bool:
    try:
        return evaluate(parse_expression(text if text.lstrip().startswith("=") else "=" + text),
                        variables) is True
    except (ExpressionError, EvaluationError):
        return False


def _lookup(variables: Mapping[str, object], key: str) -> object:
    """A form-js key may be a dotted path into nested variables (`customer.name`)."""
    if key in variables:
        return variables[key]
    current: object = variables
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


# --- Validation ------------------------------------------------------------------------


def validate_task_submission(
    task: UserTask, data: Mapping[str, object]
) -> tuple[dict[str, object], dict[str, list[str]]]:
    """Check `data` (an HTML form's QueryDict or a JSON object) against the task's form.

    Returns (process variables, errors by field id); no errors means valid. Read-only and
    display-only fields never become variables; a field hidden by its condition is
    neither validated nor kept. A form that cannot be shown (missing form file) is an
    error on "__all__", so nothing is completed against a form nobody saw.
    """
    schema = task_form_schema(task)
    return validate_against_schema(schema, data,
                                   process_instance_variables(instance=task.instance))


def validate_against_schema(
    schema: Mapping[str, Any], data: Mapping[str, object],
    variables: Mapping[str, object] | None = None,
) -> tuple[dict[str, object], dict[str, list[str]]]:
    """`validate_task_submission` for an already built schema (bulk completion reuses it)."""
    errors: dict[str, list[str]] = {}
    if schema.get("error"):
        return {}, {"__all__": [str(schema["error"])]}
    values: dict[str, object] = {}
    context = dict(variables or {})
    inputs = [f for f in schema["fields"] if f.get("input") and not f.get("readonly")]
    # First pass without conditions, so a hide condition may read submitted values.
    raw_values = {f["id"]: _raw(data, f) for f in inputs}
    if schema.get("kind") == DECISION and raw_values.get("decision") in (None, ""):
        # An API client may answer a decision form with the variable itself.
        approved = data.get("approved")
        if isinstance(approved, bool):
            raw_values["decision"] = "approve" if approved else "reject"
    for field in inputs:
        raw = raw_values[field["id"]]
        if field.get("hide_if"):
            scope = {**context, **_nest({k: v for k, v in raw_values.items()
                                         if not isinstance(v, list)})}
            if _feel_true(field["hide_if"], scope):
                continue
        value, problems = _convert(field, raw)
        if problems:
            errors[field["id"]] = problems
        elif value is not None or field["type"] == "boolean":
            values[field["id"]] = value
    if schema.get("kind") == DECISION and not errors:
        approved = values.pop("decision") == "approve"
        values["approved"] = approved
        if not approved and not values.get("comment"):
            errors["comment"] = ["Say why you reject."]
    if schema.get("kind") == FORM_JS:
        values = _nest(values)
    return (values if not errors else {}), errors


def _raw(data: Mapping[str, object], field: Mapping[str, Any]) -> object:
    key = field["id"]
    getlist = getattr(data, "getlist", None)
    if field["type"] == "list":
        if getlist is not None:
            return list(getlist(key))
        return data.get(key)
    if getlist is not None:
        # A checkbox posts a hidden "false" first and "true" when ticked: the last wins.
        items = getlist(key)
        return items[-1] if items else None
    if key not in data and "." in key:
        # A JSON client may send form-js paths nested ({"address": {"city": ...}}).
        return _lookup(data, key)
    return data.get(key)


def _nest(values: Mapping[str, object]) -> dict[str, object]:
    """form-js dotted keys become nested objects: {"a.b": 1} -> {"a": {"b": 1}}."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        parts = key.split(".")
        target = nested
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[parts[-1]] = value
    return nested


def _convert(field: Mapping[str, Any], raw: object) -> tuple[object, list[str]]:
    """One field's submitted value as a variable value, or the messages saying what is wrong."""
    kind = field["type"]
    rules = field.get("validation") or {}
    if kind == "boolean":
        flag = _to_bool(raw)
        if flag is None:
            return None, ["Choose yes or no."]
        if field["required"] and field.get("model_type") == "checkbox" and not flag:
            # form-js: a required checkbox must be ticked.
            return None, [REQUIRED]
        return flag, []
    if kind == "list":
        given = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
        items = [str(item) for item in given if item not in (None, "")]
        if field["required"] and not items:
            return None, [REQUIRED]
        allowed = {o["value"] for o in field.get("options") or []}
        bad = [item for item in items if allowed and item not in allowed]
        if bad:
            return None, [f"Not one of the choices: {', '.join(bad)}."]
        return items, []
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None, [REQUIRED] if field["required"] else []
    if kind == "long":
        return _check_number(_to_int(raw), raw, rules, integer=True)
    if kind == "number":
        return _check_number(_to_number(raw, rules), raw, rules, integer=False)
    if kind in {"date", "time", "datetime"}:
        return _check_temporal(kind, raw, rules)
    if kind == "enum":
        text = str(raw)
        allowed = {o["value"] for o in field.get("options") or []}
        if allowed and text not in allowed:
            return None, ["Choose one of the offered values."]
        return text, []
    return _check_text(raw, rules)


def _to_bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return False
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _to_int(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip()
    return int(text) if _INTEGER.match(text) else None


def _to_number(raw: object, rules: Mapping[str, object]) -> int | float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        number: int | float = raw
    else:
        text = str(raw).strip()
        if not _NUMBER.match(text):
            return None
        number = int(text) if _INTEGER.match(text) else float(text)
    if isinstance(number, float) and number.is_integer() and rules.get("decimal_digits") == 0:
        number = int(number)
    return number


def _check_number(number: int | float | None, raw: object, rules: Mapping[str, object], *,
                  integer: bool) -> tuple[object, list[str]]:
    if number is None:
        return None, ["Enter a whole number." if integer else "Enter a number."]
    problems: list[str] = []
    digits = rules.get("decimal_digits")
    if isinstance(digits, int) and isinstance(number, float):
        fraction = str(raw).strip().partition(".")[2] if not isinstance(raw, float) else ""
        if len(fraction.rstrip("0")) > digits:
            problems.append(f"Use at most {digits} decimal digits.")
    low, high = _number_bound(rules.get("min")), _number_bound(rules.get("max"))
    if low is not None and number < low:
        problems.append(f"Must be at least {_show(low)}.")
    if high is not None and number > high:
        problems.append(f"Must be at most {_show(high)}.")
    return number, problems


def _number_bound(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _check_text(raw: object, rules: Mapping[str, object]) -> tuple[object, list[str]]:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None, ["Enter text."]
    text = str(raw)
    problems: list[str] = []
    low, high = rules.get("minlength"), rules.get("maxlength")
    if low is not None and len(text) < int(str(low)):
        problems.append(f"Use at least {low} characters (now {len(text)}).")
    if high is not None and len(text) > int(str(high)):
        problems.append(f"Use at most {high} characters (now {len(text)}).")
    pattern = rules.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            if re.fullmatch(pattern, text) is None:
                problems.append(f"Must match the pattern {pattern}.")
        except re.error:
            problems.append(f"The form's pattern {pattern!r} is not a valid expression.")
    kind = rules.get("validation_type")
    if kind == "email" and not _EMAIL.match(text):
        problems.append("Enter an e-mail address.")
    if kind == "phone" and not _PHONE.match(text):
        problems.append("Enter a phone number in international format, e.g. +4930123456.")
    return text, problems


def _check_temporal(kind: str, raw: object, rules: Mapping[str, object]
                    ) -> tuple[object, list[str]]:
    value = _parse_temporal(kind, str(raw).strip())
    if value is None:
        example = {"date": "2025-03-05", "time": "14:30",
                   "datetime": "2025-03-05T14:30"}[kind]
        return None, [f"Enter a {kind} like {example}."]
    problems: list[str] = []
    for bound, word, fails in (("min", "on or after", lambda v, b: v < b),
                               ("max", "on or before", lambda v, b: v > b)):
        limit = rules.get(bound)
        limit_value = _parse_temporal(kind, str(limit)) if limit not in (None, "") else None
        if limit_value is not None and _comparable(value, limit_value) and fails(
                value, limit_value):
            problems.append(f"Must be {word} {limit}.")
    return value.isoformat(), problems


def _parse_temporal(kind: str, text: str) -> date | time | datetime | None:
    try:
        if kind == "date":
            # Camunda 7 Tasklist sends dd/MM/yyyy; browsers and APIs send ISO 8601.
            if re.fullmatch(r"\d{2}/\d{2}/\d{4}", text):
                day, month, year = text.split("/")
                return date(int(year), int(month), int(day))
            parsed = parse_date(text)
            if parsed is None and (moment := parse_datetime(text)) is not None:
                parsed = moment.date()
            return parsed
        if kind == "time":
            return parse_time(text)
        return parse_datetime(text)
    except ValueError:
        return None


def _comparable(a: object, b: object) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return (a.tzinfo is None) == (b.tzinfo is None)
    return type(a) is type(b)
