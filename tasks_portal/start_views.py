"""Starting a process from the portal: who may start it, and its start form."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from engine.definitions import compiled_process
from engine.errors import EngineError
from engine.models import ProcessDefinition
from engine.selectors import process_definition_list
from engine.services.instances import process_instance_start
from tasks_portal.forms import start_form_schema, validate_against_schema
from tasks_portal.inbox_views import shown_fields
from tasks_portal.roles import APPROVER, PROCESS_ADMIN, has_role


def may_start(user: Any, definition: ProcessDefinition) -> bool:
    """Whether `user` may start `definition` from the portal.

    A model that names its starters (camunda:candidateStarterGroups / candidateStarterUsers,
    as in Camunda 7) is started by those people only; otherwise by approvers. Process
    admins may start anything (they also can from the admin pages)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if has_role(user, PROCESS_ADMIN):
        return True
    compiled = compiled_process(definition)
    if len(compiled.none_starts) != 1:
        return False  # starts by message, timer or signal, not by a person
    process = compiled.definitions.process(definition.key)
    groups = tuple(process.candidate_starter_groups) if process else ()
    users = tuple(process.candidate_starter_users) if process else ()
    if groups or users:
        return (user.get_username() in users
                or user.groups.filter(name__in=groups).exists())
    return has_role(user, APPROVER)


def startable_definitions(user: Any) -> list[ProcessDefinition]:
    """The newest version of each process that `user` may start here."""
    return [d for d in process_definition_list(latest_only=True) if may_start(user, d)]


def _newest(key: str) -> ProcessDefinition:
    definition = process_definition_list(latest_only=True).filter(key=key).first()
    if definition is None:
        raise Http404(f"no process {key!r} is deployed")
    return definition


@require_http_methods(["GET", "POST"])
@login_required
def process_start(request: HttpRequest, key: str) -> HttpResponse:
    """/start/<key>/: the start form of the newest version of `key`; POST starts it."""
    definition = _newest(key)
    if not may_start(request.user, definition):
        return render(request, "portal/start.html", {"definition": definition, "refused": True},
                      status=403)
    schema = start_form_schema(definition)
    if schema is None:  # may_start said no for these unless the user is an admin
        messages.error(request, f"{definition.name or key} starts by an event, not by hand.")
        return redirect("portal:home")
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    business_key = ""
    if request.method == "POST":
        business_key = request.POST.get("business_key", "").strip()
        variables, errors = validate_against_schema(schema, request.POST)
        if not errors:
            # The form carries a one-time key: a double click or a reload of the POST
            # starts one instance, not two.
            once = request.POST.get("once", "")
            idempotency_key = f"portal-start:{request.user.pk}:{once}" if once else None
            try:
                instance, _ = process_instance_start(
                    definition_id=definition.pk, variables=variables,
                    business_key=business_key or None, actor=request.user,  # type: ignore[arg-type]
                    idempotency_key=idempotency_key)
            except EngineError as exc:
                errors = {"__all__": [str(exc)]}
            else:
                label = f" {instance.business_key}" if instance.business_key else ""
                messages.success(request, f"Started {definition.name or key}{label} "
                                          f"(instance {instance.pk}).")
                return redirect(f"{reverse('portal:inbox')}?view=mine")
        values = {k: request.POST.get(k) for k in request.POST}
    return render(request, "portal/start.html", {
        "definition": definition, "schema": schema,
        "fields": shown_fields(schema, values, errors),
        "form_errors": errors.get("__all__", []), "business_key": business_key,
        "once": secrets.token_urlsafe(12),
    }, status=400 if errors else 200)
