"""What every API view shares: permissions, throttling, parsing, streaming."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from tasks_portal.api.auth import api_token_of
from tasks_portal.api.exceptions import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE
from tasks_portal.api.permissions import RoleOrScope, Rule
from tasks_portal.api.throttling import ApiTokenRateThrottle
from tasks_portal.roles import AUDITOR, PROCESS_ADMIN, has_role

# Lines handed from the database thread to the event loop per hop when streaming.
_STREAM_BATCH = 1000


class ApiView(GenericAPIView):
    """Base of every API view: `access` says who may call which method."""

    permission_classes = [RoleOrScope]
    throttle_classes = [ApiTokenRateThrottle]
    access: ClassVar[dict[str, Rule]] = {}


def parse_body(serializer_class: type[serializers.Serializer], request: Request,
               **context: Any) -> dict[str, Any]:
    """The validated request body; ValidationError (400 request.invalid) names each field."""
    serializer = serializer_class(data=request.data, context={"request": request, **context})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def parse_query(serializer_class: type[serializers.Serializer],
                request: Request) -> dict[str, Any]:
    """Validated query parameters; list fields take repeated parameters (?kind=a&kind=b)."""
    fields = serializer_class().fields
    data: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in request.query_params:
            continue
        if isinstance(field, serializers.ListField):
            data[name] = request.query_params.getlist(name)
        else:
            data[name] = request.query_params[name]
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None}


def sees_everything(request: Request) -> bool:
    """Process admins, auditors and tokens that may read history see every instance."""
    token = api_token_of(request)
    if token is not None:
        return bool({"history", "operate"}.intersection(token.scopes))
    return has_role(request.user, PROCESS_ADMIN) or has_role(request.user, AUDITOR)


class StreamingResponse(StreamingHttpResponse):
    """Streams a synchronous iterator (database rows) under WSGI and ASGI alike.

    Django serves a synchronous iterator under ASGI by reading it whole into a list
    first, which for a million-row export means a million rows in memory. Here the event
    loop pulls batches from the iterator in the request's database thread instead.
    """

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks: Iterator[bytes] = iter(self.streaming_content)  # type: ignore[arg-type]

        def take() -> list[bytes]:
            return list(itertools.islice(chunks, _STREAM_BATCH))

        while True:
            batch = await sync_to_async(take, thread_sensitive=True)()
            if not batch:
                break
            yield b"".join(batch)


@csrf_exempt  # nothing to protect, and a POST to a wrong URL should still say 404
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other URL under /api/v1/: a problem, not Django's HTML page."""
    body = {"type": PROBLEM_TYPE + "not-found", "title": "Not Found", "status": 404,
            "detail": f"no API endpoint {request.path}; the endpoints are listed at "
                      "/api/schema/", "code": "not-found", "instance": request.path}
    return HttpResponse(json.dumps(body), status=404, content_type=PROBLEM_CONTENT_TYPE)
