"""Transaction subprocesses and cancel events (BPMN 2.0.2 §10.3.6).

A transaction runs like an embedded subprocess. A cancel end event inside it cancels the
transaction (§10.3.6, "Cancel"): every other token of its scope instance is cancelled
(tasks, jobs, subscriptions, event subprocess starts with them), the activities that
completed inside it are compensated in reverse order of completion
(engine/runtime/compensation.py, the scope instance becomes the compensation run), and
then the cancel boundary event of the transaction is taken. A transaction without one
is an incident on the transaction (Camunda 7 refuses such a model; we refuse to guess).
Hazards and transaction protocols are not run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpmn.model import Trigger
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime.compensation import CANCEL, start_run

if TYPE_CHECKING:
    from engine.runtime import state as st
    from engine.runtime.machine import Run


def cancel_end(run: Run, token: st.Token, node: c.Node) -> None:
    """A cancel end event: support.py refuses one that is not directly in a transaction."""
    scope = run.state.scopes[token.scope]
    run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger="cancel")
    run.remove_token(token)
    run.cancel_scope(scope.id, f"transaction cancelled by {node.id}")
    run.audit(fx.AuditKind.COMPENSATION_THROWN, node.id, scope=scope.id, activity=None,
              count=len((scope.compensation or {}).get("done", ())))
    start_run(run, scope, CANCEL)


def cancelled(run: Run, transaction: st.Token) -> None:
    """The cancelled transaction's compensation is done: take its cancel boundary event."""
    node = run.nodes[transaction.node]
    boundary = next((run.nodes[b] for b in node.boundaries
                     if run.nodes[b].trigger is Trigger.CANCEL), None)
    run.audit(fx.AuditKind.TRANSACTION_CANCELLED, node.id, token=transaction.id,
              boundary=boundary.id if boundary else None)
    if boundary is None:
        run.incident(transaction, node.id, "the transaction was cancelled and has no cancel "
                     "boundary event")
        return
    scope_id = transaction.scope
    run.cancel_token(transaction, f"cancel end event in {node.id}")
    new = run.new_token(boundary.id, scope_id)
    run.audit(fx.AuditKind.EVENT_CAUGHT, boundary.id, token=new.id, trigger="cancel",
              attached_to=boundary.attached_to)
