"""People with a portal role, and test clients signed in as them (admin and audit pages)."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.test import Client

from tasks_portal.roles import APPROVER, AUDITOR, PROCESS_ADMIN


def role_user(name: str, role: str | None) -> User:
    """A user `name` (password pw-<name>-123) in the group `role`, or in none."""
    user = User.objects.create_user(name, password=f"pw-{name}-123")
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def role_users() -> dict[str, User]:
    """One user per portal role, by role."""
    return {"admin": role_user("ada", PROCESS_ADMIN), "auditor": role_user("otto", AUDITOR),
            "approver": role_user("pia", APPROVER)}


def client_as(users: dict[str, User], role: str) -> Client:
    """A client signed in as the user of `role` ("anonymous": signed in as nobody)."""
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    return client
