"""User tasks, as in the inbox: list, get with form, claim, unclaim, complete, delegate,
resolve, comment. Permissions are the inbox's own (engine/services/user_tasks.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from engine.errors import TaskNotFound
from engine.models import UserTask
from engine.selectors import (
    INBOX_ORDERS,
    INBOX_VIEWS,
    InboxFilters,
    process_instance_variables,
    user_task_comments,
    user_task_inbox,
    user_task_list_all,
)
from engine.services import user_tasks
from tasks_portal.api import scopes
from tasks_portal.api.auth import api_token_of
from tasks_portal.api.exceptions import ApiProblem
from tasks_portal.api.permissions import rule
from tasks_portal.api.serializers import (
    CommentOutSerializer,
    CommentSerializer,
    CompleteSerializer,
    DelegateSerializer,
    TaskDetailSerializer,
    TaskSerializer,
)
from tasks_portal.api.views.common import ApiView, parse_body
from tasks_portal.forms import task_form_schema, validate_against_schema
from tasks_portal.permissions import visible_tasks
from tasks_portal.roles import APPROVER, AUDITOR, PROCESS_ADMIN, has_role

WORK_TASKS = rule(roles=(APPROVER, PROCESS_ADMIN), scopes=(scopes.TASKS,))
# Auditors (and history tokens) read every task and its comments, and change nothing.
READ_TASKS = rule(roles=(APPROVER, PROCESS_ADMIN, AUDITOR),
                  scopes=(scopes.TASKS, scopes.HISTORY))


def reads_every_task(request: Request) -> bool:
    """An auditor or a `history` token that is not also working tasks as a person."""
    token = api_token_of(request)
    if token is not None:
        return token.has_scope(scopes.HISTORY) and not token.has_scope(scopes.TASKS)
    return has_role(request.user, AUDITOR) and not (
        has_role(request.user, APPROVER) or has_role(request.user, PROCESS_ADMIN))
_FILTERS = ("process", "task", "priority_min", "priority_max", "sla", "business_key", "text")


def visible_task(request: Request, task_id: int) -> UserTask:
    """The task if the caller may see it; else 404 (no probing of other people's tasks)."""
    if reads_every_task(request):
        found = user_task_list_all().filter(pk=task_id).first()
        if found is None:
            raise TaskNotFound(task_id)
        return found
    task = (visible_tasks(request.user).select_related("instance__definition", "assignee")
            .defer("instance__definition__bpmn_bytes").filter(pk=task_id).first())
    if task is None:
        raise TaskNotFound(task_id)
    return task


def _detail(task_id: int) -> dict[str, Any]:
    task = (UserTask.objects.select_related("instance__definition", "assignee")
            .defer("instance__definition__bpmn_bytes").get(pk=task_id))
    extra: Any = task
    extra.form = task_form_schema(task)
    return dict(TaskDetailSerializer(task).data)


class TaskList(ApiView):
    access = {"GET": READ_TASKS}
    serializer_class = TaskSerializer

    @extend_schema(
        summary="Tasks of an inbox view (the same lists as the web inbox)",
        operation_id="tasks_list", responses=TaskSerializer(many=True),
        parameters=[
            OpenApiParameter("view", OpenApiTypes.STR, enum=list(INBOX_VIEWS),
                             description="mine (default), group, substituting, all (admins); "
                                         "auditors always get every task, any status"),
            OpenApiParameter("status", OpenApiTypes.STR,
                             description="Auditors only: open, claimed, completed, cancelled"),
            OpenApiParameter("order", OpenApiTypes.STR, enum=list(INBOX_ORDERS)),
            *(OpenApiParameter(name, OpenApiTypes.STR) for name in _FILTERS),
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        if reads_every_task(request):
            tasks = user_task_list_all(
                status=params.get("status") or None, process=params.get("process") or None,
                task=params.get("task") or None,
                business_key=params.get("business_key") or None)
            page = self.paginate_queryset(tasks)
            return self.get_paginated_response(TaskSerializer(page, many=True).data)
        filters = InboxFilters.from_dict({k: params[k] for k in _FILTERS if k in params})
        tasks = user_task_inbox(user=request.user, view=params.get("view", "mine"),
                                filters=filters, order=params.get("order", "due"))
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(TaskSerializer(page, many=True).data)


class TaskDetail(ApiView):
    access = {"GET": READ_TASKS}
    serializer_class = TaskDetailSerializer

    @extend_schema(summary="One task with its form schema")
    def get(self, request: Request, task_id: int) -> Response:
        return Response(_detail(visible_task(request, task_id).pk))


class TaskClaim(ApiView):
    access = {"POST": WORK_TASKS}
    serializer_class = TaskDetailSerializer

    @extend_schema(summary="Claim a task (409 task.already-claimed names who holds it)",
                   request=None)
    def post(self, request: Request, task_id: int) -> Response:
        visible_task(request, task_id)
        user_tasks.user_task_claim(task_id=task_id, actor=request.user)
        return Response(_detail(task_id))


class TaskUnclaim(ApiView):
    access = {"POST": WORK_TASKS}
    serializer_class = TaskDetailSerializer

    @extend_schema(summary="Hand a claimed task back to its candidates", request=None)
    def post(self, request: Request, task_id: int) -> Response:
        visible_task(request, task_id)
        user_tasks.user_task_unclaim(task_id=task_id, actor=request.user)
        return Response(_detail(task_id))


def _form_variables(task: UserTask, submitted: dict[str, Any]) -> dict[str, object]:
    """The submitted variables checked against the task's form (the inbox's own rules)."""
    schema = task_form_schema(task)  # built once: it reads the variables and form file
    values, errors = validate_against_schema(
        schema, submitted, process_instance_variables(instance=task.instance))
    schema_fields = {str(f["id"]).split(".")[0] for f in schema["fields"]
                     if f.get("input", True)}
    if schema["kind"] == "decision":
        schema_fields.add("approved")  # the validator takes the decision as the variable too
    unknown = sorted(set(submitted) - schema_fields)
    for name in unknown:
        errors.setdefault(name, []).append("not a field of this task's form")
    if errors:
        first = next(iter(errors))
        raise ApiProblem(code="task.invalid-variables", http_status=400,
                         detail=f"{first}: {errors[first][0]}", extra={"errors": errors})
    return values


class TaskComplete(ApiView):
    access = {"POST": WORK_TASKS}
    serializer_class = TaskDetailSerializer

    @extend_schema(summary="Complete a task with variables, validated against its form",
                   request=CompleteSerializer)
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(CompleteSerializer, request)
        task = visible_task(request, task_id)
        values = _form_variables(task, body.get("variables") or {})
        user_tasks.user_task_complete(task_id=task_id, actor=request.user, variables=values)
        return Response(_detail(task_id))


class TaskDelegate(ApiView):
    access = {"POST": WORK_TASKS}
    serializer_class = TaskDetailSerializer

    @extend_schema(summary="Delegate a task; the owner keeps it and gets it back on resolve",
                   request=DelegateSerializer)
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(DelegateSerializer, request)
        visible_task(request, task_id)
        to_user = get_user_model().objects.filter(username=body["to"], is_active=True).first()
        if to_user is None:
            raise ApiProblem(code="request.invalid", http_status=400,
                             detail=f"to: no active user {body['to']!r}",
                             extra={"errors": {"to": ["no such active user"]}})
        user_tasks.user_task_delegate(task_id=task_id, actor=request.user, to_user=to_user)
        return Response(_detail(task_id))


class TaskResolve(ApiView):
    access = {"POST": WORK_TASKS}
    serializer_class = TaskDetailSerializer

    @extend_schema(summary="Resolve a delegated task: it goes back to its owner",
                   request=CompleteSerializer)
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(CompleteSerializer, request)
        visible_task(request, task_id)
        user_tasks.user_task_resolve(task_id=task_id, actor=request.user,
                                     variables=body.get("variables") or None)
        return Response(_detail(task_id))


def _comment(comment: Any, task_id: int) -> dict[str, Any]:
    author = getattr(comment, "author", None)
    return {"id": comment.pk, "task": task_id,
            "author": author.get_username() if author is not None else None,
            "text": comment.text, "created_at": comment.created_at}


class TaskComment(ApiView):
    access = {"GET": READ_TASKS, "POST": WORK_TASKS}
    serializer_class = CommentOutSerializer

    @extend_schema(summary="A task's comments, oldest first", operation_id="task_comments_list",
                   responses=CommentOutSerializer(many=True))
    def get(self, request: Request, task_id: int) -> Response:
        task = visible_task(request, task_id)
        page = self.paginate_queryset(user_task_comments(task=task))
        return self.get_paginated_response(
            CommentOutSerializer([_comment(c, task_id) for c in page or []], many=True).data)

    @extend_schema(summary="Comment on a task", request=CommentSerializer,
                   responses={201: CommentOutSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        body = parse_body(CommentSerializer, request)
        visible_task(request, task_id)
        comment: Any = user_tasks.user_task_comment(task_id=task_id, actor=request.user,
                                                    text=body["text"])
        return Response(_comment(comment, task_id), status=201)

