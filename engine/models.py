"""Engine tables: deployments, versioned process definitions and the audit trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from engine.errors import AuditIsAppendOnly


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


# --- Audit trail (engine/audit.py writes and verifies it; see docs/audit.md) -----------

SYSTEM_CHAIN = "system"
# prev_hash of the first row of every chain.
GENESIS_HASH = "0" * 64


def instance_chain(instance_id: int) -> str:
    """The audit chain name of one process instance."""
    return f"instance:{instance_id}"


class AuditKind(models.TextChoices):
    """Known audit event kinds. The vocabulary is open: the column takes any short slug."""

    DEPLOYED = "deployed", "definition deployed"
    STARTED = "started", "instance started"
    COMPLETED = "completed", "instance completed"
    CANCELLED = "cancelled", "cancelled"
    SUSPENDED = "suspended", "instance suspended"
    RESUMED = "resumed", "instance resumed"
    ACTIVITY_ENTERED = "activity_entered", "activity entered"
    ACTIVITY_LEFT = "activity_left", "activity left"
    TASK_CREATED = "task_created", "task created"
    TASK_CLAIMED = "task_claimed", "task claimed"
    TASK_UNCLAIMED = "task_unclaimed", "task handed back"
    TASK_DELEGATED = "task_delegated", "task delegated"
    TASK_COMPLETED = "task_completed", "task completed"
    VARIABLE_SET = "variable_set", "variable set"
    JOB_SCHEDULED = "job_scheduled", "job scheduled"
    JOB_FIRED = "job_fired", "job fired"
    JOB_FAILED = "job_failed", "job failed"
    INCIDENT = "incident", "incident raised"
    INCIDENT_RESOLVED = "incident_resolved", "incident resolved"
    MESSAGE = "message", "message"
    SIGNAL = "signal", "signal"


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
