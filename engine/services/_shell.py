"""The shell: the ONE place runtime steps become rows, in the caller's transaction.

Services lock the instance (engine.locks), then call `run_trigger` or `start_instance`
here. A step's effects are applied in the order the runtime emitted them: user task, job
and subscription rows are created or removed, Audit effects become one batch on the
instance's audit chain, and the new state is saved with `revision` + 1. Call activities
are run next (`_run_calls`): child instances are started, cancelled, and their end is
told to the caller, all in the same transaction. Signals and
messages the step threw (ThrowSignal, SendMessage) are delivered afterwards, in the same
transaction, in the order they were thrown, each delivery one step of its target; a chain
of deliveries deeper than MAX_DELIVERY_DEPTH is refused (DeliveryTooDeep) so two
instances signalling each other cannot loop forever.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from bpmn.timers import parse_timer
from engine import locks, rows, runtime
from engine.audit import AuditEntry, audit_append_hinted, audit_append_many
from engine.definitions import compiled_process
from engine.errors import (
    DeliveryTooDeep,
    InstanceNotRunning,
    InstanceSuspended,
    InvalidVariables,
    MessageAmbiguous,
    MessageNotCorrelated,
    NoStartEvent,
    StaleInstance,
    TriggerRejected,
)
from engine.models import (
    AuditKind,
    EventSubscription,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    SubscriptionKind,
    UserTask,
    UserTaskCandidateGroup,
    instance_chain,
)
from engine.runtime.call_activity import MAX_CALL_DEPTH
from engine.runtime.variables import VariableError, to_json_value
from engine.signals import user_task_created, user_tasks_cancelled
from engine.status import (
    USER_TASK_ACTIVE,
    InstanceStatus,
    UserTaskStatus,
    instance_transition,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import Field

# Deliveries of thrown signals/messages that themselves throw: at most this many levels.
MAX_DELIVERY_DEPTH = 8
DEFAULT_PRIORITY = 50
# Attempts to find and lock a message target whose subscription another trigger consumed.
_CORRELATION_ATTEMPTS = 3


# --- Helpers -------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """`value` (dataclasses, mappings, tuples, datetimes) as plain JSON data."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool or kind is float:
        return value  # most values of audit data: tested first
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical_json(value: Mapping[str, Any] | None) -> str:
    """Sorted, compact JSON of a correlation dict; "" for none. Used for exact matching."""
    if not value:
        return ""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _actor_name(actor: AbstractBaseUser | None) -> str | None:
    return actor.get_username() if actor is not None else None


def json_variables(variables: Mapping[str, object] | None) -> dict[str, object]:
    """Variables as JSON values, or InvalidVariables."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise InvalidVariables("variables must be a mapping of names to values")
    try:
        return {str(k): to_json_value(v) for k, v in variables.items()}
    except VariableError as exc:
        raise InvalidVariables(str(exc)) from exc


def ensure_running(instance: ProcessInstance) -> None:
    """Refuse a trigger for a suspended or ended instance."""
    if instance.status == InstanceStatus.SUSPENDED:
        raise InstanceSuspended(instance.pk)
    if instance.status != InstanceStatus.RUNNING:
        raise InstanceNotRunning(instance.pk, instance.status)


def load_state(instance: ProcessInstance) -> runtime.InstanceState:
    return runtime.InstanceState.from_json(instance.state)


# --- Starting and triggering ---------------------------------------------------------


def start_instance(
    *,
    definition: ProcessDefinition,
    variables: Mapping[str, object] | None,
    business_key: str | None,
    actor: AbstractBaseUser | None,
    now: datetime,
    start_event_id: str | None = None,
    idempotency_key: str | None = None,
    depth: int = 0,
    parent: ProcessInstance | None = None,
    call_id: int | None = None,
) -> tuple[ProcessInstance, bool]:
    """Create an instance of `definition` and run it until it rests. (instance, created).
    With `parent` and `call_id` it is the child instance of that call activity."""
    if idempotency_key is not None:
        existing = ProcessInstance.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    compiled = compiled_process(definition)
    values = json_variables(variables)
    # The step is computed before the row exists (it needs no instance id), so the row is
    # inserted once, with the state the step left, instead of inserted and then updated.
    try:
        step = runtime.start(compiled, values, now=now, start_event_id=start_event_id,
                             business_key=business_key, call=call_id,
                             initiator=_actor_name(actor))
    except runtime.NoDefaultStart as exc:
        raise NoStartEvent(str(exc)) from exc
    except VariableError as exc:
        raise InvalidVariables(str(exc)) from exc
    instance = ProcessInstance(
        definition=definition,
        business_key=business_key,
        status=InstanceStatus.RUNNING,
        state=step.state.to_json(),
        revision=1,
        started_by_id=actor.pk if actor is not None else None,
        started_at=now,
        idempotency_key=idempotency_key,
        parent_instance=parent,
    )
    target = _ended_status(step.state)
    if target is not None:
        instance.status = instance_transition(instance.status, target)
        instance.ended_at = now
    if idempotency_key is None:
        rows.insert(instance)
    else:
        try:
            # A savepoint: a concurrent start with the same idempotency key waits on the
            # unique index until the first commits, then fails here and returns the first.
            with transaction.atomic():
                instance.save(force_insert=True)
        except IntegrityError:
            return ProcessInstance.objects.get(idempotency_key=idempotency_key), False
    entries, outbox = _apply_effects(instance, step, now=now, actor=actor, job=None)
    if target is not None:
        _remove_leftovers(instance)
    if parent is not None:
        # The child's chain begins by naming its caller; the caller's chain names the child.
        entries.insert(0, AuditEntry(
            kind=str(AuditKind.CALLED_BY), at=now, actor=actor, instance_id=instance.pk,
            element_id=definition.key,
            data={"parent_instance": parent.pk, "call": call_id},
        ))
    _audit_step(instance, entries, new_chain=True)
    _run_calls(instance, step, now=now, actor=actor, depth=depth)
    for item in outbox:
        _deliver(instance, item, now=now, actor=actor, depth=depth + 1)
    return instance, True


def run_trigger(
    instance: ProcessInstance,
    trigger: runtime.Trigger,
    *,
    now: datetime,
    actor: AbstractBaseUser | None,
    job: Job | None = None,
    depth: int = 0,
    allow_suspended: bool = False,
) -> runtime.Step:
    """Apply `trigger` to a LOCKED instance and write what the step did."""
    if not (allow_suspended and instance.status == InstanceStatus.SUSPENDED):
        ensure_running(instance)
    compiled = compiled_process(instance.definition)
    try:
        step = runtime.handle(compiled, load_state(instance), trigger, now=now, owned=True)
    except runtime.UnknownTrigger as exc:
        raise TriggerRejected(str(exc)) from exc
    except VariableError as exc:
        raise InvalidVariables(str(exc)) from exc
    apply_step(instance, step, now=now, actor=actor, job=job, depth=depth)
    return step


def save_instance(instance: ProcessInstance, state: runtime.InstanceState | None = None) -> None:
    """Write state/status/ended_at with revision + 1, checking the revision we read."""
    fields: dict[str, Any] = {"status": instance.status, "ended_at": instance.ended_at,
                              "revision": instance.revision + 1}
    if state is not None:
        instance.state = state.to_json()
        fields["state"] = instance.state
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        # The hot path of every trigger: one plain UPDATE, without the ORM's compiling.
        table = connection.ops.quote_name(ProcessInstance._meta.db_table)
        sets = "status = %s, ended_at = %s, revision = %s"
        params: list[Any] = [fields["status"], fields["ended_at"], fields["revision"]]
        if state is not None:
            sets += ", state = %s::jsonb"
            params.append(json.dumps(instance.state, ensure_ascii=False))
        with rows.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {sets} WHERE id = %s AND revision = %s",  # noqa: S608
                [*params, instance.pk, instance.revision],
            )
            updated = cursor.rowcount
    else:
        updated = ProcessInstance.objects.filter(
            pk=instance.pk, revision=instance.revision
        ).update(**fields)
    if updated != 1:
        raise StaleInstance(f"process instance {instance.pk} changed under its lock")
    instance.revision += 1


def apply_step(
    instance: ProcessInstance,
    step: runtime.Step,
    *,
    now: datetime,
    actor: AbstractBaseUser | None,
    job: Job | None = None,
    depth: int = 0,
) -> None:
    """Turn one step's effects into rows and audit events, save the state, then deliver."""
    entries, outbox = _apply_effects(instance, step, now=now, actor=actor, job=job)
    _settle_status(instance, step.state, now)
    save_instance(instance, step.state)
    _audit_step(instance, entries)
    _run_calls(instance, step, now=now, actor=actor, depth=depth)
    for item in outbox:
        _deliver(instance, item, now=now, actor=actor, depth=depth + 1)


def _audit_step(instance: ProcessInstance, entries: Sequence[AuditEntry], *,
                new_chain: bool = False) -> None:
    """Append a step's audit entries to the instance's chain, using (and moving on) the
    chain head read with the instance's lock when there is one (engine.locks)."""
    hint = getattr(instance, locks.AUDIT_HEAD_ATTR, None)
    head = audit_append_hinted(instance_chain(instance.pk), entries, new_chain=new_chain,
                               head_hint=hint)
    setattr(instance, locks.AUDIT_HEAD_ATTR, head)


def _apply_effects(
    instance: ProcessInstance,
    step: runtime.Step,
    *,
    now: datetime,
    actor: AbstractBaseUser | None,
    job: Job | None,
) -> tuple[list[AuditEntry], list[runtime.ThrowSignal | runtime.SendMessage]]:
    """Write the rows of one step's effects in order; return its audit entries and outbox."""
    entries: list[AuditEntry] = []
    outbox: list[runtime.ThrowSignal | runtime.SendMessage] = []
    for effect in step.effects:
        if isinstance(effect, runtime.Audit):
            entries.append(AuditEntry(
                kind=str(effect.kind), at=now, actor=actor, instance_id=instance.pk,
                element_id=effect.element_id, data=plain(effect.data),
            ))
        elif isinstance(effect, runtime.CreateUserTask):
            _create_user_task(instance, effect, now)
        elif isinstance(effect, runtime.CancelUserTask):
            _cancel_user_tasks(instance, UserTask.objects.filter(
                instance=instance, task_id=effect.task_id, status__in=USER_TASK_ACTIVE))
        elif isinstance(effect, runtime.ScheduleJob):
            from engine.external_wakeup import announce
            from engine.jobs import kick_on_commit, kick_soon
            from engine.service_tasks import external_topic

            payload = plain(effect.payload)
            topic = external_topic(effect.kind, payload, effect.element_id)
            Job.objects.create(
                instance=instance, job_id=effect.job_id, kind=effect.kind,
                element_id=effect.element_id, due_at=effect.due or now,
                payload=payload, created_at=now, topic=topic,
            )
            if topic is None and kick_soon(effect.due, now):  # wake a runner on commit
                kick_on_commit()
            if topic is not None:  # wake long polls of the topic on commit
                announce(topic)
        elif isinstance(effect, runtime.CancelJob):
            Job.objects.filter(instance=instance, job_id=effect.job_id).delete()
        elif isinstance(effect, runtime.Subscribe):
            correlation = plain(effect.correlation)
            EventSubscription.objects.create(
                instance=instance, subscription_id=effect.subscription_id, kind=effect.kind,
                name=effect.name, correlation=correlation,
                correlation_key=canonical_json(correlation), element_id=effect.element_id,
                created_at=now,
            )
        elif isinstance(effect, runtime.Unsubscribe):
            EventSubscription.objects.filter(
                instance=instance, subscription_id=effect.subscription_id
            ).delete()
        elif isinstance(effect, runtime.ThrowSignal | runtime.SendMessage):
            outbox.append(effect)
        elif isinstance(effect, runtime.Incident):
            linked = job if job is not None and job.element_id == effect.element_id else None
            Incident.objects.create(instance=instance, element_id=effect.element_id,
                                    message=effect.message, job=linked, created_at=now)
        # runtime.Completed: the state's status says the same; handled by the caller.
    return entries, outbox


def _ended_status(state: runtime.InstanceState) -> str | None:
    return {"completed": InstanceStatus.COMPLETED,
            "cancelled": InstanceStatus.CANCELLED}.get(state.status)


def _settle_status(instance: ProcessInstance, state: runtime.InstanceState, now: datetime) -> None:
    """Mirror the runtime's status on the row; an ended instance keeps no live rows."""
    target = _ended_status(state)
    if target is None or instance.status == target:
        return
    instance.status = instance_transition(instance.status, target)
    instance.ended_at = now
    _remove_leftovers(instance)


def _remove_leftovers(instance: ProcessInstance) -> None:
    """Cancel open tasks, delete jobs and subscriptions of an ended instance.

    The runtime removes every wait when a scope ends; this only guards against leftovers.
    On PostgreSQL it is one statement (Incident.job is SET NULL, as Django's delete does).
    """
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        _cancel_user_tasks(instance, UserTask.objects.filter(
            instance=instance, status__in=USER_TASK_ACTIVE))
        Job.objects.filter(instance=instance).delete()
        EventSubscription.objects.filter(instance=instance).delete()
        return
    qn = connection.ops.quote_name
    task, job, sub, incident = (qn(m._meta.db_table)
                                for m in (UserTask, Job, EventSubscription, Incident))
    active = list(USER_TASK_ACTIVE)
    with rows.cursor() as cursor:
        # The instance's tasks are read by instance only (MATERIALIZED: planned on their
        # own), so the plan is the (instance, task_id) index: with the status in the same
        # WHERE, the prepared plan walked an open-task index whose dead entries grow with
        # every completed task (0.015 ms per instance end at first, 0.64 ms 15,000 later).
        cursor.execute(
            f"WITH mine AS MATERIALIZED (SELECT id, status FROM {task} "  # noqa: S608
            f"WHERE instance_id = %s), "
            f"t AS (UPDATE {task} SET status = %s WHERE id IN "
            f"(SELECT id FROM mine WHERE status = ANY(%s)) RETURNING id), "
            f"i AS (UPDATE {incident} SET job_id = NULL "
            f"WHERE job_id IN (SELECT id FROM {job} WHERE instance_id = %s)), "
            f"j AS (DELETE FROM {job} WHERE instance_id = %s), "
            f"s AS (DELETE FROM {sub} WHERE instance_id = %s) SELECT id FROM t",
            [instance.pk, str(UserTaskStatus.CANCELLED), active, instance.pk, instance.pk,
             instance.pk],
        )
        cancelled = [row[0] for row in cursor.fetchall()]
    if cancelled:
        user_tasks_cancelled.send(sender=UserTask, instance_id=instance.pk, task_pks=cancelled)


def _cancel_user_tasks(instance: ProcessInstance, tasks: Any) -> None:
    """Cancel `tasks` (a queryset of active tasks); tell the portal which ones."""
    if not user_tasks_cancelled.has_listeners(UserTask):
        tasks.update(status=UserTaskStatus.CANCELLED)
        return
    pks = list(tasks.values_list("pk", flat=True))
    if pks:
        UserTask.objects.filter(pk__in=pks).update(status=UserTaskStatus.CANCELLED)
        user_tasks_cancelled.send(sender=UserTask, instance_id=instance.pk, task_pks=pks)


def _create_user_task(instance: ProcessInstance, effect: runtime.CreateUserTask,
                      now: datetime) -> None:
    assignee_id = _user_id(effect.assignee) if effect.assignee else None
    groups = list(dict.fromkeys(effect.candidate_groups))
    # Lanes, four-eyes and list variables come from the model (cached per definition).
    from engine.services.user_tasks import lane_group, task_template

    template = task_template(instance.definition, effect.element_id)
    if not effect.assignee and not effect.candidate_users and not groups:
        # A lane named like a group offers its tasks to that group when the task names
        # no one (the lane is the performer of its flow nodes, BPMN 2.0.2 §10.8).
        lane = (_lane_group_pg(template.lane_names) if rows.postgresql()
                else lane_group(template))
        if lane is not None:
            groups = [lane]
    task = UserTask(
        instance=instance,
        task_id=effect.task_id,
        element_id=effect.element_id,
        name=effect.name or "",
        assignee_username=effect.assignee,
        assignee_id=assignee_id,
        candidate_users=list(dict.fromkeys(effect.candidate_users)),
        candidate_groups=groups,
        due=effect.due,
        follow_up=effect.follow_up,
        priority=effect.priority if effect.priority is not None else DEFAULT_PRIORITY,
        form=plain(effect.form) if effect.form is not None else None,
        status=UserTaskStatus.OPEN,
        created_at=now,
        process_key=instance.definition.key,
        business_key=instance.business_key,
        list_variables={name: effect.variables[name] for name in template.list_variables
                        if name in effect.variables},
        exclude_completers_of=list(template.exclude_completers_of),
    )
    rows.insert(task)  # one prepared INSERT on PostgreSQL (the ORM's create elsewhere)
    if groups:
        UserTaskCandidateGroup.objects.bulk_create(
            [UserTaskCandidateGroup(task=task, group_name=name) for name in groups]
        )
    user_task_created.send(sender=UserTask, task=task)


def _user_id(username: str) -> int | None:
    """The id of the user named `username`, or None (one prepared SELECT on PostgreSQL)."""
    user_model = get_user_model()
    if not rows.postgresql():
        found: int | None = (
            user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username})
            .values_list("pk", flat=True).first())
        return found
    qn = transaction.get_connection().ops.quote_name
    meta = user_model._meta
    column = cast("Field[Any, Any]", meta.get_field(user_model.USERNAME_FIELD)).column
    with rows.cursor() as cursor:
        cursor.execute(f"SELECT {qn(meta.pk.column)} FROM {qn(meta.db_table)} "  # noqa: S608
                       f"WHERE {qn(column)} = %s LIMIT 1", [username])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _lane_group_pg(lane_names: Sequence[str]) -> str | None:
    """user_tasks.lane_group's rule in one prepared SELECT (that one builds an ORM query
    per task): the first lane, innermost first, named like an existing group, compared
    case-insensitively as Django's iexact does on PostgreSQL (UPPER on both sides)."""
    if not lane_names:
        return None
    from django.contrib.auth.models import Group

    table = transaction.get_connection().ops.quote_name(Group._meta.db_table)
    with rows.cursor() as cursor:
        cursor.execute(f"SELECT name FROM {table} WHERE UPPER(name::text) IN "  # noqa: S608
                       "(SELECT UPPER(lane) FROM unnest(%s::text[]) AS lane)",
                       [list(lane_names)])
        found = {str(name).lower(): str(name) for (name,) in cursor.fetchall()}
    for name in lane_names:
        if name.lower() in found:
            return found[name.lower()]
    return None


# --- Call activities -------------------------------------------------------------------
#
# Lock order: a caller before its children. `locks.lock_instance` locks every ancestor of
# an instance (root first) before the instance itself, and a parent's id is always smaller
# than its children's, so "ascending id" and "caller first" are one order. A child's end
# is told to its caller in the same transaction (the caller is already locked); a caller
# cancels and starts its children while holding its own lock.


def _run_calls(instance: ProcessInstance, step: runtime.Step, *, now: datetime,
               actor: AbstractBaseUser | None, depth: int) -> None:
    """After a step is written: start and cancel the children it asked for, in order, and
    when this instance is a child that completed or threw an error or escalation out,
    tell its caller (ChildCompleted / ChildFailed)."""
    for effect in step.effects:
        if isinstance(effect, runtime.StartCallActivity):
            _start_child(instance, effect, now=now, actor=actor, depth=depth)
        elif isinstance(effect, runtime.CancelCallActivity):
            _cancel_child(instance, effect.call_id, now=now, actor=actor, depth=depth)
        elif isinstance(effect, runtime.Completed | runtime.ErrorThrownOut
                        | runtime.EscalationThrownOut):
            _tell_caller(instance, step.state, effect, now=now, actor=actor, depth=depth)


def _called_definition(caller: ProcessInstance, effect: runtime.StartCallActivity
                       ) -> ProcessDefinition | str:
    """The definition to start, or why there is none. Bindings as in Camunda 7: latest
    (default), deployment (the version deployed with the caller), version (a number),
    versionTag (the newest version whose process carries that camunda:versionTag; Camunda
    8's bindingType versionTag says the same)."""
    rows = ProcessDefinition.objects.defer("bpmn_bytes").filter(key=effect.called_element)
    if effect.binding == "deployment":
        rows = rows.filter(deployment_id=caller.definition.deployment_id)
    elif effect.binding == "version":
        try:
            rows = rows.filter(version=int(str(effect.version)))
        except ValueError:
            return f"called element version {effect.version!r} is not a number"
    elif effect.binding == "versionTag":
        # The tag is in the model, not in a column: compare the compiled processes,
        # newest first (each is compiled once per definition and cached).
        for candidate in rows.order_by("-version"):
            if compiled_process(candidate).version_tag == effect.version:
                return candidate
        return (f"no deployed version of process {effect.called_element!r} has "
                f"versionTag {effect.version!r}")
    elif effect.binding not in ("latest", ""):
        return f"called element binding {effect.binding!r} is not supported"
    found = rows.order_by("-version").first()
    if found is None:
        return (f"no deployed process {effect.called_element!r} to call"
                f" (binding {effect.binding})")
    return found


def _start_child(caller: ProcessInstance, effect: runtime.StartCallActivity, *,
                 now: datetime, actor: AbstractBaseUser | None, depth: int) -> None:
    caller.refresh_from_db(fields=["state", "revision", "status", "ended_at"])
    if caller.status != InstanceStatus.RUNNING or effect.call_id not in load_state(caller).waits:
        return  # a step of the caller run meanwhile interrupted this call activity
    found: ProcessDefinition | str
    if _callers_above(caller) >= MAX_CALL_DEPTH:
        found = f"call activities nested deeper than {MAX_CALL_DEPTH}"
    else:
        found = _called_definition(caller, effect)
    failure: str | None = found if isinstance(found, str) else None
    child: ProcessInstance | None = None
    if isinstance(found, ProcessDefinition):
        try:
            child, _ = start_instance(
                definition=found, variables=effect.variables, business_key=effect.business_key,
                actor=actor, now=now, depth=depth + 1, parent=caller, call_id=effect.call_id)
        except NoStartEvent as exc:
            failure = str(exc)
    if child is not None:
        audit_append_many(instance_chain(caller.pk), [AuditEntry(
            kind=str(AuditKind.CHILD_STARTED), at=now, actor=actor, instance_id=caller.pk,
            element_id=effect.element_id,
            data={"child_instance": child.pk, "call": effect.call_id,
                  "process": found.key if isinstance(found, ProcessDefinition) else None,
                  "version": found.version if isinstance(found, ProcessDefinition) else None},
        )])
    caller.refresh_from_db(fields=["state", "revision", "status", "ended_at"])
    if failure is not None and caller.status == InstanceStatus.RUNNING:
        # Not deployed (Camunda deploys callers and callees independently): an incident
        # at the call activity, the token stays.
        run_trigger(caller, runtime.ChildFailed(effect.call_id, None, failure, "incident"),
                    now=now, actor=actor, depth=depth + 1)


def _callers_above(instance: ProcessInstance) -> int:
    count, parent = 0, instance.parent_instance_id
    while parent is not None and count < MAX_CALL_DEPTH:
        count += 1
        parent = (ProcessInstance.objects.filter(pk=parent)
                  .values_list("parent_instance_id", flat=True).first())
    return count


def _cancel_child(caller: ProcessInstance, call_id: int, *, now: datetime,
                  actor: AbstractBaseUser | None, depth: int) -> None:
    """Cancel the live child of call `call_id` (its own children follow, recursively)."""
    children = ProcessInstance.objects.filter(
        parent_instance=caller, status__in=(InstanceStatus.RUNNING, InstanceStatus.SUSPENDED),
        state__cl=call_id,
    ).values_list("pk", flat=True)
    for child_id in list(children):
        child = locks.lock_instance(child_id)
        if child.status not in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED):
            continue
        run_trigger(child, runtime.Cancel("call activity cancelled"), now=now, actor=actor,
                    depth=depth + 1, allow_suspended=True)


def _tell_caller(child: ProcessInstance, state: runtime.InstanceState,
                 effect: runtime.Completed | runtime.ErrorThrownOut
                 | runtime.EscalationThrownOut, *, now: datetime,
                 actor: AbstractBaseUser | None, depth: int) -> None:
    if child.parent_instance_id is None or state.call is None:
        return
    caller = locks.lock_instance(child.parent_instance_id)  # held already: lock order
    trigger: runtime.Trigger
    if isinstance(effect, runtime.Completed):
        trigger = runtime.ChildCompleted(state.call, dict(state.variables))
    elif isinstance(effect, runtime.ErrorThrownOut):
        trigger = runtime.ChildFailed(state.call, effect.code, effect.message or "", "error")
    else:
        trigger = runtime.ChildFailed(state.call, effect.code, "", "escalation")
    run_trigger(caller, trigger, now=now, actor=actor, depth=depth + 1)


# --- Delivering thrown signals and messages ------------------------------------------


def _deliver(
    sender: ProcessInstance,
    item: runtime.ThrowSignal | runtime.SendMessage,
    *,
    now: datetime,
    actor: AbstractBaseUser | None,
    depth: int,
) -> None:
    """Deliver what a step threw, in this transaction; an asynchronous signal
    (camunda:async) only becomes its job here, run by the job runner after commit."""
    variables = dict(item.variables)
    if isinstance(item, runtime.ThrowSignal) and item.asynchronous:
        if item.name is not None:
            _schedule_signal_job(sender, item.name, variables, item.element_id, now)
        return
    if depth > MAX_DELIVERY_DEPTH:
        raise DeliveryTooDeep(item.name, MAX_DELIVERY_DEPTH)
    if isinstance(item, runtime.ThrowSignal):
        if item.name is not None:
            broadcast_signal(name=item.name, variables=variables, now=now, actor=actor,
                             depth=depth)
        return
    delivered = False
    if item.name is not None:
        try:
            correlate_message(name=item.name, business_key=None, correlation=None,
                              variables=variables, now=now, actor=actor, depth=depth,
                              pick_oldest=True)
            delivered = True
        except MessageNotCorrelated:
            delivered = False
    if not delivered:
        # A thrown message nobody waits for is not an error of the sender (BPMN leaves it
        # to the environment); it is recorded so that it is never lost silently.
        audit_append_many(instance_chain(sender.pk), [AuditEntry(
            kind=str(AuditKind.MESSAGE_UNDELIVERED), at=now, actor=actor, instance_id=sender.pk,
            element_id=item.element_id, data={"name": item.name},
        )])


def _schedule_signal_job(sender: ProcessInstance, name: str, variables: Mapping[str, object],
                         element_id: str | None, now: datetime) -> None:
    """camunda:async="true" on a signal throw: as in Camunda 7, the broadcast is a job of
    its own, run after the thrower's transaction commits. The row belongs to no instance
    (like a start timer's), so it outlives the thrower, whose jobs go when it ends; it
    carries everything the broadcast needs."""
    from engine.jobs import SIGNAL_JOB_KIND, schedule_job

    schedule_job(kind=SIGNAL_JOB_KIND, due_at=now, instance=None, payload={
        "element_id": element_id or SIGNAL_JOB_KIND, "signal": name,
        "variables": plain(variables), "thrown_by": sender.pk})


def deliver_signal_job(job: Job, *, now: datetime) -> int:
    """Broadcast the signal of an asynchronous throw's job (LOCKED by the caller, which
    deletes it in the same transaction); returns how many instances received it. Whoever
    waits for the signal when the job runs gets it, the thrower itself included, even if
    it started waiting after the throw (Camunda 7 does the same)."""
    payload = job.payload or {}
    name = payload.get("signal")
    if not isinstance(name, str) or not name:
        return 0
    variables = payload.get("variables")
    return broadcast_signal(name=name, now=now, actor=None, depth=1,
                            variables=dict(variables) if isinstance(variables, Mapping)
                            else {})


def broadcast_signal(
    *,
    name: str,
    variables: Mapping[str, object],
    now: datetime,
    actor: AbstractBaseUser | None,
    depth: int = 0,
) -> int:
    """Deliver signal `name` to every running subscriber instance and signal start event.

    Instances are handled in ascending id order, each as one step; then one new instance
    is started per latest definition with a signal start event of that name. Returns how
    many instances received it (started ones included).
    """
    instance_ids = sorted(set(
        EventSubscription.objects.filter(
            kind=SubscriptionKind.SIGNAL, name=name, instance__isnull=False,
            instance__status=InstanceStatus.RUNNING,
        ).values_list("instance_id", flat=True)
    ))
    count = 0
    for instance_id in instance_ids:
        instance = locks.lock_instance(instance_id)
        if instance.status != InstanceStatus.RUNNING:
            continue  # suspended or ended meanwhile: a broadcast skips it
        if not EventSubscription.objects.filter(
            instance=instance, kind=SubscriptionKind.SIGNAL, name=name
        ).exists():
            continue  # an earlier delivery in this broadcast removed its catcher
        run_trigger(instance, runtime.SignalReceived(name, variables), now=now, actor=actor,
                    depth=depth)
        count += 1
    starts = EventSubscription.objects.filter(
        kind=SubscriptionKind.SIGNAL, name=name, instance__isnull=True
    ).select_related("definition").defer("definition__bpmn_bytes").order_by("definition_id")
    for start in list(starts):
        assert start.definition is not None  # noqa: S101 - the check constraint
        start_instance(definition=start.definition, variables=variables, business_key=None,
                       actor=actor, now=now, start_event_id=start.element_id, depth=depth)
        count += 1
    return count


def _variables_match(instance: ProcessInstance, correlation: Mapping[str, object]) -> bool:
    values = load_state(instance).variables
    return all(key in values and values[key] == value for key, value in correlation.items())


def _message_targets(
    name: str, business_key: str | None, correlation: Mapping[str, object] | None
) -> list[EventSubscription]:
    """Live instance subscriptions that accept the message, oldest first."""
    subs = EventSubscription.objects.filter(
        kind=SubscriptionKind.MESSAGE, name=name, instance__isnull=False,
        instance__status=InstanceStatus.RUNNING,
    ).select_related("instance").order_by("created_at", "id")
    if business_key is not None:
        subs = subs.filter(instance__business_key=business_key)
    if not correlation:
        # With no correlation given only subscriptions that ask for none can match.
        return list(subs.filter(correlation_key=""))
    key = canonical_json(correlation)
    found: list[EventSubscription] = []
    for sub in subs.filter(correlation_key__in=[key, ""]):
        # A subscription's own correlation key must equal the message's; one without a
        # key matches on the instance's process variables (Camunda's
        # processInstanceVariableEquals).
        assert sub.instance is not None  # noqa: S101 - filtered above
        if sub.correlation_key == key or _variables_match(sub.instance, correlation):
            found.append(sub)
    return found


def correlate_message(
    *,
    name: str,
    business_key: str | None,
    correlation: Mapping[str, object] | None,
    variables: Mapping[str, object],
    now: datetime,
    actor: AbstractBaseUser | None,
    depth: int = 0,
    pick_oldest: bool = False,
) -> tuple[ProcessInstance, bool]:
    """Deliver message `name` to its one target: (instance, started a new one?).

    Waiting instance subscriptions come first; only when none matches, message start
    events of latest definitions are tried. More than one match is MessageAmbiguous
    unless `pick_oldest` (messages thrown by instances take the oldest subscription).
    """
    for _attempt in range(_CORRELATION_ATTEMPTS):
        targets = _message_targets(name, business_key, correlation)
        if len(targets) > 1 and not pick_oldest:
            raise MessageAmbiguous(name, len(targets))
        if targets:
            target = targets[0]
            assert target.instance_id is not None  # noqa: S101 - filtered in _message_targets
            instance = locks.lock_instance(target.instance_id)
            live = locks.lock_subscription(target.pk)
            if live is None or instance.status != InstanceStatus.RUNNING:
                # Consumed (or suspended) by a trigger that held the lock before us: look
                # again with what is committed now.
                continue
            run_trigger(instance, runtime.MessageReceived(live.subscription_id, None, variables),
                        now=now, actor=actor, depth=depth)
            return instance, False
        starts = list(EventSubscription.objects.filter(
            kind=SubscriptionKind.MESSAGE, name=name, instance__isnull=True,
        ).select_related("definition").defer("definition__bpmn_bytes").order_by("id"))
        if len(starts) > 1 and not pick_oldest:
            raise MessageAmbiguous(name, len(starts))
        if starts:
            definition = starts[0].definition
            assert definition is not None  # noqa: S101 - the check constraint
            return start_instance(definition=definition, variables=variables,
                                  business_key=business_key, actor=actor, now=now,
                                  start_event_id=starts[0].element_id, depth=depth)
        raise MessageNotCorrelated(name)
    raise MessageNotCorrelated(name)


def start_subscriptions_for(
    definition: ProcessDefinition, compiled: runtime.CompiledProcess, now: datetime
) -> list[EventSubscription]:
    """Message/signal start event subscriptions of a newly deployed latest definition."""
    return [
        EventSubscription(
            definition=definition, instance=None, kind=point.kind, name=point.name,
            element_id=point.element_id, correlation={}, correlation_key="", created_at=now,
        )
        for point in compiled.start_subscriptions
    ]


def start_timer_jobs_for(
    definition: ProcessDefinition, compiled: runtime.CompiledProcess, now: datetime
) -> list[Job]:
    """Jobs for the timer start events of a newly deployed latest definition.

    A timer whose first occurrence is already past for good (an anchored cycle that
    ended) gets no job. Expressions are refused at deploy time (no variables exist yet).
    """
    jobs: list[Job] = []
    for point in compiled.start_timers:
        if point.timer_kind is None or point.timer_text is None:
            continue
        spec = parse_timer(point.timer_kind, point.timer_text)
        due = spec.first_due(now)
        if due is None:
            continue
        jobs.append(Job(
            definition=definition, instance=None, job_id=0, kind="start-timer",
            element_id=point.element_id, due_at=due,
            payload={"timer": spec.text, "timer_kind": str(spec.kind), "repetition": 1},
            created_at=now,
        ))
    return jobs


def audit_instance(
    instance: ProcessInstance,
    kind: str,
    *,
    now: datetime,
    actor: AbstractBaseUser | None,
    element_id: str | None = None,
    data: Mapping[str, object] | None = None,
    more: Sequence[AuditEntry] = (),
) -> None:
    """Append shell-made events (suspend, resume, variables set by a person) to the chain."""
    audit_append_many(instance_chain(instance.pk), [
        AuditEntry(kind=kind, at=now, actor=actor, instance_id=instance.pk,
                   element_id=element_id or instance.definition.key, data=plain(data or {})),
        *more,
    ])
