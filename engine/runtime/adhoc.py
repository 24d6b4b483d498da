"""Ad-hoc subprocesses (BPMN 2.0.2 §10.3.4).

The inner activities without incoming sequence flows are the ones that may be performed.
There is no API yet to choose among them (Camunda 7 activates them through an API call;
Camunda 8 takes `activeElementsCollection`), so this engine runs all of them, as Camunda 8
does when that collection is absent, in the order the model's `ordering` says:
- Parallel (the default): every one starts at once (like a subprocess without a start
  event);
- Sequential: one at a time in document order; the next starts when nothing else is running
  in the ad-hoc subprocess any more (the previous one and whatever followed it by sequence
  flows have ended). The ones not started yet are tokens in state PENDING on their
  activity: never executed, and cancelled with everything else.
`completionCondition` is evaluated (over the ad-hoc subprocess's variables) each time an inner
activity completes. When it holds, cancelRemainingInstances="true" (the default) cancels
whatever still runs and the subprocess completes at once; "false" starts nothing more and
lets the running ones finish. Without a condition, or while it is false, the subprocess
completes when nothing runs and nothing is left to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpmn import model as m
from bpmn.expr import Expression
from engine.runtime import compile as c
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run

PENDING = "adhoc"  # token state: an inner activity a sequential ad-hoc has not started yet


@dataclass(frozen=True, slots=True)
class AdHocPlan:
    sequential: bool
    completion: Expression | None
    cancel_remaining: bool


def compile_plans(builder: c._Builder, process: m.Process) -> dict[str, object]:
    plans: dict[str, object] = {}
    for node in m.walk_scope(process.scope):
        if not isinstance(node, m.AdHocSubProcess):
            continue
        condition = node.completion_condition
        completion = None
        if condition is not None and condition.text.strip():
            completion = builder.expr(condition.text.strip(), node, "completion condition",
                                      condition.language)
        plans[node.id] = AdHocPlan(node.ordering.strip().lower() == "sequential", completion,
                                   node.cancel_remaining_instances)
    return plans


def _plan(run: Run, scope: st.ScopeInstance) -> AdHocPlan | None:
    plan = run.compiled.adhoc.get(scope.element)
    return plan if isinstance(plan, AdHocPlan) else None


def entered(run: Run, scope: st.ScopeInstance) -> None:
    """The ad-hoc subprocess started: a sequential one keeps all but its first activity
    pending (enter_subprocess created one token per activity, in document order)."""
    plan = _plan(run, scope)
    if plan is None or not plan.sequential:
        return
    for index, token_id in enumerate(sorted(scope.tokens)):
        if index:
            run.state.tokens[token_id].state = PENDING


def token_ended(run: Run, scope: st.ScopeInstance) -> None:
    """A token of the ad-hoc subprocess ended and others remain: when all of them are
    pending, the next activity (document order) starts."""
    tokens = [run.state.tokens[i] for i in scope.tokens]
    if not tokens or any(t.state != PENDING for t in tokens):
        return
    first = min(tokens, key=lambda t: t.id)
    first.state = st.READY
    run.queue.append(first.id)
    run.dirty.add(scope.id)


def activity_completed(run: Run, scope_id: int) -> None:
    """An inner activity completed: check the completion condition (§10.3.4)."""
    scope = run.state.scopes.get(scope_id)
    if scope is None or run.state.status != st.ACTIVE:
        return
    plan = _plan(run, scope)
    if plan is None or plan.completion is None:
        return
    viewer = st.Token(0, scope.element, scope.id)
    if not run.condition(plan.completion, viewer):
        return
    for token_id in list(scope.tokens):
        token = run.state.tokens.get(token_id)
        if token is None:
            continue
        if token.state == PENDING:
            run.remove_token(token)  # never started: nothing to cancel
        elif plan.cancel_remaining:
            run.cancel_token(token, "ad-hoc completion condition")
    if not scope.tokens and scope.id in run.state.scopes:
        run.complete_scope(scope)


def is_adhoc(run: Run, scope_element: str) -> bool:
    return scope_element in run.compiled.adhoc
