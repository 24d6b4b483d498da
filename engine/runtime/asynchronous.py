"""Asynchronous continuations (Camunda 7 asyncBefore/asyncAfter): a job between two steps.

The token stops in front of the node (asyncBefore) or after it, before its outgoing flows
(asyncAfter), and a ScheduleJob(kind="async", due=None) asks the shell for a job; the
JobDone for that job continues the token in a new transaction. The shell commits the state
up to the boundary first, so what ran before it is never rolled back by what fails after it
(Camunda 7 "transaction boundaries"). A JobFailed for it is an incident and the job stays,
so an admin's retry can still send JobDone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run


def _schedule(run: Run, token: st.Token, node: c.Node, role: str) -> st.Wait:
    token.state = st.WAIT
    wait = run.new_wait(token, st.JOB, node.id, role)
    payload: dict[str, object] = {"async": role}
    if node.model.ext.retry_cycle:
        payload["retry_cycle"] = node.model.ext.retry_cycle
    run.emit(fx.ScheduleJob(wait.id, "async", node.id, None, payload))
    run.audit(fx.AuditKind.ASYNC_WAITING, node.id, token=token.id, job=wait.id, at=role)
    return wait


def parks_before(run: Run, token: st.Token, node: c.Node) -> bool:
    """Stop a token arriving at an asyncBefore node; True when it was stopped. A token
    coming back from its job, the next iteration of a standard loop and a multi-instance
    inner instance go on: asyncBefore on a looping activity is before the loop as a whole
    (Camunda 7 puts it on the multi-instance body; the inner activity's own is
    multiInstanceLoopCharacteristics' camunda:asyncBefore, which the parser does not read)."""
    if token.state == st.RESUMED:
        token.state = st.READY
        return False
    if token.state != st.READY or (node.loop is not None and run.is_inner(token)):
        return False
    _schedule(run, token, node, st.ASYNC_BEFORE)
    return True


def park_after(run: Run, token: st.Token, flows: list[c.Flow]) -> None:
    """The node is done (its boundary events and child scope are gone); the token waits
    for the asyncAfter job before it takes `flows`, chosen now (the conditions were
    evaluated as the node completed, with the variables it left)."""
    wait = _schedule(run, token, run.nodes[token.node], st.ASYNC_AFTER)
    wait.flows = [f.id for f in flows]


def resume(run: Run, token: st.Token, wait: st.Wait) -> None:
    """The async job ran: the token goes on from where it stopped."""
    run.drop_wait(wait, consumed=True)
    run.audit(fx.AuditKind.JOB_DONE, wait.element, job=wait.id, token=token.id)
    if wait.role == st.ASYNC_BEFORE:
        token.state = st.RESUMED
        run.queue.append(token.id)
        run.dirty.add(token.scope)
        return
    node = run.nodes[token.node]
    chosen = set(wait.flows or ())
    run.take(token, [f for f in node.outgoing if f.id in chosen])
