"""Channels consumers: the live inbox WebSocket (tasks_portal/live.py says what is pushed)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tasks_portal.live import user_group

# Close code for a handshake without a signed-in user (4000-4999 are application codes).
CLOSE_UNAUTHENTICATED = 4401


class InboxConsumer(AsyncJsonWebsocketConsumer):
    """One open inbox or task page of a signed-in user; receives that user's task events.

    The server only pushes; messages from the browser are ignored, so a client cannot
    subscribe to anyone else's events.
    """

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Closing before accept() refuses the handshake (HTTP 403).
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None

    async def task_event(self, event: dict[str, Any]) -> None:
        await self.send_json({key: value for key, value in event.items() if key != "type"})
