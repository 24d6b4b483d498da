"""Engine tables: deployments and the versioned process definitions they bring."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
