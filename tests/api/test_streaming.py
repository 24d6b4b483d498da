"""Exports stream under ASGI too: rows are pulled in batches, never read whole first."""

from __future__ import annotations

import asyncio

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
