"""Row locks. The only module that calls select_for_update, so lock order lives in one place.

Lock order: process keys in ascending key order (a deployment may carry several keys;
two deployments locking the same keys in the same order cannot deadlock). A trigger locks
its process instance row first, then that instance's children (user tasks, jobs,
subscriptions); several instances in one transaction (a signal broadcast) are locked in
ascending id order where the caller can choose the order. An audit chain
head is always locked last, just before its rows are appended at the end of the
transaction, and a transaction locks at most one chain (an instance's trigger its own
chain, a deployment or admin action the `system` chain).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.models import (
    AuditChain,
    EventSubscription,
    Job,
    ProcessInstance,
    ProcessKey,
    UserTask,
)


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

    Raises ProcessInstance.DoesNotExist. The row is read after the lock is granted, so its
    `state` and `revision` are those of the last committed trigger.
    """
    # of=("self",): lock the instance only, never the definition row every instance shares.
    return (
        ProcessInstance.objects.select_for_update(of=("self",))
        .select_related("definition")
        .defer("definition__bpmn_bytes")
        .get(pk=instance_id)
    )


def lock_user_task(task_pk: int) -> UserTask:
    """Lock one user task row; call only after its instance is locked."""
    return UserTask.objects.select_for_update().get(pk=task_pk)


def lock_job(job_pk: int) -> Job:
    """Lock one job row; call only after its instance (if any) is locked."""
    return Job.objects.select_for_update().get(pk=job_pk)


def lock_subscription(subscription_pk: int) -> EventSubscription | None:
    """Lock one subscription row if it still exists; call after its instance is locked."""
    return EventSubscription.objects.select_for_update().filter(pk=subscription_pk).first()
