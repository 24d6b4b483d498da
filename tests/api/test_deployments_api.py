"""Deployments and process definitions over HTTP: upload, diagnostics, list, XML, start."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engine.models import AuditEvent, Deployment, DeploymentResource, ProcessDefinition
from engine.models import ProcessInstance as Instance
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def _upload(client, *files, name=None):
    data = {"file": [SimpleUploadedFile(n, content) for n, content in files]}
    if name is not None:
        data["name"] = name
    return client.post("/api/v1/deployments/", data, format="multipart")


def test_deploy_models_and_forms_in_one_upload(as_user, fixture_bytes):
    response = _upload(as_user("admin"), ("review.bpmn", fixture_bytes("review.bpmn")),
                       ("review.form", fixture_bytes("review.form")),
                       ("order.bpmn", fixture_bytes("order.bpmn")), name="release 1")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "release 1" and body["deployed_by"] == "admin"
    assert sorted((d["key"], d["version"]) for d in body["process_definitions"]) == [
        ("order", 1), ("review", 1)]
    assert [f["form_id"] for f in body["forms"]] == ["reviewForm"]
    deployed = AuditEvent.objects.filter(kind="deployed").values_list("actor", flat=True)
    assert list(deployed) == ["admin", "admin"]


def test_redeploying_the_same_files_is_200_with_the_existing_deployment(as_user,
                                                                        fixture_bytes):
    client = as_user("admin")
    first = _upload(client, ("review.bpmn", fixture_bytes("review.bpmn")))
    again = _upload(client, ("review.bpmn", fixture_bytes("review.bpmn")))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert ProcessDefinition.objects.count() == 1


def test_broken_model_is_refused_with_element_and_line_and_nothing_stored(as_user,
                                                                          fixture_bytes):
    response = _upload(as_user("admin"), ("review.bpmn", fixture_bytes("review.bpmn")),
                       ("broken.bpmn", fixture_bytes("broken.bpmn")),
                       ("bad.form", b'{"id": "x",\n "components": 5}'))

    body = assert_problem(response, 400, "deployment.invalid")
    files = {f["source"]: f["diagnostics"] for f in body["files"]}
    assert [(d["code"], d["element_id"], d["line"]) for d in files["broken.bpmn"]] == [
        ("flow.target-missing", "Flow_Missing", 6)]
    assert [d["code"] for d in files["bad.form"]] == ["form.components-missing"]
    assert "broken.bpmn:6" in body["detail"]
    assert not (Deployment.objects.exists() or DeploymentResource.objects.exists())


@pytest.mark.parametrize("content", [b"", b"not xml at all", b"<definitions/>",
                                     b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x/>'])
def test_garbage_files_are_400_deployment_invalid(as_user, content):
    response = _upload(as_user("admin"), ("x.bpmn", content))

    body = assert_problem(response, 400, "deployment.invalid")
    assert body["files"][0]["diagnostics"]
    assert not ProcessDefinition.objects.exists()


def test_upload_without_files_or_as_json_is_refused(as_user):
    client = as_user("admin")

    assert_problem(client.post("/api/v1/deployments/", {}, format="multipart"), 400,
                   "request.invalid")
    assert_problem(client.post("/api/v1/deployments/", {"file": "x"}, format="json"), 415,
                   "request.unsupported-media-type")


def test_list_and_get_deployments(as_user, deployed):
    first = deployed("review.bpmn", "review.form")
    second = deployed("order.bpmn")
    client = as_user("auditor")

    listed = client.get("/api/v1/deployments/").json()
    one = client.get(f"/api/v1/deployments/{first.pk}/").json()

    assert listed["count"] == 2 and [d["id"] for d in listed["results"]] == [second.pk,
                                                                             first.pk]
    assert one["forms"][0]["name"] == "review.form"
    assert [f["name"] for f in one["files"]] == ["review.bpmn", "review.form"]
    bpmn = client.get(one["files"][0]["url"])
    form = client.get(one["files"][1]["url"])
    assert bpmn["Content-Type"] == "application/xml" and b"Task_Review" in bpmn.content
    assert form.json()["id"] == "reviewForm"
    assert_problem(client.get(f"/api/v1/deployments/{first.pk}/files/nope.bpmn"), 404,
                   "deployment.file-not-found")
    assert_problem(client.get("/api/v1/deployments/999999/"), 404, "deployment.not-found")


def test_definitions_latest_or_all_versions_get_by_key_id_and_version(as_user, deployed,
                                                                      fixture_bytes, people):
    from engine.services.deployments import deployment_create

    deployed("review.bpmn")
    changed = fixture_bytes("review.bpmn").replace(b'name="Review"', b'name="Review v2"')
    deployment_create(files=[("review.bpmn", changed)], actor=people["admin"])
    client = as_user("approver")

    latest = client.get("/api/v1/process-definitions/").json()["results"]
    everything = client.get("/api/v1/process-definitions/?all_versions=true&key=review")
    by_key = client.get("/api/v1/process-definitions/review/").json()
    v1 = client.get("/api/v1/process-definitions/review/?version=1").json()
    by_id = client.get(f"/api/v1/process-definitions/{v1['id']}/").json()

    assert [(d["key"], d["version"]) for d in latest] == [("review", 2)]
    assert [d["version"] for d in everything.json()["results"]] == [2, 1]
    assert (by_key["version"], by_key["name"], v1["version"], by_id["version"]) == (
        2, "Review v2", 1, 1)
    assert_problem(client.get("/api/v1/process-definitions/nope/"), 404,
                   "definition.not-found")
    assert_problem(client.get("/api/v1/process-definitions/review/?version=9"), 404,
                   "definition.not-found")
    assert_problem(client.get("/api/v1/process-definitions/review/?version=x"), 400,
                   "request.invalid")
    assert_problem(client.get("/api/v1/process-definitions/?all_versions=maybe"), 400,
                   "request.invalid")


def test_xml_download_is_the_file_as_deployed(as_user, deployed, fixture_bytes):
    deployed("review.bpmn")

    response = as_user("auditor").get("/api/v1/process-definitions/review/xml/")

    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert response.content == fixture_bytes("review.bpmn")
    assert 'filename="review.bpmn"' in response["Content-Disposition"]
    detail = as_user("auditor").get("/api/v1/process-definitions/review/").json()
    assert as_user("auditor").get(detail["xml_url"]).content == fixture_bytes("review.bpmn")


def test_start_by_key_with_variables_and_business_key(as_token, deployed):
    deployed("review.bpmn")

    response = as_token("start").post("/api/v1/process-definitions/review/start/",
                                      {"variables": {"amount": 1200, "who": {"a": [1]}},
                                       "business_key": "PO-1"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "running" and body["business_key"] == "PO-1"
    assert body["variables"] == {"amount": 1200, "who": {"a": [1]}}
    assert [t["element_id"] for t in body["open_tasks"]] == ["Task_Review"]
    assert body["active_elements"] == [{"element_id": "Task_Review", "tokens": 1}]
    assert body["started_by"] == "system" and body["incidents"] == []
    assert Instance.objects.get().business_key == "PO-1"


def test_start_by_definition_id_starts_that_version(as_token, deployed, fixture_bytes, people):
    from engine.services.deployments import deployment_create

    v1 = deployed("review.bpmn").process_definitions.get()
    deployment_create(files=[("review.bpmn", fixture_bytes("review.bpmn").replace(
        b'name="Review"', b'name="R2"'))], actor=people["admin"])

    response = as_token("start").post(f"/api/v1/process-definitions/{v1.pk}/start/", {},
                                      format="json")

    assert response.json()["definition"] == {"id": v1.pk, "key": "review", "version": 1,
                                             "name": "Review"}


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    ('{"variables": ', "application/json", 400, "request.malformed"),
    ('{"variables": [1, 2]}', "application/json", 400, "request.invalid"),
    ('{"business_key": {"a": 1}}', "application/json", 400, "request.invalid"),
    ('["not", "an", "object"]', "application/json", 400, "request.invalid"),
    ("variables=1", "application/x-www-form-urlencoded", 415,
     "request.unsupported-media-type"),
])
def test_bad_start_bodies_are_problems_and_start_nothing(as_token, deployed, body,
                                                         content_type, status, code):
    deployed("review.bpmn")

    response = as_token("start").post("/api/v1/process-definitions/review/start/", body,
                                      content_type=content_type)

    problem = assert_problem(response, status, code)
    if code == "request.invalid":
        assert problem["errors"]
    assert not Instance.objects.exists()


def test_start_of_unknown_key_is_404(as_token, db):
    response = as_token("start").post("/api/v1/process-definitions/nope/start/", {},
                                      format="json")

    assert_problem(response, 404, "definition.not-found")


def test_idempotency_key_repeat_returns_the_first_instance_with_200(as_token, deployed):
    deployed("review.bpmn")
    client = as_token("start")
    body = {"variables": {"amount": 5}, "business_key": "PO-7"}

    first = client.post("/api/v1/process-definitions/review/start/", body, format="json",
                        HTTP_IDEMPOTENCY_KEY="order-7")
    again = client.post("/api/v1/process-definitions/review/start/", body, format="json",
                        HTTP_IDEMPOTENCY_KEY="order-7")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Instance.objects.count() == 1


def test_idempotency_key_with_a_different_body_is_409_and_starts_nothing(as_token, deployed):
    deployed("review.bpmn")
    client = as_token("start")
    first = client.post("/api/v1/process-definitions/review/start/",
                        {"variables": {"amount": 5}}, format="json",
                        HTTP_IDEMPOTENCY_KEY="order-8")

    response = client.post("/api/v1/process-definitions/review/start/",
                           {"variables": {"amount": 6}}, format="json",
                           HTTP_IDEMPOTENCY_KEY="order-8")

    body = assert_problem(response, 409, "idempotency.key-reused")
    assert body["process_instance"] == first.json()["id"]
    assert Instance.objects.count() == 1


def test_idempotency_keys_are_per_client(as_token, deployed):
    deployed("review.bpmn")
    one = as_token("start", user="system").post(
        "/api/v1/process-definitions/review/start/", {}, format="json",
        HTTP_IDEMPOTENCY_KEY="k")
    other = as_token("start", user="admin").post(
        "/api/v1/process-definitions/review/start/", {"variables": {"x": 1}}, format="json",
        HTTP_IDEMPOTENCY_KEY="k")

    assert (one.status_code, other.status_code) == (201, 201)
    assert one.json()["id"] != other.json()["id"]


def test_form_file_deployed_over_the_api_serves_the_task_form(as_user, fixture_bytes):
    _upload(as_user("admin"), ("review.bpmn", fixture_bytes("review.bpmn")),
            ("review.form", json.dumps({"id": "reviewForm", "components": [
                {"type": "textfield", "key": "note", "label": "Note"}]}).encode()))
    started = as_user("approver").post("/api/v1/process-definitions/review/start/", {},
                                       format="json")
    task_id = started.json()["open_tasks"][0]["id"]

    form = as_user("approver").get(f"/api/v1/tasks/{task_id}/").json()["form"]

    assert form["kind"] == "form-js" and [f["id"] for f in form["fields"]] == ["note"]


def test_a_repeat_after_a_new_version_was_deployed_is_still_the_same_request(
        as_token, deployed, fixture_bytes, people):
    from engine.services.deployments import deployment_create

    deployed("review.bpmn")
    client = as_token("start")
    first = client.post("/api/v1/process-definitions/review/start/", {}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k1")
    deployment_create(files=[("review.bpmn", fixture_bytes("review.bpmn").replace(
        b'name="Review"', b'name="R2"'))], actor=people["admin"])

    again = client.post("/api/v1/process-definitions/review/start/", {}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k1")

    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert again.json()["definition"]["version"] == 1
    assert Instance.objects.count() == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 201])
def test_an_empty_or_overlong_idempotency_key_is_400(as_token, deployed, key):
    deployed("review.bpmn")

    response = as_token("start").post("/api/v1/process-definitions/review/start/", {},
                                      format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert_problem(response, 400, "idempotency.key-invalid")
    assert not Instance.objects.exists()
