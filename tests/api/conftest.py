"""Fixtures for API tests: fixture files, people in each role, tokens with each scope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from engine.services.deployments import deployment_create
from tasks_portal.api.scopes import SCOPES
from tasks_portal.api.tokens import api_token_create

FIXTURES = Path(__file__).parent / "fixtures"
PROBLEM = "application/problem+json"


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read


def _user(django_user_model: Any, username: str, *groups: str) -> Any:
    user = django_user_model.objects.create_user(username=username, password="pw")
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def people(db, django_user_model) -> dict[str, Any]:
    """approver (managers, finance), approver2 (managers), admin, auditor, nobody, system."""
    system = django_user_model.objects.create(username="system")
    system.set_unusable_password()
    system.save()
    return {
        "approver": _user(django_user_model, "approver", "approver", "managers", "finance"),
        "approver2": _user(django_user_model, "approver2", "approver", "managers"),
        "admin": _user(django_user_model, "admin", "process_admin"),
        "auditor": _user(django_user_model, "auditor", "auditor"),
        "nobody": _user(django_user_model, "nobody"),
        "system": system,
    }


@pytest.fixture
def as_user(people) -> Callable[[str], APIClient]:
    """A client signed in (session) as one of `people`."""
    def make(name: str) -> APIClient:
        client = APIClient()
        client.force_login(people[name])
        return client

    return make


@pytest.fixture
def as_token(people) -> Callable[..., APIClient]:
    """A client sending `Authorization: Token ...` for a new token with `scopes`."""
    def make(*scopes: str, user: str = "system") -> APIClient:
        _, token = api_token_create(user=people[user], scopes=scopes or tuple(SCOPES))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture
def deployed(people, fixture_bytes) -> Callable[..., Any]:
    """Deploy fixture files by name (as admin); returns the deployment."""
    def deploy(*names: str) -> Any:
        return deployment_create(files=[(n, fixture_bytes(n)) for n in names],
                                 actor=people["admin"])

    return deploy


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` and `code`; returns its body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status and body["type"] == f"urn:flowdesk:problem:{code}"
    assert body["title"] and body["detail"]
    return body
