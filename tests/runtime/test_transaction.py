"""Transactions (BPMN 2.0.2 §10.3.6): a cancel end event compensates, then cancels."""

from __future__ import annotations

from engine.runtime import effects as fx
from tests.runtime.helpers import flow, live_tokens, seq, simulate
from tests.runtime.test_compensation import compensable


def transaction(inner: str, boundary: bool = True) -> str:
    cancel = ('<boundaryEvent id="cancelled" attachedToRef="tx"><cancelEventDefinition/>'
              '</boundaryEvent><userTask id="after_cancel"/><endEvent id="ce"/>'
              + seq("cancelled", "after_cancel", "ce")) if boundary else ""
    return ('<startEvent id="s"/>' f'<transaction id="tx">{inner}</transaction>'
            '<userTask id="after_tx"/><endEvent id="e"/>' + seq("s", "tx", "after_tx", "e")
            + cancel)


# Inside: book and charge complete (each with a handler); then a decision: cancel or not.
INNER = ('<startEvent id="ts"/>' + compensable("book") + compensable("charge")
         + '<exclusiveGateway id="ok" default="good"/><endEvent id="done"/>'
         '<endEvent id="cancel_end"><cancelEventDefinition/></endEvent>'
         + seq("ts", "book", "charge", "ok") + flow("ok", "done", fid="good")
         + flow("ok", "cancel_end", "${failed}"))


def test_a_transaction_without_cancel_completes_like_a_subprocess():
    sim = simulate(transaction(INNER), {"failed": False})
    assert sim.visited == ["book", "charge", "tx"] and sim.open_tasks == ["after_tx"]


def test_cancel_end_compensates_in_reverse_order_then_takes_the_cancel_boundary():
    sim = simulate(transaction(INNER), {"failed": True})
    assert sim.visited == ["book", "charge", "undo_charge", "undo_book"]
    assert sim.cancelled == ["tx"] and sim.open_tasks == ["after_cancel"]
    assert sim.audits(fx.AuditKind.TRANSACTION_CANCELLED) == ["tx"]
    sim.complete("after_cancel")
    assert sim.completed


def test_cancel_end_cancels_the_other_work_of_the_transaction_first():
    inner = ('<startEvent id="ts"/><parallelGateway id="fork"/>' + compensable("book")
             + '<userTask id="pending"/><endEvent id="pe"/>'
             '<endEvent id="cancel_end"><cancelEventDefinition/></endEvent>'
             + seq("ts", "fork", "book", "cancel_end") + seq("fork", "pending", "pe"))
    sim = simulate(transaction(inner))
    # `pending` was cancelled, never completed: only `book` is compensated.
    assert "pending" in sim.cancelled and sim.visited == ["book", "undo_book"]
    assert sim.open_tasks == ["after_cancel"]


def test_a_user_task_handler_holds_the_cancel_until_it_is_done():
    inner = INNER.replace('<task id="undo_book" isForCompensation="true"/>',
                          '<userTask id="undo_book" isForCompensation="true"/>')
    sim = simulate(transaction(inner), {"failed": True})
    assert sim.open_tasks == ["undo_book"] and live_tokens(sim) == ["tx", "undo_book"]
    sim.complete("undo_book")
    assert sim.open_tasks == ["after_cancel"] and sim.cancelled == ["tx"]


def test_a_cancelled_transaction_without_cancel_boundary_is_an_incident():
    sim = simulate(transaction(INNER, boundary=False), {"failed": True})
    assert sim.visited == ["book", "charge", "undo_charge", "undo_book"]
    assert [i.element_id for i in sim.incidents] == ["tx"] and not sim.completed
