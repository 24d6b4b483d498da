"""History: query audit events, one instance's timeline, streamed CSV and NDJSON exports."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from engine.errors import InstanceNotFound
from engine.history import audit_event_search, audit_rows_csv, audit_rows_ndjson, instance_timeline
from engine.models import AuditEvent, ProcessInstance
from tasks_portal.api import scopes
from tasks_portal.api.pagination import ApiPagination
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import (
    AuditEventSerializer,
    HistoryFilterSerializer,
    TimelineEntrySerializer,
)
from tasks_portal.api.views.common import ApiView, StreamingResponse, parse_query
from tasks_portal.roles import AUDITOR, PROCESS_ADMIN

READ_HISTORY = rule(roles=(AUDITOR, PROCESS_ADMIN), scopes=(scopes.HISTORY,))


def _events(request: Request) -> Any:
    return audit_event_search(**parse_query(HistoryFilterSerializer, request))


class AuditEventList(ApiView):
    access = {"GET": READ_HISTORY}
    serializer_class = AuditEventSerializer
    pagination_class = ApiPagination

    @extend_schema(summary="Audit events, oldest first, filtered",
                   operation_id="history_events_list",
                   responses=AuditEventSerializer(many=True),
                   parameters=[HistoryFilterSerializer])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_events(request))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)


class _Export(ApiView):
    access = {"GET": READ_HISTORY}
    media_type = ""
    suffix = ""

    def export(self, request: Request) -> StreamingHttpResponse:
        events: Any = _events(request)
        rows = audit_rows_csv(events) if self.suffix == "csv" else audit_rows_ndjson(events)
        response = StreamingResponse(rows, content_type=self.media_type)
        response["Content-Disposition"] = f'attachment; filename="audit.{self.suffix}"'
        return response


class AuditExportCsv(_Export):
    media_type = "text/csv; charset=utf-8"
    suffix = "csv"

    @extend_schema(summary="The filtered audit events as CSV, streamed (header first)",
                   parameters=[HistoryFilterSerializer],
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request: Request) -> StreamingHttpResponse:
        return self.export(request)


class AuditExportNdjson(_Export):
    media_type = "application/x-ndjson"
    suffix = "ndjson"

    @extend_schema(summary="The filtered audit events as NDJSON (one object a line), streamed",
                   parameters=[HistoryFilterSerializer],
                   responses={(200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request: Request) -> StreamingHttpResponse:
        return self.export(request)


class InstanceTimeline(ApiView):
    access = {"GET": READ_HISTORY}
    serializer_class = TimelineEntrySerializer

    @extend_schema(summary="What happened to one instance, in order, with variable changes",
                   responses={200: TimelineEntrySerializer(many=True)})
    def get(self, request: Request, instance_id: int) -> Response:
        known = (ProcessInstance.objects.filter(pk=instance_id).exists()
                 or AuditEvent.objects.filter(instance_id=instance_id).exists())
        if not known:
            raise InstanceNotFound(instance_id)
        entries = instance_timeline(instance_id=instance_id)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)
