"""Run a scenario through the engine services and the database (`bpmn_run` by default).

The model is deployed with `deployment_create`, instances are started, tasks completed,
timers fired and messages correlated through the same services the portal and the API
use, so a scenario that passes here exercises the persisted path: rows, locks, audit.
The command runs this inside a throw-away database. Call activities start child instances
of what this one file deploys (children must be in the same file); they appear under
"children" in their caller's snapshot, from `ProcessInstance.parent_instance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from engine import locks
from engine.errors import EngineError
from engine.jobs import SIGNAL_JOB_KIND
from engine.models import (
    AuditEvent,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    UserTask,
    instance_chain,
)
from engine.runtime import AuditKind
from engine.scenario_run import MAX_SETTLE_STEPS, ScenarioRun
from engine.scenarios import Complete, Scenario, ScenarioError
from engine.selectors import process_instance_variables
from engine.services._shell import deliver_signal_job
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start
from engine.services.jobs import job_complete, job_delete_done, job_fail, job_fire
from engine.services.messages import message_correlate, signal_throw
from engine.services.user_tasks import user_task_complete
from engine.status import InstanceStatus, UserTaskStatus

WORK_KINDS = ("service", "send", "businessRule", "async")
OPEN = (UserTaskStatus.OPEN, UserTaskStatus.CLAIMED)


@dataclass
class DatabaseRun(ScenarioRun):
    """All instances of one scenario run, as rows, on one simulated clock."""

    scenario: Scenario
    source: str
    data: bytes
    now: datetime = field(init=False)
    instances: dict[str, int] = field(default_factory=dict)  # label -> instance pk
    services: dict[str, list[Mapping[str, object]]] = field(default_factory=dict)
    service_calls: dict[int, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.now = self.scenario.clock
        self.services = {k: list(v) for k, v in self.scenario.services.items()}
        try:
            deployment_create(files=[(self.source, self.data)], actor=None,
                              name="bpmn_run")
        except EngineError as exc:
            raise ScenarioError(str(exc)) from None

    # ---------------------------------------------------------------- actions

    def start(self, label: str, process_id: str, variables: Mapping[str, object],
              business_key: str | None = None, start_event_id: str | None = None) -> None:
        if label in self.instances:
            raise ScenarioError(f"an instance labelled {label!r} already exists")
        if not ProcessDefinition.objects.filter(key=process_id).exists():
            raise ScenarioError(f"no deployed process {process_id!r}")
        instance, _ = self._call(process_instance_start, key=process_id,
                                 variables=dict(variables), business_key=business_key,
                                 now=self.now)
        self.instances[label] = instance.pk
        self.settle()

    def complete(self, step: Complete) -> None:
        # The addressed instance first, then its call activities' children, depth first.
        family = self._family(self._instance_id(step.instance))
        for instance_id in family:
            tasks = UserTask.objects.filter(instance_id=instance_id, element_id=step.element,
                                            status__in=OPEN).order_by("task_id")
            for task in tasks:
                if all(self._task_field(task, key) == value
                       for key, value in step.where.items()):
                    self._call(user_task_complete, task_id=task.pk, actor=None,
                               variables=dict(step.variables), now=self.now)
                    return
        open_tasks = [element for instance_id in family for element in
                      UserTask.objects.filter(instance_id=instance_id, status__in=OPEN)
                      .order_by("task_id").values_list("element_id", flat=True)]
        raise ScenarioError(f"no open task {step.element!r} in instance {step.instance!r}"
                            f"{' where ' + repr(dict(step.where)) if step.where else ''}; "
                            f"open: {open_tasks}")

    def advance(self, until: datetime) -> None:
        """Fire every timer due by `until` in due order, each at its own instant."""
        for _ in range(MAX_SETTLE_STEPS):
            job = self._jobs().filter(kind="timer", due_at__lte=until).order_by(
                "due_at", "pk").first()
            if job is None:
                break
            self.now = max(self.now, job.due_at)
            self._call(job_fire, job_id=job.pk, now=self.now)
            self.settle()
        self.now = max(self.now, until)

    def message(self, name: str, correlation: Mapping[str, object],
                variables: Mapping[str, object]) -> None:
        keys = dict(correlation)
        business_key = keys.pop("businessKey", None) or keys.pop("business_key", None)
        before = set(ProcessInstance.objects.values_list("pk", flat=True))
        self._call(message_correlate, name=name,
                   business_key=None if business_key is None else str(business_key),
                   correlation=keys or None, variables=dict(variables), now=self.now)
        self._label_new_instances(before)

    def signal(self, name: str, variables: Mapping[str, object]) -> None:
        before = set(ProcessInstance.objects.values_list("pk", flat=True))
        self._call(signal_throw, name=name, variables=dict(variables), now=self.now)
        self._label_new_instances(before)

    def settle(self) -> None:
        """Work off service, send and business rule jobs (message throw events with an
        implementation included) as soon as they exist, in creation order, with the next
        scripted result for their task; and the jobs of asynchronous signal throws."""
        for _ in range(MAX_SETTLE_STEPS):
            job = self._jobs().filter(kind__in=WORK_KINDS, retries_left__gt=0).order_by(
                "created_at", "pk").first()
            signal = Job.objects.filter(kind=SIGNAL_JOB_KIND, instance__isnull=True,
                                        retries_left__gt=0).order_by("created_at", "pk").first()
            if signal is not None and (job is None or signal.pk < job.pk):
                self._deliver_signal(signal.pk)
                continue
            if job is None:
                return
            if job.kind == "async":  # a transaction boundary: nothing to call
                self._call(job_complete, job_id=job.pk, variables={}, now=self.now)
                continue
            self.service_calls.setdefault(job.instance_id or 0, []).append(job.element_id)
            script = self.services.get(job.element_id)
            outcome: Mapping[str, object] = script.pop(0) if script else {}
            if "error" in outcome:
                self._call(job_fail, job_id=job.pk, error_code=str(outcome["error"]),
                           message=str(outcome.get("message", "")), now=self.now)
            elif "fail" in outcome:
                self._call(job_fail, job_id=job.pk, message=str(outcome["fail"]),
                           now=self.now)
            else:
                result = outcome.get("result") or {}
                self._call(job_complete, job_id=job.pk,
                           variables=dict(result) if isinstance(result, Mapping) else {},
                           now=self.now)
        raise ScenarioError(f"no quiescence after {MAX_SETTLE_STEPS} jobs")

    def _deliver_signal(self, job_pk: int) -> None:
        """Run an asynchronous signal throw's job, as the job runner would."""
        before = set(ProcessInstance.objects.values_list("pk", flat=True))
        try:
            with transaction.atomic():
                job = locks.lock_job(job_pk)
                deliver_signal_job(job, now=self.now)
                job_delete_done(job.pk)
        except EngineError as exc:
            raise ScenarioError(f"{exc.code}: {exc.message}") from None
        self._label_new_instances(before)

    # ---------------------------------------------------------------- reading

    def labels(self) -> list[str]:
        return list(self.instances)

    def snapshot(self, label: str) -> dict[str, Any]:
        return self._snap(self._instance_id(label))

    def _snap(self, instance_id: int) -> dict[str, Any]:
        instance = ProcessInstance.objects.select_related("definition").get(pk=instance_id)
        tasks = UserTask.objects.filter(instance=instance, status__in=OPEN).order_by("task_id")
        moves = AuditEvent.objects.filter(
            chain=instance_chain(instance.pk),
            kind__in=(AuditKind.ACTIVITY_COMPLETED, AuditKind.ACTIVITY_CANCELLED),
        ).order_by("seq").values_list("kind", "element_id")
        status = "active" if instance.status == InstanceStatus.RUNNING else instance.status
        return {
            "process": instance.definition.key,
            "completed": instance.status == InstanceStatus.COMPLETED,
            "status": status,
            "variables": process_instance_variables(instance=instance),
            "open_tasks": [
                {"id": t.element_id, "assignee": t.assignee_username,
                 "candidate_groups": list(t.candidate_groups),
                 "created": t.created_at.isoformat(),
                 "due": t.due.isoformat() if t.due else None}
                for t in tasks],
            "visited": [e for k, e in moves if k == AuditKind.ACTIVITY_COMPLETED],
            "cancelled": [e for k, e in moves if k == AuditKind.ACTIVITY_CANCELLED],
            "service_calls": list(self.service_calls.get(instance.pk, [])),
            "incidents": [{"element_id": i.element_id, "message": i.message}
                          for i in Incident.objects.filter(instance=instance).order_by("pk")],
            "children": [self._snap(child) for child in ProcessInstance.objects.filter(
                parent_instance=instance).order_by("pk").values_list("pk", flat=True)],
        }

    def next_open_task(self) -> tuple[str, str] | None:
        by_pk = {pk: label for label, top in self.instances.items()
                 for pk in self._family(top)}
        task = UserTask.objects.filter(
            instance_id__in=by_pk, status__in=OPEN,
            instance__status=InstanceStatus.RUNNING).order_by("created_at", "pk").first()
        return None if task is None else (by_pk[task.instance_id], task.element_id)

    def next_timer_due(self) -> datetime | None:
        job = self._jobs().filter(kind="timer").order_by("due_at").first()
        return None if job is None else job.due_at

    # ---------------------------------------------------------------- helpers

    def _jobs(self) -> Any:
        ids = [pk for top in self.instances.values() for pk in self._family(top)]
        return Job.objects.filter(instance_id__in=ids, instance__status=InstanceStatus.RUNNING)

    @staticmethod
    def _family(instance_id: int) -> list[int]:
        """The instance and its call activities' children, depth first, oldest first."""
        out = [instance_id]
        for child in ProcessInstance.objects.filter(parent_instance_id=instance_id).order_by(
                "pk").values_list("pk", flat=True):
            out.extend(DatabaseRun._family(child))
        return out

    def _instance_id(self, label: str) -> int:
        if label not in self.instances:
            raise ScenarioError(f"no instance labelled {label!r}; there are "
                                f"{sorted(self.instances)}")
        return self.instances[label]

    @staticmethod
    def _task_field(task: UserTask, key: str) -> object:
        return task.assignee_username if key == "assignee" else getattr(task, key, None)

    @staticmethod
    def _call(service: Any, **kwargs: Any) -> Any:
        try:
            return service(**kwargs)
        except EngineError as exc:
            raise ScenarioError(f"{exc.code}: {exc.message}") from None

    def _label_new_instances(self, before: set[int]) -> None:
        for instance in ProcessInstance.objects.exclude(pk__in=before).filter(
                parent_instance__isnull=True).select_related(
                "definition").order_by("pk"):
            number = 1
            while f"{instance.definition.key}#{number}" in self.instances:
                number += 1
            self.instances[f"{instance.definition.key}#{number}"] = instance.pk
