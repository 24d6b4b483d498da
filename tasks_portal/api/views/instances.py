"""Process instances: list and filter, get, cancel, suspend, resume, set variables."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from engine.errors import InstanceNotFound
from engine.models import ProcessInstance
from engine.selectors import (
    incident_list,
    instance_active_elements,
    instance_user_tasks,
    process_instance_search,
    process_instance_variables,
)
from engine.services.instances import (
    process_instance_cancel,
    process_instance_resume,
    process_instance_set_variables,
    process_instance_suspend,
)
from engine.status import USER_TASK_ACTIVE
from tasks_portal.api import scopes
from tasks_portal.api.exceptions import ApiProblem
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import (
    CancelSerializer,
    InstanceDetailSerializer,
    InstanceFilterSerializer,
    InstanceSerializer,
    SetVariablesSerializer,
)
from tasks_portal.api.views.common import ApiView, parse_body, parse_query, sees_everything
from tasks_portal.roles import APPROVER, AUDITOR, PROCESS_ADMIN

READ_INSTANCES = rule(roles=(APPROVER, PROCESS_ADMIN, AUDITOR),
                      scopes=(scopes.START, scopes.HISTORY, scopes.OPERATE))
OPERATE_INSTANCES = rule(roles=(PROCESS_ADMIN,), scopes=(scopes.OPERATE,))


def instance_detail(instance_id: int) -> ProcessInstance:
    """An instance with what its detail view shows, as attributes the serializer reads."""
    instance = (ProcessInstance.objects.select_related("definition", "started_by")
                .defer("definition__bpmn_bytes").filter(pk=instance_id).first())
    if instance is None:
        raise InstanceNotFound(instance_id)
    extra: Any = instance
    extra.variables = process_instance_variables(instance=instance)
    extra.open_tasks = list(instance_user_tasks(instance_id=instance.pk)
                            .filter(status__in=list(USER_TASK_ACTIVE)))
    counts = Counter(instance_active_elements(instance=instance))
    extra.active_elements = [{"element_id": element, "tokens": n}
                             for element, n in sorted(counts.items())]
    extra.open_incidents = list(incident_list(instance_id=instance.pk))
    return instance


def visible_instance(request: Request, instance_id: int) -> ProcessInstance:
    """The instance if the caller may see it; approvers and `start` tokens see only the
    instances they started. Someone else's instance is 404, not 403: no probing of ids."""
    instance = instance_detail(instance_id)
    if not sees_everything(request) and instance.started_by_id != request.user.pk:
        raise InstanceNotFound(instance_id)
    return instance


def _variable_filters(raw: list[str]) -> dict[str, object]:
    filters: dict[str, object] = {}
    for item in raw:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ApiProblem(code="request.invalid", http_status=400,
                             detail=f"variable: {item!r} is not name=value",
                             extra={"errors": {"variable": ["name=value"]}})
        try:
            value: object = json.loads(text)
        except ValueError:
            value = text
        filters[name] = value
    return filters


class InstanceList(ApiView):
    access = {"GET": READ_INSTANCES}
    serializer_class = InstanceSerializer

    @extend_schema(summary="List and filter process instances, newest first",
                   operation_id="process_instances_list",
                   responses=InstanceSerializer(many=True),
                   parameters=[InstanceFilterSerializer])
    def get(self, request: Request) -> Response:
        query = parse_query(InstanceFilterSerializer, request)
        variables = _variable_filters(query.pop("variable", []))
        instances = process_instance_search(
            **query, variables=variables,
            only_started_by_id=None if sees_everything(request) else request.user.pk)
        page = self.paginate_queryset(instances)
        return self.get_paginated_response(InstanceSerializer(page, many=True).data)


class InstanceDetail(ApiView):
    access = {"GET": READ_INSTANCES}
    serializer_class = InstanceDetailSerializer

    @extend_schema(summary="One instance: status, variables, open tasks, active elements, "
                           "incidents")
    def get(self, request: Request, instance_id: int) -> Response:
        return Response(InstanceDetailSerializer(visible_instance(request, instance_id)).data)


class InstanceCancel(ApiView):
    access = {"POST": OPERATE_INSTANCES}
    serializer_class = InstanceDetailSerializer

    @extend_schema(summary="Cancel a running or suspended instance", request=CancelSerializer)
    def post(self, request: Request, instance_id: int) -> Response:
        body = parse_body(CancelSerializer, request)
        process_instance_cancel(instance_id=instance_id, actor=request.user,
                                reason=body.get("reason", ""))
        return Response(InstanceDetailSerializer(instance_detail(instance_id)).data)


class InstanceSuspend(ApiView):
    access = {"POST": OPERATE_INSTANCES}
    serializer_class = InstanceDetailSerializer

    @extend_schema(summary="Suspend a running instance (it refuses triggers until resumed)",
                   request=None)
    def post(self, request: Request, instance_id: int) -> Response:
        process_instance_suspend(instance_id=instance_id, actor=request.user)
        return Response(InstanceDetailSerializer(instance_detail(instance_id)).data)


class InstanceResume(ApiView):
    access = {"POST": OPERATE_INSTANCES}
    serializer_class = InstanceDetailSerializer

    @extend_schema(summary="Resume a suspended instance", request=None)
    def post(self, request: Request, instance_id: int) -> Response:
        process_instance_resume(instance_id=instance_id, actor=request.user)
        return Response(InstanceDetailSerializer(instance_detail(instance_id)).data)


class InstanceVariables(ApiView):
    access = {"GET": READ_INSTANCES, "POST": OPERATE_INSTANCES}
    serializer_class = SetVariablesSerializer

    @extend_schema(summary="The process variables of an instance",
                   responses=SetVariablesSerializer)
    def get(self, request: Request, instance_id: int) -> Response:
        instance = visible_instance(request, instance_id)
        return Response({"variables": instance.variables})  # type: ignore[attr-defined]

    @extend_schema(summary="Set (merge) process variables; each change is audited",
                   request=SetVariablesSerializer, responses=SetVariablesSerializer)
    def post(self, request: Request, instance_id: int) -> Response:
        body = parse_body(SetVariablesSerializer, request)
        process_instance_set_variables(instance_id=instance_id, variables=body["variables"],
                                       actor=request.user)
        return Response({"variables": instance_detail(instance_id).variables})  # type: ignore[attr-defined]
