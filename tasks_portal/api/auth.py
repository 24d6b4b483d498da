"""`Authorization: Token <token>`: DRF authentication with our hashed, scoped tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tasks_portal.api.models import ApiToken
from tasks_portal.api.tokens import api_token_lookup

KEYWORD = "Token"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Sets request.user to the token's user and request.auth to its ApiToken row."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None  # not ours: session authentication may still apply
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "the Authorization header must be 'Token <token>', one token, no spaces")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("the token must be ASCII") from None
        row = api_token_lookup(token)
        if row is None or not row.user.is_active:
            raise exceptions.AuthenticationFailed("unknown, revoked or expired API token")
        return row.user, row

    def authenticate_header(self, request: Request) -> str:
        # Named in WWW-Authenticate, which makes DRF answer 401 (not 403) without a token.
        return KEYWORD


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token scheme in the OpenAPI schema, so Swagger UI can send it."""

    target_class = "tasks_portal.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`, from `manage.py create_api_token USER --scopes ...`",
        }


def api_token_of(request: Request) -> ApiToken | None:
    """The token a request came with, or None for a browser session."""
    return request.auth if isinstance(request.auth, ApiToken) else None
