"""Throttling of token clients: each API token has its own budget of requests.

Browser sessions are people clicking and are not throttled. The rate comes from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_token"] (environment API_TOKEN_RATE).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tasks_portal.api.auth import api_token_of


class ApiTokenRateThrottle(SimpleRateThrottle):
    scope = "api_token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = api_token_of(request)
        if token is None:
            return None  # not a token client: no throttle
        return self.cache_format % {"scope": self.scope, "ident": token.pk}
