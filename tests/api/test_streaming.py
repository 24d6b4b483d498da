"""Exports stream under ASGI too: rows are pulled in batches, never read whole first."""

from __future__ import annotations

import asyncio

import pytest

from tasks_portal.api.views.common import StreamingResponse


def test_asgi_iteration_pulls_batches_not_the_whole_iterator():
    pulled = 0

    def rows():
        nonlocal pulled
        for index in range(5000):
            pulled += 1
            yield f"row {index}\n"

    response = StreamingResponse(rows(), content_type="text/plain")

    async def first_and_rest():
        chunks = response.__aiter__()
        first = await chunks.__anext__()
        seen_at_first = pulled
        rest = [chunk async for chunk in chunks]
        return first, seen_at_first, rest

    first, seen_at_first, rest = asyncio.run(first_and_rest())

    assert first.startswith(b"row 0\n") and seen_at_first <= 1001
    body = first + b"".join(rest)
    assert body.count(b"\n") == 5000 and body.endswith(b"row 4999\n")


def test_wsgi_iteration_is_the_plain_iterator():
    response = StreamingResponse(iter(["a\n", "b\n"]), content_type="text/plain")

    assert b"".join(response) == b"a\nb\n"


@pytest.mark.django_db(transaction=True)
def test_export_through_the_asgi_handler_sends_before_reading_every_row(people, monkeypatch):
    """End to end under ASGI: the first body chunk leaves while most rows are unread."""
    from django.core.asgi import get_asgi_application
    from django.db import transaction
    from django.utils import timezone

    from engine.audit import AuditEntry, audit_append_many
    from tasks_portal.api.tokens import api_token_create
    from tasks_portal.api.views import history

    total = 4000
    at = timezone.now()
    with transaction.atomic():
        audit_append_many("test:export", [AuditEntry(kind="note", at=at, data={"n": i})
                                          for i in range(total)])
    _, token = api_token_create(user=people["system"], scopes=["history"])
    read = 0
    real = history.audit_rows_ndjson

    def counting(events):
        nonlocal read
        for line in real(events):
            read += 1
            yield line

    monkeypatch.setattr(history, "audit_rows_ndjson", counting)
    sent: list[dict] = []
    read_at_first_body: list[int] = []

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.sleep(3600)  # the client stays connected; Django cancels this wait
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body" and message.get("body") and \
                not read_at_first_body:
            read_at_first_body.append(read)
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/api/v1/history/events/export.ndjson",
             "raw_path": b"/api/v1/history/events/export.ndjson", "query_string": b"kind=note",
             "root_path": "", "headers": [(b"host", b"127.0.0.1"),
                                          (b"authorization", f"Token {token}".encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(get_asgi_application()(scope, receive, send))

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert body.count(b"\n") == total
    assert read_at_first_body[0] < total / 2, read_at_first_body
