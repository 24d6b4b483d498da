"""Engine tables: deployments, definitions, running instances and their rows, the audit trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from engine.errors import AuditIsAppendOnly
from engine.status import InstanceStatus, UserTaskStatus


class Deployment(models.Model):
    """A set of process definitions deployed together, by one person, at one time."""

    name = models.CharField(max_length=200, blank=True)
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deployed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deployed_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"Deployment {self.pk}"


class ProcessKey(models.Model):
    """One row per process key. Its row lock serialises version allocation for that key.

    Locking "the newest definition" is not enough: the first version has no row to lock,
    and under READ COMMITTED a waiter that finally gets the lock still reads the row it
    queued for, not a version inserted meanwhile. A counter row fixes both.
    """

    key = models.CharField(max_length=255, unique=True)
    latest_version = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key} (v{self.latest_version})"


class ProcessDefinition(models.Model):
    """One version of one executable process, as deployed (immutable once stored)."""

    key = models.CharField(max_length=255, help_text="The process id in the BPMN file.")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=255, blank=True)
    deployment = models.ForeignKey(
        Deployment, on_delete=models.PROTECT, related_name="process_definitions"
    )
    source_name = models.CharField(max_length=255, help_text="The uploaded file's name.")
    # The file exactly as uploaded: it may be UTF-16 or ISO-8859-1, so we keep bytes and
    # let the XML reader honour the declared encoding every time.
    bpmn_bytes = models.BinaryField()
    checksum = models.CharField(max_length=64, help_text="SHA-256 of bpmn_bytes, hex.")
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deployed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="engine_procdef_key_version"),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="engine_procdef_version_positive"
            ),
        ]
        # (key, version) unique also serves every lookup by key: no separate key index.

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class DeploymentResource(models.Model):
    """A non-BPMN file deployed with models: a form-js form (JSON), looked up by its id.

    Forms are immutable once deployed, like definitions; a changed form is a new row in a
    new deployment, and `engine.selectors.deployed_form_get` picks the right one.
    """

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=255, help_text="The uploaded file's name.")
    form_id = models.CharField(max_length=255, help_text="The form's `id` in its JSON.")
    schema = models.JSONField(help_text="The form-js JSON as deployed.")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the uploaded bytes, hex.")

    class Meta:
        ordering = ["deployment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "name"], name="engine_resource_name"),
            models.UniqueConstraint(fields=["deployment", "form_id"], name="engine_resource_form"),
        ]
        indexes = [models.Index(fields=["form_id", "deployment"], name="engine_resource_form_dep")]

    def __str__(self) -> str:
        return f"form {self.form_id} ({self.name}) of deployment {self.deployment_id}"


# --- Running instances and the rows their waits become (engine/services/_shell.py) -----


class ProcessInstance(models.Model):
    """One run of a process definition. `state` is the runtime's compact InstanceState JSON.

    Every trigger locks this row first (engine.locks.lock_instance), then its children, and
    bumps `revision`, so two triggers for one instance are applied one after the other.
    """

    definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.PROTECT, related_name="instances"
    )
    business_key = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=InstanceStatus.choices, default=InstanceStatus.RUNNING
    )
    state = models.JSONField(default=dict, blank=True)
    revision = models.PositiveIntegerField(default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    parent_instance = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # The same key twice returns the first instance (a client retrying a start request).
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["status", "started_at"], name="engine_inst_status_started"),
            models.Index(fields=["definition", "status"], name="engine_inst_def_status"),
        ]

    def __str__(self) -> str:
        return f"instance {self.pk} of {self.definition_id} ({self.status})"


class UserTask(models.Model):
    """A user task an inbox can query. `task_id` is the runtime's id, unique per instance.

    The model's assignee is a name (literal or expression result): it is kept as
    `assignee_username`, and `assignee` points at the user of that name when one existed
    when the task was made (the inbox joins on the foreign key; the name is never lost).
    """

    # No single-column index on instance, assignee or owner: the unique (instance, task_id)
    # and the (assignee, status) and (owner, status) indexes start with them and serve the
    # same look-ups; every index of this table is written again when a task's status
    # changes (docs/benchmarks.md).
    instance = models.ForeignKey(ProcessInstance, on_delete=models.CASCADE, related_name="tasks",
                                 db_index=False)
    task_id = models.PositiveBigIntegerField()
    element_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    assignee_username = models.CharField(max_length=150, null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_tasks", db_index=False,
    )
    candidate_users = models.JSONField(default=list, blank=True)
    candidate_groups = models.JSONField(default=list, blank=True)
    due = models.DateTimeField(null=True, blank=True)
    follow_up = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=50)
    form = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=UserTaskStatus.choices, default=UserTaskStatus.OPEN
    )
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # Delegation (Camunda 7's owner + delegationState): the owner keeps the task while the
    # assignee (the delegate) works it; resolving gives it back to the owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_tasks", db_index=False,
    )
    delegation_state = models.CharField(max_length=16, blank=True, default="")
    # What the delegate proposed when resolving: merged under the owner's values on completion.
    resolved_variables = models.JSONField(default=dict, blank=True)
    # Copied from the instance so the inbox filters and sorts without joining it.
    process_key = models.CharField(max_length=255, blank=True, default="")
    business_key = models.CharField(max_length=255, null=True, blank=True)
    # The variables the model marks visible in the task list (`listVariables`), as they were
    # when the task was offered.
    list_variables = models.JSONField(default=dict, blank=True)
    # Four-eyes: element ids whose completers may not claim or complete this task.
    exclude_completers_of = models.JSONField(default=list, blank=True)
    # SLA: on track before at_risk_at, at risk until due, breached from due on (sla.py).
    at_risk_at = models.DateTimeField(null=True, blank=True)
    sla_stage = models.PositiveSmallIntegerField(default=0)  # 1 at-risk handled, 2 breach
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "task_id"], name="engine_usertask_inst_tid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due"], name="engine_usertask_status_due"),
            models.Index(fields=["assignee", "status"], name="engine_usertask_assignee"),
            models.Index(fields=["status", "created_at"], name="engine_usertask_status_new"),
            models.Index(fields=["status", "priority"], name="engine_usertask_status_prio"),
            models.Index(fields=["status", "at_risk_at"], name="engine_usertask_status_risk"),
            models.Index(fields=["process_key", "element_id", "status"],
                         name="engine_usertask_proc_el"),
            models.Index(fields=["business_key"], name="engine_usertask_bkey"),
            models.Index(fields=["owner", "status"], name="engine_usertask_owner"),
            # The admins' "all" list in each order it offers, read in index order (no sort
            # of every open task): partial, so completed history does not weigh on them.
            models.Index(fields=["due", "-priority", "id"], name="engine_usertask_open_due",
                         condition=models.Q(status__in=["open", "claimed"])),
            models.Index(fields=["-priority", "due", "id"], name="engine_usertask_open_prio",
                         condition=models.Q(status__in=["open", "claimed"])),
            models.Index(fields=["created_at", "id"], name="engine_usertask_open_new",
                         condition=models.Q(status__in=["open", "claimed"])),
        ]
        permissions = [
            ("claim_usertask", "Can claim the user task"),
            ("complete_usertask", "Can complete the user task"),
        ]

    def __str__(self) -> str:
        return f"task {self.element_id} of instance {self.instance_id} ({self.status})"


class UserTaskCandidateGroup(models.Model):
    """One candidate group of a task: "offered to any of my groups" is one indexed join."""

    task = models.ForeignKey(UserTask, on_delete=models.CASCADE, related_name="group_offers")
    group_name = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "group_name"], name="engine_taskgroup_unique"),
        ]
        indexes = [models.Index(fields=["group_name", "task"], name="engine_taskgroup_name")]

    def __str__(self) -> str:
        return f"{self.group_name} may work task {self.task_id}"


class TaskUserPermission(UserObjectPermissionBase):
    """django-guardian object permission of one user on one task (a direct foreign key,
    so "tasks I may see" is an indexed join instead of a text match on object_pk)."""

    content_object = models.ForeignKey(UserTask, on_delete=models.CASCADE,
                                       related_name="user_permissions")

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class TaskGroupPermission(GroupObjectPermissionBase):
    """django-guardian object permission of one group on one task (direct foreign key)."""

    content_object = models.ForeignKey(UserTask, on_delete=models.CASCADE,
                                       related_name="group_permissions")

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False


class TaskComment(models.Model):
    """A comment on a task, by a person; audited on the instance chain as well."""

    task = models.ForeignKey(UserTask, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="engine_taskcomment_task")]

    def __str__(self) -> str:
        return f"comment {self.pk} on task {self.task_id}"


class TaskSubstitution(models.Model):
    """`substitute` works the tasks offered to `user` from starts_at until ends_at."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="substituted_by"
    )
    substitute = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="substituting"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="engine_substitution_range"),
            models.CheckConstraint(condition=~models.Q(user=models.F("substitute")),
                                   name="engine_substitution_not_self"),
        ]
        indexes = [
            models.Index(fields=["substitute", "starts_at", "ends_at"],
                         name="engine_substitution_sub"),
        ]

    def __str__(self) -> str:
        return f"{self.substitute_id} for {self.user_id} from {self.starts_at} to {self.ends_at}"


class SavedInboxView(models.Model):
    """A named inbox filter a user saved; `shared_with` lets a group use it too."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_inbox_views"
    )
    name = models.CharField(max_length=100)
    view = models.CharField(max_length=16, default="mine")
    filters = models.JSONField(default=dict, blank=True)
    order = models.CharField(max_length=16, default="due")
    shared_with = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="engine_savedview_name"),
        ]

    def __str__(self) -> str:
        return f"inbox view {self.name!r} of {self.owner_id}"


class Job(models.Model):
    """Work due at a time: a timer, or a service/send/business rule task waiting for a worker.

    `job_id` is the runtime's id within the instance. A timer start event of a deployed
    definition has no instance yet: it carries `definition` instead. Rows are deleted
    when the job is done or cancelled (the audit trail keeps the history).
    """

    instance = models.ForeignKey(
        ProcessInstance, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    definition = models.ForeignKey(
        ProcessDefinition, null=True, blank=True, on_delete=models.CASCADE,
        related_name="start_jobs",
    )
    job_id = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=32)
    element_id = models.CharField(max_length=255)
    due_at = models.DateTimeField(db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    retries_left = models.PositiveIntegerField(default=3)
    # Who holds the job and until when (engine.jobs claims, external workers lock). An
    # expired lease is free again: a worker that died gives its jobs back by doing nothing.
    lease_owner = models.CharField(max_length=255, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    # Failed attempts so far; the first failure applies the model's retry plan.
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    error_details = models.TextField(blank=True, default="")
    # Set for external tasks (camunda:topic, a zeebe type no Python handler serves): such
    # jobs wait for fetch-and-lock by an outside worker; the runner never claims them.
    topic = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "job_id"], name="engine_job_inst_jid"),
        ]
        indexes = [
            models.Index(fields=["kind", "due_at"], name="engine_job_kind_due"),
            models.Index(fields=["topic", "due_at"], name="engine_job_topic_due"),
            # The runner's claim: due jobs it may run, oldest first; external tasks and
            # jobs held by an incident stay out of the index it walks.
            models.Index(fields=["due_at", "id"], name="engine_job_runnable",
                         condition=models.Q(topic__isnull=True, retries_left__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.job_id} at {self.element_id}"


class SubscriptionKind(models.TextChoices):
    MESSAGE = "message", "message"
    SIGNAL = "signal", "signal"


class EventSubscription(models.Model):
    """A message or signal a waiting token (or a start event of a latest definition) wants.

    Instance subscriptions carry `instance`; start events of the newest version of a key
    carry `definition` and no instance. `correlation_key` is the canonical JSON of
    `correlation`, so a correlation is an exact, indexed string match.
    """

    instance = models.ForeignKey(
        ProcessInstance, null=True, blank=True, on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    definition = models.ForeignKey(
        ProcessDefinition, null=True, blank=True, on_delete=models.CASCADE,
        related_name="start_subscriptions",
    )
    subscription_id = models.PositiveBigIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=SubscriptionKind.choices)
    name = models.CharField(max_length=255, null=True, blank=True)
    correlation = models.JSONField(default=dict, blank=True)
    correlation_key = models.CharField(max_length=512, blank=True, default="")
    element_id = models.CharField(max_length=255)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "subscription_id"], name="engine_sub_inst_sid"
            ),
            models.CheckConstraint(
                condition=models.Q(instance__isnull=False) | models.Q(definition__isnull=False),
                name="engine_sub_has_owner",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "name", "correlation_key"], name="engine_sub_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} at {self.element_id}"


class Incident(models.Model):
    """Something an admin must look at: a failed job or an expression that failed."""

    instance = models.ForeignKey(
        ProcessInstance, on_delete=models.CASCADE, related_name="incidents"
    )
    element_id = models.CharField(max_length=255)
    message = models.TextField(blank=True)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # What the job said on its last attempt (a traceback, or an external worker's details).
    error_details = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["resolved_at", "created_at"], name="engine_incident_open")]

    def __str__(self) -> str:
        return f"incident at {self.element_id} of instance {self.instance_id}"


# --- Audit trail (engine/audit.py writes and verifies it; see docs/audit.md) -----------

SYSTEM_CHAIN = "system"
# prev_hash of the first row of every chain.
GENESIS_HASH = "0" * 64


def instance_chain(instance_id: int) -> str:
    """The audit chain name of one process instance."""
    return f"instance:{instance_id}"


class AuditKind(models.TextChoices):
    """THE vocabulary of audit event kinds (docs/audit.md explains each one to auditors).

    A kind is lower-case words separated by single spaces ("activity completed", "task
    claimed"), at most 64 characters. The runtime's kinds (engine.runtime.AuditKind, which
    cannot import Django) are the same strings and are all listed here too (a test keeps
    the two in step). engine.audit writes a kind given with underscores ("task_claimed")
    as the same words with spaces, so every writer lands in this one vocabulary.
    """

    # The process instance (engine/runtime and engine/services).
    PROCESS_STARTED = "process started", "process instance started"
    PROCESS_COMPLETED = "process completed", "process instance completed"
    PROCESS_CANCELLED = "process cancelled", "process instance cancelled"
    SUSPENDED = "suspended", "process instance suspended"
    RESUMED = "resumed", "process instance resumed"
    CALLED_BY = "called by", "started by a call activity of another instance"
    # Activities, events, gateways and tokens (the runtime; one per token move).
    ACTIVITY_STARTED = "activity started", "activity started"
    ACTIVITY_COMPLETED = "activity completed", "activity completed"
    ACTIVITY_CANCELLED = "activity cancelled", "activity cancelled"
    LOOP_STARTED = "loop started", "loop or multi-instance body started"
    LOOP_COMPLETED = "loop completed", "loop or multi-instance body completed"
    LOOP_CANCELLED = "loop cancelled", "loop or multi-instance body cancelled"
    EVENT_PASSED = "event passed", "none or link event passed"
    EVENT_WAITING = "event waiting", "catch event waiting"
    EVENT_CAUGHT = "event caught", "event caught"
    EVENT_THROWN = "event thrown", "event thrown"
    GATEWAY_WAITING = "gateway waiting", "token waiting at a joining gateway"
    GATEWAY_JOINED = "gateway joined", "joining gateway fired"
    GATEWAY_TAKEN = "gateway taken", "gateway passed"
    TOKEN_CANCELLED = "token cancelled", "token on an event or gateway cancelled"
    TOKEN_ENDED = "token ended", "token ended without an end event"
    ERROR_UNHANDLED = "error unhandled", "BPMN error nothing caught"
    ESCALATION_UNHANDLED = "escalation unhandled", "escalation nothing caught"
    COMPENSATION_THROWN = "compensation thrown", "compensation thrown"
    COMPENSATION_STARTED = "compensation started", "compensation handler started"
    COMPENSATION_COMPLETED = "compensation completed", "compensation completed"
    TRANSACTION_CANCELLED = "transaction cancelled", "transaction subprocess cancelled"
    CALL_STARTED = "call started", "call activity waiting for its child instance"
    CALL_COMPLETED = "call completed", "call activity's child instance completed"
    CALL_FAILED = "call failed", "call activity's child instance failed"
    CHILD_STARTED = "child started", "child instance of a call activity started"
    ERROR_THROWN_OUT = "error thrown to caller", "BPMN error thrown to the calling instance"
    ESCALATION_THROWN_OUT = "escalation thrown to caller", "escalation thrown to the caller"
    # User tasks (the runtime, and engine/services/user_tasks.py).
    TASK_CREATED = "task created", "user task created"
    TASK_CLAIMED = "task claimed", "user task claimed"
    TASK_UNCLAIMED = "task unclaimed", "user task handed back"
    TASK_DELEGATED = "task delegated", "user task delegated"
    TASK_RESOLVED = "task resolved", "delegated user task resolved"
    TASK_ASSIGNED = "task assigned", "user task assigned"
    TASK_COMMENTED = "task commented", "user task commented"
    TASK_ESCALATED = "task escalated", "user task escalated"
    TASK_COMPLETED = "task completed", "user task completed"
    TASK_SLA_AT_RISK = "task sla at risk", "user task's SLA at risk"
    TASK_SLA_BREACHED = "task sla breached", "user task's SLA breached"
    # Variables, jobs, incidents, messages and signals.
    VARIABLE_SET = "variable set", "variable set"
    JOB_SCHEDULED = "job scheduled", "job scheduled"
    JOB_FIRED = "job fired", "job fired"
    JOB_DONE = "job done", "job done"
    JOB_FAILED = "job failed", "job failed"
    JOB_RETRY_SCHEDULED = "job retry scheduled", "failed job scheduled to run again"
    JOB_RETRIES_SET = "job retries set", "job retries set by an admin"
    ASYNC_WAITING = "async waiting", "token waiting for an async continuation job"
    INCIDENT = "incident", "incident raised"
    INCIDENT_RESOLVED = "incident resolved", "incident resolved"
    MESSAGE = "message", "message"
    MESSAGE_UNDELIVERED = "message undelivered", "thrown message nobody waited for"
    SIGNAL = "signal", "signal"
    # The system chain: deployments and admin actions.
    DEPLOYED = "deployed", "definition deployed"
    FORM_DEPLOYED = "form deployed", "form file deployed"
    API_TOKEN_CREATED = "api token created", "API token issued"
    API_TOKEN_REVOKED = "api token revoked", "API token revoked"


class AuditChain(models.Model):
    """The head of one hash chain. Its row lock serialises appends to that chain only."""

    name = models.CharField(max_length=100, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seq}"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Audit rows are append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise AuditIsAppendOnly("update")

    def _update(self, values: Any) -> Any:
        raise AuditIsAppendOnly("update")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        # Refuse before Django opens its atomic block, so the caller's transaction survives.
        raise AuditIsAppendOnly("update")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditIsAppendOnly("delete")

    def _raw_delete(self, using: Any) -> int:
        raise AuditIsAppendOnly("delete")


class AuditEvent(models.Model):
    """One row of a hash chain: what happened, to which instance and element, by whom, when.

    No foreign keys on purpose: deleting an instance or a user must never cascade into or
    rewrite history, so the actor is kept as username plus the user's id at the time.
    Rows are written only by engine.audit (which computes `hash`) and never changed.
    """

    chain = models.CharField(max_length=100)
    seq = models.PositiveBigIntegerField()
    instance_id = models.BigIntegerField(null=True, blank=True)
    element_id = models.CharField(max_length=255, null=True, blank=True)
    kind = models.CharField(max_length=64)
    actor = models.CharField(max_length=150, null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            # Also the index every chain walk uses (WHERE chain = ? ORDER BY seq).
            models.UniqueConstraint(fields=["chain", "seq"], name="engine_audit_chain_seq"),
            models.CheckConstraint(
                condition=models.Q(seq__gte=1), name="engine_audit_seq_positive"
            ),
        ]
        indexes = [
            # Serves "history of instance N" and every lookup by instance_id alone.
            models.Index(fields=["instance_id", "seq"], name="engine_audit_instance_seq"),
            models.Index(fields=["kind", "at"], name="engine_audit_kind_at"),
            models.Index(fields=["at"], name="engine_audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditIsAppendOnly("update")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditIsAppendOnly("delete")
