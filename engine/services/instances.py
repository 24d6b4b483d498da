"""Process instance writes: start, cancel, suspend, resume, set variables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from engine import locks, runtime
from engine import rows as db_rows
from engine.audit import AuditEntry, audit_append_many
from engine.errors import (
    DefinitionNotFound,
    InstanceNotFound,
    InstanceNotRunning,
    InstanceSuspended,
    InvalidVariables,
    NoStartEvent,
    TriggerRejected,
)
from engine.models import AuditKind, ProcessDefinition, ProcessInstance, instance_chain
from engine.services._shell import (
    audit_instance,
    json_variables,
    load_state,
    run_trigger,
    save_instance,
    start_instance,
)
from engine.status import InstanceStatus, instance_transition

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = [
    "DefinitionNotFound",
    "InstanceNotFound",
    "InstanceNotRunning",
    "InstanceSuspended",
    "InvalidVariables",
    "NoStartEvent",
    "TriggerRejected",
    "process_instance_cancel",
    "process_instance_resume",
    "process_instance_set_variables",
    "process_instance_start",
    "process_instance_suspend",
]


def _definition(definition_id: int | None, key: str | None) -> ProcessDefinition:
    if (definition_id is None) == (key is None):
        raise DefinitionNotFound("give exactly one of definition_id and key")
    found: ProcessDefinition | None
    if db_rows.postgresql():
        found = _definition_pg(definition_id, key)
    else:
        rows = ProcessDefinition.objects.defer("bpmn_bytes")
        found = (
            rows.filter(pk=definition_id).first()
            if definition_id is not None
            else rows.filter(key=key).order_by("-version").first()
        )
    if found is None:
        what = f"id {definition_id}" if definition_id is not None else f"key {key!r}"
        raise DefinitionNotFound(f"no process definition with {what}")
    return found


def _definition_pg(definition_id: int | None, key: str | None) -> ProcessDefinition | None:
    """One prepared SELECT (every start reads its definition; the ORM costs more here)."""
    columns, fields = db_rows.select_columns(ProcessDefinition, "d", ("bpmn_bytes",))
    table = transaction.get_connection().ops.quote_name(ProcessDefinition._meta.db_table)
    where, param = (("d.id = %s", definition_id) if definition_id is not None
                    else ("d.key = %s ORDER BY d.version DESC LIMIT 1", key))
    with db_rows.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} d WHERE {where}", [param])  # noqa: S608
        row = cursor.fetchone()
    return None if row is None else db_rows.fetch(ProcessDefinition, fields, row)


def _lock(instance_id: int) -> ProcessInstance:
    try:
        return locks.lock_instance(instance_id)
    except ProcessInstance.DoesNotExist:
        raise InstanceNotFound(instance_id) from None


@transaction.atomic
def process_instance_start(
    *,
    definition_id: int | None = None,
    key: str | None = None,
    variables: Mapping[str, object] | None = None,
    business_key: str | None = None,
    actor: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[ProcessInstance, bool]:
    """Start the definition `definition_id`, or the latest version of `key`.

    Runs until every token rests and returns (instance, created). With an
    `idempotency_key` already used, returns the first instance and created=False, even
    when two such starts race (the second waits for the first and returns its instance).
    """
    definition = _definition(definition_id, key)
    return start_instance(
        definition=definition, variables=variables, business_key=business_key, actor=actor,
        now=now or timezone.now(), idempotency_key=idempotency_key,
    )


@transaction.atomic
def process_instance_cancel(
    *,
    instance_id: int,
    actor: AbstractBaseUser | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ProcessInstance:
    """Cancel a running or suspended instance: every task, job and subscription ends."""
    instance = _lock(instance_id)
    if instance.status not in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED):
        raise InstanceNotRunning(instance.pk, instance.status)
    run_trigger(instance, runtime.Cancel(reason), now=now or timezone.now(), actor=actor,
                allow_suspended=True)
    return instance


def _change_status(
    instance_id: int, target: str, kind: str, actor: AbstractBaseUser | None,
    now: datetime | None,
) -> ProcessInstance:
    instance = _lock(instance_id)
    previous = instance.status
    at = now or timezone.now()
    instance.status = instance_transition(previous, target)
    save_instance(instance)
    audit_instance(instance, kind, now=at, actor=actor, data={"from": previous, "to": target})
    if target == InstanceStatus.RUNNING and any(
            wait.get("k") == "condition" for wait in instance.state.get("w", ())):
        # Variables set while it was suspended: its conditional events see them now.
        run_trigger(instance, runtime.VariablesSet({}, by="resume"), now=at, actor=actor)
    if target == InstanceStatus.RUNNING:
        from engine.external_wakeup import announce
        from engine.models import Job

        # Its external tasks can be fetched again: wake the long polls of their topics.
        for topic in set(Job.objects.filter(instance=instance, topic__isnull=False)
                         .values_list("topic", flat=True)):
            announce(str(topic))
    return instance


@transaction.atomic
def process_instance_suspend(
    *, instance_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> ProcessInstance:
    """Suspend a running instance: it refuses every trigger until resumed."""
    return _change_status(instance_id, InstanceStatus.SUSPENDED, AuditKind.SUSPENDED, actor,
                          now)


@transaction.atomic
def process_instance_resume(
    *, instance_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> ProcessInstance:
    """Resume a suspended instance."""
    return _change_status(instance_id, InstanceStatus.RUNNING, AuditKind.RESUMED, actor, now)


@transaction.atomic
def process_instance_set_variables(
    *,
    instance_id: int,
    variables: Mapping[str, object],
    actor: AbstractBaseUser | None,
    now: datetime | None = None,
) -> ProcessInstance:
    """Set process (root scope) variables of a running or suspended instance; audited.

    On a running instance this is a runtime trigger (VariablesSet), one step like any
    other: conditional events (intermediate catch, boundary, event subprocess start) whose
    condition turns true fire in the same transaction, as Camunda 7's setVariables does.
    A suspended instance takes the values without any token moving (it refuses every
    trigger until resumed); its conditions are evaluated at its next step.
    """
    instance = _lock(instance_id)
    if instance.status not in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED):
        raise InstanceNotRunning(instance.pk, instance.status)
    values = json_variables(variables)
    at = now or timezone.now()
    if instance.status == InstanceStatus.RUNNING:
        run_trigger(instance, runtime.VariablesSet(values, by="admin"), now=at, actor=actor)
        return instance
    state = load_state(instance)
    state.root.variables.update(values)
    save_instance(instance, state)
    entries = [
        AuditEntry(kind=str(AuditKind.VARIABLE_SET), at=at, actor=actor,
                   instance_id=instance.pk, element_id=instance.definition.key,
                   data={"name": name, "value": value, "by": "admin", "suspended": True})
        for name, value in values.items()
    ]
    audit_append_many(instance_chain(instance.pk), entries)
    return instance
