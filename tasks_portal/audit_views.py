"""Auditor pages: search the history, read an instance's timeline, export, check the chains.

Auditors (and process admins) read; nothing here writes, and every view answers GET only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from engine.audit import verify
from engine.history import (
    audit_event_search,
    audit_kinds,
    audit_rows_csv,
    audit_rows_ndjson,
)
from engine.models import AuditEvent, ProcessInstance
from engine.selectors import process_definition_list
from tasks_portal.admin_views import as_json, reader_required, timeline_for_page

PAGE_SIZE = 100
# Export lines per chunk written to the client.
EXPORT_LINES = 500


class HistorySearchForm(forms.Form):
    """The filters of engine.history.audit_event_search, as a GET form."""

    process = forms.CharField(label="Process key", required=False, max_length=255,
                              widget=forms.TextInput(attrs={"list": "process-keys"}))
    business_key = forms.CharField(label="Business key", required=False, max_length=255)
    actor = forms.CharField(label="User", required=False, max_length=150)
    element = forms.CharField(label="Element id", required=False, max_length=255)
    # Free text with suggestions: the vocabulary is open (docs/audit.md), so a select of
    # the known kinds would hide kinds written by newer code.
    kind = forms.CharField(label="Event kind", required=False, max_length=64,
                           widget=forms.TextInput(attrs={"list": "audit-kinds"}))
    instance = forms.IntegerField(label="Instance", required=False, min_value=1)
    since = forms.DateTimeField(
        label="From (UTC)", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                       "%Y-%m-%d"])
    until = forms.DateTimeField(
        label="Until (UTC, not included)", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                       "%Y-%m-%d"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            self.add_error("until", "Until must be after From.")
        return data

    def search_arguments(self) -> dict[str, Any]:
        """Keyword arguments for audit_event_search (empty fields left out)."""
        data = self.cleaned_data
        arguments: dict[str, Any] = {
            "definition_key": data.get("process") or None,
            "business_key": data.get("business_key") or None,
            "actor": data.get("actor") or None,
            "element_id": data.get("element") or None,
            "kind": data.get("kind") or None,
            "instance_id": data.get("instance"),
            "since": _aware(data.get("since")),
            "until": _aware(data.get("until")),
        }
        return {name: value for name, value in arguments.items() if value is not None}


def _aware(value: datetime | None) -> datetime | None:
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_default_timezone())


def _form(request: HttpRequest) -> HistorySearchForm:
    return HistorySearchForm(request.GET or None)


@require_GET
@reader_required
def history(request: HttpRequest) -> HttpResponse:
    """Search the audit trail; the result pages by PAGE_SIZE rows and exports as CSV."""
    form = _form(request)
    context: dict[str, Any] = {
        "form": form, "searched": bool(request.GET), "kinds": audit_kinds(),
        "process_keys": process_definition_list(latest_only=True).values_list("key", flat=True),
    }
    if request.GET and not form.is_valid():
        return render(request, "portal/audit/history.html", context, status=400)
    arguments = form.search_arguments() if request.GET else {}
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    events = audit_event_search(**arguments)
    start = (page - 1) * PAGE_SIZE
    # One row more than a page tells whether a next page exists, without COUNT(*) over
    # what may be millions of rows.
    rows: list[AuditEvent] = list(events[start:start + PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    context.update({
        "events": [(event, as_json(event.data)) for event in rows[:PAGE_SIZE]],
        "page": page,
        "first_row": start + 1,
        "last_row": start + min(len(rows), PAGE_SIZE),
        "has_next": len(rows) > PAGE_SIZE,
        "query": query.urlencode(),
    })
    return render(request, "portal/audit/history.html", context)


def _chunks(lines: Iterator[str]) -> Iterator[str]:
    """Lines joined EXPORT_LINES at a time: fewer, larger writes to the socket."""
    while True:
        chunk = "".join(islice(lines, EXPORT_LINES))
        if not chunk:
            return
        yield chunk


def _async_chunks(lines: Iterator[str]) -> AsyncIterator[str]:
    """The same chunks for an ASGI server, pulled one at a time from a worker thread.

    Django's ASGI handler would otherwise turn a plain iterator into a list first (it
    warns "must consume synchronous iterators"), which loads the whole export into
    memory. thread_sensitive keeps every pull on one thread, so the database cursor the
    iterator holds stays on its connection.
    """
    pull = sync_to_async(lambda: "".join(islice(lines, EXPORT_LINES)), thread_sensitive=True)

    async def chunks() -> AsyncIterator[str]:
        while chunk := await pull():
            yield chunk

    return chunks()


@require_GET
@reader_required
def history_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The whole search result as CSV or NDJSON, streamed row chunk by row chunk."""
    form = _form(request)
    if request.GET and not form.is_valid():
        return render(request, "portal/audit/history.html",
                      {"form": form, "searched": True}, status=400)
    events = audit_event_search(**(form.search_arguments() if request.GET else {}))
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    lines = audit_rows_ndjson(events) if fmt == "ndjson" else audit_rows_csv(events)
    content_type = ("application/x-ndjson; charset=utf-8" if fmt == "ndjson"
                    else "text/csv; charset=utf-8")
    response: HttpResponseBase = StreamingHttpResponse(
        _async_chunks(lines) if isinstance(request, ASGIRequest) else _chunks(lines),
        content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="flowdesk-history-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@reader_required
def instance_history(request: HttpRequest, instance_id: int) -> HttpResponse:
    """One instance's full timeline: who did what when, with variable changes.

    The history outlives the instance row (audit rows have no foreign key), so this page
    works for an instance that is gone as long as its events exist.
    """
    timeline = timeline_for_page(instance_id)
    instance = (ProcessInstance.objects.select_related("definition", "started_by")
                .defer("definition__bpmn_bytes", "state").filter(pk=instance_id).first())
    status = 404 if instance is None and not timeline else 200
    return render(request, "portal/audit/instance.html", {
        "instance_id": instance_id, "instance": instance, "timeline": timeline,
    }, status=status)


@require_GET
@reader_required
def chain_health(request: HttpRequest) -> HttpResponse:
    """Verify the audit hash chains now (the same walk as `manage.py verify_audit`)."""
    chain = request.GET.get("chain", "").strip() or None
    started = timezone.now()
    report = verify(chain=chain)
    seconds = (timezone.now() - started).total_seconds()
    return render(request, "portal/audit/health.html", {
        "report": report, "chain": chain, "seconds": seconds, "checked_at": started,
        "first": report.problems[0] if report.problems else None,
    })
