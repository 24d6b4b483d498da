"""What every API view shares: permissions, throttling, parsing, streaming."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from tasks_portal.api.auth import api_token_of
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
