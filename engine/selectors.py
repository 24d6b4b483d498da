"""Reads. Permission filtering for engine data belongs here, in one place."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from engine.models import (
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    UserTask,
    UserTaskCandidateGroup,
)
from engine.runtime import InstanceState
from engine.status import USER_TASK_ACTIVE, InstanceStatus


def process_definition_list(*, latest_only: bool = True) -> QuerySet[ProcessDefinition]:
    """Deployed definitions by name and key; with `latest_only`, the newest version per key."""
    definitions = ProcessDefinition.objects.select_related("deployed_by", "deployment").defer(
        "bpmn_bytes"
    )
    if latest_only:
        newer = ProcessDefinition.objects.filter(
            key=OuterRef("key"), version__gt=OuterRef("version")
        )
        definitions = definitions.exclude(Exists(newer))
    return definitions.order_by("name", "key", "-version")


def process_instance_get(*, instance_id: int) -> ProcessInstance:
    """One instance with its definition (the model bytes left out). Raises DoesNotExist."""
    return ProcessInstance.objects.select_related("definition").defer(
        "definition__bpmn_bytes"
    ).get(pk=instance_id)


def process_instance_list(
    *,
    status: str | None = None,
    key: str | None = None,
    business_key: str | None = None,
) -> QuerySet[ProcessInstance]:
    """Instances, newest first, optionally narrowed by status, process key, business key."""
    instances = ProcessInstance.objects.select_related("definition").defer(
        "definition__bpmn_bytes", "state"
    )
    if status is not None:
        instances = instances.filter(status=status)
    if key is not None:
        instances = instances.filter(definition__key=key)
    if business_key is not None:
        instances = instances.filter(business_key=business_key)
    return instances.order_by("-started_at", "-id")


def process_instance_variables(*, instance: ProcessInstance) -> dict[str, object]:
    """The process (root scope) variables of `instance`."""
    if not instance.state:
        return {}
    return dict(InstanceState.from_json(instance.state).variables)


def user_task_open_list(
    *,
    username: str | None = None,
    groups: Iterable[str] = (),
) -> QuerySet[UserTask]:
    """Open or claimed tasks offered to `username` (as assignee) or to any of `groups`,
    most urgent first. The group offer is one indexed join on UserTaskCandidateGroup.
    Candidate users are matched in the inbox issue (they are kept as a JSON list now)."""
    tasks = UserTask.objects.filter(status__in=USER_TASK_ACTIVE).select_related("instance")
    offered = Q(pk__in=[])
    if username is not None:
        offered |= Q(assignee_username=username)
    group_list = list(groups)
    if group_list:
        offered |= Q(Exists(UserTaskCandidateGroup.objects.filter(
            task=OuterRef("pk"), group_name__in=group_list
        )))
    return tasks.filter(offered).order_by(F("due").asc(nulls_last=True), "-priority", "id")


def instance_user_tasks(*, instance_id: int) -> QuerySet[UserTask]:
    """Every task of one instance (open and ended), oldest first."""
    return UserTask.objects.filter(instance_id=instance_id).order_by("created_at", "id")


def job_due_list(*, now: datetime, kind: str | None = None) -> QuerySet[Job]:
    """Jobs of running instances due at `now`, oldest due first (the job runner's queue)."""
    jobs = Job.objects.filter(due_at__lte=now, instance__status=InstanceStatus.RUNNING)
    if kind is not None:
        jobs = jobs.filter(kind=kind)
    return jobs.order_by("due_at", "id")


def incident_open_list(*, instance_id: int | None = None) -> QuerySet[Incident]:
    """Unresolved incidents, newest first."""
    incidents = Incident.objects.filter(resolved_at__isnull=True)
    if instance_id is not None:
        incidents = incidents.filter(instance_id=instance_id)
    return incidents.order_by("-created_at", "-id")


# --- Deployed form files (REST API work, issue 6) ----------------------------------------

# Camunda 7 form keys that point into the deployment: "camunda-forms:deployment:invoice.form".
_DEPLOYMENT_FORM_PREFIXES = ("camunda-forms:deployment:", "deployment:")


def deployed_form_get(
    *, form_id: str, definition: ProcessDefinition
) -> dict[str, object] | None:
    """The form-js JSON `form_id` deployed with `definition`, or None.

    `form_id` is the form's `id` (camunda:formRef, zeebe:formId) or, for a Camunda 7
    form key `camunda-forms:deployment:NAME`, the deployed file's name. A form deployed in
    the definition's own deployment wins; otherwise the newest deployed form of that id
    (Camunda's default `latest` binding), so a fixed form can be deployed on its own.
    """
    from engine.models import DeploymentResource

    lookup = Q(form_id=form_id)
    for prefix in _DEPLOYMENT_FORM_PREFIXES:
        if form_id.startswith(prefix):
            lookup = Q(name=form_id[len(prefix):])
            break
    forms = DeploymentResource.objects.filter(lookup)
    own = forms.filter(deployment_id=definition.deployment_id).values_list("schema", flat=True)
    schema = own.first()
    if schema is None:
        schema = forms.order_by("-deployment_id").values_list("schema", flat=True).first()
    return dict(schema) if isinstance(schema, dict) else None
