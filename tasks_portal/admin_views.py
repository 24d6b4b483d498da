"""Process admin pages: deploy models, watch instances on the diagram, act on instances.

Process admins change things; auditors may open every page here that only reads (they
see no buttons, and every write URL refuses them); approvers and anonymous visitors get
nothing. Each view parses the request, calls one selector or service, and renders.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine import selectors
from engine.errors import DeploymentInvalid, EngineError, FileDiagnostics
from engine.history import instance_timeline
from engine.models import Incident, Job, ProcessDefinition, ProcessInstance
from engine.services.deployments import deployment_create, is_form_file
from engine.services.incidents import incident_retry as incident_retry_service
from engine.services.instances import (
    process_instance_cancel,
    process_instance_resume,
    process_instance_set_variables,
    process_instance_start,
    process_instance_suspend,
)
from engine.status import USER_TASK_ACTIVE, InstanceStatus
from tasks_portal.roles import is_auditor, is_process_admin

View = Callable[..., HttpResponseBase]

# Files checked but not deployed yet travel back with the deploy button as base64 form
# fields; Django caps non-file form data (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default),
# so bigger uploads are checked, then chosen again to deploy.
STAGE_LIMIT = 1_500_000
# How many source lines around a diagnostic's line the page shows.
CONTEXT_LINES = 2
ELEMENT_LIST_LIMIT = 100
# The definition page lists this many of the newest live instances.
RECENT_INSTANCES = 20
LIVE_STATUSES = (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED)
# The instance page shows the newest events; the audit page shows them all.
TIMELINE_ON_PAGE = 200


# --- Who may do what -------------------------------------------------------------------


def _forbidden(request: HttpRequest, what: str) -> HttpResponse:
    return render(request, "portal/admin/forbidden.html", {"what": what}, status=403)


def admin_required(view: View) -> View:
    """Process admins only: anonymous visitors go to the login page, others get 403."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_process_admin(request.user):
            return _forbidden(request, "This needs the process admin role.")
        return view(request, *args, **kwargs)

    return guarded


def reader_required(view: View) -> View:
    """Process admins and auditors (who read everything and change nothing)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (is_process_admin(request.user) or is_auditor(request.user)):
            return _forbidden(request, "This needs the process admin or auditor role.")
        return view(request, *args, **kwargs)

    return guarded


def _actor(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user (the guards above let no anonymous request through)."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise PermissionDenied("sign in first")
    return user


def timeline_for_page(instance_id: int) -> list[dict[str, Any]]:
    """instance_timeline with each event's data as JSON text (what an auditor expects)."""
    timeline = instance_timeline(instance_id=instance_id)
    for entry in timeline:
        entry["data_json"] = as_json(entry.get("data") or {})
        change = entry.get("change")
        if change is not None:
            change["old_json"], change["new_json"] = as_json(change["old"]), as_json(change["new"])
    return timeline


def as_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _engine_error(request: HttpRequest, exc: EngineError) -> None:
    messages.error(request, f"{exc.message} ({exc.code})")


# --- Definitions and deployment --------------------------------------------------------


@require_GET
@reader_required
def definition_list(request: HttpRequest) -> HttpResponse:
    """Every process key (newest version), with live instances and open incidents."""
    definitions = selectors.process_definition_list(latest_only=True)
    stats = selectors.definition_key_stats()
    rows = [(d, stats.get(d.key, {"live": 0, "incidents": 0})) for d in definitions]
    return render(request, "portal/admin/definitions.html", {
        "rows": rows, "can_admin": is_process_admin(request.user),
    })


@dataclass(frozen=True, slots=True)
class _Finding:
    """One diagnostic with the source line it points at, for the page."""

    severity: str
    code: str
    message: str
    element_id: str | None
    line: int | None
    context: list[tuple[int, str, bool]]


@dataclass(frozen=True, slots=True)
class _FileReport:
    source: str
    findings: list[_Finding]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


def _context(data: bytes, line: int | None) -> list[tuple[int, str, bool]]:
    """Lines around `line` of an uploaded file: (number, text, is_the_line)."""
    if not line:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    first = max(1, line - CONTEXT_LINES)
    last = min(len(lines), line + CONTEXT_LINES)
    return [(n, lines[n - 1][:300], n == line) for n in range(first, last + 1)]


def _reports(found: tuple[FileDiagnostics, ...], files: list[tuple[str, bytes]]
             ) -> list[_FileReport]:
    by_name = dict(files)
    reports = []
    for report in found:
        data = by_name.get(report.source, b"")
        findings = [
            _Finding(str(d.severity), d.code, d.message, d.element_id, d.line,
                     _context(data, d.line))
            for d in sorted(report.diagnostics, key=lambda d: (not d.is_error, d.line or 0))
        ]
        reports.append(_FileReport(report.source, findings))
    return reports


def _uploaded(request: HttpRequest) -> tuple[list[tuple[str, bytes]], str | None]:
    """The files of the request: uploaded (`file`, repeatable) or staged by a check."""
    files = [(f.name or "upload.bpmn", f.read()) for f in request.FILES.getlist("file")]
    if files:
        return files, None
    names = request.POST.getlist("staged_name")
    payloads = request.POST.getlist("staged_data")
    if len(names) != len(payloads):
        return [], "The checked files came back incomplete; choose them again."
    try:
        staged = [(name, base64.b64decode(payload, validate=True))
                  for name, payload in zip(names, payloads, strict=True)]
    except (binascii.Error, ValueError):
        return [], "The checked files came back damaged; choose them again."
    if not staged:
        return [], "Choose at least one .bpmn file (or drop it on the page)."
    return staged, None


@dataclass(frozen=True, slots=True)
class _Planned:
    key: str
    name: str
    version: int
    source_name: str


def _newest_definition_pk() -> int:
    return ProcessDefinition.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _dry_run(files: list[tuple[str, bytes]], actor: AbstractBaseUser) -> list[_Planned]:
    """What deploying `files` would create, found by deploying and rolling back.

    The very same code as a real deployment decides (validation, duplicate filtering,
    version numbers), and nothing stays: the transaction is rolled back, so no row, no
    audit event and no on-commit side effect survives. Raises DeploymentInvalid.
    """
    with transaction.atomic():
        before = _newest_definition_pk()
        deployment_create(files=files, actor=actor, name="(check only)")
        created = ProcessDefinition.objects.filter(pk__gt=before).order_by("key")
        planned = [_Planned(d.key, d.name, d.version, d.source_name) for d in created]
        transaction.set_rollback(True)
    return planned


def _staged(files: list[tuple[str, bytes]]) -> list[dict[str, str]] | None:
    if sum(len(data) for _, data in files) > STAGE_LIMIT:
        return None
    return [{"name": name, "data": base64.b64encode(data).decode("ascii")}
            for name, data in files]


def _preview_xml(files: list[tuple[str, bytes]]) -> list[dict[str, str]]:
    """The models to draw (form files deployed alongside have no diagram)."""
    return [{"name": name, "xml": data.decode("utf-8", errors="replace")}
            for name, data in files if not is_form_file(name)]


@require_http_methods(["GET", "POST"])
@admin_required
def deploy(request: HttpRequest) -> HttpResponse:
    """Upload models; "check" shows diagnostics or a preview and stores nothing; "deploy"
    deploys (all files or none)."""
    context: dict[str, Any] = {"stage_limit": STAGE_LIMIT}
    if request.method == "GET":
        return render(request, "portal/admin/deploy.html", context)
    files, problem = _uploaded(request)
    action = request.POST.get("action", "check")
    context["file_names"] = [name for name, _ in files]
    if problem is not None:
        context["problem"] = problem
        return render(request, "portal/admin/deploy.html", context, status=400)
    try:
        if action == "deploy":
            before = _newest_definition_pk()
            deployment = deployment_create(
                files=files, actor=_actor(request), name=request.POST.get("name", "")[:200])
        else:
            context["planned"] = _dry_run(files, _actor(request))
    except DeploymentInvalid as exc:
        context["reports"] = _reports(exc.diagnostics, files)
        return render(request, "portal/admin/deploy.html", context, status=400)
    if action == "deploy":
        # Files equal to the newest versions return the deployment that holds them.
        created = list(deployment.process_definitions.filter(pk__gt=before).order_by("key"))
        if not created:
            messages.info(request, "Nothing new: the files equal the deployed versions.")
            return redirect("portal:admin_definitions")
        messages.success(request, "Deployed " + ", ".join(
            f"{d.key} version {d.version}" for d in created) + ".")
        first = created[0]
        return redirect(_definition_url(first.key, first.version))
    context["staged"] = _staged(files)
    context["previews"] = _preview_xml(files)
    context["form_files"] = [name for name, _ in files if is_form_file(name)]
    context["checked"] = True
    return render(request, "portal/admin/deploy.html", context)


def _definition_url(key: str, version: int) -> str:
    return reverse("portal:admin_definition", args=[key]) + f"?version={version}"


def _definition(key: str, version: int | str | None) -> ProcessDefinition:
    rows = ProcessDefinition.objects.defer("bpmn_bytes").select_related("deployed_by")
    try:
        found = (rows.filter(key=key, version=int(version)).first() if version
                 else rows.filter(key=key).order_by("-version").first())
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise Http404(f"no process {key!r} version {version}")
    return found


@require_GET
@reader_required
def definition_detail(request: HttpRequest, key: str) -> HttpResponse:
    """A definition's versions and one version's running instances on its diagram."""
    definition = _definition(key, request.GET.get("version"))
    versions = selectors.definition_versions(key=key)
    heatmap = selectors.definition_heatmap(definition_id=definition.pk)
    rows = sorted(heatmap.items(), key=lambda item: (-item[1]["waiting"], item[0]))
    return render(request, "portal/admin/definition.html", {
        "definition": definition,
        "versions": versions,
        "heatmap": heatmap,
        "heatmap_rows": rows,
        "recent": selectors.process_instance_list().filter(
            definition_id=definition.pk, status__in=LIVE_STATUSES)[:RECENT_INSTANCES],
        "recent_limit": RECENT_INSTANCES,
        "can_admin": is_process_admin(request.user),
        "xml_url": reverse("portal:admin_definition_xml", args=[key, definition.version]),
        "element_url": reverse("portal:admin_element",
                               args=[key, definition.version, "ELEMENT"]),
    })


@require_GET
@reader_required
def definition_xml(request: HttpRequest, key: str, version: int) -> HttpResponse:
    """The model of one version exactly as it was uploaded (a download)."""
    definition = ProcessDefinition.objects.filter(key=key, version=version).first()
    if definition is None:
        raise Http404(f"no process {key!r} version {version}")
    response = HttpResponse(bytes(definition.bpmn_bytes), content_type="application/xml")
    # Uploaded XML could carry XHTML <script>: a browser opening it on our origin would run
    # it. So it is always a download, and sandboxed should anything render it anyway; the
    # diagram viewer reads it with fetch(), which neither header affects.
    response["Content-Disposition"] = f'attachment; filename="{key}-v{version}.bpmn"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@reader_required
def element_instances(request: HttpRequest, key: str, version: int, element_id: str
                      ) -> HttpResponse:
    """Instances with a token on one element now, and those that went through it."""
    definition = _definition(key, version)
    waiting = selectors.element_instances_waiting(
        definition_id=definition.pk, element_id=element_id)
    passed = selectors.element_instances_passed(
        definition_id=definition.pk, element_id=element_id)
    return render(request, "portal/admin/element.html", {
        "definition": definition, "element_id": element_id,
        "waiting": waiting[:ELEMENT_LIST_LIMIT], "passed": passed[:ELEMENT_LIST_LIMIT],
        "limit": ELEMENT_LIST_LIMIT,
    })


def _json_object(text: str, what: str) -> dict[str, object]:
    """A JSON object typed into a form; ValueError with a message a person can act on."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
    if not isinstance(value, dict):
        raise ValueError(f'{what} must be a JSON object, like {{"amount": 100}}')
    return value


@require_POST
@admin_required
def definition_start(request: HttpRequest, key: str, version: int) -> HttpResponse:
    """Start an instance of this version with the variables and business key typed in."""
    definition = _definition(key, version)
    back = _definition_url(key, definition.version)
    try:
        variables = _json_object(request.POST.get("variables", ""), "Variables")
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    business_key = request.POST.get("business_key", "").strip() or None
    try:
        instance, _ = process_instance_start(
            definition_id=definition.pk, variables=variables, business_key=business_key,
            actor=_actor(request))
    except EngineError as exc:
        _engine_error(request, exc)
        return redirect(back)
    messages.success(request, f"Started instance {instance.pk}.")
    return redirect("portal:admin_instance", instance.pk)


# --- One instance ----------------------------------------------------------------------


@require_GET
@reader_required
def instance_detail(request: HttpRequest, instance_id: int) -> HttpResponse:
    """An instance: diagram with its active elements, variables, tasks, jobs, incidents,
    history; and (for admins) the buttons that act on it."""
    try:
        instance = selectors.process_instance_get(instance_id=instance_id)
    except ProcessInstance.DoesNotExist:
        raise Http404(f"no process instance {instance_id}") from None
    definition = instance.definition
    incidents = Incident.objects.filter(instance_id=instance.pk).order_by("-created_at", "-id")
    open_incidents = [i.element_id for i in incidents if i.resolved_at is None]
    variables = selectors.process_instance_variables(instance=instance)
    live = instance.status in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED)
    timeline = timeline_for_page(instance.pk)
    return render(request, "portal/admin/instance.html", {
        "instance": instance,
        "definition": definition,
        "active": selectors.instance_active_elements(instance=instance),
        "open_incidents": open_incidents,
        "variables": sorted((name, as_json(value))
                            for name, value in variables.items()),
        "tasks": selectors.instance_user_tasks(instance_id=instance.pk)
        .filter(status__in=USER_TASK_ACTIVE),
        "jobs": Job.objects.filter(instance_id=instance.pk).order_by("due_at", "id"),
        "incidents": incidents,
        "timeline": timeline[-TIMELINE_ON_PAGE:],
        "timeline_total": len(timeline),
        "timeline_limit": TIMELINE_ON_PAGE,
        "can_admin": is_process_admin(request.user),
        "live": live,
        "xml_url": reverse("portal:admin_definition_xml",
                           args=[definition.key, definition.version]),
        "element_url": reverse("portal:admin_element",
                               args=[definition.key, definition.version, "ELEMENT"]),
    })


def _instance_action(request: HttpRequest, instance_id: int, done: str,
                     call: Callable[[], object]) -> HttpResponse:
    try:
        call()
    except EngineError as exc:
        _engine_error(request, exc)
    else:
        messages.success(request, done)
    return redirect("portal:admin_instance", instance_id)


@require_POST
@admin_required
def instance_cancel(request: HttpRequest, instance_id: int) -> HttpResponse:
    reason = request.POST.get("reason", "").strip()[:500]
    return _instance_action(request, instance_id, "Instance cancelled.", lambda: (
        process_instance_cancel(instance_id=instance_id, actor=_actor(request), reason=reason)))


@require_POST
@admin_required
def instance_suspend(request: HttpRequest, instance_id: int) -> HttpResponse:
    return _instance_action(request, instance_id, "Instance suspended.", lambda: (
        process_instance_suspend(instance_id=instance_id, actor=_actor(request))))


@require_POST
@admin_required
def instance_resume(request: HttpRequest, instance_id: int) -> HttpResponse:
    return _instance_action(request, instance_id, "Instance resumed.", lambda: (
        process_instance_resume(instance_id=instance_id, actor=_actor(request))))


@require_POST
@admin_required
def instance_set_variable(request: HttpRequest, instance_id: int) -> HttpResponse:
    """Set one process variable to a JSON value (audited with the admin's name)."""
    name = request.POST.get("name", "").strip()
    raw = request.POST.get("value", "")
    if not name:
        messages.error(request, "Give the variable a name.")
        return redirect("portal:admin_instance", instance_id)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        messages.error(request, f"The value of {name!r} is not valid JSON ({exc.msg}); "
                                'write text in double quotes, e.g. "approved".')
        return redirect("portal:admin_instance", instance_id)
    return _instance_action(request, instance_id, f"Variable {name!r} set.", lambda: (
        process_instance_set_variables(instance_id=instance_id, variables={name: value},
                                       actor=_actor(request))))


@require_POST
@admin_required
def incident_retry(request: HttpRequest, incident_id: int) -> HttpResponse:
    """Retry the failed job behind an incident (engine.services.incidents)."""
    owner = Incident.objects.filter(pk=incident_id).values_list("instance_id", flat=True).first()
    if owner is None:
        raise Http404(f"no incident {incident_id}")
    return _instance_action(request, owner, "Incident retried: its job is due again.",
                            lambda: incident_retry_service(incident_id=incident_id,
                                                           actor=_actor(request)))
