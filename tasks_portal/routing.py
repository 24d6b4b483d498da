"""WebSocket routes of the portal (config/asgi.py mounts them)."""

from __future__ import annotations

from django.urls import path

from tasks_portal.consumers import InboxConsumer

websocket_urlpatterns = [
    path("ws/tasks/", InboxConsumer.as_asgi(), name="ws-tasks"),
]
