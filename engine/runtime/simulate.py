"""Run one instance on a simulated clock with no database: tests and `bpmn_run --engine-only`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.runtime import effects as fx
from engine.runtime import triggers as tr
from engine.runtime.call_activity import MAX_CALL_DEPTH
from engine.runtime.compile import CompiledProcess
from engine.runtime.machine import NoDefaultStart, Step, handle, start
from engine.runtime.state import ACTIVE, InstanceState

TaskAnswer = Callable[[fx.CreateUserTask], Mapping[str, object]]
Resolve = Callable[[str], "CompiledProcess | None"]  # a called element -> its process
JOB_KINDS = frozenset({"service", "send", "businessRule", "async"})
_AUDIT = fx.Audit
_CREATE_USER_TASK = fx.CreateUserTask
_COMPLETED = fx.AuditKind.ACTIVITY_COMPLETED
_CANCELLED = fx.AuditKind.ACTIVITY_CANCELLED


@dataclass
class Simulation:
    """One process instance driven step by step, the way the shell would drive it.

    After every trigger the state is serialised to JSON text and read back (unless
    `roundtrip` is off), so whatever runs here also runs from the database. Signals and
    messages the instance throws are delivered back to its own subscriptions, as the shell
    does, each in a step of its own; an asynchronous signal throw (camunda:async) waits in
    `signal_jobs`, as the shell's job for it would, and reaches whoever waits when it is
    worked. `services` scripts the outcome of service, send and business rule tasks, and
    of message throw events with an implementation (their send job), by element id, used
    in order: {"result": {...}}, {"error": CODE} or {"fail": "message"}; unscripted jobs
    complete with no variables.

    Call activities: `resolve` finds the called process (None: not deployed, an
    incident); each child is a Simulation of its own in `children` (by call id, kept after
    it ends), driven like the shell drives child instances: started right after the step
    that asked for it, cancelled with its call activity, and its completion or thrown-out
    error/escalation delivered to this instance as ChildCompleted/ChildFailed at once.
    """

    compiled: CompiledProcess
    now: datetime
    roundtrip: bool = True
    services: dict[str, list[Mapping[str, object]]] = field(default_factory=dict)
    state: InstanceState | None = None
    tasks: dict[int, fx.CreateUserTask] = field(default_factory=dict)
    jobs: dict[int, fx.ScheduleJob] = field(default_factory=dict)
    subscriptions: dict[int, fx.Subscribe] = field(default_factory=dict)
    effects: list[fx.Effect] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    incidents: list[fx.Incident] = field(default_factory=list)
    service_calls: list[str] = field(default_factory=list)
    outbox: list[fx.ThrowSignal | fx.SendMessage] = field(default_factory=list)
    signal_jobs: list[fx.ThrowSignal] = field(default_factory=list)  # camunda:async signals
    failed_jobs: set[int] = field(default_factory=set)  # final failures: incidents
    steps: int = 0
    max_state_bytes: int = 0
    resolve: Resolve | None = None
    parent: Simulation | None = None
    children: dict[int, Simulation] = field(default_factory=dict)

    # -- driving

    def start(self, variables: Mapping[str, object] | None = None, *,
              start_event_id: str | None = None, business_key: str | None = None,
              call: int | None = None) -> Step:
        step = start(self.compiled, variables, now=self.now, start_event_id=start_event_id,
                     business_key=business_key, call=call)
        return self._calls(self._record(step))

    def send(self, trigger: tr.Trigger) -> Step:
        if self.state is None:
            raise RuntimeError("start the simulation first")
        if isinstance(trigger, tr.TaskCompleted):
            self.tasks.pop(trigger.task_id, None)
        elif isinstance(trigger, tr.TimerFired | tr.JobDone) or (
                isinstance(trigger, tr.JobFailed) and trigger.error_code is not None):
            self.jobs.pop(trigger.job_id, None)
        elif isinstance(trigger, tr.JobFailed):
            self.failed_jobs.add(trigger.job_id)
        # owned: the simulation keeps no other reference to its state (a failing step
        # raises before it changes anything, or is a bug that ends the run anyway).
        return self._calls(self._record(handle(self.compiled, self.state, trigger,
                                                now=self.now, owned=True)))

    def complete(self, element_id: str, variables: Mapping[str, object] | None = None,
                 actor: str | None = None) -> Step:
        """Complete the oldest open user task of `element_id`."""
        task = next((t for t in self.tasks.values() if t.element_id == element_id), None)
        if task is None:
            raise LookupError(f"no open user task {element_id!r}; open: "
                              f"{sorted(t.element_id for t in self.tasks.values())}")
        return self.send(tr.TaskCompleted(task.task_id, dict(variables or {}), actor))

    def message(self, name: str, variables: Mapping[str, object] | None = None) -> Step:
        return self.send(tr.MessageReceived(None, name, dict(variables or {})))

    def signal(self, name: str, variables: Mapping[str, object] | None = None) -> Step:
        return self.send(tr.SignalReceived(name, dict(variables or {})))

    def fire_next_timer(self) -> Step | None:
        """Move the clock to the earliest due timer (never backwards) and fire it."""
        timers = [j for j in self.jobs.values() if j.kind == "timer"]
        if not timers:
            return None
        job = min(timers, key=lambda j: (j.due or self.now, j.job_id))
        if job.due is not None and job.due > self.now:
            self.now = job.due
        return self.send(tr.TimerFired(job.job_id))

    def advance(self, delta: timedelta) -> None:
        """Let time pass: every timer due by then fires in due order, each at its instant."""
        until = self.now + delta
        while self.active:
            due = [j for j in self.jobs.values()
                   if j.kind == "timer" and (j.due is None or j.due <= until)]
            if not due:
                break
            self.fire_next_timer()
            self.deliver()
        self.now = max(self.now, until)

    def work_job(self, job: fx.ScheduleJob) -> Step:
        """Answer a service/send/business rule job with the next scripted outcome; an async
        continuation job just runs (the scripts are for the task's own work)."""
        if job.kind == "async":
            return self.send(tr.JobDone(job.job_id))
        self.service_calls.append(job.element_id)
        script = self.services.get(job.element_id)
        outcome: Mapping[str, object] = script.pop(0) if script else {}
        if "error" in outcome:
            return self.send(tr.JobFailed(job.job_id, str(outcome["error"]),
                                          str(outcome.get("message", ""))))
        if "fail" in outcome:
            return self.send(tr.JobFailed(job.job_id, None, str(outcome["fail"])))
        result = outcome.get("result") or {}
        return self.send(tr.JobDone(job.job_id, dict(result)
                                    if isinstance(result, Mapping) else {}))

    def deliver(self) -> None:
        """Signals and messages the instance threw, back to its own subscriptions."""
        while self.outbox and self.active:
            item = self.outbox.pop(0)
            if isinstance(item, fx.ThrowSignal) and item.asynchronous:
                self.signal_jobs.append(item)  # delivered by its job (deliver_signal_job)
                continue
            kind = "signal" if isinstance(item, fx.ThrowSignal) else "message"
            targets = [s for s in self.subscriptions.values()
                       if s.kind == kind and s.name == item.name]
            if not targets:
                continue
            if isinstance(item, fx.ThrowSignal):
                self.send(tr.SignalReceived(str(item.name), dict(item.variables)))
            else:
                self.send(tr.MessageReceived(targets[0].subscription_id, None,
                                             dict(item.variables)))

    def deliver_signal_job(self) -> bool:
        """Work the oldest asynchronous signal job: to this instance's catchers, if it still
        has any. False when there was none to work."""
        if not self.signal_jobs:
            return False
        item = self.signal_jobs.pop(0)
        if self.active and any(s.kind == "signal" and s.name == item.name
                               for s in self.subscriptions.values()):
            self.send(tr.SignalReceived(str(item.name), dict(item.variables)))
        return True

    def run(self, answer_task: TaskAnswer | None = None, *, timers: bool = True,
            max_steps: int = 100_000) -> Simulation:
        """Work until the instance ends or only outside events could move it: internal
        signals/messages first, then jobs in creation order, then user tasks (answered by
        `answer_task`, default: no variables), then the next due timer. Children of call
        activities are worked too, parent before child (`family()`)."""
        for _ in range(max_steps):
            if not self.children:
                # No call activity started a child: the family is this instance alone.
                if self.outbox:
                    self.deliver()
                if self.deliver_signal_job():
                    continue
                if not self.active:
                    break
                live = [self]
                if not self.jobs and self.tasks:
                    # Only user tasks open (the common case): answer the oldest.
                    tasks = self.tasks
                    task = tasks[min(tasks)]
                    answer = answer_task(task) if answer_task else {}
                    self.send(tr.TaskCompleted(task.task_id, dict(answer)))
                    continue
            else:
                for sim in self.family():
                    sim.deliver()
                if any([sim.deliver_signal_job() for sim in self.family()]):
                    continue
                if not self.active:
                    break
                live = [sim for sim in self.family() if sim.active]
                for sim in live:
                    sim.now = max(sim.now, self.now)
            if self._work_one(live, answer_task):
                continue
            timed = [(j.due or sim.now, j.job_id, n) for n, sim in enumerate(live)
                     for j in sim.jobs.values() if j.kind == "timer"]
            if timers and timed:
                live[min(timed)[2]].fire_next_timer()
                continue
            break
        return self

    @staticmethod
    def _work_one(live: list[Simulation], answer_task: TaskAnswer | None) -> bool:
        for sim in live:
            jobs = [j for j in sim.jobs.values()
                    if j.kind in JOB_KINDS and j.job_id not in sim.failed_jobs]
            if jobs:
                sim.work_job(min(jobs, key=lambda j: j.job_id))
                return True
        for sim in live:
            if sim.tasks:
                task = min(sim.tasks.values(), key=lambda t: t.task_id)
                answer = answer_task(task) if answer_task else {}
                sim.send(tr.TaskCompleted(task.task_id, dict(answer)))
                return True
        return False

    # -- call activities

    def depth(self) -> int:
        """How many callers are above this instance."""
        return 0 if self.parent is None else self.parent.depth() + 1

    def family(self) -> list[Simulation]:
        """This instance and its children, depth first, each child in the order started."""
        out = [self]
        for child in self.children.values():
            out.extend(child.family())
        return out

    def _calls(self, step: Step) -> Step:
        """What the shell does after a step is written: start and cancel children, and tell
        the caller that this (child) instance completed or threw an error/escalation out."""
        for effect in step.effects:
            kind = type(effect)
            if kind is _AUDIT or kind is _CREATE_USER_TASK:  # most effects; none matters here
                continue
            if isinstance(effect, fx.StartCallActivity):
                if self.state is None or effect.call_id not in self.state.waits:
                    continue  # a later step already interrupted the call activity
                if self.depth() >= MAX_CALL_DEPTH:
                    self.send(tr.ChildFailed(effect.call_id, None, "call activities nested "
                                             f"deeper than {MAX_CALL_DEPTH}", "incident"))
                    continue
                compiled = self.resolve(effect.called_element) if self.resolve else None
                if compiled is None:
                    self.send(tr.ChildFailed(effect.call_id, None, "no deployed process "
                                             f"{effect.called_element!r} to call",
                                             "incident"))
                    continue
                child = Simulation(compiled, self.now, self.roundtrip, self.services,
                                   resolve=self.resolve, parent=self)
                self.children[effect.call_id] = child
                try:
                    child.start(effect.variables, business_key=effect.business_key,
                                call=effect.call_id)
                except NoDefaultStart as exc:
                    del self.children[effect.call_id]
                    self.send(tr.ChildFailed(effect.call_id, None, str(exc), "incident"))
            elif isinstance(effect, fx.CancelCallActivity):
                called = self.children.get(effect.call_id)
                if called is not None and called.active:
                    called.now = self.now
                    called.send(tr.Cancel("call activity cancelled"))
            elif self.parent is not None and self.state is not None \
                    and self.state.call is not None:
                self._tell_parent(effect, self.state.call, self.parent)
        return step

    def _tell_parent(self, effect: fx.Effect, call: int, parent: Simulation) -> None:
        if isinstance(effect, fx.Completed):
            trigger: tr.Trigger = tr.ChildCompleted(call, self.variables)
        elif isinstance(effect, fx.ErrorThrownOut):
            trigger = tr.ChildFailed(call, effect.code, effect.message or "", "error")
        elif isinstance(effect, fx.EscalationThrownOut):
            trigger = tr.ChildFailed(call, effect.code, "", "escalation")
        else:
            return
        parent.now = max(parent.now, self.now)
        parent.send(trigger)

    # -- reading

    @property
    def active(self) -> bool:
        return self.state is not None and self.state.status == ACTIVE

    @property
    def completed(self) -> bool:
        return self.state is not None and self.state.completed

    @property
    def variables(self) -> dict[str, object]:
        return {} if self.state is None else dict(self.state.variables)

    @property
    def open_tasks(self) -> list[str]:
        return [t.element_id for t in sorted(self.tasks.values(), key=lambda t: t.task_id)]

    def audits(self, kind: fx.AuditKind) -> list[str | None]:
        return [e.element_id for e in self.effects if isinstance(e, fx.Audit) and e.kind == kind]

    def _record(self, step: Step) -> Step:
        self.steps += 1
        state = step.state
        if self.roundtrip:
            text = json.dumps(state.to_json(), separators=(",", ":"))
            self.max_state_bytes = max(self.max_state_bytes, len(text))
            state = InstanceState.from_json(json.loads(text))
        self.state = state
        effects = step.effects
        self.effects.extend(effects)
        for effect in effects:
            if type(effect) is _AUDIT:  # most effects are audits: test them first
                if effect.kind == _COMPLETED and effect.element_id:
                    self.visited.append(effect.element_id)
                elif effect.kind == _CANCELLED and effect.element_id:
                    self.cancelled.append(effect.element_id)
            elif isinstance(effect, _CREATE_USER_TASK):
                self.tasks[effect.task_id] = effect
            elif isinstance(effect, fx.CancelUserTask):
                self.tasks.pop(effect.task_id, None)
            elif isinstance(effect, fx.ScheduleJob):
                self.jobs[effect.job_id] = effect
            elif isinstance(effect, fx.CancelJob):
                self.jobs.pop(effect.job_id, None)
            elif isinstance(effect, fx.Subscribe):
                self.subscriptions[effect.subscription_id] = effect
            elif isinstance(effect, fx.Unsubscribe):
                self.subscriptions.pop(effect.subscription_id, None)
            elif isinstance(effect, fx.ThrowSignal | fx.SendMessage):
                self.outbox.append(effect)
            elif isinstance(effect, fx.Incident):
                self.incidents.append(effect)
        return step if state is step.state else Step(state, effects)
