"""Row locks. The only module that calls select_for_update, so lock order lives in one place.

Lock order: process keys in ascending key order (a deployment may carry several keys;
two deployments locking the same keys in the same order cannot deadlock). A trigger locks
its process instance row first (after the instances that called it, root first), then
that instance's children (user tasks, jobs, subscriptions); several instances in one
transaction (a signal broadcast) are locked in ascending id order where the caller can
choose the order (a caller's id is below its children's, so both orders agree). An audit chain
head is always locked last, just before its rows are appended at the end of the
transaction, and a transaction locks at most one chain (an instance's trigger its own
chain, a deployment or admin action the `system` chain).

Claims of due jobs and external tasks (`skip_locked_jobs`) never wait: rows another claim
holds are skipped, so they take no part in the lock order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from engine import rows
from engine.models import (
    AuditChain,
    EventSubscription,
    Job,
    ProcessDefinition,
    ProcessInstance,
    ProcessKey,
    UserTask,
    instance_chain,
)

# Set on an instance that lock_instance read on PostgreSQL: its audit chain head as read
# with it, (head id, last seq, last hash) or None when the chain has no head yet. A hint
# for engine.audit, which appends with a compare-and-set on that head (see there).
AUDIT_HEAD_ATTR = "_audit_head_hint"


def lock_process_keys(keys: Iterable[str]) -> dict[str, ProcessKey]:
    """Lock (creating if needed) the version counter row of every key, in key order.

    Must run inside a transaction. Rows are created with INSERT ... ON CONFLICT DO NOTHING,
    so two first deployments of one key meet on the unique index instead of both inserting.
    """
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    ProcessKey.objects.bulk_create(
        [ProcessKey(key=key) for key in ordered], ignore_conflicts=True
    )
    rows = ProcessKey.objects.select_for_update().filter(key__in=ordered).order_by("key")
    return {row.key: row for row in rows}


def lock_audit_chain(name: str) -> AuditChain:
    """Lock (creating if needed) the head row of audit chain `name`; must run in a transaction.

    Each chain has its own head row, so appends to different chains never wait on each
    other. The common case (the chain exists) costs one statement; the first append to a
    chain inserts with ON CONFLICT DO NOTHING, so two first appends meet on the unique
    index, and the loser then locks the winner's committed row.
    """
    head = AuditChain.objects.select_for_update().filter(name=name).first()
    if head is not None:
        return head
    AuditChain.objects.bulk_create([AuditChain(name=name)], ignore_conflicts=True)
    return AuditChain.objects.select_for_update().get(name=name)


def lock_instance(instance_id: int) -> ProcessInstance:
    """Lock process instance `instance_id` (always the first row a trigger locks).

    A child instance of a call activity is locked after its callers, root first (a
    child's end is told to its caller in the same transaction, and a caller cancels its
    children: both directions then take the locks in one order, caller before child).
    Raises ProcessInstance.DoesNotExist. The row is read after the lock is granted, so its
    `state` and `revision` are those of the last committed trigger.
    """
    # of=("self",): lock the instance only, never the definition row every instance shares.
    rows_ = (
        ProcessInstance.objects.select_for_update(of=("self",))
        .select_related("definition")
        .defer("definition__bpmn_bytes")
    )
    # The common case in one statement: an instance nobody called.
    found = (_lock_root_instance_pg(instance_id) if rows.postgresql() else
             rows_.filter(pk=instance_id, parent_instance__isnull=True).first())
    if found is not None:
        return found
    # A child: its parent never changes, so the chain can be read before locking it.
    chain: list[int] = []
    parent = (ProcessInstance.objects.filter(pk=instance_id)
              .values_list("parent_instance_id", flat=True).first())
    while parent is not None and parent not in chain:
        chain.append(parent)
        parent = (ProcessInstance.objects.filter(pk=parent)
                  .values_list("parent_instance_id", flat=True).first())
    for ancestor in reversed(chain):
        ProcessInstance.objects.select_for_update(of=("self",)).filter(
            pk=ancestor).values_list("pk", flat=True).first()
    return rows_.get(pk=instance_id)


_LOCK_ROOT_SQL: dict[str, Any] = {}


def _lock_root_instance_pg(instance_id: int) -> ProcessInstance | None:
    """PostgreSQL: lock a root instance (no caller) and read it with its definition (less
    the BPMN bytes) and its audit chain head, in one prepared statement. None when the
    instance has a caller (or does not exist: the caller's ORM path then raises)."""
    if not _LOCK_ROOT_SQL:
        qn = transaction.get_connection().ops.quote_name
        inst_cols, inst_fields = rows.select_columns(ProcessInstance, "i")
        def_cols, def_fields = rows.select_columns(ProcessDefinition, "d", ("bpmn_bytes",))
        _LOCK_ROOT_SQL.update(
            fields=(inst_fields, def_fields),
            sql=(f"SELECT {inst_cols}, {def_cols}, h.id, h.last_seq, h.last_hash "  # noqa: S608
                 f"FROM {qn(ProcessInstance._meta.db_table)} i "
                 f"JOIN {qn(ProcessDefinition._meta.db_table)} d ON d.id = i.definition_id "
                 f"LEFT JOIN {qn(AuditChain._meta.db_table)} h ON h.name = %s "
                 "WHERE i.id = %s AND i.parent_instance_id IS NULL FOR UPDATE OF i"),
        )
    inst_fields, def_fields = _LOCK_ROOT_SQL["fields"]
    with rows.cursor() as cur:
        cur.execute(_LOCK_ROOT_SQL["sql"], [instance_chain(instance_id), instance_id])
        row = cur.fetchone()
    if row is None:
        return None
    n, m = len(inst_fields), len(inst_fields) + len(def_fields)
    instance = rows.fetch(ProcessInstance, inst_fields, row[:n])
    instance.definition = rows.fetch(ProcessDefinition, def_fields, row[n:m])
    head_id, seq, digest = row[m:]
    setattr(instance, AUDIT_HEAD_ATTR, None if head_id is None else (head_id, seq, digest))
    return instance


_LOCK_ROOTS_SQL: dict[str, Any] = {}


def lock_root_instances(instance_ids: Iterable[int]) -> dict[int, ProcessInstance]:
    """Lock several instances in one statement, in ascending id order, as a batch of jobs
    would by calling lock_instance on each in that order; returns those locked by id.

    Only root instances (no caller) are locked here, and only those below the lowest id
    that has a caller (or does not exist): from there on the caller goes on one by one
    with lock_instance, which locks a child's callers first. The locks are then taken in
    exactly the order of the one-by-one loop. Each instance carries its audit chain head
    hint (AUDIT_HEAD_ATTR) as lock_instance's do. Off PostgreSQL it locks nothing ({}).
    """
    ids = sorted(set(instance_ids))
    if not ids or not rows.postgresql():
        return {}
    if not _LOCK_ROOTS_SQL:
        qn = transaction.get_connection().ops.quote_name
        inst_cols, inst_fields = rows.select_columns(ProcessInstance, "i")
        def_cols, def_fields = rows.select_columns(ProcessDefinition, "d", ("bpmn_bytes",))
        table = qn(ProcessInstance._meta.db_table)
        prefix = instance_chain(0)[:-1]
        # parent_instance_id never changes, so the unlocked look-up of the first id that
        # is not a root cannot go stale. ORDER BY under FOR UPDATE: PostgreSQL locks the
        # rows as the sort hands them out, lowest id first.
        _LOCK_ROOTS_SQL.update(
            fields=(inst_fields, def_fields),
            sql=(f"WITH ids AS (SELECT unnest(%s::bigint[]) AS id), "  # noqa: S608
                 f"stop AS (SELECT coalesce(min(ids.id), 9223372036854775807) AS id FROM ids "
                 f"LEFT JOIN {table} p ON p.id = ids.id "
                 "WHERE p.id IS NULL OR p.parent_instance_id IS NOT NULL) "
                 f"SELECT {inst_cols}, {def_cols}, h.id, h.last_seq, h.last_hash "
                 f"FROM {table} i "
                 f"JOIN {qn(ProcessDefinition._meta.db_table)} d ON d.id = i.definition_id "
                 f"LEFT JOIN {qn(AuditChain._meta.db_table)} h ON h.name = %s || i.id "
                 "WHERE i.id = ANY(%s::bigint[]) AND i.parent_instance_id IS NULL "
                 "AND i.id < (SELECT id FROM stop) ORDER BY i.id FOR UPDATE OF i"),
            prefix=prefix,
        )
    inst_fields, def_fields = _LOCK_ROOTS_SQL["fields"]
    with rows.cursor() as cur:
        cur.execute(_LOCK_ROOTS_SQL["sql"], [ids, _LOCK_ROOTS_SQL["prefix"], ids])
        found = cur.fetchall()
    n, m = len(inst_fields), len(inst_fields) + len(def_fields)
    locked: dict[int, ProcessInstance] = {}
    definitions: dict[int, ProcessDefinition] = {}
    for row in found:
        instance = rows.fetch(ProcessInstance, inst_fields, row[:n])
        definition = definitions.get(instance.definition_id)
        if definition is None:
            definition = definitions[instance.definition_id] = rows.fetch(
                ProcessDefinition, def_fields, row[n:m])
        instance.definition = definition
        head_id, seq, digest = row[m:]
        setattr(instance, AUDIT_HEAD_ATTR,
                None if head_id is None else (head_id, seq, digest))
        locked[instance.pk] = instance
    return locked


def lock_user_task(task_pk: int) -> UserTask:
    """Lock one user task row; call only after its instance is locked.
    Raises UserTask.DoesNotExist."""
    if not rows.postgresql():
        return UserTask.objects.select_for_update().get(pk=task_pk)
    columns, fields = rows.select_columns(UserTask, "t")
    table = transaction.get_connection().ops.quote_name(UserTask._meta.db_table)
    with rows.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM {table} t WHERE t.id = %s FOR UPDATE",  # noqa: S608
                    [task_pk])
        row = cur.fetchone()
    if row is None:
        raise UserTask.DoesNotExist(f"no user task with id {task_pk}")
    return rows.fetch(UserTask, fields, row)


def lock_job(job_pk: int) -> Job:
    """Lock one job row; call only after its instance (if any) is locked."""
    return Job.objects.select_for_update().get(pk=job_pk)


def lock_subscription(subscription_pk: int) -> EventSubscription | None:
    """Lock one subscription row if it still exists; call after its instance is locked."""
    return EventSubscription.objects.select_for_update().filter(pk=subscription_pk).first()


def skip_locked_jobs(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """`jobs` locked FOR UPDATE SKIP LOCKED (only the job rows, not joined ones): two
    workers claiming at once split the rows between them and neither waits."""
    return jobs.select_for_update(skip_locked=True, of=("self",))
