"""OpenAPI generation: every operation documents its problem+json error responses."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from tasks_portal.api.exceptions import PROBLEM_CONTENT_TYPE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; `code` is stable, other members depend on it."""

    type = serializers.CharField(help_text="urn:flowdesk:problem:<code>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable error code, e.g. task.already-claimed")
    instance = serializers.CharField(required=False, help_text="The request path.")
    errors = serializers.DictField(
        required=False, child=serializers.JSONField(),
        help_text="Validation errors by field (request.invalid).",
    )


_ALWAYS = {
    "400": "Bad input (malformed JSON, wrong types, unknown query values).",
    "401": "No credentials or an unknown, revoked or expired token.",
    "403": "The role or token scope does not allow this, or not for this object.",
    "404": "No such object, or not visible to you.",
    "406": "The Accept header asks for a format the endpoint cannot give.",
    "429": "Too many requests from this API token; see Retry-After.",
}
_WRITES = {
    "409": "The object is not in a state that allows this (see `code`).",
    "415": "Unsupported request body content type.",
}


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        wanted = dict(_ALWAYS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            wanted.update(_WRITES)
        for status, description in wanted.items():
            responses.setdefault(status, {
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
                "description": description,
            })
        return responses
