"""Deploying BPMN files: validate every file, then store new definition versions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from bpmn import diagnostics as diag
from bpmn.loader import load_model
from engine import locks, runtime
from engine.audit import AuditEntry, audit_append_many
from engine.errors import DeploymentInvalid, FileDiagnostics
from engine.models import (
    SYSTEM_CHAIN,
    AuditKind,
    Deployment,
    EventSubscription,
    Job,
    ProcessDefinition,
)
from engine.services._shell import start_subscriptions_for, start_timer_jobs_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True, slots=True)
class _ExecutableProcess:
    key: str
    name: str
    compiled: runtime.CompiledProcess | None = None


@dataclass(frozen=True, slots=True)
class _CheckedFile:
    source: str
    data: bytes
    checksum: str
    processes: tuple[_ExecutableProcess, ...]


def _check_files(files: Sequence[tuple[str, bytes]]) -> list[_CheckedFile]:
    """Load every file; raise DeploymentInvalid with all findings if any file has an error."""
    if not files:
        raise DeploymentInvalid(
            [FileDiagnostics("<deployment>", (diag.error("deployment.empty", "no files given"),))]
        )
    reports: list[FileDiagnostics] = []
    checked: list[_CheckedFile] = []
    key_owner: dict[str, str] = {}
    for source, data in files:
        result = load_model(data, source=source)
        found = list(result.diagnostics)
        processes: list[_ExecutableProcess] = []
        if result.ok and result.definitions is not None:
            for process in result.definitions.processes:
                if not process.is_executable:
                    continue
                if process.id in key_owner:
                    # Two versions of one key in one deployment would make "latest" ambiguous.
                    found.append(diag.error(
                        "deployment.duplicate-key",
                        f"process id {process.id!r} is also defined in {key_owner[process.id]}",
                        process.id,
                        process.line,
                    ))
                    continue
                key_owner[process.id] = source
                refused, compiled = runtime.runnable(result.definitions, process.id)
                found.extend(refused)
                processes.append(_ExecutableProcess(process.id, process.name or "", compiled))
            if not processes and not any(d.is_error for d in found):
                # Camunda silently skips non-executable processes; an admin who uploads a
                # Signavio export with isExecutable="false" deserves to be told instead.
                found.append(diag.error(
                    "deployment.nothing-executable",
                    'the file has no executable process; set isExecutable="true" on the '
                    "process to deploy",
                ))
        reports.append(FileDiagnostics(source, tuple(found)))
        checked.append(_CheckedFile(
            source=source,
            data=bytes(data),
            checksum=hashlib.sha256(data).hexdigest(),
            processes=tuple(processes),
        ))
    if any(report.has_errors for report in reports):
        raise DeploymentInvalid(reports)
    return checked


def deployment_create(
    *,
    files: Sequence[tuple[str, bytes]],
    actor: AbstractBaseUser | None,
    name: str = "",
) -> Deployment:
    """Deploy `files` (name, bytes): a new version of every executable process in them.

    All or nothing: if any file has an error diagnostic, DeploymentInvalid carries every
    file's diagnostics and nothing is stored. A process whose newest version came from
    the very same bytes is not versioned again (Camunda's duplicate filtering, per
    process as with deployChangedOnly). If nothing at all is new, no Deployment row is
    made and the deployment holding the newest reused definition is returned.
    """
    # Parsing can take a while on big models; do it before the transaction takes locks.
    checked = _check_files(files)
    return _store(checked, actor=actor, name=name)


def _audit_deployed(
    deployment: Deployment,
    definitions: list[ProcessDefinition],
    *,
    actor: AbstractBaseUser | None,
) -> None:
    """One `deployed` event per new definition version, on the system chain (locked last)."""
    audit_append_many(SYSTEM_CHAIN, [
        AuditEntry(
            kind=AuditKind.DEPLOYED,
            at=deployment.deployed_at,
            actor=actor,
            element_id=definition.key,
            data={
                "deployment_id": deployment.pk,
                "deployment_name": deployment.name,
                "definition_id": definition.pk,
                "key": definition.key,
                "version": definition.version,
                "checksum": definition.checksum,
                "source_name": definition.source_name,
            },
        )
        for definition in definitions
    ])


def _arm_start_events(definition: ProcessDefinition, process: _ExecutableProcess) -> None:
    """Message, signal and timer start events belong to the newest version of a key only."""
    EventSubscription.objects.filter(
        definition__key=definition.key, instance__isnull=True
    ).delete()
    Job.objects.filter(definition__key=definition.key, instance__isnull=True).delete()
    if process.compiled is not None:
        EventSubscription.objects.bulk_create(
            start_subscriptions_for(definition, process.compiled, definition.deployed_at)
        )
        Job.objects.bulk_create(
            start_timer_jobs_for(definition, process.compiled, definition.deployed_at)
        )


@transaction.atomic
def _store(
    checked: list[_CheckedFile], *, actor: AbstractBaseUser | None, name: str
) -> Deployment:
    counters = locks.lock_process_keys(p.key for f in checked for p in f.processes)
    deployment: Deployment | None = None
    reused: list[ProcessDefinition] = []
    created: list[ProcessDefinition] = []
    actor_id = actor.pk if actor is not None else None
    for file in checked:
        for process in file.processes:
            # Read after the lock: under READ COMMITTED this statement sees every version
            # committed by whoever held the lock before us.
            latest = (
                ProcessDefinition.objects.filter(key=process.key).order_by("-version").first()
            )
            if (
                latest is not None
                and latest.checksum == file.checksum
                and bytes(latest.bpmn_bytes) == file.data
            ):
                reused.append(latest)
                continue
            if deployment is None:
                deployment = Deployment.objects.create(name=name, deployed_by_id=actor_id)
            version = (latest.version if latest is not None else 0) + 1
            created.append(ProcessDefinition.objects.create(
                key=process.key,
                version=version,
                name=process.name,
                deployment=deployment,
                source_name=file.source,
                bpmn_bytes=file.data,
                checksum=file.checksum,
                deployed_by_id=actor_id,
            ))
            counter = counters[process.key]
            counter.latest_version = version
            counter.save(update_fields=["latest_version"])
            _arm_start_events(created[-1], process)
    if deployment is None:
        newest = max(reused, key=lambda d: (d.deployed_at, d.pk))
        return newest.deployment
    _audit_deployed(deployment, created, actor=actor)
    return deployment
