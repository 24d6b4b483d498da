"""One error format everywhere, and the schema that documents it."""

from __future__ import annotations

import pytest
import yaml
from rest_framework.test import APIClient

from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def test_a_browser_asking_for_html_still_gets_a_json_problem(as_user):
    response = as_user("approver").get("/api/v1/process-instances/999999/",
                                       HTTP_ACCEPT="text/html")

    assert_problem(response, 404, "instance.not-found")


def test_unknown_api_paths_and_methods_are_problems(as_user):
    client = as_user("admin")

    assert_problem(client.get("/api/v1/no-such-thing/"), 404, "not-found")
    assert_problem(client.post("/api/v1/process-instances/-1/cancel/"), 404, "not-found")
    assert_problem(client.delete("/api/v1/process-instances/"), 405,
                   "request.method-not-allowed")


def test_an_unexpected_error_is_a_logged_500_problem_without_details(as_user, monkeypatch,
                                                                      caplog):
    from tasks_portal.api.views import instances

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(instances, "process_instance_search", broken)

    response = as_user("admin").get("/api/v1/process-instances/")

    body = assert_problem(response, 500, "server.error")
    assert "secret" not in response.content.decode()
    assert body["instance"] == "/api/v1/process-instances/"
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)


def test_schema_documents_token_auth_and_problem_responses(db):
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"
    assert "Problem" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "403", "404"):
                content = operation["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)
    fixed = {("post", "/api/v1/deployments/"), ("post", "/api/v1/process-definitions/{key}/start/"),
             ("get", "/api/v1/process-instances/{instance_id}/"), ("get", "/api/v1/tasks/"),
             ("post", "/api/v1/tasks/{task_id}/claim/"),
             ("post", "/api/v1/tasks/{task_id}/complete/"), ("post", "/api/v1/messages/"),
             ("post", "/api/v1/external-tasks/fetch-and-lock/")}
    assert fixed <= {(m, p) for p, ops in schema["paths"].items() for m in ops}


def test_swagger_ui_is_served(db):
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200 and b"swagger" in response.content.lower()
