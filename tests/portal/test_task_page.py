"""The task page: context, diagram, the form from the model with errors next to their
fields, and the actions (claim, unclaim, complete, delegate, resolve, comment)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from engine.models import AuditEvent, UserTask
from engine.selectors import process_instance_variables
from engine.services.user_tasks import user_task_claim
from tests.portal.test_forms import deploy_fixture, start_task
from tests.portal.test_inbox_views import client_for, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> dict[str, Any]:
    return make_team()


def field_block(body: str, name: str) -> str:
    """The HTML of the form field whose input is named `name` (its label, input, error)."""
    for block in re.findall(r'<div class="field[^"]*"[^>]*>.*?</div>', body, re.S):
        if f'name="{name}"' in block:
            return block
    raise AssertionError(f"no field {name!r} on the page")


def claimed(name: str, user: Any, variables: dict[str, object] | None = None,
            business_key: str | None = None) -> UserTask:
    task = start_task(name, variables, business_key)
    user_task_claim(task_id=task.pk, actor=user)
    return task


def test_task_page_shows_context_diagram_history_and_form(team):
    task = start_task("forms_decision.bpmn", {"amount": 1200, "customer": "ACME"}, "PO-42",
                      actor=team["root"])

    response = client_for(team["ann"]).get(f"/tasks/{task.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Approve it</h1>" in body and "Plain approval" in body and "PO-42" in body
    assert "by root" in body  # who started it
    assert "<dt>amount</dt><dd>1200</dd>" in body  # variables marked visible
    assert f'data-bpmn-url="/tasks/{task.pk}/diagram.xml"' in body
    assert 'data-highlight="Approve"' in body
    assert "bpmn-navigated-viewer.production.min.js" in body
    assert 'class="timeline"' in body and "Approve" in body
    # Not claimed yet: the decision form is shown as a preview with a Claim button.
    assert f'action="/tasks/{task.pk}/claim/"' in body
    assert "Claim the task to fill in the form." in body


def test_diagram_xml_is_the_deployed_model(team):
    task = start_task("forms_decision.bpmn")

    response = client_for(team["ann"]).get(f"/tasks/{task.pk}/diagram.xml")

    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert b'<userTask id="Approve"' in response.content


@pytest.mark.parametrize("path", ["/tasks/{pk}/", "/tasks/{pk}/diagram.xml"])
def test_someone_the_task_is_not_offered_to_gets_404(team, path):
    task = start_task("forms_decision.bpmn")

    response = client_for(team["eve"]).get(path.format(pk=task.pk))

    assert response.status_code == 404


@pytest.mark.parametrize("action", ["claim", "unclaim", "delegate", "comment", "assign"])
def test_actions_on_a_task_one_cannot_see_are_404_and_change_nothing(team, action):
    task = start_task("forms_decision.bpmn")

    response = client_for(team["fay"]).post(f"/tasks/{task.pk}/{action}/",
                                            {"text": "hi", "to_user": "fay"})

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.assignee_id is None and task.comments.count() == 0


def test_completing_without_claiming_is_forbidden(team):
    task = start_task("forms_decision.bpmn")

    response = client_for(team["ann"]).post(f"/tasks/{task.pk}/", {"decision": "approve"})

    assert response.status_code == 403
    assert UserTask.objects.get(pk=task.pk).status == "open"


def test_a_colleague_cannot_complete_or_unclaim_a_task_someone_holds(team):
    task = claimed("forms_decision.bpmn", team["ann"])
    bob = client_for(team["bob"])

    assert bob.post(f"/tasks/{task.pk}/", {"decision": "approve"}).status_code == 403
    assert bob.post(f"/tasks/{task.pk}/unclaim/").status_code == 403
    again = bob.post(f"/tasks/{task.pk}/claim/", follow=True)
    assert "ann has this task already." in again.content.decode()
    assert UserTask.objects.get(pk=task.pk).assignee_id == team["ann"].pk


def test_form_data_error_is_shown_next_to_its_field_and_values_are_kept(team):
    task = claimed("forms_formdata.bpmn", team["fay"], {"initiator": "fay"})
    fay = client_for(team["fay"])

    response = fay.post(f"/tasks/{task.pk}/", {
        "amount": "9000", "reason": "taxi", "urgent": ["false", "true"], "paidOn": "2025-03-04",
        "category": "meals"})

    body = response.content.decode()
    assert response.status_code == 400
    amount = field_block(body, "amount")
    assert 'class="field has-error"' in amount and 'aria-invalid="true"' in amount
    assert '<p class="field-error" id="field-0-error">Must be at most 5000.</p>' in amount
    assert 'value="9000"' in amount  # what was typed stays
    assert 'value="taxi"' in field_block(body, "reason")
    assert "field-error" not in field_block(body, "reason")
    assert 'href="#field-0">Amount: Must be at most 5000.' in body  # the error summary
    assert UserTask.objects.get(pk=task.pk).status == "claimed"


def test_form_data_values_become_typed_process_variables(team):
    task = claimed("forms_formdata.bpmn", team["fay"], {"initiator": "fay"})

    response = client_for(team["fay"]).post(f"/tasks/{task.pk}/", {
        "amount": "250", "reason": "hotel", "urgent": ["false", "true"], "paidOn": "2025-03-04",
        "category": "travel", "requester": "mallory"})

    assert response.status_code == 302 and response["Location"] == "/tasks/"
    task.refresh_from_db()
    task.instance.refresh_from_db()
    assert task.status == "completed" and task.completed_by_id == team["fay"].pk
    variables = process_instance_variables(instance=task.instance)
    assert {k: variables[k] for k in ("amount", "reason", "urgent", "paidOn", "category")} == {
        "amount": 250, "reason": "hotel", "urgent": True, "paidOn": "2025-03-04",
        "category": "travel"}
    assert variables["initiator"] == "fay" and "requester" not in variables  # read-only
    # Audited with the actor (the runtime's own vocabulary: "task completed").
    kinds = set(AuditEvent.objects.filter(instance_id=task.instance_id, actor="fay",
                                          element_id="Claim").values_list("kind", flat=True))
    assert {"task completed"} <= kinds or {"task_completed"} <= kinds, kinds


def test_form_page_renders_every_field_type_with_its_label(team):
    task = claimed("forms_formdata.bpmn", team["fay"], {"initiator": "fay"})

    body = client_for(team["fay"]).get(f"/tasks/{task.pk}/").content.decode()

    assert '<label for="field-0">Amount' in body and 'type="number"' in field_block(body, "amount")
    assert 'min="1"' in field_block(body, "amount") and 'max="5000"' in field_block(body, "amount")
    assert 'type="date"' in field_block(body, "paidOn")
    assert 'type="checkbox"' in field_block(body, "urgent")
    assert '<option value="travel" selected>Travel</option>' in field_block(body, "category")
    assert "readonly" in field_block(body, "requester") and 'value="fay"' in body
    assert 'minlength="3"' in field_block(body, "reason")


def test_form_js_task_renders_and_nests_group_values(team):
    user_model = team["ann"].__class__
    sales = user_model.objects.create_user("sam", password="pw-sam-123")
    sales.groups.create(name="sales")
    task = claimed("forms_formjs.bpmn", sales, {"orderNo": "A-17"})
    sam = client_for(sales)

    page = sam.get(f"/tasks/{task.pk}/").content.decode()
    assert "Check the order before it ships." in page
    assert 'type="checkbox" name="checks" value="stock"' in page
    assert 'data-hide-if="=carrier != &quot;ups&quot;"' in page

    bad = sam.post(f"/tasks/{task.pk}/", {"quantity": "0", "carrier": "dhl",
                                          "terms": ["false", "true"], "address.city": "Lyon"})
    assert bad.status_code == 400
    assert "Must be at least 1." in field_block(bad.content.decode(), "quantity")

    sam.post(f"/tasks/{task.pk}/", {"quantity": "2", "carrier": "dhl", "checks": ["stock"],
                                    "terms": ["false", "true"], "address.city": "Lyon"})
    task.instance.refresh_from_db()
    variables = process_instance_variables(instance=task.instance)
    assert variables["address"] == {"city": "Lyon"} and variables["checks"] == ["stock"]
    assert variables["quantity"] == 2 and variables["orderNo"] == "A-17"


def test_decision_form_rejection_needs_a_comment(team):
    task = claimed("forms_decision.bpmn", team["ann"])
    ann = client_for(team["ann"])

    bad = ann.post(f"/tasks/{task.pk}/", {"decision": "reject"})
    assert bad.status_code == 400
    assert "Say why you reject." in field_block(bad.content.decode(), "comment")

    ann.post(f"/tasks/{task.pk}/", {"decision": "reject", "comment": "over budget"})
    task.instance.refresh_from_db()
    variables = process_instance_variables(instance=task.instance)
    assert variables["approved"] is False and variables["comment"] == "over budget"


def test_a_form_file_that_was_not_deployed_is_a_clear_error_on_the_page(team):
    task = claimed("forms_missing_ref.bpmn", team["fay"])
    fay = client_for(team["fay"])

    page = fay.get(f"/tasks/{task.pk}/").content.decode()
    refused = fay.post(f"/tasks/{task.pk}/", {"total": "3"})

    assert "The form &#x27;invoice-form&#x27; this task uses was not deployed" in page
    assert '<form method="post" class="task-form"' not in page
    assert refused.status_code == 400
    assert UserTask.objects.get(pk=task.pk).status == "claimed"


def test_a_deployed_form_file_is_rendered(team):
    form = {"id": "invoice-form", "components": [
        {"type": "number", "key": "total", "label": "Invoice total",
         "validate": {"required": True, "min": 1}}]}
    deploy_fixture("forms_missing_ref.bpmn", extra=[("invoice.form", json.dumps(form).encode())])
    task = claimed("forms_missing_ref.bpmn", team["fay"])

    body = client_for(team["fay"]).get(f"/tasks/{task.pk}/").content.decode()

    assert "Invoice total" in body and 'name="total"' in body and "was not deployed" not in body


def test_claim_then_unclaim_from_the_page(team):
    task = start_task("forms_decision.bpmn")
    ann = client_for(team["ann"])

    ann.post(f"/tasks/{task.pk}/claim/")
    page = ann.get(f"/tasks/{task.pk}/").content.decode()
    assert '<form method="post" class="task-form" novalidate>' in page
    assert 'name="decision" value="approve"' in page

    response = ann.post(f"/tasks/{task.pk}/unclaim/")
    assert response.status_code == 302 and response["Location"] == "/tasks/"
    assert UserTask.objects.get(pk=task.pk).assignee_id is None


def test_delegate_works_the_task_and_resolves_it_back_to_the_owner(team):
    task = claimed("forms_decision.bpmn", team["ann"])
    ann, bob = client_for(team["ann"]), client_for(team["bob"])

    ann.post(f"/tasks/{task.pk}/delegate/", {"to_user": "bob"})
    task.refresh_from_db()
    assert task.assignee_id == team["bob"].pk and task.owner_id == team["ann"].pk
    page = bob.get(f"/tasks/{task.pk}/").content.decode()
    assert 'name="action" value="resolve"' in page and "Resolve (hand back to ann)" in page

    bob.post(f"/tasks/{task.pk}/", {"action": "resolve", "decision": "approve"})
    task.refresh_from_db()
    assert task.assignee_id == team["ann"].pk and task.delegation_state == "resolved"
    assert task.resolved_variables == {"approved": True}
    assert bob.post(f"/tasks/{task.pk}/", {"decision": "approve"}).status_code == 403
    ann.post(f"/tasks/{task.pk}/", {"decision": "approve"})
    assert UserTask.objects.get(pk=task.pk).status == "completed"


def test_comments_are_listed_with_their_author(team):
    task = start_task("forms_decision.bpmn")
    bob = client_for(team["bob"])

    bob.post(f"/tasks/{task.pk}/comment/", {"text": "Asked the supplier"})
    empty = bob.post(f"/tasks/{task.pk}/comment/", {"text": "  "}, follow=True)

    page = client_for(team["ann"]).get(f"/tasks/{task.pk}/").content.decode()
    assert "<strong>bob</strong>" in page and "Asked the supplier" in page
    assert task.comments.count() == 1
    assert '<li class="error">' in empty.content.decode()


def test_admin_reassigns_from_the_task_page(team):
    task = start_task("forms_decision.bpmn")

    refused = client_for(team["ann"]).post(f"/tasks/{task.pk}/assign/", {"assignee": "ann"})
    client_for(team["root"]).post(f"/tasks/{task.pk}/assign/", {"assignee": "bob"})

    assert refused.status_code == 403
    assert UserTask.objects.get(pk=task.pk).assignee_id == team["bob"].pk


def test_unknown_task_action_is_404(team):
    task = start_task("forms_decision.bpmn")

    assert client_for(team["ann"]).post(f"/tasks/{task.pk}/explode/").status_code == 404
