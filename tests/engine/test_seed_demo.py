"""`manage.py seed_demo`: demo groups, users, token and process, idempotently."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from engine.models import Deployment, ProcessDefinition, ProcessInstance
from engine.selectors import user_task_inbox
from tasks_portal.api.models import ApiToken
from tasks_portal.api.tokens import hash_token

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "groups": Group.objects.count(),
        "tokens": ApiToken.objects.count(),
        "deployments": Deployment.objects.count(),
        "definitions": ProcessDefinition.objects.count(),
        "instances": ProcessInstance.objects.count(),
    }


def _printed_token(output: str) -> str:
    match = re.search(r"API token of user 'system': (\S+)", output)
    assert match, output
    return match.group(1)


def test_seed_demo_twice_gives_the_same_rows_and_the_same_token():
    first_output = _seed()
    first = _counts()

    second_output = _seed()

    assert _counts() == first
    assert _printed_token(second_output) == _printed_token(first_output)
    # Only the hash is stored; the printed token is the one that hashes to the stored row.
    stored = ApiToken.objects.get(user__username="system")
    assert stored.token_hash == hash_token(_printed_token(first_output))


def test_the_printed_demo_token_authenticates_against_the_api(client):
    token = _printed_token(_seed())

    answer = client.get("/api/v1/process-definitions/", HTTP_AUTHORIZATION=f"Token {token}")
    refused = client.get("/api/v1/process-definitions/", HTTP_AUTHORIZATION="Token not-a-token")

    assert answer.status_code == 200
    assert refused.status_code == 401


def test_seed_demo_creates_role_and_business_groups_and_demo_users():
    _seed()

    user_model = get_user_model()
    groups = lambda name: set(  # noqa: E731
        user_model.objects.get(username=name).groups.values_list("name", flat=True)
    )
    assert {"approver", "process_admin", "auditor", "finance", "managers"} <= set(
        Group.objects.values_list("name", flat=True)
    )
    assert groups("approver") == {"approver", "finance", "managers"}
    assert groups("admin") == {"process_admin"}
    assert groups("auditor") == {"auditor"}
    assert user_model.objects.get(username="admin").is_staff
    assert not user_model.objects.get(username="system").has_usable_password()


def test_seed_demo_deploys_the_approval_process_once():
    _seed()
    _seed()

    definition = ProcessDefinition.objects.get()
    assert (definition.key, definition.version, definition.name) == (
        "approval",
        1,
        "Approval request",
    )
    assert definition.deployed_by is not None and definition.deployed_by.username == "admin"


def test_seed_demo_prints_demo_logins_but_no_other_secret():
    output = _seed()

    for username, password in (
        ("approver", "demo-approver"),
        ("admin", "demo-admin"),
        ("auditor", "demo-auditor"),
    ):
        assert re.search(rf"{username}\s+{password}", output), output
    assert "http://127.0.0.1:8000/" in output
    assert settings.SECRET_KEY not in output


def test_seed_demo_leaves_open_requests_in_the_managers_inbox():
    _seed()
    _seed()

    approver = get_user_model().objects.get(username="approver")
    offered = user_task_inbox(user=approver, view="group")
    assert sorted(t.instance.business_key for t in offered) == ["REQ-1001", "REQ-1002", "REQ-1003"]
    assert {t.element_id for t in offered} == {"Task_Review"}
