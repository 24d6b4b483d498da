"""External tasks (service tasks worked by outside workers): fetch and lock, complete,
fail, BPMN error, extend lock, unlock; the Camunda 7 pattern, in snake_case."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from engine.selectors import job_list
from engine.services import external_tasks as service
from tasks_portal.api import scopes
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import (
    ExtendLockSerializer,
    ExternalBpmnErrorSerializer,
    ExternalCompleteSerializer,
    ExternalFailureSerializer,
    FetchAndLockSerializer,
    JobSerializer,
    LockedExternalTaskSerializer,
    OkSerializer,
)
from tasks_portal.api.views.common import ApiView, parse_body
from tasks_portal.roles import AUDITOR, PROCESS_ADMIN

WORK = rule(scopes=(scopes.EXTERNAL_TASKS,))
_DONE = {"status": "ok"}


class ExternalTaskList(ApiView):
    access = {"GET": rule(roles=(PROCESS_ADMIN, AUDITOR),
                          scopes=(scopes.EXTERNAL_TASKS, scopes.OPERATE, scopes.HISTORY))}
    serializer_class = JobSerializer

    @extend_schema(summary="External tasks waiting or locked, soonest due first",
                   operation_id="external_tasks_list", responses=JobSerializer(many=True),
                   parameters=[OpenApiParameter("topic", OpenApiTypes.STR)])
    def get(self, request: Request) -> Response:
        tasks = job_list(external=True, topic=request.query_params.get("topic") or None)
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(JobSerializer(page, many=True).data)


class FetchAndLock(ApiView):
    access = {"POST": WORK}
    serializer_class = LockedExternalTaskSerializer
    pagination_class = None  # a plain list, at most max_tasks long

    @extend_schema(
        summary="Lock up to max_tasks external tasks of the topics for this worker",
        description="With async_response_timeout (ms) it is a long poll: the answer comes "
                    "as soon as a task is there, or empty after the timeout.",
        request=FetchAndLockSerializer, responses={200: LockedExternalTaskSerializer(many=True)},
    )
    def post(self, request: Request) -> Response:
        body = parse_body(FetchAndLockSerializer, request)
        topics = [service.TopicRequest(topic_name=t["topic_name"],
                                       lock_duration_ms=t["lock_duration"],
                                       variables=t.get("variables"))
                  for t in body["topics"]]
        locked = service.external_task_fetch_and_lock(
            worker_id=body["worker_id"], topics=topics, max_tasks=body["max_tasks"],
            async_response_timeout_ms=body["async_response_timeout"])
        return Response(LockedExternalTaskSerializer([asdict(t) for t in locked],
                                                     many=True).data)


class ExternalTaskComplete(ApiView):
    access = {"POST": WORK}

    @extend_schema(summary="The worker did the task; its variables go to the process",
                   request=ExternalCompleteSerializer, responses={200: OkSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(ExternalCompleteSerializer, request)
        service.external_task_complete(task_id=task_id, worker_id=body["worker_id"],
                                       variables=body.get("variables"))
        return Response(_DONE)


class ExternalTaskFailure(ApiView):
    access = {"POST": WORK}

    @extend_schema(summary="The attempt failed: retries left and when to try again; "
                           "0 retries raises an incident",
                   request=ExternalFailureSerializer, responses={200: OkSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(ExternalFailureSerializer, request)
        service.external_task_failure(
            task_id=task_id, worker_id=body["worker_id"], error_message=body["error_message"],
            error_details=body.get("error_details", ""), retries=body.get("retries"),
            retry_timeout_ms=body.get("retry_timeout", 0))
        return Response(_DONE)


class ExternalTaskBpmnError(ApiView):
    access = {"POST": WORK}

    @extend_schema(summary="A business error: the error boundary event with error_code "
                           "takes the token", request=ExternalBpmnErrorSerializer,
                   responses={200: OkSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(ExternalBpmnErrorSerializer, request)
        service.external_task_bpmn_error(
            task_id=task_id, worker_id=body["worker_id"], error_code=body["error_code"],
            error_message=body.get("error_message", ""), variables=body.get("variables"))
        return Response(_DONE)


class ExternalTaskExtendLock(ApiView):
    access = {"POST": WORK}

    @extend_schema(summary="Keep the lock new_duration ms longer, from now",
                   request=ExtendLockSerializer, responses={200: OkSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(ExtendLockSerializer, request)
        service.external_task_extend_lock(task_id=task_id, worker_id=body["worker_id"],
                                          new_duration_ms=body["new_duration"])
        return Response(_DONE)


class ExternalTaskUnlock(ApiView):
    access = {"POST": rule(roles=(PROCESS_ADMIN,),
                           scopes=(scopes.EXTERNAL_TASKS, scopes.OPERATE))}

    @extend_schema(summary="Drop the lock: the next fetch may take the task", request=None,
                   responses={200: OkSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        service.external_task_unlock(task_id=task_id)
        return Response(_DONE)

