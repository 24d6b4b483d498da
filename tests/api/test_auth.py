"""API tokens: issued by a command, stored hashed, scoped; session auth; throttling."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from engine.models import AuditEvent, ProcessInstance
from tasks_portal.api.models import ApiToken
from tasks_portal.api.throttling import ApiTokenRateThrottle
from tasks_portal.api.tokens import hash_token
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_create_api_token_prints_a_working_token_and_stores_only_its_hash(people, deployed):
    deployed("review.bpmn")
    out, err = StringIO(), StringIO()

    call_command("create_api_token", "system", "--scopes", "start", "correlate",
                 "--name", "erp", stdout=out, stderr=err)

    token = out.getvalue().strip()
    assert re.fullmatch(r"fd_[0-9a-f]{40}", token)
    row = ApiToken.objects.get()
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert (row.scopes, row.name, row.user.username) == (["start", "correlate"], "erp", "system")
    assert "start, correlate" in err.getvalue()
    event = AuditEvent.objects.get(kind="api token created")
    assert event.data["scopes"] == ["start", "correlate"] and event.data["user"] == "system"
    assert token not in json.dumps(event.data) and row.prefix == event.data["prefix"]
    response = _client(token).post("/api/v1/process-definitions/review/start/", {},
                                   format="json")
    assert response.status_code == 201
    assert ProcessInstance.objects.get().started_by.username == "system"


def test_create_api_token_accepts_comma_lists_and_refuses_unknown_scopes_and_users(people):
    out = StringIO()
    call_command("create_api_token", "system", "--scopes", "start,history", stdout=out,
                 stderr=StringIO())
    assert ApiToken.objects.get().scopes == ["start", "history"]

    with pytest.raises(CommandError, match="unknown scope 'root'"):
        call_command("create_api_token", "system", "--scopes", "root", stdout=StringIO())
    with pytest.raises(CommandError, match="no user 'erp'"):
        call_command("create_api_token", "erp", "--scopes", "start", stdout=StringIO())
    assert ApiToken.objects.count() == 1


def test_create_api_token_can_create_an_api_only_user(db, django_user_model):
    out = StringIO()
    call_command("create_api_token", "erp", "--scopes", "start", "--create-user", stdout=out,
                 stderr=StringIO())

    user = django_user_model.objects.get(username="erp")
    assert not user.has_usable_password()
    assert ApiToken.objects.get().user == user


@pytest.mark.parametrize("header", ["Token fd_0000000000000000000000000000000000000000",
                                    "Token", "Token a b"])
def test_unknown_or_malformed_token_is_401_problem(people, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/process-definitions/")

    assert_problem(response, 401, "auth.invalid-token")
    assert response["WWW-Authenticate"] == "Token"


def test_no_credentials_is_401_problem(db):
    response = APIClient().get("/api/v1/process-instances/")

    assert_problem(response, 401, "auth.required")


def test_revoked_and_expired_tokens_stop_working(people, as_token):
    client = as_token("history")
    assert client.get("/api/v1/process-instances/").status_code == 200

    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_problem(client.get("/api/v1/process-instances/"), 401, "auth.invalid-token")

    ApiToken.objects.update(expires_at=None, revoked_at=timezone.now())
    assert_problem(client.get("/api/v1/process-instances/"), 401, "auth.invalid-token")


def test_token_of_a_deactivated_user_stops_working(people, as_token):
    client = as_token("history")
    people["system"].is_active = False
    people["system"].save()

    assert_problem(client.get("/api/v1/process-instances/"), 401, "auth.invalid-token")


def test_token_without_the_scope_is_403_naming_the_scope(people, as_token, deployed):
    deployed("review.bpmn")

    response = as_token("history").post("/api/v1/process-definitions/review/start/", {},
                                         format="json")

    body = assert_problem(response, 403, "auth.forbidden")
    assert "start" in body["detail"]
    assert not ProcessInstance.objects.exists()


def test_session_writes_need_the_csrf_token(people, deployed):
    deployed("review.bpmn")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(people["approver"])

    response = client.post("/api/v1/process-definitions/review/start/", {}, format="json")

    assert_problem(response, 403, "auth.forbidden")
    assert "CSRF" in response.json()["detail"]
    assert not ProcessInstance.objects.exists()


def test_token_clients_are_throttled_with_retry_after(people, as_token, monkeypatch):
    monkeypatch.setattr(ApiTokenRateThrottle, "rate", "3/min", raising=False)
    cache.clear()
    client = as_token("history")

    statuses = [client.get("/api/v1/process-instances/").status_code for _ in range(4)]
    other = as_token("history").get("/api/v1/process-instances/")
    session = APIClient()
    session.force_login(people["auditor"])
    people_statuses = {session.get("/api/v1/process-instances/").status_code for _ in range(5)}
    last = client.get("/api/v1/process-instances/")
    cache.clear()

    assert statuses == [200, 200, 200, 429]
    assert other.status_code == 200  # budgets are per token
    assert people_statuses == {200}  # browser sessions are not throttled
    assert_problem(last, 429, "request.throttled")
    assert int(last["Retry-After"]) >= 1


def test_seed_demo_token_is_stable_scoped_and_stored_hashed(db):
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command("seed_demo", stdout=out)
        outputs.append(out.getvalue())
    tokens = [re.search(r"API token of user 'system': (\w+)", o).group(1) for o in outputs]

    assert tokens[0] == tokens[1]
    row = ApiToken.objects.get()
    assert row.token_hash == hash_token(tokens[0]) and row.user.username == "system"
    assert {"start", "correlate", "external_tasks", "history"} <= set(row.scopes)
    response = _client(tokens[0]).post("/api/v1/process-definitions/approval/start/",
                                       {"variables": {"amount": 10}}, format="json")
    assert response.status_code == 201, response.content


def test_an_admin_revokes_a_token_in_the_django_admin_and_it_stops_working(
        people, as_token, django_user_model):
    client = as_token("history")
    row = ApiToken.objects.get()
    root = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    admin_client = APIClient()
    admin_client.force_login(root)

    response = admin_client.post("/admin/portal_api/apitoken/", {
        "action": "revoke", "_selected_action": [row.pk]})

    assert response.status_code == 302
    assert ApiToken.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(kind="api token revoked", actor="root").exists()
    assert_problem(client.get("/api/v1/process-instances/"), 401, "auth.invalid-token")
