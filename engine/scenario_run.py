"""Run a scenario against the pure runtime, no database (`bpmn_run --engine-only`).

Instances are `Simulation`s (the state goes through JSON after every trigger, as it does
through the database). This module adds what spans instances: one clock, signals broadcast
to every instance, messages correlated to exactly one, scripted service results shared by
task id, labels, and the snapshots the command prints.

Children of call activities are Simulations inside their caller's (`Simulation.children`),
resolved from the same model file; they are worked, timed and signalled like labelled
instances, and appear in their caller's snapshot under "children".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bpmn.model import Definitions
from engine import runtime
from engine.runtime import effects as fx
from engine.runtime import triggers as tr
from engine.runtime.simulate import JOB_KINDS, Simulation
from engine.scenarios import (
    MAIN,
    Advance,
    Complete,
    Expect,
    Message,
    Scenario,
    ScenarioError,
    ScenarioStep,
    Signal,
    Start,
    check_expectation,
)

MAX_SETTLE_STEPS = 100_000


class ScenarioRun:
    """What every way of running a scenario provides; subclasses hold the instances."""

    scenario: Scenario
    now: datetime
    failures: list[str]

    def start(self, label: str, process_id: str, variables: Mapping[str, object],
              business_key: str | None = None, start_event_id: str | None = None) -> None:
        raise NotImplementedError

    def complete(self, step: Complete) -> None:
        raise NotImplementedError

    def advance(self, until: datetime) -> None:
        raise NotImplementedError

    def message(self, name: str, correlation: Mapping[str, object],
                variables: Mapping[str, object]) -> None:
        raise NotImplementedError

    def signal(self, name: str, variables: Mapping[str, object]) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        raise NotImplementedError

    def labels(self) -> list[str]:
        raise NotImplementedError

    def snapshot(self, label: str) -> dict[str, Any]:
        raise NotImplementedError

    def next_open_task(self) -> tuple[str, str] | None:
        """(label, element id) of the oldest open user task of any active instance."""
        raise NotImplementedError

    def next_timer_due(self) -> datetime | None:
        raise NotImplementedError

    def run_step(self, step: ScenarioStep) -> None:
        if isinstance(step, Complete):
            self.complete(step)
        elif isinstance(step, Advance):
            self.advance(step.duration.add_to(self.now))
        elif isinstance(step, Message):
            self.message(step.name, step.correlation, step.variables)
        elif isinstance(step, Signal):
            self.signal(step.name, step.variables)
        elif isinstance(step, Start):
            self.start(step.label, step.process, step.variables, step.business_key)
        elif isinstance(step, Expect):
            self.failures.extend(check_expectation(step, self.snapshot(step.instance)))
        self.settle()

    def snapshots(self) -> dict[str, dict[str, Any]]:
        return {label: self.snapshot(label) for label in self.labels()}


@dataclass
class EngineOnlyRun(ScenarioRun):
    """All instances of one scenario run, on one simulated clock."""

    definitions: Definitions
    scenario: Scenario
    now: datetime = field(init=False)
    instances: dict[str, Simulation] = field(default_factory=dict)
    created: dict[tuple[str, int, int], datetime] = field(default_factory=dict)
    services: dict[str, list[Mapping[str, object]]] = field(default_factory=dict)
    compiled: dict[str, runtime.CompiledProcess] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # Asynchronous signal throws (camunda:async) not delivered yet: the jobs of the run.
    signal_jobs: list[fx.ThrowSignal] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.now = self.scenario.clock
        self.services = {k: list(v) for k, v in self.scenario.services.items()}

    # ---------------------------------------------------------------- setup

    def process(self, process_id: str) -> runtime.CompiledProcess:
        if process_id not in self.compiled:
            if self.definitions.process(process_id) is None:
                known = [p.id for p in self.definitions.executable_processes]
                raise ScenarioError(f"no process {process_id!r} in the model; it has {known}")
            self.compiled[process_id] = runtime.compile_process(self.definitions, process_id)
        return self.compiled[process_id]

    def resolve(self, process_id: str) -> runtime.CompiledProcess | None:
        """A called element: a process of the same file (bpmn_run deploys one file)."""
        if self.definitions.process(process_id) is None:
            return None
        try:
            return self.process(process_id)
        except runtime.CompileError:
            return None  # the database path would not have deployed it: an incident

    def start(self, label: str, process_id: str, variables: Mapping[str, object],
              business_key: str | None = None, start_event_id: str | None = None) -> None:
        if label in self.instances:
            raise ScenarioError(f"an instance labelled {label!r} already exists")
        compiled = self.process(process_id)
        if start_event_id is None and not compiled.none_starts and compiled.starts:
            # Only message, signal or timer starts: start as if the first one triggered.
            start_event_id = compiled.starts[0]
        sim = Simulation(compiled, self.now,  # services shared: results are used in order
                         services=self.services, resolve=self.resolve)
        self.instances[label] = sim
        try:
            sim.start(variables, business_key=business_key, start_event_id=start_event_id)
        except runtime.NoDefaultStart as exc:
            raise ScenarioError(str(exc)) from None
        self._note_tasks(label)
        self.settle()

    # ---------------------------------------------------------------- steps

    def instance(self, label: str) -> Simulation:
        if label not in self.instances:
            raise ScenarioError(f"no instance labelled {label!r}; there are "
                                f"{sorted(self.instances)}")
        return self.instances[label]

    def complete(self, step: Complete) -> None:
        # The addressed instance first, then its call activities' children, depth first.
        family = self.instance(step.instance).family()
        for sim in family:
            for task in sorted(sim.tasks.values(), key=lambda t: t.task_id):
                if task.element_id == step.element and all(
                        getattr(task, key, None) == value
                        for key, value in step.where.items()):
                    sim.now = self.now
                    sim.send(tr.TaskCompleted(task.task_id, dict(step.variables)))
                    self._note_tasks(step.instance)
                    return
        raise ScenarioError(f"no open task {step.element!r} in instance {step.instance!r}"
                            f"{' where ' + repr(dict(step.where)) if step.where else ''}; "
                            f"open: {[t for sim in family for t in sim.open_tasks]}")

    def advance(self, until: datetime) -> None:
        """Fire every timer due by `until` in due order, each at its own instant."""
        while True:
            due = [(job.due or self.now, job.job_id, label, n)
                   for label, n, sim in self._every() if sim.active
                   for job in sim.jobs.values()
                   if job.kind == "timer" and (job.due is None or job.due <= until)]
            if not due:
                break
            instant, job_id, label, n = min(due)
            self.now = max(self.now, instant)
            sim = self.instances[label].family()[n]
            sim.now = self.now
            sim.send(tr.TimerFired(job_id))
            self._note_tasks(label)
            self.settle()
        self.now = max(self.now, until)
        for _, _, sim in self._every():
            sim.now = self.now

    def message(self, name: str, correlation: Mapping[str, object],
                variables: Mapping[str, object]) -> None:
        targets = [(label, sub, sim) for label, _, sim in self._every() if sim.active
                   for sub in sim.subscriptions.values()
                   if sub.kind == "message" and sub.name == name
                   and self._correlates(sim, sub, correlation)]
        if len(targets) > 1:
            raise ScenarioError(f"message {name!r} matches {len(targets)} waiting catchers "
                                f"({sorted(label for label, _, _ in targets)}); "
                                "add correlation")
        if targets:
            label, sub, sim = targets[0]
            sim.now = self.now
            sim.send(tr.MessageReceived(sub.subscription_id, None, dict(variables)))
            self._note_tasks(label)
            return
        for process_id in self._processes_started_by("message", name):
            self.start(self._new_label(process_id), process_id, variables,
                       start_event_id=self._start_event(process_id, "message", name))
            return
        raise ScenarioError(f"message {name!r} reached no waiting catcher and starts no "
                            "process")

    def signal(self, name: str, variables: Mapping[str, object]) -> None:
        for label, _, sim in self._every():
            if sim.active and any(s.kind == "signal" and s.name == name
                                  for s in sim.subscriptions.values()):
                sim.now = self.now
                sim.send(tr.SignalReceived(name, dict(variables)))
                self._note_tasks(label)
        for process_id in self._processes_started_by("signal", name):
            self.start(self._new_label(process_id), process_id, variables,
                       start_event_id=self._start_event(process_id, "signal", name))

    def settle(self) -> None:
        """Work off jobs (scripted service results) and internal signals and messages."""
        for _ in range(MAX_SETTLE_STEPS):
            moved = False
            if self.signal_jobs:
                # An asynchronous signal throw's job: after the step that threw it, to
                # whoever waits by then (the thrower may have ended meanwhile).
                pending = self.signal_jobs.pop(0)
                self.signal(str(pending.name), pending.variables)
                moved = True
            for label, _, sim in self._every():
                while sim.outbox:
                    item = sim.outbox.pop(0)
                    if isinstance(item, fx.ThrowSignal) and item.asynchronous:
                        if item.name is not None:
                            self.signal_jobs.append(item)
                    elif isinstance(item, fx.ThrowSignal):
                        self.signal(str(item.name), item.variables)
                    else:
                        self._send_internal_message(item)
                    moved = True
                jobs = [j for j in sim.jobs.values()
                        if j.kind in JOB_KINDS and j.job_id not in sim.failed_jobs]
                if sim.active and jobs:
                    sim.now = self.now
                    sim.work_job(min(jobs, key=lambda j: j.job_id))
                    self._note_tasks(label)
                    moved = True
            if not moved:
                return
        raise ScenarioError(f"no quiescence after {MAX_SETTLE_STEPS} steps (an endless loop "
                            "of jobs or signals?)")

    # ---------------------------------------------------------------- reading

    def snapshot(self, label: str) -> dict[str, Any]:
        return self._snap(label, self.instance(label))

    def _snap(self, label: str, sim: Simulation) -> dict[str, Any]:
        state = sim.state
        status = "active" if sim.active else ("completed" if sim.completed else
                                              (state.status if state else "not started"))
        return {
            "process": sim.compiled.process_id,
            "completed": sim.completed,
            "status": status,
            "variables": sim.variables,
            "open_tasks": [
                {"id": t.element_id, "assignee": t.assignee,
                 "candidate_groups": list(t.candidate_groups),
                 "created": self.created.get((label, id(sim), t.task_id),
                                             self.now).isoformat(),
                 "due": t.due.isoformat() if t.due else None}
                for t in sorted(sim.tasks.values(), key=lambda t: t.task_id)],
            "visited": list(sim.visited),
            "cancelled": list(sim.cancelled),
            "service_calls": list(sim.service_calls),
            "incidents": [{"element_id": i.element_id, "message": i.message}
                          for i in sim.incidents],
            "children": [self._snap(label, child) for child in sim.children.values()],
        }

    def labels(self) -> list[str]:
        return list(self.instances)

    def next_open_task(self) -> tuple[str, str] | None:
        for label, _, sim in self._every():
            if sim.active and sim.tasks:
                return label, min(sim.tasks.values(), key=lambda t: t.task_id).element_id
        return None

    def next_timer_due(self) -> datetime | None:
        due = [job.due for _, _, sim in self._every() if sim.active
               for job in sim.jobs.values() if job.kind == "timer" and job.due]
        return min(due) if due else None

    # ---------------------------------------------------------------- helpers

    def _every(self) -> list[tuple[str, int, Simulation]]:
        """(label, place in its family, simulation) of every instance, children after
        their caller, depth first."""
        return [(label, n, sim) for label, top in list(self.instances.items())
                for n, sim in enumerate(top.family())]

    def _note_tasks(self, label: str) -> None:
        # A step of one instance can create tasks in any instance of the run (a child's
        # end moves its caller): note every new one at this instant.
        for other, _, sim in self._every():
            for task_id in sim.tasks:
                self.created.setdefault((other, id(sim), task_id), self.now)

    @staticmethod
    def _correlates(sim: Simulation, sub: fx.Subscribe,
                    correlation: Mapping[str, object]) -> bool:
        """Camunda 7 correlates on process variables and the business key; a Zeebe
        subscription carries its evaluated correlation key."""
        if not correlation:
            return True
        state = sim.state
        for key, value in correlation.items():
            if key in ("businessKey", "business_key"):
                if state is None or state.business_key != str(value):
                    return False
            elif key in sub.correlation:
                if sub.correlation[key] != value:
                    return False
            elif sim.variables.get(key) != value:
                return False
        return True

    def _send_internal_message(self, item: fx.SendMessage) -> None:
        targets = [(label, sub, sim) for label, _, sim in self._every() if sim.active
                   for sub in sim.subscriptions.values()
                   if sub.kind == "message" and sub.name == item.name]
        if targets:
            label, sub, sim = targets[0]
            sim.send(tr.MessageReceived(sub.subscription_id, None, dict(item.variables)))
            self._note_tasks(label)

    def _processes_started_by(self, kind: str, name: str) -> list[str]:
        return [p.id for p in self.definitions.executable_processes
                if self._start_event(p.id, kind, name) is not None]

    def _start_event(self, process_id: str, kind: str, name: str) -> str | None:
        for point in self.process(process_id).start_subscriptions:
            if point.kind == kind and point.name == name:
                return point.element_id
        return None

    def _new_label(self, process_id: str) -> str:
        number = 1
        while f"{process_id}#{number}" in self.instances:
            number += 1
        return f"{process_id}#{number}"


def run_scenario(run: ScenarioRun, process_id: str) -> list[dict[str, Any]]:
    """Start `main`, run every step; the snapshots after the start and after each step."""
    scenario = run.scenario
    run.start(MAIN, process_id, scenario.variables, scenario.business_key)
    steps: list[dict[str, Any]] = [{"step": 0, "instances": run.snapshots()}]
    if not scenario.steps:
        run_to_the_end(run)
        steps.append({"step": 1, "instances": run.snapshots()})
    for number, step in enumerate(scenario.steps, start=1):
        run.run_step(step)
        steps.append({"step": number, "instances": run.snapshots()})
    return steps


# Without a scenario, a model with an unbounded timer cycle (a reminder every hour, R/PT1H)
# would advance forever: stop after this many timer waits and report the state reached.
MAX_TIMER_ADVANCES = 1_000


def run_to_the_end(run: ScenarioRun) -> None:
    """No scenario: complete user tasks with no data and let time pass to the next due
    timer, until every instance ends or is stuck (or MAX_TIMER_ADVANCES timers passed)."""
    advances = 0
    for _ in range(MAX_SETTLE_STEPS):
        task = run.next_open_task()
        if task is not None:
            run.complete(Complete(task[1], instance=task[0]))
            run.settle()
            continue
        due = run.next_timer_due()
        if due is None or advances >= MAX_TIMER_ADVANCES:
            return
        run.advance(due)
        advances += 1


def run_engine_only(definitions: Definitions, scenario: Scenario, process_id: str
                    ) -> tuple[EngineOnlyRun, list[dict[str, Any]]]:
    """Run the whole scenario in memory; return the run and its snapshots."""
    run = EngineOnlyRun(definitions, scenario)
    return run, run_scenario(run, process_id)
