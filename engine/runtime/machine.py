"""The token machine: start an instance, apply one trigger, advance tokens to their wait states."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bpmn.expr import Dialect, EvaluationError, Expression, Script, evaluate, run_script
from bpmn.timers import TimerError, parse_datetime, parse_duration
from engine.runtime import compile as c
from engine.runtime import conditions as _conditions
from engine.runtime import effects as fx
from engine.runtime import events as _events
from engine.runtime import gateways as _gateways
from engine.runtime import state as st
from engine.runtime import triggers as tr
from engine.runtime.event_subprocess import arm_scope, disarm_scope
from engine.runtime.variables import (
    VariableError,
    snapshot,
    target_scope,
    to_json_value,
    view,
)

ACTIVITIES = frozenset({c.PASS, c.USER, c.SCRIPT, c.JOB, c.RECEIVE, c.SUBPROCESS, c.CALL})
_QUEUED = frozenset({st.READY, st.LOOP, st.RESUMED})  # token states that execute() runs
_Audit = fx.Audit
_new_object = object.__new__
_set_audit_kind, _set_audit_element, _set_audit_data = (
    fx._set_kind, fx._set_element, fx._set_data)


class UnknownTrigger(LookupError):
    """The trigger names no live task, job or subscription of this instance (already
    consumed, cancelled, or another instance's), or the instance has ended."""


class NoDefaultStart(ValueError):
    """start() cannot tell which start event to start from."""


class Stuck(Exception):
    """A token cannot go on (an expression, script or timer failed): becomes an incident."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of start() or handle(): the new state and what the shell must do."""

    state: st.InstanceState
    effects: tuple[fx.Effect, ...]


def start(compiled: c.CompiledProcess, variables: Mapping[str, object] | None = None, *,
          now: datetime, start_event_id: str | None = None,
          business_key: str | None = None, call: int | None = None,
          initiator: str | None = None) -> Step:
    """Create an instance and run it until every token rests. `start_event_id` picks the
    start event (a message/timer/signal start when the shell starts it from its trigger);
    by default the process's single none start event. `call` is the caller's call id when
    a call activity starts this instance (engine/runtime/call_activity.py). `initiator` is
    the name of the user who starts it, for a start event's `camunda:initiator`."""
    if start_event_id is None:
        if len(compiled.none_starts) != 1:
            raise NoDefaultStart(
                f"process {compiled.process_id!r} has {len(compiled.none_starts)} none start "
                "events; say which one with start_event_id")
        start_event_id = compiled.none_starts[0]
    elif start_event_id not in compiled.starts:
        raise NoDefaultStart(f"{start_event_id!r} is not a start event of process "
                             f"{compiled.process_id!r}")
    state = st.InstanceState(compiled.process_id, business_key=business_key, call=call)
    run = Run(compiled, state, now)
    root = st.ScopeInstance(state.allocate(), compiled.process_id)
    state.scopes[root.id] = root
    run.audit(fx.AuditKind.PROCESS_STARTED, start_event_id, business_key=business_key)
    token = run.new_token(start_event_id, root.id)
    for name, value in (variables or {}).items():
        root.variables[name] = to_json_value(value)
        run.audit(fx.AuditKind.VARIABLE_SET, start_event_id, name=name,
                  value=root.variables[name])
    # camunda:initiator="starter" names a variable that receives the starting user (as
    # Camunda 7 does, so `${starter}` assignments work). It is set after the given
    # variables on purpose: a caller cannot pass someone else's name in its place.
    initiator_variable = compiled.nodes[start_event_id].model.ext.initiator
    if initiator_variable and initiator is not None:
        root.variables[initiator_variable] = initiator
        run.audit(fx.AuditKind.VARIABLE_SET, start_event_id, name=initiator_variable,
                  value=initiator)
    run.guarded(token, lambda: arm_scope(run, root))
    if compiled.nodes[start_event_id].behaviour != c.START:
        from engine.runtime.instantiate import begin

        # An instantiating receive task or event-based gateway (§10.5.6 / §13.4.5).
        run.guarded(token, lambda: begin(run, token))
    run.settle()
    return Step(state, tuple(run.effects))


def handle(compiled: c.CompiledProcess, state: st.InstanceState, trigger: tr.Trigger, *,
           now: datetime, owned: bool = False) -> Step:
    """Apply one trigger to a copy of `state` and run until every token rests again.
    Raises UnknownTrigger when it names nothing live in the instance (before anything is
    changed). `owned=True`: the caller gives `state` up (the shell reads it afresh from
    the row for every trigger, and throws it away if the step fails), so it is changed in
    place and returned as the step's state, without the copy."""
    if state.status != st.ACTIVE:
        raise UnknownTrigger(f"the instance is {state.status}")
    run = Run(compiled, state if owned else state.copy(), now)
    run.apply(trigger)
    run.settle()
    return Step(run.state, tuple(run.effects))


class Run:
    """One call of start() or handle(): the state being changed, the clock, the effects."""

    def __init__(self, compiled: c.CompiledProcess, state: st.InstanceState,
                 now: datetime) -> None:
        self.compiled = compiled
        self.nodes = compiled.nodes
        self.state = state
        self.now = now
        self.effects: list[fx.Effect] = []
        self.queue: deque[int] = deque()
        self.dirty: set[int] = set()  # scope instances whose tokens moved (inclusive joins)
        self.owned: set[int] = set()  # ids of variable values created by this step
        # Conditional events are evaluated again once tokens rest: set when a variable
        # changed or a conditional wait was armed in this step.
        self.conditions_due = False

    # ------------------------------------------------------------------ effects

    def emit(self, effect: fx.Effect) -> None:
        self.effects.append(effect)

    def audit(self, kind: fx.AuditKind, element_id: str | None, **data: object) -> None:
        # fx.new_audit inlined (about 20 audits per instance of a small process).
        audit = _new_object(_Audit)
        _set_audit_kind(audit, kind)
        _set_audit_element(audit, element_id)
        _set_audit_data(audit, data)
        self.effects.append(audit)

    def incident(self, token: st.Token, element_id: str, message: str) -> None:
        token.state = st.INCIDENT
        self.audit(fx.AuditKind.INCIDENT, element_id, message=message, token=token.id)
        self.emit(fx.Incident(element_id, message))

    # ------------------------------------------------------------------ variables

    def evaluate(self, expr: Expression, token: st.Token) -> object:
        try:
            return evaluate(expr, view(self.state, token), now=self.now)
        except EvaluationError as exc:
            raise Stuck(f"{expr.text!r}: {exc}") from exc

    def value(self, text: c.Text | None, token: st.Token) -> object:
        if text is None:
            return None
        if text.expr is not None:
            return self.evaluate(text.expr, token)
        return text.literal

    def condition(self, expr: Expression, token: st.Token) -> bool:
        return self.truth(expr, self.evaluate(expr, token))

    def condition_over(self, expr: Expression, variables: Mapping[str, object]) -> bool:
        """A condition evaluated over `variables` rather than a token's view."""
        try:
            result = evaluate(expr, variables, now=self.now)
        except EvaluationError as exc:
            raise Stuck(f"{expr.text!r}: {exc}") from exc
        return self.truth(expr, result)

    def truth(self, expr: Expression, result: object) -> bool:
        if result is None or isinstance(result, bool):
            return bool(result)
        if expr.dialect is Dialect.PYTHON:
            return bool(result)  # SpiffWorkflow evaluates conditions with Python truth
        raise Stuck(f"condition {expr.text!r} gave {result!r}, not true or false")

    def set_variable(self, token: st.Token, name: str, value: object, element_id: str) -> None:
        try:
            stored = to_json_value(value)
        except VariableError as exc:
            raise Stuck(f"variable {name!r}: {exc}") from exc
        target_scope(self.state, token, name)[name] = stored
        self.conditions_due = True
        self.audit(fx.AuditKind.VARIABLE_SET, element_id, name=name, value=stored)

    def set_variables(self, token: st.Token, variables: Mapping[str, object],
                      element_id: str) -> None:
        for name, value in variables.items():
            self.set_variable(token, name, value, element_id)

    # ------------------------------------------------------------------ tokens

    def new_token(self, node_id: str, scope_id: int, flow: str | None = None) -> st.Token:
        token = st.Token(self.state.allocate(), node_id, scope_id, flow)
        self.state.tokens[token.id] = token
        self.state.scopes[scope_id].tokens[token.id] = None
        self.queue.append(token.id)
        self.dirty.add(scope_id)
        return token

    def move(self, token: st.Token, flow: c.Flow) -> None:
        token.node = flow.target
        token.flow = flow.id
        token.state = st.READY
        self.queue.append(token.id)
        self.dirty.add(token.scope)

    def leave(self, token: st.Token, flows: list[c.Flow]) -> None:
        """Send `token` along `flows` (forking one token per extra flow); none ends it.
        After a node with asyncAfter the token first waits for its async job."""
        if self.nodes[token.node].async_after:
            from engine.runtime.asynchronous import park_after

            park_after(self, token, flows)
            return
        self.take(token, flows)

    def take(self, token: st.Token, flows: list[c.Flow]) -> None:
        if not flows:
            self.audit(fx.AuditKind.TOKEN_ENDED, token.node)
            self.end_token(token)
            return
        self.move(token, flows[0])
        for flow in flows[1:]:
            self.new_token(flow.target, token.scope, flow.id)

    def remove_token(self, token: st.Token) -> None:
        self.drop_waits(token)
        del self.state.tokens[token.id]
        scope = self.state.scopes.get(token.scope)
        if scope is not None:
            scope.tokens.pop(token.id, None)
        self.dirty.add(token.scope)

    def end_token(self, token: st.Token) -> None:
        """The token is consumed; its scope instance completes when it was the last one."""
        self.remove_token(token)
        scope = self.state.scopes.get(token.scope)
        if scope is not None and not scope.tokens and self.state.status == st.ACTIVE:
            self.complete_scope(scope)
        elif scope is not None and self.compiled.adhoc and scope.element in self.compiled.adhoc:
            from engine.runtime.adhoc import token_ended

            token_ended(self, scope)  # a sequential ad-hoc subprocess starts its next one

    def parent_token(self, scope_id: int) -> st.Token | None:
        scope = self.state.scopes[scope_id]
        return None if scope.token is None else self.state.tokens.get(scope.token)

    # ------------------------------------------------------------------ waits

    def new_wait(self, token: st.Token, kind: str, element_id: str, role: str,
                 **fields: object) -> st.Wait:
        wait = st.Wait(self.state.allocate(), kind, token.id, element_id, role)
        for key, value in fields.items():
            setattr(wait, key, value)
        self.state.waits[wait.id] = wait
        if role == st.EVENT_SUB:
            self.state.scopes[token.scope].waits.append(wait.id)
        else:
            token.waits.append(wait.id)
        return wait

    def drop_wait(self, wait: st.Wait, *, consumed: bool = False) -> None:
        """Remove a wait. Its row goes too (CancelUserTask/CancelJob/Unsubscribe), except a
        task or job the trigger itself consumed: the shell completed or fired that one."""
        self.state.waits.pop(wait.id, None)
        if wait.role == st.EVENT_SUB:
            scope = self.state.scopes.get(wait.token)
            if scope is not None and wait.id in scope.waits:
                scope.waits.remove(wait.id)
        else:
            token = self.state.tokens.get(wait.token)
            if token is not None and wait.id in token.waits:
                token.waits.remove(wait.id)
        if wait.kind == st.CONDITION:
            return  # evaluated by the runtime itself: the shell holds nothing for it
        if wait.kind in (st.MESSAGE, st.SIGNAL):
            self.emit(fx.Unsubscribe(wait.id))
        elif consumed:
            return
        elif wait.kind == st.CALL:
            self.emit(fx.CancelCallActivity(wait.id))
        elif wait.kind == st.TASK:
            self.emit(fx.CancelUserTask(wait.id))
        else:
            self.emit(fx.CancelJob(wait.id))

    def drop_waits(self, token: st.Token) -> None:
        for wait_id in list(token.waits):
            wait = self.state.waits.get(wait_id)
            if wait is not None:
                self.drop_wait(wait)
        token.waits.clear()

    # ------------------------------------------------------------------ running

    def settle(self) -> None:
        """Advance every ready token until all rest; then re-check waiting inclusive joins
        of the scopes that changed, since a token that left may have unblocked one."""
        # Module attributes, not function-level imports (those cost ~1.5 us per call).
        recheck_conditions = _conditions.recheck_conditions
        recheck_inclusive_joins = _gateways.recheck_inclusive_joins
        while True:
            while self.queue:
                token = self.state.tokens.get(self.queue.popleft())
                if token is not None and token.state in _QUEUED:
                    self.execute(token)
            if recheck_inclusive_joins(self):
                continue
            if not recheck_conditions(self):
                return

    def execute(self, token: st.Token) -> None:
        node = self.nodes[token.node]
        if node.async_before:
            from engine.runtime.asynchronous import parks_before

            if parks_before(self, token, node):
                return
        try:
            _HANDLERS[node.behaviour](self, token, node)
        except Stuck as stuck:
            if token.id in self.state.tokens:
                self.incident(token, node.id, stuck.message)

    def guarded(self, token: st.Token, action: Callable[[], None]) -> None:
        """Run `action` for `token`; a failure parks the token as an incident."""
        try:
            action()
        except Stuck as stuck:
            if token.id in self.state.tokens:
                self.incident(token, token.node, stuck.message)

    def select_outgoing(self, token: st.Token, node: c.Node) -> list[c.Flow]:
        """Flows leaving an activity or event: every flow without condition, every flow
        whose condition holds; the default flow only when no other is taken (BPMN 2.0.2
        §13.2.1, Camunda 7). Conditions all false and no default: an incident."""
        flows = node.outgoing
        if node.default is None and all(f.condition is None for f in flows):
            return list(flows)
        taken = [f for f in flows if f.id != node.default and
                 (f.condition is None or self.condition(f.condition, token))]
        if not taken:
            taken = [f for f in flows if f.id == node.default]
        if not taken:
            raise Stuck(f"no condition of the flows leaving {node.id!r} holds and there is "
                        "no default flow")
        return taken

    # ------------------------------------------------------------------ activities

    def is_inner(self, token: st.Token) -> bool:
        """Is `token` one inner instance of a multi-instance activity? Those stand on the
        activity inside the multi-instance body's scope instance, named after the activity."""
        scope = self.state.scopes.get(token.scope)
        return scope is not None and scope.element == token.node

    def enter_activity(self, token: st.Token, node: c.Node, *, arm: bool = True) -> None:
        self.audit(fx.AuditKind.ACTIVITY_STARTED, node.id, token=token.id)
        token.state = st.WAIT
        # A loop iteration or multi-instance inner instance arrives with its loopCounter
        # (and element variable) as local variables already.
        seeded = token.locals
        local: dict[str, object] = {} if seeded is None else dict(seeded)
        if node.inputs:
            # Input mappings create local variables of the activity (Camunda 7 inputOutput,
            # Zeebe ioMapping); each input sees the ones before it.
            token.locals = local
            for mapping in node.inputs:
                local[mapping.target] = self.mapped(mapping, token)
        if node.behaviour == c.SUBPROCESS:
            # The subprocess's variables are its scope instance's; a standard loop keeps
            # its counter on the token between iterations.
            token.locals = seeded if isinstance(node.loop, c.StandardPlan) else None
        if node.pre_script is not None:
            # SpiffWorkflow preScript: runs as the task starts, before its own work (a user
            # task is created with what it set).
            self.run_extra_script(node.pre_script, token, node.id, "preScript")
        if arm and node.boundaries:
            _events.arm_boundaries(self, token, node)
        if node.behaviour == c.SUBPROCESS:
            self.enter_subprocess(token, node, local)
        else:
            _ACTIVITY_BEHAVIOUR[node.behaviour](self, token, node)

    def run_extra_script(self, script: Script, token: st.Token, element_id: str,
                         what: str) -> None:
        try:
            changed = run_script(script, view(self.state, token), now=self.now)
        except EvaluationError as exc:
            raise Stuck(f"{what} failed: {exc}") from exc
        for name, value in changed.items():
            self.set_variable(token, name, value, element_id)

    def mapped(self, mapping: c.IoMapping, token: st.Token) -> object:
        try:
            if mapping.items is None:
                return to_json_value(self.value(mapping.value, token))
            if mapping.kind == "list":
                return [to_json_value(self.value(t, token)) for _, t in mapping.items]
            return {str(k): to_json_value(self.value(t, token)) for k, t in mapping.items}
        except VariableError as exc:
            raise Stuck(f"mapping of {mapping.target!r}: {exc}") from exc

    def enter_subprocess(self, token: st.Token, node: c.Node,
                         variables: dict[str, object]) -> None:
        child = st.ScopeInstance(self.state.allocate(), node.id, token.scope, token.id,
                                 variables)
        self.state.scopes[child.id] = child
        token.child = child.id
        token.state = st.SUB
        arm_scope(self, child)
        for entry in node.entry:
            self.new_token(entry, child.id)
        if self.compiled.adhoc and node.id in self.compiled.adhoc:
            from engine.runtime.adhoc import entered

            entered(self, child)
        if not node.entry:
            self.complete_scope(child)

    def complete_activity(self, token: st.Token, node: c.Node,
                          variables: Mapping[str, object] | None = None) -> None:
        """The activity is done: result variables, output mappings, boundary events off,
        then the token leaves."""
        if variables:
            self.set_variables(token, variables, node.id)
        inner = token
        if token.child is not None:
            inner = st.Token(0, node.id, token.child)
        if node.post_script is not None:
            # SpiffWorkflow postScript: after the task's work and its result, before the
            # output mappings and the outgoing flows.
            self.run_extra_script(node.post_script, inner, node.id, "postScript")
        if node.outputs:
            outputs = [(m.target, self.mapped(m, inner)) for m in node.outputs]
            outer = st.Token(0, node.id, token.scope)  # outputs go to the enclosing scope
            for name, value in outputs:
                self.set_variable(outer, name, value, node.id)
        if self.compiled.compensation is not None:
            from engine.runtime.compensation import record

            record(self, token, node)  # before its locals and child scope instance go
        if node.loop is not None:
            from engine.runtime.loops import iteration_done

            iteration_done(self, token, node, inner)
            return
        flows = self.select_outgoing(token, node)
        self.release_activity(token)
        self.audit(fx.AuditKind.ACTIVITY_COMPLETED, node.id, token=token.id)
        scope_id = token.scope
        self.leave(token, flows)
        if self.compiled.adhoc and node.scope in self.compiled.adhoc:
            from engine.runtime.adhoc import activity_completed

            activity_completed(self, scope_id)  # its completionCondition (§10.3.4)

    def leave_activity(self, token: st.Token, node: c.Node,
                       flows: list[c.Flow] | None = None) -> None:
        """The token leaves a completed activity (a whole loop or multi-instance body):
        boundary events off, outgoing flows taken."""
        if flows is None:
            flows = self.select_outgoing(token, node)
        self.release_activity(token)
        self.leave(token, flows)

    def release_activity(self, token: st.Token) -> None:
        """What a token holds while it rests on an activity: its inner scope, its local
        variables and its waits (boundary events)."""
        if token.child is not None:
            self.state.scopes.pop(token.child, None)
            token.child = None
        token.locals = None
        self.drop_waits(token)

    def cancel_token(self, token: st.Token, reason: str) -> None:
        """Interrupt whatever the token is doing (a subprocess with everything inside)."""
        node = self.nodes[token.node]
        body = isinstance(node.loop, c.MultiPlan) and not self.is_inner(token)
        if token.child is not None:
            self.cancel_scope(token.child, reason)
            self.state.scopes.pop(token.child, None)
            token.child = None
        kind = (fx.AuditKind.LOOP_CANCELLED if body else
                fx.AuditKind.ACTIVITY_CANCELLED if node.behaviour in ACTIVITIES
                else fx.AuditKind.TOKEN_CANCELLED)
        self.audit(kind, node.id, token=token.id, reason=reason)
        self.remove_token(token)

    def cancel_scope(self, scope_id: int, reason: str) -> None:
        scope = self.state.scopes[scope_id]
        disarm_scope(self, scope)
        for token_id in list(scope.tokens):
            token = self.state.tokens.get(token_id)
            if token is not None:
                self.cancel_token(token, reason)

    def complete_scope(self, scope: st.ScopeInstance, *, terminated: bool = False) -> None:
        if scope.compensation is not None and "then" in scope.compensation:
            from engine.runtime.compensation import advance

            advance(self, scope)  # a compensation handler ended: the next one, or done
            return
        disarm_scope(self, scope)  # its event subprocesses wait no longer (§10.3.5)
        if scope.parent is None:
            self.state.status = st.COMPLETED
            self.audit(fx.AuditKind.PROCESS_COMPLETED, self.compiled.process_id,
                       terminated=terminated)
            self.emit(fx.Completed())
            return
        parent = self.state.tokens[scope.token] if scope.token is not None else None
        if parent is None:
            return
        self.guarded(parent, lambda: self.complete_activity(parent, self.nodes[parent.node]))

    # ------------------------------------------------------------------ triggers

    def wait_for(self, wait_id: int | None, *kinds: str) -> st.Wait:
        wait = self.state.waits.get(wait_id) if wait_id is not None else None
        if wait is None or wait.kind not in kinds:
            raise UnknownTrigger(f"no live {'/'.join(kinds)} with id {wait_id!r}")
        return wait

    def apply(self, trigger: tr.Trigger) -> None:
        fire_wait, throw_error = _events.fire_wait, _events.throw_error

        if isinstance(trigger, tr.TaskCompleted):
            wait = self.wait_for(trigger.task_id, st.TASK)
            token = self.state.tokens[wait.token]
            self.drop_wait(wait, consumed=True)
            self.audit(fx.AuditKind.TASK_COMPLETED, wait.element, task=wait.id,
                       actor=trigger.actor)
            node = self.nodes[token.node]
            self.guarded(token, lambda: self.complete_activity(token, node, trigger.variables))
        elif isinstance(trigger, tr.JobDone):
            wait = self.wait_for(trigger.job_id, st.JOB)
            token = self.state.tokens[wait.token]
            if wait.role in (st.ASYNC_BEFORE, st.ASYNC_AFTER):
                from engine.runtime.asynchronous import resume

                resume(self, token, wait)
                return
            self.drop_wait(wait, consumed=True)
            self.audit(fx.AuditKind.JOB_DONE, wait.element, job=wait.id)
            token.state = st.WAIT
            node = self.nodes[token.node]
            if node.behaviour in (c.THROW, c.END):  # a message throw's send job
                self.guarded(token, lambda: _events.send_job_done(self, token, node,
                                                                  trigger.variables))
                return
            self.guarded(token, lambda: self.complete_activity(token, node, trigger.variables))
        elif isinstance(trigger, tr.JobFailed):
            wait = self.wait_for(trigger.job_id, st.JOB)
            token = self.state.tokens[wait.token]
            self.audit(fx.AuditKind.JOB_FAILED, wait.element, job=wait.id,
                       error_code=trigger.error_code, message=trigger.message)
            if trigger.error_code is None or wait.role in (st.ASYNC_BEFORE, st.ASYNC_AFTER):
                # Retries are the job layer's business; a final failure is an incident and
                # the job stays, so an admin's retry can still complete it.
                self.emit(fx.Incident(wait.element, trigger.message or "the job failed"))
                self.audit(fx.AuditKind.INCIDENT, wait.element, message=trigger.message,
                           token=token.id)
                return
            self.drop_wait(wait, consumed=True)
            thrown = c.ThrowCode(None, trigger.error_code)
            # A throw or end event has no boundary events: the error is thrown from the
            # event's scope, as an error end event there would throw it.
            activity = self.nodes[token.node].behaviour not in (c.THROW, c.END)
            throw_error(self, token, thrown, trigger.message, from_activity=activity)
        elif isinstance(trigger, tr.TimerFired):
            wait = self.wait_for(trigger.job_id, st.TIMER)
            fire_wait(self, wait, {}, by_id=True)
        elif isinstance(trigger, tr.MessageReceived):
            if trigger.subscription_id is not None:
                wait = self.wait_for(trigger.subscription_id, st.MESSAGE)
            else:
                found = [w for w in self.state.waits.values()
                         if w.kind == st.MESSAGE and w.name == trigger.name]
                if not found:
                    raise UnknownTrigger(f"no subscription to message {trigger.name!r}")
                wait = min(found, key=lambda w: w.id)
            fire_wait(self, wait, trigger.variables, by_id=True)
        elif isinstance(trigger, tr.SignalReceived):
            signalled = sorted(w.id for w in self.state.waits.values()
                               if w.kind == st.SIGNAL and w.name == trigger.name)
            if not signalled:
                raise UnknownTrigger(f"no subscription to signal {trigger.name!r}")
            for wait_id in signalled:
                live = self.state.waits.get(wait_id)
                if live is not None:  # an earlier catcher may have cancelled this one
                    fire_wait(self, live, trigger.variables, by_id=False)
        elif isinstance(trigger, tr.Cancel):
            root = min(s.id for s in self.state.scopes.values() if s.parent is None)
            self.cancel_scope(root, trigger.reason or "cancelled")
            self.state.status = st.CANCELLED
            self.audit(fx.AuditKind.PROCESS_CANCELLED, self.compiled.process_id,
                       reason=trigger.reason)
        elif isinstance(trigger, tr.VariablesSet):
            # Process (root scope) variables. Conditions are evaluated once the step
            # settles (conditions_due), so a conditional event whose condition turned true
            # fires in this step (BPMN 2.0.2 §10.5.1; Camunda 7 evaluates conditional
            # events on setVariables).
            process_scope = self.state.scopes[min(s.id for s in self.state.scopes.values()
                                                  if s.parent is None)]
            for name, value in trigger.variables.items():
                stored = to_json_value(value)  # VariableError: the shell refuses the call
                process_scope.variables[name] = stored
                self.audit(fx.AuditKind.VARIABLE_SET, self.compiled.process_id, name=name,
                           value=stored, by=trigger.by)
            self.conditions_due = True
        elif isinstance(trigger, tr.ChildCompleted | tr.ChildFailed):
            from engine.runtime.call_activity import child_ended

            child_ended(self, trigger)
        else:  # pragma: no cover - the Trigger union is closed
            raise UnknownTrigger(f"unknown trigger {trigger!r}")


# ---------------------------------------------------------------------- activity behaviours


def _run_activity(run: Run, token: st.Token, node: c.Node) -> None:
    if node.loop is not None:
        from engine.runtime.loops import enter_loop

        enter_loop(run, token, node)
        return
    run.enter_activity(token, node)


def _pass(run: Run, token: st.Token, node: c.Node) -> None:
    run.complete_activity(token, node)


def _script(run: Run, token: st.Token, node: c.Node) -> None:
    try:
        changed = ({} if node.script is None
                   else run_script(node.script, view(run.state, token), now=run.now))
    except EvaluationError as exc:
        raise Stuck(f"script failed: {exc}") from exc
    for name, value in changed.items():
        # Script assignments are execution.setVariable (Camunda 7): an existing name is
        # updated where it lives, a new one goes to the process instance.
        run.set_variable(token, name, value, node.id)
    if (node.result_variable and node.script is not None
            and len(node.script.statements) == 1 and node.result_variable not in changed):
        # `x = 5` with a resultVariable: the script's value is its one statement's value.
        run.set_variable(token, node.result_variable,
                         next(iter(changed.values()), None), node.id)
    run.complete_activity(token, node)


def _user(run: Run, token: st.Token, node: c.Node) -> None:
    plan = node.user
    if plan is None or (plan.assignee is None and not plan.candidate_users
                        and not plan.candidate_groups and plan.due is None
                        and plan.follow_up is None and plan.priority is None):
        # Nothing to evaluate (the common case): the same task, built directly.
        wait = run.new_wait(token, st.TASK, node.id, st.OWN)
        run.effects.append(fx.new_user_task(
            wait.id, node.id, node.name, None, (), (), None, None, None, node.model.ext.form,
            snapshot(run.state, token)))
        return
    assignee = run.value(plan.assignee, token)
    users = _names(run, plan.candidate_users, token)
    groups = _names(run, plan.candidate_groups, token)
    due = _instant(run, plan.due, token, "due date")
    follow_up = _instant(run, plan.follow_up, token, "follow-up date")
    priority_value = run.value(plan.priority, token)
    try:
        priority = None if priority_value in (None, "") else int(str(priority_value))
    except ValueError as exc:
        raise Stuck(f"priority {priority_value!r} is not a whole number") from exc
    wait = run.new_wait(token, st.TASK, node.id, st.OWN)
    model = node.model
    form = model.ext.form
    run.emit(fx.new_user_task(wait.id, node.id, node.name,
                              None if assignee in (None, "") else str(assignee), users, groups,
                              due, follow_up, priority, form, snapshot(run.state, token)))


def _names(run: Run, texts: tuple[c.Text, ...], token: st.Token) -> tuple[str, ...]:
    names: list[str] = []
    for text in texts:
        value = run.value(text, token)
        items = value if isinstance(value, list) else str(value or "").split(",")
        names.extend(str(item).strip() for item in items if str(item).strip())
    return tuple(dict.fromkeys(names))


def _instant(run: Run, text: c.Text | None, token: st.Token, what: str) -> datetime | None:
    value = run.value(text, token)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        raw = str(value).strip()
        if raw[:1] in "Pp" or raw[:2] in ("-P", "+P"):
            return parse_duration(raw).add_to(run.now)
        return parse_datetime(raw)
    except TimerError as exc:
        raise Stuck(f"{what} {value!r}: {exc.message}") from exc


def _job(run: Run, token: st.Token, node: c.Node) -> None:
    wait = run.new_wait(token, st.JOB, node.id, st.OWN)
    payload = dict(node.job_payload)
    payload["variables"] = snapshot(run.state, token)
    run.emit(fx.ScheduleJob(wait.id, node.job_kind or "service", node.id, None, payload))


def _receive(run: Run, token: st.Token, node: c.Node) -> None:
    from engine.runtime.events import arm_subscription

    arm_subscription(run, token, node, st.OWN, st.MESSAGE)


def _call(run: Run, token: st.Token, node: c.Node) -> None:
    from engine.runtime.call_activity import enter_call

    enter_call(run, token, node)


_ACTIVITY_BEHAVIOUR: dict[str, Callable[[Run, st.Token, c.Node], None]] = {
    c.PASS: _pass, c.SCRIPT: _script, c.USER: _user, c.JOB: _job, c.RECEIVE: _receive,
    c.CALL: _call,
}


def _handlers() -> dict[str, Callable[[Run, st.Token, c.Node], None]]:
    from engine.runtime import events, gateways

    table: dict[str, Callable[[Run, st.Token, c.Node], None]] = dict.fromkeys(
        ACTIVITIES, _run_activity)
    table.update({
        c.EXCLUSIVE: gateways.exclusive, c.INCLUSIVE: gateways.inclusive,
        c.PARALLEL: gateways.parallel, c.EVENT_GATEWAY: gateways.event_based,
        c.COMPLEX: gateways.complex_gateway,
        c.START: events.start_event, c.END: events.end_event, c.CATCH: events.catch_event,
        c.THROW: events.throw_event, c.BOUNDARY: events.boundary_event,
    })
    return table


class _LazyHandlers(dict[str, Callable[[Run, st.Token, c.Node], None]]):
    def __missing__(self, key: str) -> Callable[[Run, st.Token, c.Node], None]:
        if not self:
            self.update(_handlers())
            if key in self:
                return self[key]
        raise Stuck(f"this engine cannot run a {key!r} node")


_HANDLERS = _LazyHandlers()
