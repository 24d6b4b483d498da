"""The one place errors become HTTP: RFC 9457 problem details with a stable `code`.

Every error the API returns has `Content-Type: application/problem+json` and a body like
{"type": "urn:flowdesk:problem:task.already-claimed", "title": ..., "status": 409,
 "detail": ..., "instance": "/api/v1/tasks/7/claim/", "code": "task.already-claimed", ...}
Engine errors (engine/errors.py) bring their own `code`, HTTP status and extra members
(`as_dict()`); DRF's own exceptions get codes of the `request.` and `auth.` families.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.views import set_rollback

from engine.errors import EngineError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE = "urn:flowdesk:problem:"


class ApiProblem(exceptions.APIException):
    """An API-level refusal with its own code (e.g. an idempotency key reused)."""

    def __init__(self, *, code: str, detail: str, http_status: int,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail=detail)
        self.status_code = http_status
        self.problem_code = code
        self.extra = extra or {}


def _title(http_status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(http_status).phrase
    except ValueError:
        return "Error"


def problem_response(*, code: str, http_status: int, detail: str, path: str | None,
                     extra: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None) -> HttpResponse:
    """A problem+json response. A plain HttpResponse on purpose: a DRF Response would be
    rendered by whatever renderer the client negotiated (the browsable API's HTML for a
    browser), under a problem+json content type."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": _title(http_status),
        "status": http_status,
        "detail": detail,
        "code": code,
    }
    if path is not None:
        body["instance"] = path
    for name, value in (extra or {}).items():
        body.setdefault(name, value)
    response = HttpResponse(json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False),
                            status=http_status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _validation_errors(detail: Any) -> dict[str, Any]:
    """DRF's nested error detail as {"field": ["message", ...]} (non-field under "_")."""
    if isinstance(detail, dict):
        return {("_" if key == "non_field_errors" else key): _validation_errors(value)
                if isinstance(value, dict) else [str(item) for item in _as_list(value)]
                for key, value in detail.items()}
    return {"_": [str(item) for item in _as_list(detail)]}


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(_as_list(item) if isinstance(item, list) else [item])
        return out
    return [value]


def _first_message(errors: dict[str, Any], prefix: str = "") -> str:
    for key, value in errors.items():
        where = key if not prefix else f"{prefix}.{key}"
        if isinstance(value, dict):
            return _first_message(value, where)
        if value:
            return f"{where}: {value[0]}" if key != "_" else str(value[0])
    return "the request is not valid"


_DRF_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ParseError, "request.malformed"),
    (exceptions.NotAuthenticated, "auth.required"),
    (exceptions.AuthenticationFailed, "auth.invalid-token"),
    (exceptions.PermissionDenied, "auth.forbidden"),
    (exceptions.NotFound, "not-found"),
    (exceptions.MethodNotAllowed, "request.method-not-allowed"),
    (exceptions.NotAcceptable, "request.not-acceptable"),
    (exceptions.UnsupportedMediaType, "request.unsupported-media-type"),
    (exceptions.Throttled, "request.throttled"),
)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every exception of every API view ends here."""
    request = context.get("request")
    path = request.path if request is not None else None
    # Whatever the view did before failing is rolled back (ATOMIC_REQUESTS or not).
    set_rollback()
    if isinstance(exc, EngineError):
        extra = {k: v for k, v in exc.as_dict().items() if k not in ("code", "message")}
        return problem_response(code=exc.code, http_status=exc.http_status, detail=exc.message,
                                path=path, extra=extra)
    if isinstance(exc, ApiProblem):
        return problem_response(code=exc.problem_code, http_status=exc.status_code,
                                detail=str(exc.detail), path=path, extra=exc.extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        errors = _validation_errors(exc.detail)
        return problem_response(code="request.invalid", http_status=400,
                                detail=_first_message(errors), path=path,
                                extra={"errors": errors})
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(int(wait) + 1)
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "request.error")
        return problem_response(code=code, http_status=exc.status_code, detail=str(exc.detail),
                                path=path, headers=headers or None)
    logger.exception("unexpected error in API view %s", path)
    return problem_response(code="server.error", http_status=status.HTTP_500_INTERNAL_SERVER_ERROR,
                            detail="an unexpected error occurred; it was logged", path=path)
