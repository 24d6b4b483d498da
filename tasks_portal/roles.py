"""Roles are Django groups: who is an approver, a process admin or an auditor.

Business groups (finance, managers, ...) are ordinary groups too; only these three names
carry portal-wide rights. Superusers hold every role.
"""

from __future__ import annotations

from typing import Any

APPROVER = "approver"
PROCESS_ADMIN = "process_admin"
AUDITOR = "auditor"
ROLES = (APPROVER, PROCESS_ADMIN, AUDITOR)


def has_role(user: Any, role: str) -> bool:
    """True when `user` is signed in and in the group `role` (or is a superuser)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    cache = getattr(user, "_flowdesk_roles", None)
    if cache is None:
        cache = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._flowdesk_roles = cache
    return role in cache


def is_approver(user: Any) -> bool:
    return has_role(user, APPROVER)


def is_process_admin(user: Any) -> bool:
    return has_role(user, PROCESS_ADMIN)


def is_auditor(user: Any) -> bool:
    return has_role(user, AUDITOR)
