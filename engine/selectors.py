"""Reads. Permission filtering for engine data belongs here, in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


# --- The approvers' inbox (issue 5) --------------------------------------------------

INBOX_VIEWS = ("mine", "group", "substituting", "all")
INBOX_ORDERS = ("due", "-due", "priority", "-priority", "created", "-created", "sla")
SLA_STATES = ("on_track", "at_risk", "breached", "none")
_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "due": (F("due").asc(nulls_last=True), "-priority", "id"),
    "-due": (F("due").desc(nulls_last=True), "-priority", "id"),
    "priority": ("-priority", F("due").asc(nulls_last=True), "id"),
    "-priority": ("priority", F("due").asc(nulls_last=True), "id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    # Most urgent SLA first: the earliest at-risk instant (breached tasks have the earliest),
    # then the due date; tasks without an SLA last.
    "sla": (F("at_risk_at").asc(nulls_last=True), F("due").asc(nulls_last=True), "id"),
}


@dataclass(frozen=True, slots=True)
class InboxFilters:
    """Inbox filters; every one given narrows the list (AND). `variables` match the task's
    list variables (those the model marks with `listVariables`) by equality."""

    process: str | None = None  # process definition key
    task: str | None = None  # task element id
    priority_min: int | None = None
    priority_max: int | None = None
    sla: str | None = None  # one of SLA_STATES
    business_key: str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)
    text: str | None = None  # in task name, element id, process key, business key

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InboxFilters:
        """Filters from plain data (a saved view, query parameters); InvalidTaskAction
        names the first bad entry."""
        from engine.errors import InvalidTaskAction

        known = {"process", "task", "priority_min", "priority_max", "sla", "business_key",
                 "variables", "text"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidTaskAction(f"unknown inbox filter {unknown[0]!r}")
        values: dict[str, Any] = {}
        for name in ("process", "task", "business_key", "text", "sla"):
            raw = data.get(name)
            if raw not in (None, ""):
                values[name] = str(raw).strip()
        for name in ("priority_min", "priority_max"):
            raw = data.get(name)
            if raw not in (None, ""):
                try:
                    values[name] = int(str(raw))
                except ValueError:
                    raise InvalidTaskAction(f"{name} {raw!r} is not a whole number") from None
        if values.get("sla") is not None and values["sla"] not in SLA_STATES:
            raise InvalidTaskAction(f"unknown SLA state {values['sla']!r}; one of {SLA_STATES}")
        variables = data.get("variables") or {}
        if not isinstance(variables, Mapping) or not all(
                isinstance(k, str) and k for k in variables):
            raise InvalidTaskAction("variables must map variable names to values")
        values["variables"] = dict(variables)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("process", "task", "priority_min", "priority_max", "sla",
                     "business_key", "text"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.variables:
            out["variables"] = dict(self.variables)
        return out


def _perm_id(codename: str) -> int:
    from engine.services.user_tasks import permission_ids

    return permission_ids()[codename]


def _offered_to(user_ids: Any, codename: str, *, assigned: bool = False) -> Q:
    """Tasks on which one of `user_ids` (a list or a subquery) holds `codename`, directly
    or through a group (and with `assigned`, the open tasks assigned to one of them)."""
    from django.contrib.auth import get_user_model

    from engine.models import TaskGroupPermission, TaskUserPermission

    perm = _perm_id(codename)
    # order_by(): no default ordering inside a compound statement (SQLite refuses it).
    direct = TaskUserPermission.objects.filter(
        permission_id=perm, user_id__in=user_ids).order_by()
    memberships = get_user_model().groups.through.objects.filter(user_id__in=user_ids)
    by_group = TaskGroupPermission.objects.filter(
        permission_id=perm, group_id__in=memberships.values("group_id")).order_by()
    # One IN over a UNION (not an OR of two semi-joins): PostgreSQL then starts from the
    # few permission rows of this user's groups and fetches those tasks by primary key,
    # instead of scanning every open task and probing two hashed subplans per row.
    ids = direct.values("content_object_id").union(by_group.values("content_object_id"))
    if assigned:
        ids = ids.union(UserTask.objects.filter(
            assignee_id__in=user_ids, status__in=list(USER_TASK_ACTIVE)).order_by().values("pk"))
    return Q(pk__in=ids)


def _substituted(user: Any, now: datetime) -> QuerySet[Any]:
    from engine.models import TaskSubstitution

    return TaskSubstitution.objects.filter(
        substitute_id=user.pk, starts_at__lte=now, ends_at__gt=now).values("user_id")


def sla_state_q(state: str, now: datetime) -> Q:
    """Tasks in SLA `state` at `now`: on track before at_risk_at, at risk from at_risk_at
    until due, breached from due on (half-open ranges; see tasks_portal/sla.py)."""
    if state == "none":
        return Q(due__isnull=True)
    if state == "breached":
        return Q(due__lte=now)
    if state == "at_risk":
        return Q(due__gt=now, at_risk_at__lte=now)
    return Q(due__gt=now) & (Q(at_risk_at__isnull=True) | Q(at_risk_at__gt=now))


def user_task_inbox(
    *,
    user: Any,
    view: str = "mine",
    filters: InboxFilters | None = None,
    order: str = "due",
    now: datetime | None = None,
) -> QuerySet[UserTask]:
    """One inbox list of open tasks for `user`.

    Views: "mine" (assigned to me), "group" (unclaimed, claimable by me or my groups),
    "substituting" (offered to or held by the people I substitute now), "all" (process
    admins only). Orders: INBOX_ORDERS. Rows come with instance, definition and assignee
    joined (no N+1), the instance state and model bytes left out.
    """
    from django.utils import timezone

    from engine.errors import InvalidTaskAction, TaskNotPermitted
    from engine.services.user_tasks import CLAIM, is_process_admin

    at = now or timezone.now()
    if view not in INBOX_VIEWS:
        raise InvalidTaskAction(f"unknown inbox view {view!r}; one of {INBOX_VIEWS}")
    if order not in INBOX_ORDERS:
        raise InvalidTaskAction(f"unknown inbox order {order!r}; one of {INBOX_ORDERS}")
    if user is None or not getattr(user, "is_authenticated", False):
        return UserTask.objects.none()
    tasks = UserTask.objects.filter(status__in=list(USER_TASK_ACTIVE))
    free = Q(assignee__isnull=True, assignee_username__isnull=True)
    if view == "mine":
        tasks = tasks.filter(assignee_id=user.pk)
    elif view == "group":
        tasks = tasks.filter(free & _offered_to([user.pk], CLAIM))
    elif view == "substituting":
        absent = _substituted(user, at)
        tasks = tasks.filter(_offered_to(absent, CLAIM, assigned=True)).filter(
            Q(assignee_id__in=absent) | free)
    elif not is_process_admin(user):
        raise TaskNotPermitted(0, "list all tasks", user.get_username())
    tasks = _filtered(tasks, filters, at)
    return (tasks.select_related("assignee", "instance__definition")
            .defer("instance__state", "instance__definition__bpmn_bytes")
            .order_by(*_ORDERINGS[order]))


def _filtered(tasks: QuerySet[UserTask], filters: InboxFilters | None,
              now: datetime) -> QuerySet[UserTask]:
    from django.db.models.fields.json import KeyTransform

    if filters is None:
        return tasks
    if filters.process:
        tasks = tasks.filter(process_key=filters.process)
    if filters.task:
        tasks = tasks.filter(element_id=filters.task)
    if filters.priority_min is not None:
        tasks = tasks.filter(priority__gte=filters.priority_min)
    if filters.priority_max is not None:
        tasks = tasks.filter(priority__lte=filters.priority_max)
    if filters.sla:
        tasks = tasks.filter(sla_state_q(filters.sla, now))
    if filters.business_key:
        tasks = tasks.filter(business_key=filters.business_key)
    for index, (name, value) in enumerate(sorted(filters.variables.items())):
        alias = f"_listvar{index}"
        tasks = tasks.annotate(**{alias: KeyTransform(name, "list_variables")}).filter(
            **{alias: value})
    if filters.text:
        text = filters.text
        tasks = tasks.filter(Q(name__icontains=text) | Q(element_id__icontains=text)
                             | Q(process_key__icontains=text)
                             | Q(business_key__icontains=text))
    return tasks


def user_task_visible(*, user: Any, now: datetime | None = None) -> QuerySet[UserTask]:
    """Every task (any status) `user` may see: held view permission, own or through a
    group or someone they substitute now; process admins see all."""
    from django.utils import timezone

    from engine.services.user_tasks import VIEW, is_process_admin

    if user is None or not getattr(user, "is_authenticated", False):
        return UserTask.objects.none()
    if is_process_admin(user):
        return UserTask.objects.all()
    at = now or timezone.now()
    return UserTask.objects.filter(_offered_to([user.pk], VIEW)
                                   | _offered_to(_substituted(user, at), VIEW))


def user_task_comments(*, task: UserTask) -> QuerySet[Any]:
    """A task's comments, oldest first, with their authors."""
    return task.comments.select_related("author").order_by("created_at", "id")


def saved_inbox_view_list(*, user: Any) -> QuerySet[Any]:
    """The user's own saved views and those shared with one of their groups."""
    from engine.models import SavedInboxView

    if user is None or not getattr(user, "is_authenticated", False):
        return SavedInboxView.objects.none()
    return (SavedInboxView.objects.filter(
        Q(owner_id=user.pk) | Q(shared_with__in=user.groups.all()))
        .select_related("owner", "shared_with").order_by("name", "id"))


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


# --- Admin monitoring: a definition's instances on its diagram (tasks_portal admin pages) --

# Audit kinds that mean "a token went through this element" (one row per pass): arrivals
# at a join ("gateway joined") are left out because the merged token then leaves by
# "gateway taken", and "task completed" because "activity completed" follows it.
PASSED_KINDS = ("activity completed", "event passed", "event caught", "event thrown",
                "gateway taken")
_LIVE_STATUSES = (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED)


def _token_nodes_from(alias: str) -> str:
    """SQL table expression yielding column `node` for each stored token of instance `alias`.

    The state JSON keeps live tokens under "t", each with its node under "n"; counting
    them in SQL (jsonb on PostgreSQL, JSON1 on SQLite) avoids reading every state row.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        return (f"jsonb_to_recordset(COALESCE({alias}.state -> 't', '[]'::jsonb)) "
                "AS tok(n text)")
    return f"json_each({alias}.state, '$.t') AS tok"


def _token_node_column() -> str:
    from django.db import connection

    return "tok.n" if connection.vendor == "postgresql" else "json_extract(tok.value, '$.n')"


def definition_heatmap(*, definition_id: int) -> dict[str, dict[str, int]]:
    """Per element of one definition: tokens resting there now, passes, open incidents.

    `{"Review": {"waiting": 3, "passed": 120, "incidents": 0}, ...}` over every running or
    suspended instance of the definition. Three grouped queries whatever the number of
    instances: tokens from the instances' state, passes from the audit rows
    (PASSED_KINDS), open incidents.
    """
    from django.db import connection
    from django.db.models import Count

    counts: dict[str, dict[str, int]] = {}

    def slot(element_id: str) -> dict[str, int]:
        return counts.setdefault(element_id, {"waiting": 0, "passed": 0, "incidents": 0})

    table = connection.ops.quote_name(ProcessInstance._meta.db_table)
    node = _token_node_column()
    sql = (f"SELECT {node}, COUNT(*) FROM {table} AS inst, {_token_nodes_from('inst')} "  # noqa: S608
           "WHERE inst.definition_id = %s AND inst.status IN (%s, %s) "
           f"GROUP BY {node}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [definition_id, *_LIVE_STATUSES])
        for element_id, waiting in cursor.fetchall():
            if element_id is not None:
                slot(str(element_id))["waiting"] = int(waiting)
    for element_id, passes in _passes_per_element(definition_id):
        if element_id is not None:
            slot(str(element_id))["passed"] = int(passes)
    incidents = (Incident.objects.filter(instance__definition_id=definition_id,
                                         resolved_at__isnull=True)
                 .values("element_id").annotate(n=Count("id")).order_by())
    for open_row in incidents:
        slot(open_row["element_id"])["incidents"] = open_row["n"]
    return counts


def _passes_per_element(definition_id: int) -> list[tuple[str | None, int]]:
    """(element, passes) over the audit rows of every instance of one definition."""
    from django.db import connection
    from django.db.models import Count

    from engine.models import AuditEvent

    if connection.vendor == "postgresql":
        # The instance ids as one array: PostgreSQL then walks the (instance_id, seq) index
        # once per instance. A join or IN (subquery) lets the planner scan the whole audit
        # index by instance order instead (1.5 s instead of 80 ms at 10,000 instances
        # beside a 1,000,000-row chain), or worse on stale statistics.
        events = connection.ops.quote_name(AuditEvent._meta.db_table)
        instances = connection.ops.quote_name(ProcessInstance._meta.db_table)
        sql = (f"SELECT element_id, COUNT(*) FROM {events} "  # noqa: S608
               f"WHERE instance_id = ANY(ARRAY(SELECT id FROM {instances} "
               "WHERE definition_id = %s)) AND kind = ANY(%s) GROUP BY element_id")
        with connection.cursor() as cursor:
            cursor.execute(sql, [definition_id, list(PASSED_KINDS)])
            return [(row[0], row[1]) for row in cursor.fetchall()]
    of_definition = ProcessInstance.objects.filter(definition_id=definition_id).values("pk")
    passed = (AuditEvent.objects.filter(instance_id__in=of_definition, kind__in=PASSED_KINDS)
              .values("element_id").annotate(n=Count("id")).order_by())
    return [(row["element_id"], row["n"]) for row in passed]


def element_instances_waiting(
    *, definition_id: int, element_id: str
) -> QuerySet[ProcessInstance]:
    """Running or suspended instances of a definition with a token on `element_id` now."""
    from django.db import connection

    table = connection.ops.quote_name(ProcessInstance._meta.db_table)
    sql = (f"SELECT inst.id FROM {table} AS inst, {_token_nodes_from('inst')} "  # noqa: S608
           f"WHERE inst.definition_id = %s AND inst.status IN (%s, %s) "
           f"AND {_token_node_column()} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [definition_id, *_LIVE_STATUSES, element_id])
        ids = {row[0] for row in cursor.fetchall()}
    return process_instance_list().filter(pk__in=ids)


def element_instances_passed(
    *, definition_id: int, element_id: str
) -> QuerySet[ProcessInstance]:
    """Instances of a definition (any status) whose tokens went through `element_id`."""
    from engine.models import AuditEvent

    passed = AuditEvent.objects.filter(
        instance_id__in=ProcessInstance.objects.filter(definition_id=definition_id)
        .values("pk"),
        element_id=element_id, kind__in=PASSED_KINDS,
    ).values("instance_id")
    return process_instance_list().filter(pk__in=passed)


def instance_active_elements(*, instance: ProcessInstance) -> list[str]:
    """The elements holding a token of `instance` now (with repeats for parallel tokens)."""
    tokens = instance.state.get("t", []) if isinstance(instance.state, dict) else []
    return [str(token["n"]) for token in tokens if isinstance(token, dict) and "n" in token]


def definition_versions(*, key: str) -> QuerySet[ProcessDefinition]:
    """Every version of process `key`, newest first, with who deployed it and how many of
    its instances are live (`live_instances`) or were ever started (`all_instances`)."""
    from django.db.models import Count

    return (
        ProcessDefinition.objects.filter(key=key)
        .select_related("deployed_by", "deployment").defer("bpmn_bytes")
        .annotate(
            live_instances=Count("instances", filter=Q(instances__status__in=_LIVE_STATUSES)),
            all_instances=Count("instances"),
        )
        .order_by("-version")
    )


def definition_key_stats() -> dict[str, dict[str, int]]:
    """Per process key (all versions): live instances and open incidents. Two grouped queries."""
    from django.db.models import Count

    stats: dict[str, dict[str, int]] = {}
    live = (ProcessInstance.objects.filter(status__in=_LIVE_STATUSES)
            .values("definition__key").annotate(n=Count("id")).order_by())
    for row in live:
        stats.setdefault(row["definition__key"], {"live": 0, "incidents": 0})["live"] = row["n"]
    incidents = (Incident.objects.filter(resolved_at__isnull=True)
                 .values("instance__definition__key").annotate(n=Count("id")).order_by())
    for open_row in incidents:
        slot = stats.setdefault(open_row["instance__definition__key"], {"live": 0, "incidents": 0})
        slot["incidents"] = open_row["n"]
    return stats


# --- REST API searches (issue 6) -------------------------------------------------------


def process_instance_search(
    *,
    definition_id: int | None = None,
    key: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    started_by: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    variables: dict[str, object] | None = None,
    only_started_by_id: int | None = None,
) -> QuerySet[ProcessInstance]:
    """Instances matching every given filter, newest first. `variables` match process
    (root scope) variables by JSON equality; `only_started_by_id` limits the result to one
    user's instances (what an approver may see)."""
    from django.db.models.fields.json import KeyTransform

    instances = process_instance_list(status=status, key=key, business_key=business_key)
    instances = instances.select_related("started_by")
    if definition_id is not None:
        instances = instances.filter(definition_id=definition_id)
    if started_by is not None:
        instances = instances.filter(started_by__username=started_by)
    if only_started_by_id is not None:
        instances = instances.filter(started_by_id=only_started_by_id)
    if started_after is not None:
        instances = instances.filter(started_at__gte=started_after)
    if started_before is not None:
        instances = instances.filter(started_at__lt=started_before)
    for index, (name, value) in enumerate((variables or {}).items()):
        # The root scope is the first one stored ("s"[0]); its variables are under "v".
        path = KeyTransform(name, KeyTransform("v", KeyTransform("0", KeyTransform(
            "s", "state"))))
        alias = f"_var{index}"
        instances = instances.alias(**{alias: path}).filter(**{alias: value})
    return instances


def job_list(
    *, instance_id: int | None = None, kind: str | None = None, with_incident: bool | None = None,
    external: bool | None = None, topic: str | None = None,
) -> QuerySet[Job]:
    """Jobs (timers, service and external tasks, custom jobs), soonest due first.
    `external` True: only external tasks (jobs with a topic, for outside workers)."""
    jobs = Job.objects.all()
    if external is not None:
        jobs = jobs.filter(topic__isnull=not external)
    if topic is not None:
        jobs = jobs.filter(topic=topic)
    if instance_id is not None:
        jobs = jobs.filter(instance_id=instance_id)
    if kind is not None:
        jobs = jobs.filter(kind=kind)
    if with_incident is not None:
        has = Exists(Incident.objects.filter(job=OuterRef("pk"), resolved_at__isnull=True))
        jobs = jobs.filter(has) if with_incident else jobs.exclude(has)
    return jobs.order_by("due_at", "id")


def incident_list(
    *, instance_id: int | None = None, resolved: bool | None = False
) -> QuerySet[Incident]:
    """Incidents, newest first; open ones only unless `resolved` is None (all) or True."""
    incidents = Incident.objects.select_related("instance__definition").defer(
        "instance__state", "instance__definition__bpmn_bytes")
    if resolved is not None:
        incidents = incidents.filter(resolved_at__isnull=not resolved)
    if instance_id is not None:
        incidents = incidents.filter(instance_id=instance_id)
    return incidents.order_by("-created_at", "-id")


def user_task_list_all(
    *,
    status: str | None = None,
    process: str | None = None,
    task: str | None = None,
    business_key: str | None = None,
    instance_id: int | None = None,
) -> QuerySet[UserTask]:
    """Every task, any status, newest first: what an auditor reads (no permission filter;
    the caller checks the auditor role). Joined like the inbox, model bytes left out."""
    tasks = UserTask.objects.all()
    if status is not None:
        tasks = tasks.filter(status=status)
    if process is not None:
        tasks = tasks.filter(instance__definition__key=process)
    if task is not None:
        tasks = tasks.filter(element_id=task)
    if business_key is not None:
        tasks = tasks.filter(instance__business_key=business_key)
    if instance_id is not None:
        tasks = tasks.filter(instance_id=instance_id)
    return (tasks.select_related("assignee", "instance__definition")
            .defer("instance__state", "instance__definition__bpmn_bytes")
            .order_by("-created_at", "-id"))
