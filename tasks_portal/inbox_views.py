"""The approvers' pages: inbox, task page with its form, SLA dashboard, notifications.

Each view parses the request, calls one selector or service (engine.selectors,
engine.services.user_tasks, tasks_portal.notifications) and renders. Who may see or do
what is decided there (tasks_portal.permissions.can): a task the user may not see is a
404 whatever URL they type, an action they may not take is a 403.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine.errors import EngineError
from engine.history import instance_timeline
from engine.models import ProcessDefinition, UserTask
from engine.selectors import (
    INBOX_ORDERS,
    SLA_STATES,
    InboxFilters,
    process_definition_list,
    process_instance_variables,
    saved_inbox_view_list,
    user_task_comments,
    user_task_inbox,
    user_task_visible,
)
from engine.services.user_tasks import (
    user_task_assign,
    user_task_bulk,
    user_task_claim,
    user_task_comment,
    user_task_complete,
    user_task_delegate,
    user_task_resolve,
    user_task_unclaim,
)
from tasks_portal.forms import (
    task_form_schema,
    validate_against_schema,
    validate_task_submission,
)
from tasks_portal.models import Notification
from tasks_portal.notifications import notification_list, notifications_mark_read, unread_count
from tasks_portal.permissions import can
from tasks_portal.roles import ROLES, has_role, is_process_admin
from tasks_portal.sla import sla_dashboard as sla_report
from tasks_portal.sla import sla_state

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

PAGE_SIZE = 50
VIEW_LABELS = {"mine": "My tasks", "group": "My groups' tasks",
               "substituting": "Substituting for", "all": "All"}
ORDER_LABELS = {"due": "Due (soonest first)", "-due": "Due (latest first)",
                "priority": "Priority (highest first)", "-priority": "Priority (lowest first)",
                "created": "Created (oldest first)", "-created": "Created (newest first)",
                "sla": "SLA (most urgent first)"}
SLA_LABELS = {"on_track": "On track", "at_risk": "At risk", "breached": "Breached",
              "none": "No due date"}
# Query parameters that are filters (InboxFilters' names, "q" for its text search).
_FILTER_PARAMS = ("process", "task", "priority_min", "priority_max", "sla", "business_key")
_VAR_PREFIX = "var."


# --- helpers -------------------------------------------------------------------------


def _actor(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user (every view here is login_required)."""
    return cast("AbstractBaseUser", request.user)


def _visible_task(request: HttpRequest, task_id: int) -> UserTask:
    """The task, if the user may see it; 404 otherwise (its existence is not revealed)."""
    task = (UserTask.objects.select_related("instance__definition", "assignee", "owner")
            .defer("instance__definition__bpmn_bytes").filter(pk=task_id).first())
    if task is None or not can(request.user, task, "view"):
        raise Http404("No such task.")
    return task


def _variable_value(text: str) -> object:
    """A filter value typed into the inbox: JSON when it reads as a number, true/false or
    null (list variables keep their types), else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool) or value is None else text


def _filters_from(params: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {name: params[name] for name in _FILTER_PARAMS if params.get(name)}
    if params.get("q"):
        data["text"] = params["q"]
    variables = {key[len(_VAR_PREFIX):]: _variable_value(value)
                 for key, value in params.items()
                 if key.startswith(_VAR_PREFIX) and len(key) > len(_VAR_PREFIX) and value != ""}
    name, value = params.get("var_name", "").strip(), params.get("var_value", "")
    if name and value != "":
        variables[name] = _variable_value(value)
    if variables:
        data["variables"] = variables
    return data


def _query_of(view: str, order: str, filters: Mapping[str, Any]) -> str:
    """The inbox URL's query string for a view, order and filter dict (saved views)."""
    params: dict[str, Any] = {"view": view, "order": order}
    for name, value in filters.items():
        if name == "text":
            params["q"] = value
        elif name == "variables":
            for var, var_value in dict(value).items():
                params[_VAR_PREFIX + var] = (json.dumps(var_value)
                                             if not isinstance(var_value, str) else var_value)
        else:
            params[name] = value
    return urlencode(params)


def _error_message(error: EngineError) -> str:
    return error.message[:1].upper() + error.message[1:]


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    # Only paths of this site: never redirect to another host.
    return target if target.startswith("/") and not target.startswith("//") else fallback


# --- the inbox -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxRow:
    task: UserTask
    sla: str


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of a list. No COUNT(*): with many open tasks counting them costs as much
    as reading the page, so a page reads one row more than it shows to know if there is
    a next one; the total is exact only when everything fits on the first page."""

    tasks: list[UserTask]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def first(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1

    @property
    def last(self) -> int:
        return self.first + len(self.tasks) - 1

    @property
    def exact_total(self) -> int | None:
        return len(self.tasks) if self.number == 1 and not self.has_next else None


def _page_of(tasks: Any, raw_number: str | None) -> InboxPage:
    try:
        number = max(1, int(raw_number or 1))
    except ValueError:
        number = 1
    start = (number - 1) * PAGE_SIZE
    found = list(tasks[start:start + PAGE_SIZE + 1])
    return InboxPage(tasks=found[:PAGE_SIZE], number=number, has_next=len(found) > PAGE_SIZE)


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """/tasks/: one list (mine, group, substituting, all) with filters, sort and search.
    `?fragment=1` renders only the list, for the live refresh of an open page."""
    user = request.user
    admin = is_process_admin(user)
    views = [v for v in VIEW_LABELS if v != "all" or admin]
    view = request.GET.get("view") or "mine"
    order = request.GET.get("order") or "due"
    errors: list[str] = []
    if view not in views:
        errors.append(f"There is no list {view!r} for you; showing My tasks.")
        view = "mine"
    if order not in INBOX_ORDERS:
        errors.append(f"Unknown sort order {order!r}; sorted by due date.")
        order = "due"
    raw_filters = _filters_from(request.GET)
    try:
        filters = InboxFilters.from_dict(raw_filters)
    except EngineError as exc:
        errors.append(f"Filters not applied: {exc.message}.")
        filters = InboxFilters()
    now = timezone.now()
    tasks = user_task_inbox(user=user, view=view, filters=filters, order=order, now=now)
    page = _page_of(tasks, request.GET.get("page"))
    rows = [InboxRow(task=t, sla=sla_state(t, now)) for t in page.tasks]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fragment", None)
    context = {
        "view": view, "views": [(v, VIEW_LABELS[v]) for v in views], "order": order,
        "orders": ORDER_LABELS, "sla_labels": SLA_LABELS, "sla_states": SLA_STATES,
        "filters": filters, "raw_filters": raw_filters, "page": page, "rows": rows,
        "query": query.urlencode(), "errors": errors, "is_admin": admin,
        "processes": process_definition_list(latest_only=True),
        "saved_views": [(saved, _query_of(saved.view, saved.order, saved.filters))
                        for saved in saved_inbox_view_list(user=user)],
        "my_groups": list(user.groups.order_by("name").values_list("name", flat=True)),
        "variable_filters": dict(filters.variables),
        "people": (get_user_model()._default_manager.filter(is_active=True)
                   .order_by("username").values_list("username", flat=True)[:500]
                   if admin else []),
    }
    template = "portal/_inbox_list.html" if request.GET.get("fragment") else "portal/inbox.html"
    return render(request, template, context)


@require_POST
@login_required
def inbox_bulk(request: HttpRequest) -> HttpResponse:
    """Claim, unclaim, reassign (admins) or complete the ticked tasks, each on its own."""
    back = _back(request, reverse("portal:inbox"))
    action = request.POST.get("action", "")
    try:
        ids = [int(i) for i in request.POST.getlist("task")]
    except ValueError:
        messages.error(request, "The selection was not understood; nothing was done.")
        return redirect(back)
    if not ids:
        messages.error(request, "Select at least one task first.")
        return redirect(back)
    # Only tasks the user can see take part; the rest count as not found.
    visible = set(user_task_visible(user=request.user).filter(pk__in=ids)
                  .values_list("pk", flat=True))
    kwargs: dict[str, Any] = {}
    if action == "assign":
        if not is_process_admin(request.user):
            return HttpResponseForbidden("Only process admins may reassign tasks.")
        kwargs["assignee"] = request.POST.get("assignee") or None
    elif action == "complete":
        rows = list(UserTask.objects.select_related("instance__definition")
                    .filter(pk__in=visible).order_by("pk"))
        if not rows:
            messages.error(request, "None of the selected tasks can be completed by you.")
            return redirect(back)
        decision, refused = _bulk_decision(rows, request.POST)
        if decision is None:
            messages.error(request, f"Nothing was completed: {refused.pop(0, '')}")
            return redirect(back)
        for task_id, reason in refused.items():
            visible.discard(task_id)
            messages.error(request, f"Task {task_id} was not completed: {reason}")
        kwargs["variables"] = decision
    elif action not in ("claim", "unclaim"):
        messages.error(request, f"Unknown bulk action {action!r}.")
        return redirect(back)
    try:
        result = user_task_bulk(task_ids=[i for i in ids if i in visible],
                                actor=_actor(request), action=action, **kwargs)
    except EngineError as exc:
        messages.error(request, f"Nothing was done: {_error_message(exc)}")
        return redirect(back)
    verb = {"claim": "claimed", "unclaim": "handed back", "assign": "reassigned",
            "complete": "completed"}[action]
    if result.done:
        messages.success(request, f"{len(result.done)} task(s) {verb}.")
    failures = {**{i: {"message": "not found"} for i in ids if i not in visible},
                **result.failed}
    for task_id, failure in failures.items():
        messages.error(request, f"Task {task_id}: {failure.get('message', 'failed')}.")
    return redirect(back)


def _errors_text(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{'form' if k == '__all__' else k}: {' '.join(v)}"
                     for k, v in errors.items())


def _decision_fields(schema: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ids of a form's approve/reject field (a boolean named `approved` or ending in
    `approved`, like `financeApproved`) and of its comment field, if it has them."""
    approved = comment = None
    for field in schema["fields"]:
        name = str(field["id"]).lower()
        if not field.get("input") or field.get("readonly"):
            continue
        if field["type"] == "boolean" and name.endswith("approved") and approved is None:
            approved = field["id"]
        elif field["type"] == "string" and name.endswith("comment") and comment is None:
            comment = field["id"]
    return approved, comment


def _bulk_decision(rows: list[UserTask], post: Mapping[str, Any]
                   ) -> tuple[dict[str, object] | None, dict[int, str]]:
    """One approve/reject (+ comment) for tasks whose forms agree, as process variables.

    Each task is checked against its own form with its current values plus the decision,
    so a task whose form still needs something else (a required field with no value) is
    left out and named; the rest get the same decision. (None, {0: why}) when the
    decision itself is unusable.
    """
    choice = str(post.get("decision") or "")
    comment = str(post.get("comment") or "").strip()
    if choice not in ("approve", "reject"):
        return None, {0: "choose Approve or Reject."}
    first = task_form_schema(rows[0])
    if first.get("error"):
        return None, {0: str(first["error"])}
    approved_id, comment_id = (("decision", "comment") if first["kind"] == "decision"
                               else _decision_fields(first))
    if approved_id is None:
        return None, {0: "these tasks' form has no approve/reject field; complete them "
                         "one by one from their pages."}
    decision: dict[str, object] = {}
    refused: dict[int, str] = {}
    for task in rows:
        schema = task_form_schema(task)
        data: dict[str, object] = {
            f["id"]: f["value"] for f in schema["fields"]
            if f.get("input") and not f.get("readonly") and f.get("value") is not None}
        data[approved_id] = choice if approved_id == "decision" else str(choice == "approve")
        if comment_id is not None and comment:
            data[comment_id] = comment
        values, errors = validate_against_schema(
            schema, data, process_instance_variables(instance=task.instance))
        if errors:
            # A problem with the decision or comment typed is the same for every task:
            # nothing is done. Another field of one task's form only leaves that one out.
            typed = {k: v for k, v in errors.items() if k in (approved_id, comment_id)}
            if typed:
                return None, {0: _errors_text(typed)}
            refused[task.pk] = _errors_text(errors)
            continue
        if not decision:
            target = "approved" if approved_id == "decision" else approved_id
            decision = {target: values[target]}
            if comment_id is not None and comment_id in values:
                decision[comment_id] = values[comment_id]
    if not decision:
        return None, {0: "; ".join(refused.values())}
    return decision, refused


@require_POST
@login_required
def inbox_view_save(request: HttpRequest) -> HttpResponse:
    """Save the current filters under a name, optionally shared with one of my groups."""
    from engine.services.user_tasks import saved_inbox_view_save

    view = request.POST.get("view") or "mine"
    order = request.POST.get("order") or "due"
    try:
        saved = saved_inbox_view_save(
            owner=_actor(request), name=request.POST.get("name", ""), view=view,
            filters=_filters_from(request.POST), order=order,
            shared_with=request.POST.get("shared_with") or None)
    except EngineError as exc:
        messages.error(request, f"The view was not saved: {_error_message(exc)}")
        return redirect(_back(request, reverse("portal:inbox")))
    shared = f", shared with {saved.shared_with.name}" if saved.shared_with else ""
    messages.success(request, f"Saved the view {saved.name!r}{shared}.")
    query = _query_of(saved.view, saved.order, saved.filters)
    return redirect(f"{reverse('portal:inbox')}?{query}")


@require_POST
@login_required
def inbox_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    from engine.services.user_tasks import saved_inbox_view_delete

    try:
        saved_inbox_view_delete(view_id=view_id, actor=_actor(request))
    except EngineError as exc:
        messages.error(request, _error_message(exc))
    else:
        messages.success(request, "The saved view was deleted.")
    return redirect(reverse("portal:inbox"))


# --- the task page -------------------------------------------------------------------


def shown_fields(schema: Mapping[str, Any], values: Mapping[str, Any] | None = None,
                 errors: Mapping[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The schema's fields as portal/_task_fields.html shows them: with an html id, the
    submitted value (kept after a refusal), checked/selected state and their errors."""
    submitted = values or {}
    fields = []
    for index, field in enumerate(schema["fields"]):
        shown = dict(field)
        shown["html_id"] = f"field-{index}"
        if field["id"] in submitted:
            shown["value"] = submitted[field["id"]]
        if field["type"] == "list":
            current = shown.get("value")
            shown["selected"] = [str(v) for v in current] if isinstance(current, list) else []
        elif field["type"] == "boolean":
            current = shown.get("value")
            if isinstance(current, list):  # the hidden "false" and the ticked "true"
                current = current[-1] if current else None
            shown["checked"] = str(current).lower() in ("true", "on", "1")
        shown["errors"] = (errors or {}).get(field["id"], [])
        fields.append(shown)
    return fields


def _task_context(request: HttpRequest, task: UserTask, *, values: Mapping[str, Any] | None = None,
                  errors: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    user = _actor(request)
    instance = task.instance
    schema = task_form_schema(task)
    fields = shown_fields(schema, values, errors)
    may_complete = can(user, task, "complete")
    pending = task.delegation_state == "pending"
    return {
        "task": task, "instance": instance, "definition": instance.definition,
        "sla": sla_state(task, timezone.now()), "sla_labels": SLA_LABELS,
        "schema": schema, "fields": fields, "form_errors": (errors or {}).get("__all__", []),
        "field_error_count": sum(1 for f in fields if f["errors"]),
        "variables": task.list_variables or {},
        "timeline": instance_timeline(instance_id=instance.pk),
        "comments": user_task_comments(task=task),
        "may_claim": can(user, task, "claim"), "may_unclaim": can(user, task, "unclaim"),
        "may_complete": may_complete, "may_delegate": can(user, task, "delegate"),
        "may_resolve": pending and can(user, task, "resolve"),
        "may_assign": can(user, task, "assign"),
        # The form is filled by whoever may finish the step: the assignee, or the
        # delegate (who resolves it back to the owner with the values).
        "show_form": may_complete or (pending and can(user, task, "resolve")),
        "form_action": "resolve" if pending else "complete",
        "people": (get_user_model()._default_manager.filter(is_active=True)
                   .exclude(pk=user.pk).order_by("username")
                   .values_list("username", flat=True)[:500]),
    }


@require_http_methods(["GET", "POST"])
@login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    """/tasks/<id>/: the task's context, diagram and form; POST completes (or resolves)
    it with the form's values, or shows the errors next to their fields."""
    task = _visible_task(request, task_id)
    if request.method == "GET":
        # Opening the task is reading what one was told about it.
        unread = Notification.objects.filter(user_id=_actor(request).pk, task_id=task.pk,
                                             read_at__isnull=True).values_list("pk", flat=True)
        if unread:
            notifications_mark_read(user=request.user, ids=list(unread))
        return render(request, "portal/task.html", _task_context(request, task))
    action = request.POST.get("action", "complete")
    if action not in ("complete", "resolve"):
        return HttpResponse(status=400, content=f"Unknown form action {action!r}.")
    allowed = can(request.user, task, "complete" if action == "complete" else "resolve")
    if not allowed:
        return HttpResponseForbidden("You may not complete this task (claim it first).")
    variables, errors = validate_task_submission(task, request.POST)
    if errors:
        submitted = {key: (request.POST.getlist(key) if len(request.POST.getlist(key)) > 1
                           else request.POST.get(key)) for key in request.POST}
        context = _task_context(request, task, values=submitted, errors=errors)
        return render(request, "portal/task.html", context, status=400)
    try:
        if action == "complete":
            user_task_complete(task_id=task.pk, actor=_actor(request), variables=variables)
            messages.success(request, f"Completed {task.name or task.element_id}.")
        else:
            user_task_resolve(task_id=task.pk, actor=_actor(request), variables=variables)
            messages.success(request, f"Handed {task.name or task.element_id} back to its owner.")
    except EngineError as exc:
        messages.error(request, _error_message(exc))
        return redirect(reverse("portal:task", args=[task.pk]))
    return redirect(reverse("portal:inbox"))


TASK_ACTIONS = ("claim", "unclaim", "delegate", "comment", "assign")


@require_POST
@login_required
def task_action(request: HttpRequest, task_id: int, action: str) -> HttpResponse:
    """Claim, unclaim, delegate, comment, reassign: one service call, then back."""
    task = _visible_task(request, task_id)
    page = reverse("portal:task", args=[task.pk])
    if action not in TASK_ACTIONS:
        raise Http404("No such action.")
    if action in ("claim", "unclaim", "delegate", "assign") and not can(
            request.user, task, action):
        if action == "claim" and task.assignee_id is not None:
            holder = task.assignee.get_username() if task.assignee else task.assignee_username
            messages.error(request, f"{holder} has this task already.")
            return redirect(_back(request, page))
        return HttpResponseForbidden(f"You may not {action} this task.")
    user = _actor(request)
    try:
        if action == "claim":
            user_task_claim(task_id=task.pk, actor=user)
            messages.success(request, "The task is yours now.")
        elif action == "unclaim":
            user_task_unclaim(task_id=task.pk, actor=user)
            messages.success(request, "You handed the task back to its group.")
            return redirect(_back(request, reverse("portal:inbox")))
        elif action == "delegate":
            to = request.POST.get("to_user", "").strip()
            if not to:
                messages.error(request, "Choose whom to delegate the task to.")
                return redirect(page)
            user_task_delegate(task_id=task.pk, actor=user, to_user=to)
            messages.success(request, f"Delegated to {to}; it comes back to you when resolved.")
        elif action == "assign":
            assignee = request.POST.get("assignee", "").strip() or None
            user_task_assign(task_id=task.pk, actor=user, assignee=assignee)
            messages.success(request, f"Reassigned to {assignee}." if assignee
                             else "Back in the pool.")
        else:
            user_task_comment(task_id=task.pk, actor=user, text=request.POST.get("text", ""))
            messages.success(request, "Comment added.")
    except EngineError as exc:
        messages.error(request, _error_message(exc))
    return redirect(_back(request, page))


@require_GET
@login_required
def task_diagram(request: HttpRequest, task_id: int) -> HttpResponse:
    """The BPMN XML of the task's process version, for the diagram viewer."""
    task = _visible_task(request, task_id)
    definition = ProcessDefinition.objects.only("bpmn_bytes").get(
        pk=task.instance.definition_id)
    response = HttpResponse(bytes(definition.bpmn_bytes), content_type="application/xml")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- SLA dashboard -------------------------------------------------------------------

PERIODS = {"1": "last 24 hours", "7": "last 7 days", "30": "last 30 days",
           "90": "last 90 days"}


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry for the inline SVG: per row stacked on-track / at-risk / breached."""
    width, label_width, bar_height, gap = 640, 220, 18, 10
    biggest = max([r["open"] for r in rows] + [1])
    scale = (width - label_width - 40) / biggest
    bars = []
    for index, row in enumerate(rows):
        y = index * (bar_height + gap)
        on_track = row["open"] - row["at_risk"] - row["breached"]
        x = label_width
        parts = []
        for kind, count in (("on_track", on_track), ("at_risk", row["at_risk"]),
                            ("breached", row["breached"])):
            w = count * scale
            if count > 0:
                parts.append({"kind": kind, "x": round(x, 1), "width": round(max(w, 1), 1),
                              "count": count})
            x += w
        bars.append({"y": y, "text_y": y + bar_height - 4,
                     "label": f"{row['process_key']} · {row['name']}", "parts": parts,
                     "total": row["open"], "total_x": round(x + 6, 1)})
    return {"width": width, "height": max(1, len(rows)) * (bar_height + gap) + 24,
            "bars": bars, "bar_height": bar_height, "label_width": label_width,
            "legend_y": len(rows) * (bar_height + gap) + 14}


@require_GET
@login_required
def sla_dashboard(request: HttpRequest) -> HttpResponse:
    """Per process and task: open, at risk, breached now, and median / p90 time to
    complete over a chosen period (tasks_portal.sla.sla_dashboard's numbers). For people
    with a portal role: the counts cover every process."""
    if not any(has_role(request.user, role) for role in ROLES):
        return HttpResponseForbidden("The SLA dashboard is for approvers, admins and auditors.")
    period = request.GET.get("days", "7")
    if period not in PERIODS:
        period = "7"
    now = timezone.now()
    since = now - timedelta(days=int(period))
    process = request.GET.get("process") or ""
    rows = [dataclasses.asdict(row) for row in sla_report(
        since=since, until=now, now=now, process_key=process or None)]
    for row in rows:
        row["median_text"] = _duration_text(row["median_seconds"])
        row["p90_text"] = _duration_text(row["p90_seconds"])
    return render(request, "portal/sla_dashboard.html", {
        "rows": rows, "chart": _chart(rows), "period": period, "periods": PERIODS,
        "process": process, "processes": process_definition_list(latest_only=True),
        "since": since, "now": now,
        "totals": {k: sum(r[k] for r in rows)
                   for k in ("open", "at_risk", "breached", "completed", "completed_late")},
    })


# --- notifications -------------------------------------------------------------------


@require_GET
@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    rows = list(notification_list(user=request.user, limit=100))
    return render(request, "portal/notifications.html", {
        "notifications": rows, "unread": unread_count(request.user)})


@require_GET
@login_required
def notifications_unread(request: HttpRequest) -> JsonResponse:
    """The unread count for the badge in the navigation bar."""
    response = JsonResponse({"unread": unread_count(request.user)})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark one (`id`) or all of my notifications read; never anyone else's."""
    raw = request.POST.get("id")
    ids = None
    if raw:
        try:
            ids = [int(raw)]
        except ValueError:
            return HttpResponse(status=400, content="id must be a number")
    count = notifications_mark_read(user=request.user, ids=ids)
    messages.success(request, f"{count} notification(s) marked read.")
    return redirect(_back(request, reverse("portal:notifications")))

