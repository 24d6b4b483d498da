"""Messages (correlated to one instance or start event) and signals (broadcast)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from engine.services.messages import message_correlate, signal_throw
from tasks_portal.api import scopes
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import (
    MessageResultSerializer,
    MessageSerializer,
    SignalResultSerializer,
    SignalSerializer,
)
from tasks_portal.api.views.common import ApiView, parse_body
from tasks_portal.roles import PROCESS_ADMIN

CORRELATE = rule(roles=(PROCESS_ADMIN,), scopes=(scopes.CORRELATE,))


class MessageView(ApiView):
    access = {"POST": CORRELATE}
    serializer_class = MessageResultSerializer

    @extend_schema(
        summary="Correlate a message to exactly one waiting instance or message start event",
        description="Narrowed by business key and by correlation keys (or process "
                    "variables). None matching: 404 message.not-correlated; several: 409 "
                    "message.ambiguous.",
        request=MessageSerializer, responses={200: MessageResultSerializer},
    )
    def post(self, request: Request) -> Response:
        body = parse_body(MessageSerializer, request)
        instance, started = message_correlate(
            name=body["name"], business_key=body.get("business_key"),
            correlation=body.get("correlation") or None, variables=body.get("variables"),
            actor=request.user)
        return Response({"process_instance": instance.pk, "started": started})


class SignalView(ApiView):
    access = {"POST": CORRELATE}
    serializer_class = SignalResultSerializer

    @extend_schema(summary="Broadcast a signal to every waiting catcher and signal start event",
                   request=SignalSerializer, responses={200: SignalResultSerializer})
    def post(self, request: Request) -> Response:
        body = parse_body(SignalSerializer, request)
        delivered = signal_throw(name=body["name"], variables=body.get("variables"),
                                 actor=request.user)
        return Response({"delivered": delivered})
