"""Deploying BPMN files: validate every file, then store new definition versions."""

from __future__ import annotations

import hashlib
import json
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
    DeploymentResource,
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
class _CheckedForm:
    source: str
    form_id: str
    schema: dict[str, object]
    checksum: str


# Camunda Modeler saves form-js forms as `.form`; other tools write plain `.json`.
FORM_SUFFIXES = (".form", ".json")


def is_form_file(source: str) -> bool:
    """True when a deployed file named `source` is a form (JSON), not a BPMN model."""
    return source.lower().endswith(FORM_SUFFIXES)


def _check_form(source: str, data: bytes) -> tuple[list[diag.Diagnostic], _CheckedForm | None]:
    """A form-js file: a JSON object with a string `id` and a `components` list."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [diag.error("form.encoding", f"a form file must be UTF-8 JSON: {exc.reason} "
                           f"at byte {exc.start}")], None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return [diag.error("form.json", f"not valid JSON: {exc.msg} (column {exc.colno})",
                           None, exc.lineno)], None
    if not isinstance(schema, dict):
        return [diag.error("form.not-object", "a form file must hold one JSON object", None,
                           1)], None
    found: list[diag.Diagnostic] = []
    form_id = schema.get("id")
    if not isinstance(form_id, str) or not form_id.strip():
        found.append(diag.error("form.id-missing", 'the form needs a non-empty string "id" '
                                "(tasks name it in camunda:formRef or zeebe:formId)", None, 1))
    components = schema.get("components")
    if not isinstance(components, list):
        found.append(diag.error("form.components-missing",
                                'a form-js form needs a "components" list', form_id
                                if isinstance(form_id, str) else None, 1))
    else:
        for index, component in enumerate(components):
            if not isinstance(component, dict) or not isinstance(component.get("type"), str):
                found.append(diag.error(
                    "form.component-invalid",
                    f'component {index} must be an object with a string "type"',
                    form_id if isinstance(form_id, str) else None,
                ))
    if found or not isinstance(form_id, str):
        return found, None
    return [], _CheckedForm(source, form_id, schema, hashlib.sha256(data).hexdigest())


def _check_forms(
    files: Sequence[tuple[str, bytes]],
) -> tuple[list[_CheckedForm], list[FileDiagnostics]]:
    """Check every form file; two forms with one id in one deployment is an error."""
    forms: list[_CheckedForm] = []
    reports: list[FileDiagnostics] = []
    owner: dict[str, str] = {}
    for source, data in files:
        found, form = _check_form(source, bytes(data))
        if form is not None and form.form_id in owner:
            found.append(diag.error("deployment.duplicate-form",
                                    f"form id {form.form_id!r} is also defined in "
                                    f"{owner[form.form_id]}", form.form_id, 1))
            form = None
        if form is not None:
            owner[form.form_id] = source
            forms.append(form)
        reports.append(FileDiagnostics(source, tuple(found)))
    return forms, reports


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

    Files named `*.form` or `*.json` are form-js forms, stored with the deployment and
    found by their `id` (`engine.selectors.deployed_form_get`); everything else is BPMN.

    All or nothing: if any file has an error diagnostic, DeploymentInvalid carries every
    file's diagnostics and nothing is stored. A process whose newest version came from
    the very same bytes is not versioned again (Camunda's duplicate filtering, per
    process as with deployChangedOnly). If nothing at all is new, no Deployment row is
    made and the deployment holding the newest reused definition is returned.
    """
    # Parsing can take a while on big models; do it before the transaction takes locks.
    forms, form_reports = _check_forms([f for f in files if is_form_file(f[0])])
    models = [f for f in files if not is_form_file(f[0])]
    try:
        checked = _check_files(models) if models or not forms else []
    except DeploymentInvalid as exc:
        raise DeploymentInvalid([*exc.diagnostics, *form_reports]) from None
    if any(report.has_errors for report in form_reports):
        raise DeploymentInvalid(form_reports)
    return _store(checked, forms, actor=actor, name=name)


def _audit_deployed(
    deployment: Deployment,
    definitions: list[ProcessDefinition],
    *,
    actor: AbstractBaseUser | None,
    forms: Sequence[DeploymentResource] = (),
) -> None:
    """One `deployed` event per new definition version, on the system chain (locked last),
    and one `form deployed` event per form file."""
    form_entries = [
        AuditEntry(
            kind="form deployed",
            at=deployment.deployed_at,
            actor=actor,
            element_id=form.form_id,
            data={"deployment_id": deployment.pk, "deployment_name": deployment.name,
                  "form_id": form.form_id, "name": form.name, "checksum": form.checksum},
        )
        for form in forms
    ]
    audit_append_many(SYSTEM_CHAIN, form_entries + [
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


def _forms_unchanged(forms: Sequence[_CheckedForm]) -> bool:
    """True when the newest deployed form of every id is byte-for-byte the uploaded one."""
    for form in forms:
        latest = (DeploymentResource.objects.filter(form_id=form.form_id)
                  .order_by("-deployment_id").values_list("checksum", flat=True).first())
        if latest != form.checksum:
            return False
    return True


@transaction.atomic
def _store(
    checked: list[_CheckedFile],
    forms: Sequence[_CheckedForm] = (),
    *,
    actor: AbstractBaseUser | None,
    name: str,
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
    if deployment is None and forms and not _forms_unchanged(forms):
        deployment = Deployment.objects.create(name=name, deployed_by_id=actor_id)
    if deployment is None:
        if not reused:
            # Only forms, all of them already deployed as they are.
            return Deployment.objects.get(pk=DeploymentResource.objects.filter(
                form_id=forms[0].form_id).order_by("-deployment_id")
                .values_list("deployment_id", flat=True)[0])
        newest = max(reused, key=lambda d: (d.deployed_at, d.pk))
        return newest.deployment
    # Every form of the upload goes with a new deployment, changed or not, so that a
    # definition's own deployment holds exactly the forms it was deployed with.
    resources = DeploymentResource.objects.bulk_create([
        DeploymentResource(deployment=deployment, name=form.source, form_id=form.form_id,
                           schema=form.schema, checksum=form.checksum)
        for form in forms
    ])
    _audit_deployed(deployment, created, actor=actor, forms=resources)
    return deployment
