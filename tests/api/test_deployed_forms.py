"""Form files deployed with models: stored with the deployment, found by form id."""

from __future__ import annotations

import json

import pytest

from engine.errors import DeploymentInvalid
from engine.models import AuditEvent, Deployment, DeploymentResource, ProcessDefinition
from engine.selectors import deployed_form_get
from engine.services.deployments import deployment_create

pytestmark = pytest.mark.django_db


def _form(form_id: str, label: str = "Amount") -> bytes:
    return json.dumps({"id": form_id, "components": [
        {"type": "number", "key": "amount", "label": label}]}).encode()


def test_form_deployed_with_its_model_is_found_by_id_from_the_definition(fixture_bytes):
    deployment = deployment_create(files=[("review.bpmn", fixture_bytes("review.bpmn")),
                                          ("review.form", fixture_bytes("review.form"))],
                                   actor=None, name="review")
    definition = deployment.process_definitions.get()

    form = deployed_form_get(form_id="reviewForm", definition=definition)

    assert form is not None and form["id"] == "reviewForm"
    assert [c["key"] for c in form["components"]] == ["amount", "approved"]
    assert deployed_form_get(form_id="camunda-forms:deployment:review.form",
                             definition=definition) == form
    assert deployed_form_get(form_id="otherForm", definition=definition) is None
    assert AuditEvent.objects.filter(kind="form deployed", element_id="reviewForm").count() == 1


def test_old_version_keeps_its_own_form_and_a_form_deployed_alone_serves_newer(fixture_bytes):
    first = deployment_create(files=[("review.bpmn", fixture_bytes("review.bpmn")),
                                     ("f.form", _form("reviewForm", "Old"))], actor=None)
    v1 = first.process_definitions.get()
    fix = deployment_create(files=[("f.form", _form("reviewForm", "New"))], actor=None)
    other = deployment_create(files=[("minimal.bpmn", fixture_bytes("order.bpmn"))],
                              actor=None)

    assert fix.pk != first.pk and not fix.process_definitions.exists()
    assert deployed_form_get(form_id="reviewForm", definition=v1)["components"][0][
        "label"] == "Old"
    # A definition deployed without the form gets the newest one of that id.
    assert deployed_form_get(form_id="reviewForm", definition=other.process_definitions.get(
    ))["components"][0]["label"] == "New"


def test_redeploying_the_same_form_creates_nothing(fixture_bytes):
    files = [("review.bpmn", fixture_bytes("review.bpmn")),
             ("review.form", fixture_bytes("review.form"))]
    first = deployment_create(files=files, actor=None)
    again = deployment_create(files=files, actor=None)

    assert again.pk == first.pk
    assert (Deployment.objects.count(), DeploymentResource.objects.count()) == (1, 1)


@pytest.mark.parametrize(("content", "code", "line"), [
    (b'{"id": "f",\n "components": [}', "form.json", 2),
    (b'["not", "an", "object"]', "form.not-object", 1),
    (b'{"components": []}', "form.id-missing", 1),
    (b'{"id": "f"}', "form.components-missing", 1),
    (b'{"id": "f", "components": [{"key": "x"}]}', "form.component-invalid", None),
    (b"\xff\xfe{", "form.encoding", None),
])
def test_broken_form_refuses_the_whole_deployment_with_its_line(fixture_bytes, content, code,
                                                                 line):
    with pytest.raises(DeploymentInvalid) as caught:
        deployment_create(files=[("review.bpmn", fixture_bytes("review.bpmn")),
                                 ("bad.form", content)], actor=None)

    found = {f.source: f.diagnostics for f in caught.value.diagnostics}
    assert [(d.code, d.line) for d in found["bad.form"]] == [(code, line)]
    assert not ProcessDefinition.objects.exists() and not DeploymentResource.objects.exists()


def test_two_forms_with_one_id_in_one_deployment_are_refused():
    with pytest.raises(DeploymentInvalid) as caught:
        deployment_create(files=[("a.form", _form("same")), ("b.json", _form("same"))],
                          actor=None)

    codes = [d.code for f in caught.value.diagnostics for d in f.diagnostics]
    assert codes == ["deployment.duplicate-form"]


def test_bpmn_errors_and_form_errors_are_reported_together(fixture_bytes):
    with pytest.raises(DeploymentInvalid) as caught:
        deployment_create(files=[("broken.bpmn", fixture_bytes("broken.bpmn")),
                                 ("bad.form", b"{")], actor=None)

    sources = {f.source for f in caught.value.diagnostics if f.has_errors}
    assert sources == {"broken.bpmn", "bad.form"}
