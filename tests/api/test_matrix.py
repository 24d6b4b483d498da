"""Who may call what: every endpoint against every role and every token scope.

Allowed means the request got past authentication and the role/scope check (it may still
be 404 for the made-up ids used here, or 400); denied means 401 for anonymous callers and
403 `auth.forbidden` for everyone else. A new endpoint without a row here fails the test.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient

from tasks_portal.api.scopes import SCOPES
from tasks_portal.api.tokens import api_token_create

pytestmark = pytest.mark.django_db

A, M, U = "approver", "admin", "auditor"
PEOPLE = (A, M, U, "nobody")
PRINCIPALS = (*PEOPLE, "anonymous", *(f"token:{s}" for s in SCOPES))

READ_DEFS = {A, M, U, "start", "deploy", "history"}
READ_INST = {A, M, U, "start", "history", "operate"}
OPERATE = {M, "operate"}
TASKS = {A, M, "tasks"}
READ_TASKS = {A, M, U, "tasks", "history"}
WORKER = {"external_tasks"}
READ_OPS = {M, U, "operate", "history"}
HISTORY = {M, U, "history"}
N = 999999

# (method, path under /api/v1/, JSON body or None, who may)
MATRIX: list[tuple[str, str, object, set[str]]] = [
    ("GET", "deployments/", None, {M, U, "deploy", "history"}),
    ("POST", "deployments/", "multipart", {M, "deploy"}),
    ("GET", f"deployments/{N}/", None, {M, U, "deploy", "history"}),
    ("GET", f"deployments/{N}/files/x.bpmn", None, {M, U, "deploy", "history"}),
    ("GET", "process-definitions/", None, READ_DEFS),
    ("GET", "process-definitions/nope/", None, READ_DEFS),
    ("GET", "process-definitions/nope/xml/", None, READ_DEFS),
    ("POST", "process-definitions/nope/start/", {}, {A, M, "start"}),
    ("GET", "process-instances/", None, READ_INST),
    ("GET", f"process-instances/{N}/", None, READ_INST),
    ("GET", f"process-instances/{N}/variables/", None, READ_INST),
    ("POST", f"process-instances/{N}/variables/", {"variables": {"a": 1}}, OPERATE),
    ("POST", f"process-instances/{N}/cancel/", {}, OPERATE),
    ("POST", f"process-instances/{N}/suspend/", {}, OPERATE),
    ("POST", f"process-instances/{N}/resume/", {}, OPERATE),
    ("GET", "tasks/", None, READ_TASKS),
    ("GET", f"tasks/{N}/", None, READ_TASKS),
    ("POST", f"tasks/{N}/claim/", {}, TASKS),
    ("POST", f"tasks/{N}/unclaim/", {}, TASKS),
    ("POST", f"tasks/{N}/complete/", {"variables": {}}, TASKS),
    ("POST", f"tasks/{N}/delegate/", {"to": "approver"}, TASKS),
    ("POST", f"tasks/{N}/resolve/", {}, TASKS),
    ("GET", f"tasks/{N}/comments/", None, READ_TASKS),
    ("POST", f"tasks/{N}/comments/", {"text": "hi"}, TASKS),
    ("POST", "messages/", {"name": "Nobody waits"}, {M, "correlate"}),
    ("POST", "signals/", {"name": "Nobody listens"}, {M, "correlate"}),
    ("GET", "external-tasks/", None, {M, U, "external_tasks", "operate", "history"}),
    ("POST", "external-tasks/fetch-and-lock/",
     {"worker_id": "w", "topics": [{"topic_name": "none", "lock_duration": 1000}]}, WORKER),
    ("POST", f"external-tasks/{N}/complete/", {"worker_id": "w"}, WORKER),
    ("POST", f"external-tasks/{N}/failure/", {"worker_id": "w", "error_message": "x"},
     WORKER),
    ("POST", f"external-tasks/{N}/bpmn-error/", {"worker_id": "w", "error_code": "E"},
     WORKER),
    ("POST", f"external-tasks/{N}/extend-lock/", {"worker_id": "w", "new_duration": 1000},
     WORKER),
    ("POST", f"external-tasks/{N}/unlock/", {}, {M, "external_tasks", "operate"}),
    ("GET", "jobs/", None, READ_OPS),
    ("POST", f"jobs/{N}/retry/", {}, OPERATE),
    ("GET", "incidents/", None, READ_OPS),
    ("POST", f"incidents/{N}/retry/", {}, OPERATE),
    ("GET", "history/events/", None, HISTORY),
    ("GET", "history/events/export.csv", None, HISTORY),
    ("GET", "history/events/export.ndjson", None, HISTORY),
    ("GET", f"history/process-instances/{N}/timeline/", None, HISTORY),
]


def _client(principal: str, people) -> APIClient:
    client = APIClient()
    if principal in PEOPLE:
        client.force_login(people[principal])
    elif principal.startswith("token:"):
        _, token = api_token_create(user=people["system"], scopes=[principal[6:]])
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _call(client: APIClient, method: str, path: str, body: object):
    url = f"/api/v1/{path}"
    if method == "GET":
        return client.get(url)
    if body == "multipart":
        return client.post(url, {}, format="multipart")
    return client.post(url, body, format="json")


def _who(principal: str) -> str:
    return principal[6:] if principal.startswith("token:") else principal


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_and_scope_matrix(people, method, path, body, allowed):
    outcome: dict[str, str] = {}
    for principal in PRINCIPALS:
        response = _call(_client(principal, people), method, path, body)
        problem = response["Content-Type"] == "application/problem+json"
        code = response.json()["code"] if problem else None
        if response.status_code == 401:
            outcome[principal] = "401"
        elif response.status_code == 403 and code == "auth.forbidden":
            outcome[principal] = "403"
        else:
            assert response.status_code < 500, (principal, response.content[:300])
            outcome[principal] = "allowed"
    expected = {p: "allowed" if _who(p) in allowed else ("401" if p == "anonymous" else "403")
                for p in PRINCIPALS}
    assert outcome == expected


def _routes() -> set[tuple[str, str]]:
    from tasks_portal.api import urls

    found = set()
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name == "not-found":
            continue
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in view.access:
            found.add((method, str(pattern.pattern)))
    return found


def test_every_endpoint_and_method_has_a_matrix_row():
    resolver = get_resolver()
    covered = set()
    for method, path, _, _ in MATRIX:
        match = resolver.resolve(f"/api/v1/{path}")
        covered.add((method, match.route.removeprefix("api/v1/")))
    assert covered == _routes()
