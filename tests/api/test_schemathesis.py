"""Schemathesis against our own OpenAPI schema: no 5xx, and every response matches it.

Each operation gets a few generated requests, valid ones (positive) and broken ones
(negative), sent in-process through the WSGI app as a process admin with every scope, on a
database with a deployed model, an instance, a task and an external task to hit.
"""

from __future__ import annotations

import io

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def _keep_the_test_connection():
    """The WSGI app closes the database connection after each request (as in production);
    inside a test transaction that would end the test's own connection. Django's test
    client disconnects the same receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(people, deployed, _keep_the_test_connection):
    """Something for the generated requests to find: ids 1.. exist for most objects."""
    from engine.services.instances import process_instance_start
    from tasks_portal.api.tokens import api_token_create

    deployed("review.bpmn", "review.form", "order.bpmn", "charge.bpmn")
    for key in ("review", "order", "charge"):
        process_instance_start(key=key, business_key=f"{key}-1", actor=people["admin"])
    _, token = api_token_create(user=people["admin"], scopes=[
        "deploy", "start", "correlate", "external_tasks", "history", "tasks", "operate"])
    return {"Authorization": f"Token {token}"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_operation_conforms_to_the_schema(world, operation, mode):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(headers=world, checks=CHECKS)

    check()


def test_successful_answers_of_a_whole_scenario_match_the_schema(people, fixture_bytes,
                                                                 _keep_the_test_connection):
    """Generated requests mostly meet made-up ids; this walks the happy path on purpose
    and checks every 2xx body against its documented schema."""
    from werkzeug.test import Client

    from tasks_portal.api.tokens import api_token_create

    app = Client(get_wsgi_application())
    _, system = api_token_create(user=people["admin"], scopes=[
        "deploy", "start", "correlate", "external_tasks", "history", "operate"])
    _, approver = api_token_create(user=people["approver"], scopes=["tasks"])
    checked: list[str] = []

    def call(method, template, path=None, token=system, expect=200, headers=None, **kwargs):
        response = app.open(path or template, method=method,
                            headers={"Authorization": f"Token {token}", **(headers or {})},
                            **kwargs)
        assert response.status_code == expect, (path, response.get_data()[:400])
        SCHEMA[f"/api/v1/{template}"][method].validate_response(response)
        checked.append(f"{method} {template}")
        return response.get_json() if response.is_json else response.get_data()

    files = {"file": [(io.BytesIO(fixture_bytes(n)), n) for n in
                      ("review.bpmn", "review.form", "order.bpmn", "charge.bpmn")]}
    deployment = call("POST", "deployments/", "/api/v1/deployments/", data=files, expect=201)
    call("GET", "deployments/", "/api/v1/deployments/")
    call("GET", "deployments/{deployment_id}/", f"/api/v1/deployments/{deployment['id']}/")
    call("GET", "process-definitions/", "/api/v1/process-definitions/?all_versions=true")
    call("GET", "process-definitions/{key}/", "/api/v1/process-definitions/review/")
    started = call("POST", "process-definitions/{key}/start/",
                   "/api/v1/process-definitions/review/start/", expect=201,
                   json={"variables": {"amount": 5}, "business_key": "PO-1"},
                   headers={"Idempotency-Key": "k"})
    pk = started["id"]
    call("GET", "process-instances/", "/api/v1/process-instances/?variable=amount=5")
    call("GET", "process-instances/{instance_id}/", f"/api/v1/process-instances/{pk}/")
    call("POST", "process-instances/{instance_id}/variables/",
         f"/api/v1/process-instances/{pk}/variables/", json={"variables": {"note": "x"}})
    call("GET", "process-instances/{instance_id}/variables/",
         f"/api/v1/process-instances/{pk}/variables/")
    task_id = started["open_tasks"][0]["id"]
    call("GET", "tasks/", "/api/v1/tasks/?view=group", token=approver)
    call("GET", "tasks/{task_id}/", f"/api/v1/tasks/{task_id}/", token=approver)
    call("POST", "tasks/{task_id}/claim/", f"/api/v1/tasks/{task_id}/claim/", token=approver)
    call("POST", "tasks/{task_id}/comments/", f"/api/v1/tasks/{task_id}/comments/",
         token=approver, json={"text": "ok"}, expect=201)
    call("POST", "tasks/{task_id}/complete/", f"/api/v1/tasks/{task_id}/complete/",
         token=approver, json={"variables": {"amount": 5, "approved": True}})
    order = call("POST", "process-definitions/{key}/start/",
                 "/api/v1/process-definitions/order/start/", expect=201,
                 json={"business_key": "ORD-1"})
    call("POST", "messages/", "/api/v1/messages/",
         json={"name": "PaymentReceived", "business_key": "ORD-1"})
    call("POST", "signals/", "/api/v1/signals/", json={"name": "Go"})
    call("POST", "process-instances/{instance_id}/suspend/",
         f"/api/v1/process-instances/{order['id']}/suspend/")
    call("POST", "process-instances/{instance_id}/resume/",
         f"/api/v1/process-instances/{order['id']}/resume/")
    call("GET", "external-tasks/", "/api/v1/external-tasks/")
    [locked] = call("POST", "external-tasks/fetch-and-lock/",
                    "/api/v1/external-tasks/fetch-and-lock/", json={
                        "worker_id": "w", "topics": [{"topic_name": "charge",
                                                      "lock_duration": 10_000}]})
    call("POST", "external-tasks/{task_id}/extend-lock/",
         f"/api/v1/external-tasks/{locked['id']}/extend-lock/",
         json={"worker_id": "w", "new_duration": 20_000})
    call("POST", "external-tasks/{task_id}/failure/",
         f"/api/v1/external-tasks/{locked['id']}/failure/",
         json={"worker_id": "w", "error_message": "down", "retries": 0})
    call("GET", "jobs/", "/api/v1/jobs/")
    [incident] = call("GET", "incidents/", "/api/v1/incidents/")["results"]
    call("POST", "incidents/{incident_id}/retry/",
         f"/api/v1/incidents/{incident['id']}/retry/", json={})
    call("GET", "history/events/", f"/api/v1/history/events/?instance_id={pk}")
    call("GET", "history/process-instances/{instance_id}/timeline/",
         f"/api/v1/history/process-instances/{pk}/timeline/")
    call("POST", "process-instances/{instance_id}/cancel/",
         f"/api/v1/process-instances/{order['id']}/cancel/", json={"reason": "test"})

    assert len(checked) == 30
