"""Task forms: the schema read from the model and the server-side validation of submissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.http import QueryDict

from bpmn.loader import load_model
from bpmn.model import UserTask as ModelUserTask
from bpmn.model import walk_scope
from engine.models import ProcessDefinition, UserTask
from engine.services._shell import plain
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start
from tasks_portal.forms import task_form_schema, validate_task_submission
from tests.corpus import CORPUS

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


# --- helpers (also used by the view and live tests) ------------------------------------


def deploy_fixture(name: str, extra: list[tuple[str, bytes]] | None = None) -> ProcessDefinition:
    """Deploy tests/portal/fixtures/`name` (plus `extra` files) and return its definition."""
    files = [(name, (FIXTURES / name).read_bytes()), *(extra or [])]
    return deployment_create(files=files, actor=None).process_definitions.get()


def start_task(name: str, variables: dict[str, object] | None = None,
               business_key: str | None = None, actor: object = None) -> UserTask:
    """Start fixture `name` and return its (first) open user task."""
    definition = ProcessDefinition.objects.filter(source_name=name).order_by("-version").first()
    if definition is None:
        definition = deploy_fixture(name)
    instance, _ = process_instance_start(definition_id=definition.pk, variables=variables,
                                         business_key=business_key, actor=actor)  # type: ignore[arg-type]
    return UserTask.objects.filter(instance=instance).order_by("id").first()  # type: ignore[return-value]


def post(**values: str | list[str]) -> QueryDict:
    """A QueryDict as an HTML form posts it (lists = repeated keys)."""
    data = QueryDict(mutable=True)
    for key, value in values.items():
        data.setlist(key, value if isinstance(value, list) else [value])
    return data


def fields_by_id(schema: dict) -> dict[str, dict]:
    return {f["id"]: f for f in schema["fields"]}


# --- camunda:formData ------------------------------------------------------------------

FORM_DATA_OK = {"amount": "120", "reason": "taxi", "urgent": ["false", "true"],
                "paidOn": "2025-03-04", "category": "meals", "requester": "mallory"}


def test_form_data_schema_lists_every_field_with_type_default_options_and_rules():
    task = start_task("forms_formdata.bpmn", {"initiator": "ann"})

    schema = task_form_schema(task)

    assert schema["kind"] == "formData" and schema["error"] is None
    fields = fields_by_id(schema)
    assert list(fields) == ["amount", "reason", "urgent", "paidOn", "category", "requester"]
    assert fields["amount"]["type"] == "long" and fields["amount"]["required"] is True
    assert fields["amount"]["validation"] == {"min": "1", "max": "5000"}
    assert fields["amount"]["value"] == "10"
    assert fields["reason"]["validation"] == {"minlength": 3, "maxlength": 20}
    assert fields["urgent"]["widget"] == "checkbox"
    assert fields["paidOn"]["widget"] == "date"
    assert fields["category"]["options"] == [{"value": "travel", "label": "Travel"},
                                             {"value": "meals", "label": "Meals"}]
    # A default written as an expression is evaluated over the process variables.
    assert fields["requester"]["readonly"] is True and fields["requester"]["value"] == "ann"


def test_form_data_current_variables_win_over_defaults():
    task = start_task("forms_formdata.bpmn", {"initiator": "ann", "amount": 42})

    assert fields_by_id(task_form_schema(task))["amount"]["value"] == 42


def test_form_data_valid_submission_becomes_typed_variables_without_readonly_fields():
    task = start_task("forms_formdata.bpmn", {"initiator": "ann"})

    variables, errors = validate_task_submission(task, post(**FORM_DATA_OK))

    assert errors == {}
    assert variables == {"amount": 120, "reason": "taxi", "urgent": True,
                         "paidOn": "2025-03-04", "category": "meals"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("amount", "", "This field is required."),
    ("amount", "12.5", "Enter a whole number."),
    ("amount", "abc", "Enter a whole number."),
    ("amount", "0", "Must be at least 1."),
    ("amount", "5001", "Must be at most 5000."),
    ("reason", "ab", "Use at least 3 characters (now 2)."),
    ("reason", "x" * 21, "Use at most 20 characters (now 21)."),
    ("paidOn", "next tuesday", "Enter a date like 2025-03-05."),
    ("paidOn", "2025-02-30", "Enter a date like 2025-03-05."),
    ("category", "jewels", "Choose one of the offered values."),
    ("urgent", "maybe", "Choose yes or no."),
])
def test_form_data_bad_value_is_reported_on_its_field(field, value, message):
    task = start_task("forms_formdata.bpmn", {"initiator": "ann"})

    variables, errors = validate_task_submission(task, post(**{**FORM_DATA_OK, field: value}))

    assert variables == {}
    assert errors == {field: [message]}


def test_form_data_unticked_checkbox_is_false_and_camunda_style_dates_are_read():
    task = start_task("forms_formdata.bpmn", {"initiator": "ann"})
    data = {**FORM_DATA_OK, "urgent": "false", "paidOn": "05/03/2025"}

    variables, errors = validate_task_submission(task, post(**data))

    assert errors == {}
    assert variables["urgent"] is False and variables["paidOn"] == "2025-03-05"


def test_form_data_accepts_json_values_from_the_api():
    task = start_task("forms_formdata.bpmn", {"initiator": "ann"})

    variables, errors = validate_task_submission(
        task, {"amount": 7, "urgent": True, "category": "travel", "reason": None})

    assert errors == {}
    assert variables == {"amount": 7, "urgent": True, "category": "travel"}


def test_form_data_several_errors_are_all_reported_at_once():
    task = start_task("forms_formdata.bpmn", {"initiator": "ann"})

    _, errors = validate_task_submission(task, post(amount="-3", reason="a", paidOn="x"))

    assert set(errors) == {"amount", "reason", "paidOn"}


# --- form-js (Camunda Forms) -------------------------------------------------------------

FORM_JS_OK = {"quantity": "3", "discount": "0.25", "email": "a@example.com", "sku": "ABC-123",
              "carrier": "dhl", "checks": ["address", "stock"], "terms": ["false", "true"],
              "shipOn": "2025-03-07", "address.city": "Lyon", "orderNo": "forged"}


def test_form_js_schema_flattens_groups_skips_buttons_and_keeps_display_text():
    task = start_task("forms_formjs.bpmn", {"orderNo": "A-17"})

    schema = task_form_schema(task)

    assert schema["kind"] == "form-js" and schema["form_id"] == "order-review"
    fields = fields_by_id(schema)
    assert "btn" not in fields
    assert fields["intro"]["input"] is False and fields["intro"]["text"].startswith("Check")
    assert fields["address.city"]["required"] is True
    assert fields["quantity"]["validation"] == {"min": 1, "max": 100, "decimal_digits": 0}
    assert fields["carrier"]["widget"] == "select"
    assert fields["checks"]["type"] == "list"
    assert fields["shipOn"]["widget"] == "date"
    assert fields["orderNo"]["readonly"] is True and fields["orderNo"]["value"] == "A-17"
    assert fields["rushReason"]["hide_if"] == '=carrier != "ups"'


def test_form_js_valid_submission_nests_group_paths_and_ignores_readonly_fields():
    task = start_task("forms_formjs.bpmn", {"orderNo": "A-17"})

    variables, errors = validate_task_submission(task, post(**FORM_JS_OK))

    assert errors == {}
    assert variables == {"quantity": 3, "discount": 0.25, "email": "a@example.com",
                         "sku": "ABC-123", "carrier": "dhl", "checks": ["address", "stock"],
                         "terms": True, "shipOn": "2025-03-07", "address": {"city": "Lyon"}}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("quantity", "0", "Must be at least 1."),
    ("quantity", "101", "Must be at most 100."),
    ("quantity", "2.5", "Use at most 0 decimal digits."),
    ("discount", "0.125", "Use at most 2 decimal digits."),
    ("discount", "lots", "Enter a number."),
    ("email", "not-an-address", "Enter an e-mail address."),
    ("sku", "abc-123", "Must match the pattern [A-Z]{3}-[0-9]{3}."),
    ("carrier", "fedex", "Choose one of the offered values."),
    ("carrier", "", "This field is required."),
    ("checks", ["address", "weather"], "Not one of the choices: weather."),
    ("terms", "false", "This field is required."),
    ("address.city", "", "This field is required."),
])
def test_form_js_rule_broken_is_reported_on_its_field(field, value, message):
    task = start_task("forms_formjs.bpmn")

    variables, errors = validate_task_submission(task, post(**{**FORM_JS_OK, field: value}))

    assert variables == {}
    assert errors[field] == [message] and len(errors) == 1


def test_form_js_field_hidden_by_its_condition_is_neither_required_nor_kept():
    task = start_task("forms_formjs.bpmn")

    hidden, hidden_errors = validate_task_submission(
        task, post(**{**FORM_JS_OK, "rushReason": "ignored"}))
    shown, shown_errors = validate_task_submission(task, post(**{**FORM_JS_OK, "carrier": "ups"}))

    assert hidden_errors == {} and "rushReason" not in hidden
    assert shown == {} and shown_errors == {"rushReason": ["This field is required."]}


def test_form_js_form_deployed_as_a_file_is_found_by_its_ref():
    form = {"id": "invoice-form", "type": "default", "components": [
        {"type": "number", "key": "total", "label": "Total", "validate": {"required": True}}]}
    deploy_fixture("forms_missing_ref.bpmn",
                   extra=[("invoice.form", json.dumps(form).encode())])
    task = start_task("forms_missing_ref.bpmn")

    schema = task_form_schema(task)
    variables, errors = validate_task_submission(task, post(total="12"))

    assert schema["error"] is None and [f["id"] for f in schema["fields"]] == ["total"]
    assert (variables, errors) == ({"total": 12}, {})


def test_form_ref_to_a_form_that_was_not_deployed_is_a_clear_error_and_blocks_completion():
    task = start_task("forms_missing_ref.bpmn")

    schema = task_form_schema(task)
    variables, errors = validate_task_submission(task, post(total="12"))

    assert schema["kind"] == "form-js" and schema["fields"] == []
    assert "'invoice-form'" in schema["error"] and "was not deployed" in schema["error"]
    assert variables == {} and errors == {"__all__": [schema["error"]]}


# --- decision form (no form in the model) -----------------------------------------------


def test_task_without_form_gets_approve_or_reject_with_comment():
    task = start_task("forms_decision.bpmn")

    schema = task_form_schema(task)

    assert schema["kind"] == "decision"
    assert [f["id"] for f in schema["fields"]] == ["decision", "comment"]
    assert validate_task_submission(task, post(decision="approve")) == (
        {"approved": True}, {})
    assert validate_task_submission(task, post(decision="reject", comment="too dear")) == (
        {"approved": False, "comment": "too dear"}, {})


def test_decision_form_rejection_without_a_reason_and_no_decision_are_errors():
    task = start_task("forms_decision.bpmn")

    assert validate_task_submission(task, post(decision="reject")) == (
        {}, {"comment": ["Say why you reject."]})
    assert validate_task_submission(task, post(comment="hm")) == (
        {}, {"decision": ["This field is required."]})
    assert validate_task_submission(task, post(decision="maybe"))[1] == {
        "decision": ["Choose one of the offered values."]}


# --- real models from the shared corpus (read in place) -----------------------------------


def _corpus_task(relative: str, element_id: str, variables: dict | None = None) -> UserTask:
    """A task row carrying the form the parser reads from a corpus file's user task."""
    model = load_model((CORPUS / relative).read_bytes(), source=relative)
    assert model.definitions is not None, model.diagnostics
    nodes = [n for p in model.definitions.processes for n in walk_scope(p.scope)
             if isinstance(n, ModelUserTask) and n.id == element_id]
    assert nodes and nodes[0].ext.form is not None, f"{relative}: no form on {element_id}"
    host = start_task("forms_decision.bpmn", variables)
    host.form = plain(nodes[0].ext.form)
    host.save(update_fields=["form"])
    return host


def test_corpus_zeebe_tasklist_form_has_its_required_textfield_with_default():
    task = _corpus_task("zeebe/TasklistTestProcess.bpmn", "Activity_0urphmi")

    schema = task_form_schema(task)
    fields = fields_by_id(schema)

    assert schema["kind"] == "form-js" and schema["form_id"] == "DemoForm"
    name = fields["field_1dqp4e0"]
    assert (name["label"], name["required"], name["value"]) == ("Name", True, "name")
    assert fields["Field_04fgmak"]["input"] is False
    assert validate_task_submission(task, post(field_1dqp4e0=""))[1] == {
        "field_1dqp4e0": ["This field is required."]}
    assert validate_task_submission(task, post(field_1dqp4e0="Ada")) == (
        {"field_1dqp4e0": "Ada"}, {})


def test_corpus_send_email_form_requires_the_message_content():
    task = _corpus_task("zeebe/cpgs-process-send-email.bpmn", "enterMessageTask")

    assert validate_task_submission(task, post())[1] == {
        "message_content": ["This field is required."]}
    assert validate_task_submission(task, post(message_content="Hello"))[0] == {
        "message_content": "Hello"}


def test_corpus_miwg_vacation_form_shows_disabled_fields_and_requires_the_radio():
    task = _corpus_task("miwg/Reference/C.8.0.bpmn", "_79523269-7444-4b01-90e9-e23957a9d020",
                        {"Current Vacation Status": {"name": "Ann", "days": 12}})

    fields = fields_by_id(task_form_schema(task))

    assert fields["Current Vacation Status.name"]["readonly"] is True
    assert fields["Current Vacation Status.name"]["value"] == "Ann"
    assert fields["Current Vacation Status.days"]["value"] == 12
    approval = fields["Vacation Approval"]
    assert approval["widget"] == "radio" and approval["required"] is True
    assert [o["value"] for o in approval["options"]] == ["Approved", "Refused"]
    assert validate_task_submission(task, post(Reason="busy"))[1] == {
        "Vacation Approval": ["This field is required."]}
    assert validate_task_submission(
        task, post(**{"Vacation Approval": "Refused", "Reason": "busy",
                      "Current Vacation Status.name": "Eve"})) == (
        {"Vacation Approval": "Refused", "Reason": "busy"}, {})


def test_json_clients_may_nest_form_js_paths_and_answer_a_decision_with_approved():
    order = start_task("forms_formjs.bpmn")
    plain_approval = start_task("forms_decision.bpmn")
    nested = {"quantity": 1, "carrier": "dhl", "terms": True, "address": {"city": "Oslo"}}

    assert validate_task_submission(order, nested)[0]["address"] == {"city": "Oslo"}
    assert validate_task_submission(plain_approval, {"approved": True}) == (
        {"approved": True}, {})
    assert validate_task_submission(plain_approval, {"approved": False}) == (
        {}, {"comment": ["Say why you reject."]})


def _task_with_form_js(components: list[dict], variables: dict | None = None) -> UserTask:
    task = start_task("forms_decision.bpmn", variables)
    task.form = {"json": json.dumps({"id": "inline", "components": components})}
    task.save(update_fields=["form"])
    return task


@pytest.mark.parametrize(("component", "value", "expected", "message"), [
    ({"type": "datetime", "key": "at", "subtype": "time"}, "14:30", "14:30:00", None),
    ({"type": "datetime", "key": "at", "subtype": "time"}, "25:00", None,
     "Enter a time like 14:30."),
    ({"type": "datetime", "key": "at", "subtype": "datetime"}, "2025-03-05T14:30",
     "2025-03-05T14:30:00", None),
    ({"type": "datetime", "key": "at", "subtype": "datetime"}, "soon", None,
     "Enter a datetime like 2025-03-05T14:30."),
    ({"type": "textfield", "key": "tel", "validate": {"validationType": "phone"}},
     "+4930123456", "+4930123456", None),
    ({"type": "textfield", "key": "tel", "validate": {"validationType": "phone"}},
     "030 123", None, "Enter a phone number in international format, e.g. +4930123456."),
    ({"type": "taglist", "key": "tags", "values": [{"label": "A", "value": "a"}]},
     ["a"], ["a"], None),
    ({"type": "select", "key": "who", "valuesKey": "people"}, "bo", "bo", None),
    ({"type": "select", "key": "who", "valuesKey": "people"}, "zed", None,
     "Choose one of the offered values."),
    ({"type": "textfield", "key": "broken", "validate": {"pattern": "([a-z"}}, "x", None,
     "The form's pattern '([a-z' is not a valid expression."),
])
def test_form_js_more_field_types_and_rules(component, value, expected, message):
    task = _task_with_form_js([component], {"people": [{"label": "Bo", "value": "bo"}, "al"]})
    key = component["key"]

    variables, errors = validate_task_submission(task, post(**{key: value}))

    if message is None:
        assert (variables, errors) == ({key: expected}, {})
    else:
        assert (variables, errors) == ({}, {key: [message]})


def test_options_from_a_variable_are_listed():
    task = _task_with_form_js([{"type": "radio", "key": "who", "valuesKey": "people"}],
                              {"people": [{"label": "Bo", "value": "bo"}, "al"]})

    assert fields_by_id(task_form_schema(task))["who"]["options"] == [
        {"value": "bo", "label": "Bo"}, {"value": "al", "label": "al"}]


def test_a_form_that_is_not_form_js_json_is_a_clear_error():
    task = start_task("forms_decision.bpmn")
    task.form = {"json": "{not json"}
    task.save(update_fields=["form"])

    schema = task_form_schema(task)

    assert schema["error"].startswith("The task's form is not valid JSON")
    assert validate_task_submission(task, post())[1] == {"__all__": [schema["error"]]}


def test_unsupported_form_js_parts_are_named_in_a_notice():
    task = _task_with_form_js([{"type": "filepicker", "key": "f", "label": "Receipt"},
                               {"type": "textfield", "key": "t", "label": "T"}])

    schema = task_form_schema(task)

    assert schema["notice"] == "Parts of this form cannot be shown here: filepicker Receipt."
    assert [f["id"] for f in schema["fields"]] == ["t"]


def test_date_bounds_in_form_data():
    task = start_task("forms_decision.bpmn")
    task.form = {"fields": [{"id": "d", "type": "date", "min": "2025-01-01",
                             "max": "2025-12-31"}]}
    task.save(update_fields=["form"])

    assert validate_task_submission(task, post(d="2024-12-31"))[1] == {
        "d": ["Must be on or after 2025-01-01."]}
    assert validate_task_submission(task, post(d="2026-01-01"))[1] == {
        "d": ["Must be on or before 2025-12-31."]}
    assert validate_task_submission(task, post(d="2025-06-01")) == ({"d": "2025-06-01"}, {})
