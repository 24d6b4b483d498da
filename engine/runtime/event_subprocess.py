"""Event subprocesses (BPMN 2.0.2 §10.3.5): armed with their scope instance, run inside it.

An event subprocess belongs to a scope instance (the process instance or one run of an
embedded subprocess). Its timer, message and signal start events are waits of that scope
instance (role EVENT_SUB; the wait's `token` field holds the scope instance id): they are
armed when the scope instance starts and removed when it completes or is cancelled. Error
and escalation starts need no wait: `events.throw_error`/`throw_escalation` look for them
while walking outwards from the thrower (`catcher_in_scope`).

When one fires, a token is created on the event subprocess in its scope instance, with a
child scope instance of its own, and its inner token begins at the start event that fired.
An interrupting start first cancels everything else in the scope instance: tokens with their
tasks, jobs and subscriptions, running event subprocess instances, and the start events of
the other event subprocesses (Camunda 7: the scope execution is replaced by the event
subprocess). The scope instance completes, as always, when its last token has ended: after
an interrupting event subprocess that is when the event subprocess ends; a non-interrupting
one runs alongside and the scope waits for it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bpmn.model import Trigger
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run

_ARMED = (Trigger.TIMER, Trigger.MESSAGE, Trigger.SIGNAL, Trigger.CONDITIONAL)


def _holder(scope: st.ScopeInstance, element_id: str) -> st.Token:
    """A stand-in token whose id is the scope instance's: new_wait files an EVENT_SUB wait
    under that id, and expressions (timer, message name, correlation key) see the scope."""
    return st.Token(scope.id, element_id, scope.id)


def owns_event_subprocesses(run: Run, scope: st.ScopeInstance) -> bool:
    """Whether `scope` is the process instance or a run of a subprocess, not the scope
    instance of a multi-instance body (which only holds the inner instances' counters)."""
    if scope.parent is None:
        return True
    owner = run.parent_token(scope.id)
    if owner is None:
        return False
    node = run.nodes[owner.node]
    return not (isinstance(node.loop, c.MultiPlan) and not run.is_inner(owner))


def arm_scope(run: Run, scope: st.ScopeInstance) -> None:
    """The scope instance starts: its event subprocesses' timer, message and signal start
    events begin to wait (BPMN 2.0.2 §10.3.5; Camunda 7 subscribes when the scope starts)."""
    starts = run.compiled.event_starts.get(scope.element)
    if not starts:
        return  # most scopes have no event subprocess (and the import below costs)
    from engine.runtime.events import arm_catch

    for start_id in starts:
        start = run.nodes[start_id]
        if start.trigger in _ARMED or start.multiple is not None:
            arm_catch(run, _holder(scope, start_id), start, st.EVENT_SUB)


def disarm_scope(run: Run, scope: st.ScopeInstance) -> None:
    """The scope instance ends: its event subprocess start events stop waiting."""
    for wait_id in list(scope.waits):
        wait = run.state.waits.get(wait_id)
        if wait is not None:
            run.drop_wait(wait)
    scope.waits.clear()


def fire(run: Run, wait: st.Wait, variables: Mapping[str, object]) -> None:
    """A timer, message or signal arrived for an event subprocess start event. An
    interrupting start fires once; a non-interrupting message or signal start stays
    subscribed and may start several instances, a non-interrupting timer cycle schedules
    its next repetition (as Camunda 7 does)."""
    from engine.runtime.events import repeat_timer

    scope = run.state.scopes[wait.token]
    start = run.nodes[wait.element]
    if start.cancel_activity or wait.kind == st.TIMER:  # a conditional one re-arms (holds)
        run.drop_wait(wait, consumed=True)
    if not start.cancel_activity and wait.kind == st.TIMER:
        repeat_timer(run, _holder(scope, start.id), wait)
    begin(run, scope, start, variables)


def catcher_in_scope(run: Run, scope: st.ScopeInstance, trigger: Trigger,
                     thrown: c.ThrowCode) -> c.Node | None:
    """The error or escalation start event of an event subprocess of `scope` that catches
    `thrown`: one for this very code wins over a catch-all one (Camunda 7)."""
    if not owns_event_subprocesses(run, scope):
        return None
    starts = [run.nodes[s] for s in run.compiled.event_starts.get(scope.element, ())]
    return pick(starts, trigger, thrown)


def pick(candidates: list[c.Node], trigger: Trigger, thrown: c.ThrowCode) -> c.Node | None:
    candidates = [n for n in candidates if n.trigger is trigger]
    exact = [n for n in candidates if n.code is not None and not n.code.catches_all
             and n.code.matches(thrown)]
    if exact:
        return exact[0]
    catch_all = [n for n in candidates if n.code is None or n.code.catches_all]
    return catch_all[0] if catch_all else None


def begin(run: Run, scope: st.ScopeInstance, start: c.Node,
          variables: Mapping[str, object]) -> None:
    """Start one instance of the event subprocess of `start` in `scope`."""
    esp = run.nodes[start.scope]
    if start.cancel_activity:
        # Interrupting (§10.3.5): the scope instance's other work is cancelled, including
        # the start events of its other event subprocesses.
        run.cancel_scope(scope.id, f"event subprocess {esp.id}")
    token = run.new_token(esp.id, scope.id)
    token.state = st.SUB  # never executed as a normal arrival: it begins at `start`
    run.audit(fx.AuditKind.ACTIVITY_STARTED, esp.id, token=token.id,
              interrupting=start.cancel_activity, trigger=str(start.trigger))
    child = st.ScopeInstance(run.state.allocate(), esp.id, scope.id, token.id)
    run.state.scopes[child.id] = child
    token.child = child.id
    arm_scope(run, child)  # an event subprocess may hold event subprocesses of its own
    inner = run.new_token(start.id, child.id)
    if variables:
        run.guarded(inner, lambda: run.set_variables(inner, variables, start.id))
