"""Conditional events (BPMN 2.0.2 §10.5.1): intermediate catch, boundary, event subprocess start.

A conditional event waits (a wait of kind CONDITION; the shell holds no row for it) until
its condition becomes true. The runtime sees every variable write (all go through
`Run.set_variable`), so once the tokens of a step have come to rest, if a variable changed
or a conditional wait was armed in that step, every conditional wait of the instance is
evaluated against the variables its token (or scope instance) sees. It fires when the
condition *turns* true (§10.5.1: "triggered when the condition becomes true"); a
condition that already holds when the wait is armed fires at once (Camunda 7 evaluates it
on arrival / when the scope starts). A non-interrupting boundary or event subprocess start
stays armed and fires again only after the condition was false in between.

An evaluation failure while arming is an incident of the token; while re-evaluating it is
an Incident effect (the wait stays and counts as false), since a change elsewhere in the
instance must not stop the token that made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run


def arm_condition(run: Run, token: st.Token, node: c.Node, role: str) -> None:
    if node.condition is None:  # compile refuses this; never wait for nothing
        raise _stuck(f"conditional event {node.id!r} has no condition")
    if role == st.OWN:
        # Evaluated on arrival: a failure stops this token here (an incident).
        run.condition(node.condition, token)
    run.new_wait(token, st.CONDITION, node.id, role)
    run.conditions_due = True


def _stuck(message: str) -> Exception:
    from engine.runtime.machine import Stuck

    return Stuck(message)


def _viewer(run: Run, wait: st.Wait) -> st.Token | None:
    if wait.role == st.EVENT_SUB:
        scope = run.state.scopes.get(wait.token)
        return None if scope is None else st.Token(scope.id, wait.element, scope.id)
    return run.state.tokens.get(wait.token)


def recheck_conditions(run: Run) -> bool:
    """Evaluate every conditional wait once after a step that changed variables or armed
    one; fire those that turned true, in the order they were armed. True if one fired."""
    if not run.conditions_due:
        return False
    run.conditions_due = False
    waiting = sorted(w.id for w in run.state.waits.values() if w.kind == st.CONDITION)
    if not waiting:
        return False  # nothing to evaluate (and no function-level imports to pay for)
    from engine.runtime.events import fire_wait
    from engine.runtime.machine import Stuck

    fired = False
    for wait_id in waiting:
        wait = run.state.waits.get(wait_id)
        if wait is None or run.state.status != st.ACTIVE:
            continue  # an earlier firing removed it (or ended the instance)
        viewer = _viewer(run, wait)
        node = run.nodes[wait.element]
        if viewer is None or node.condition is None:
            continue
        try:
            holds = run.condition(node.condition, viewer)
        except Stuck as stuck:
            run.audit(fx.AuditKind.INCIDENT, node.id, message=stuck.message)
            run.emit(fx.Incident(node.id, stuck.message))
            holds = False
        was = wait.holds
        wait.holds = holds
        if holds and not was:
            fire_wait(run, wait, {}, by_id=False)
            fired = True
    return fired
