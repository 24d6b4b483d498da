"""Who may call which endpoint: roles for browser sessions, scopes for API tokens.

Every view declares `access`: HTTP method -> Rule(roles, scopes). A signed-in person
needs one of the roles (tasks_portal/roles.py); a token needs one of the scopes
(tasks_portal/api/scopes.py). Object rules (whose task, whose instance) come on top, in the
views, through tasks_portal.permissions and the selectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tasks_portal.api.auth import api_token_of
from tasks_portal.roles import has_role


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[str]
    scopes: frozenset[str]


def rule(*, roles: Iterable[str] = (), scopes: Iterable[str] = ()) -> Rule:
    return Rule(frozenset(roles), frozenset(scopes))


def rule_for(view: Any, method: str) -> Rule | None:
    access: dict[str, Rule] = getattr(view, "access", {})
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return access.get(method)


class RoleOrScope(BasePermission):
    """Allows a request when its role (session) or scope (token) is in the view's rule."""

    message = "you may not do this"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        found = rule_for(view, request.method or "GET")
        if found is None:
            raise MethodNotAllowed(request.method or "?")
        token = api_token_of(request)
        if token is not None:
            if found.scopes.intersection(token.scopes):
                return True
            self.message = ("this API token lacks the scope for this: it needs one of "
                            + ", ".join(sorted(found.scopes)) if found.scopes
                            else "API tokens cannot do this; sign in as a person")
            return False
        if any(has_role(user, role) for role in found.roles):
            return True
        self.message = ("this needs the role " + " or ".join(sorted(found.roles))
                        if found.roles else "only API tokens can do this")
        return False
