"""Jobs and incidents: list them, retry them (the dead-letter queue of the engine)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from engine.errors import IncidentNotFound, JobNotFound
from engine.selectors import incident_list, job_list
from engine.services.incidents import incident_retry, job_retry
from tasks_portal.api import scopes
from tasks_portal.api.exceptions import ApiProblem
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import IncidentSerializer, JobSerializer, RetrySerializer
from tasks_portal.api.views.common import ApiView, parse_body
from tasks_portal.roles import AUDITOR, PROCESS_ADMIN

READ = rule(roles=(PROCESS_ADMIN, AUDITOR), scopes=(scopes.OPERATE, scopes.HISTORY))
RETRY = rule(roles=(PROCESS_ADMIN,), scopes=(scopes.OPERATE,))


_MAX_ID = 2**63 - 1


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    # Ids are 64-bit (BigAutoField): a longer number cannot name a row, and SQLite
    # would fail on it with an OverflowError (a 500) instead of finding nothing.
    if not raw.isdigit() or int(raw) > _MAX_ID:
        raise ApiProblem(code="request.invalid", http_status=400,
                         detail=f"{name}: {raw!r} is not a positive whole number "
                                f"up to {_MAX_ID}",
                         extra={"errors": {name: [f"a positive whole number up to {_MAX_ID}"]}})
    return int(raw)


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise ApiProblem(code="request.invalid", http_status=400,
                         detail=f"{name}: use true or false",
                         extra={"errors": {name: ["true or false"]}})
    return raw.lower() in ("true", "1")


class JobList(ApiView):
    access = {"GET": READ}
    serializer_class = JobSerializer

    @extend_schema(summary="Jobs: timers, service and external tasks, custom jobs",
                   operation_id="jobs_list", responses=JobSerializer(many=True),
                   parameters=[
                       OpenApiParameter("instance_id", OpenApiTypes.INT),
                       OpenApiParameter("kind", OpenApiTypes.STR),
                       OpenApiParameter("with_incident", OpenApiTypes.BOOL),
                   ])
    def get(self, request: Request) -> Response:
        jobs = job_list(instance_id=_int_param(request, "instance_id"),
                        kind=request.query_params.get("kind") or None,
                        with_incident=_bool_param(request, "with_incident"))
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(JobSerializer(page, many=True).data)


class JobRetry(ApiView):
    access = {"POST": RETRY}
    serializer_class = JobSerializer

    @extend_schema(summary="Give a failed job new retries; it runs again now",
                   request=RetrySerializer)
    def post(self, request: Request, job_id: int) -> Response:
        body = parse_body(RetrySerializer, request)
        job = job_retry(job_id=job_id, actor=request.user, retries=body["retries"])
        found = job_list().filter(pk=job.pk).first()
        if found is None:  # it ran at once and is gone
            raise JobNotFound(job_id)
        return Response(JobSerializer(found).data)


class IncidentList(ApiView):
    access = {"GET": READ}
    serializer_class = IncidentSerializer

    @extend_schema(summary="Incidents, newest first (open ones unless resolved=true or all)",
                   operation_id="incidents_list", responses=IncidentSerializer(many=True),
                   parameters=[
                       OpenApiParameter("instance_id", OpenApiTypes.INT),
                       OpenApiParameter("resolved", OpenApiTypes.STR,
                                        enum=["false", "true", "all"]),
                   ])
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("resolved", "false")
        if raw not in ("false", "true", "all"):
            raise ApiProblem(code="request.invalid", http_status=400,
                             detail="resolved: use false, true or all",
                             extra={"errors": {"resolved": ["false, true or all"]}})
        incidents = incident_list(instance_id=_int_param(request, "instance_id"),
                                  resolved=None if raw == "all" else raw == "true")
        page = self.paginate_queryset(incidents)
        return self.get_paginated_response(IncidentSerializer(page, many=True).data)


class IncidentRetry(ApiView):
    access = {"POST": RETRY}
    serializer_class = IncidentSerializer

    @extend_schema(summary="Retry the job of an open incident; the incident is resolved",
                   request=RetrySerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        body = parse_body(RetrySerializer, request)
        incident_retry(incident_id=incident_id, actor=request.user, retries=body["retries"])
        found = incident_list(resolved=None).filter(pk=incident_id).first()
        if found is None:
            raise IncidentNotFound(incident_id)
        return Response(IncidentSerializer(found).data)
