"""Standard loops and multi-instance activities (BPMN 2.0.2 §13.2.7, §10.2.8).

A standard loop runs on the token that arrived: between iterations it is re-queued (never
recursion, so a loop of any length runs in constant stack) and its `loopCounter` is a local
variable of the token. A multi-instance activity keeps the arriving token on the activity
as the *body* (it holds the boundary events) with a scope instance named after the
activity, whose variables are `nrOfInstances`, `nrOfActiveInstances`,
`nrOfCompletedInstances` (and the output collection being filled); every inner instance is
a token on the same activity inside that scope instance, with `loopCounter` and the
element variable as its local variables. Nothing of a finished iteration or inner instance
stays in the state.

Audit: each iteration or inner instance has its own `activity started/completed/cancelled`
(so `Simulation.visited` counts each once); the loop or body as a whole has
`loop started/completed/cancelled`.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, cast

from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st
from engine.runtime.variables import to_json_value, view

if TYPE_CHECKING:
    from engine.runtime.machine import Run

LOOP_COUNTER = "loopCounter"
NR_INSTANCES = "nrOfInstances"
NR_ACTIVE = "nrOfActiveInstances"
NR_COMPLETED = "nrOfCompletedInstances"


def _stuck(message: str) -> Exception:
    from engine.runtime.machine import Stuck

    return Stuck(message)


def enter_loop(run: Run, token: st.Token, node: c.Node) -> None:
    """A token reaches (or, for the next iteration, re-enters) a looping activity."""
    plan = node.loop
    if isinstance(plan, c.MultiPlan):
        if run.is_inner(token):
            # Boundary events belong to the body, not to each inner instance (BPMN 2.0.2
            # §13.2.7: they are attached to the multi-instance activity as a whole).
            run.enter_activity(token, node, arm=False)
        else:
            _start_body(run, token, node, plan)
        return
    assert isinstance(plan, c.StandardPlan)  # noqa: S101 - the LoopPlan union is closed
    if token.state == st.LOOP:
        run.enter_activity(token, node, arm=False)  # the condition was checked at completion
        return
    # testBefore="true" is a while loop: the condition is checked before the first
    # iteration too; testBefore="false" (the default) runs once first (§13.2.7).
    if (plan.maximum is not None and plan.maximum <= 0) or (
            plan.test_before and not _loop_again(run, token, plan, 0)):
        token.state = st.WAIT
        run.audit(fx.AuditKind.LOOP_STARTED, node.id, token=token.id)
        run.audit(fx.AuditKind.LOOP_COMPLETED, node.id, token=token.id, iterations=0)
        run.leave_activity(token, node)
        return
    run.audit(fx.AuditKind.LOOP_STARTED, node.id, token=token.id)
    token.locals = {LOOP_COUNTER: 0}
    run.enter_activity(token, node)


def _loop_again(run: Run, token: st.Token, plan: c.StandardPlan, done: int) -> bool:
    """Whether iteration number `done` (0-based) runs. loopMaximum caps the number of
    iterations (§13.2.7); the condition sees `loopCounter` = the iterations done so far, so
    `loopCounter < 3` runs three iterations whether tested before or after."""
    if plan.maximum is not None and done >= plan.maximum:
        return False
    if plan.condition is None:  # support.unsupported refuses this; never loop forever
        return False
    return run.condition_over(plan.condition,
                              overlay({LOOP_COUNTER: done}, view(run.state, token)))


def iteration_done(run: Run, token: st.Token, node: c.Node, inside: st.Token) -> None:
    """One iteration or inner instance of `node` completed (its outputs are mapped).
    `inside` is the token whose view sees the activity's own variables."""
    plan = node.loop
    if isinstance(plan, c.MultiPlan):
        if run.is_inner(token):
            _inner_done(run, token, node, plan, inside)
        else:  # pragma: no cover - a body token is never completed as an activity
            run.audit(fx.AuditKind.ACTIVITY_COMPLETED, node.id, token=token.id)
            run.leave_activity(token, node)
        return
    assert isinstance(plan, c.StandardPlan)  # noqa: S101 - the LoopPlan union is closed
    done = int(str((token.locals or {}).get(LOOP_COUNTER, 0))) + 1
    # testBefore or not, the check between two iterations is the same one (§13.2.7).
    again = _loop_again(run, inside, plan, done)
    flows = None if again else run.select_outgoing(token, node)
    if token.child is not None:
        run.state.scopes.pop(token.child, None)
        token.child = None
    run.audit(fx.AuditKind.ACTIVITY_COMPLETED, node.id, token=token.id, loopCounter=done - 1)
    if again:
        # The boundary waits stay: they are attached to the loop as a whole.
        token.locals = {LOOP_COUNTER: done}
        token.state = st.LOOP
        run.queue.append(token.id)
        run.dirty.add(token.scope)
        return
    run.audit(fx.AuditKind.LOOP_COMPLETED, node.id, token=token.id, iterations=done)
    run.leave_activity(token, node, flows)


# ---------------------------------------------------------------------- multi-instance


def _start_body(run: Run, token: st.Token, node: c.Node, plan: c.MultiPlan) -> None:
    from engine.runtime.events import arm_boundaries

    token.state = st.WAIT
    count = _count(run, token, node, plan)
    run.audit(fx.AuditKind.LOOP_STARTED, node.id, token=token.id, instances=count,
              sequential=plan.sequential)
    if count == 0:
        # No instance at all: the activity completes at once (Camunda 7; Zeebe does too).
        run.audit(fx.AuditKind.LOOP_COMPLETED, node.id, token=token.id, completed=0)
        if plan.output_collection:
            run.set_variable(st.Token(0, node.id, token.scope), plan.output_collection, [],
                             node.id)
        run.leave_activity(token, node)
        return
    outside = st.Token(0, node.id, token.scope)
    first = _element(run, outside, node, plan, 0) if plan.sequential else None
    items = None if plan.sequential else _items(run, outside, node, plan)
    arm_boundaries(run, token, node)
    variables: dict[str, object] = {
        NR_INSTANCES: count, NR_ACTIVE: 1 if plan.sequential else count, NR_COMPLETED: 0}
    if plan.output_collection:
        # Zeebe: the output collection lives in the body, one slot per loopCounter, and is
        # handed to the enclosing scope when the body completes.
        variables[plan.output_collection] = [None] * count
    body = st.ScopeInstance(run.state.allocate(), node.id, token.scope, token.id, variables)
    run.state.scopes[body.id] = body
    token.child = body.id
    token.state = st.SUB
    if plan.sequential:
        # Sequential: the next instance starts when the previous one completes (§13.2.7).
        _start_inner(run, body, plan, 0, first)
        return
    # Parallel: all instances are created at once (§13.2.7), in loopCounter order.
    for index in range(count):
        item = None if items is None else _pick(items, index, node)
        _start_inner(run, body, plan, index, item)


def _count(run: Run, token: st.Token, node: c.Node, plan: c.MultiPlan) -> int:
    """How many instances: loopCardinality when given, else the input collection's length
    (Camunda 7 resolveNrOfInstances). Evaluated once, when the body starts."""
    if plan.cardinality is not None:
        value = run.evaluate(plan.cardinality, token)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _stuck(f"loop cardinality of {node.id!r} is {value!r}, not a whole number "
                         "of 0 or more")
        return value
    items = _items(run, token, node, plan)
    if items is None:
        raise _stuck(f"multi-instance {node.id!r} has neither a cardinality nor a collection")
    return len(items)


def _items(run: Run, token: st.Token, node: c.Node, plan: c.MultiPlan) -> list[object] | None:
    if plan.collection is None:
        return None
    value = run.evaluate(plan.collection, token)
    if isinstance(value, list | tuple):
        return list(value)
    raise _stuck(f"input collection {plan.collection.text!r} of {node.id!r} is "
                 f"{type(value).__name__}, not a list")


def _pick(items: list[object], index: int, node: c.Node) -> object:
    if index >= len(items):
        raise _stuck(f"the input collection of {node.id!r} has no item {index} "
                     f"(it has {len(items)})")
    return items[index]


def _element(run: Run, token: st.Token, node: c.Node, plan: c.MultiPlan,
             index: int) -> object:
    """The collection item for instance `index`. Read from the collection when the
    instance starts, as Camunda 7 does for sequential instances: the state never holds a
    copy of the collection."""
    items = _items(run, token, node, plan)
    return None if items is None else _pick(items, index, node)


def _start_inner(run: Run, body: st.ScopeInstance, plan: c.MultiPlan, index: int,
                 item: object) -> None:
    # loopCounter is 0-based, as in Camunda 7 (Zeebe counts from 1).
    local: dict[str, object] = {LOOP_COUNTER: index}
    if plan.element_variable and plan.collection is not None:
        local[plan.element_variable] = to_json_value(item)
    if plan.output_local and plan.output_local not in local:
        # Zeebe creates the output element as a local variable of each inner instance, so
        # a result set under that name stays with its instance.
        local[plan.output_local] = None
    token = run.new_token(body.element, body.id)
    token.locals = local


def _inner_done(run: Run, token: st.Token, node: c.Node, plan: c.MultiPlan,
                inside: st.Token) -> None:
    body = run.state.scopes[token.scope]
    body_token = run.state.tokens[body.token] if body.token is not None else None
    seen = view(run.state, inside)
    index = seen.get(LOOP_COUNTER)
    total = _int(body.variables.get(NR_INSTANCES))
    completed = _int(body.variables.get(NR_COMPLETED)) + 1
    active = _int(body.variables.get(NR_ACTIVE)) - 1
    # Everything that can fail is evaluated before anything changes, so an incident leaves
    # the inner instance where it was.
    output = None
    if plan.output_collection and plan.output_element is not None:
        output = to_json_value(run.evaluate(plan.output_element, inside))
    counters: dict[str, object] = {NR_COMPLETED: completed, NR_ACTIVE: active}
    # completionCondition: evaluated each time an instance completes, after the counters
    # are updated (Camunda 7); it also sees the instance's own variables (Zeebe).
    finished = completed >= total or (plan.completion is not None and run.condition_over(
        plan.completion, overlay(counters, seen)))
    following = None
    if not finished and plan.sequential:
        following = _element(run, st.Token(0, node.id, body.id), node, plan, completed)
        counters[NR_ACTIVE] = 1  # sequential: the next one is active at once (Camunda 7)
    if token.child is not None:
        run.state.scopes.pop(token.child, None)
        token.child = None
    token.locals = None
    run.drop_waits(token)
    run.audit(fx.AuditKind.ACTIVITY_COMPLETED, node.id, token=token.id, loopCounter=index)
    run.remove_token(token)
    body.variables.update(counters)
    if plan.output_collection and isinstance(index, int):
        collected = body.variables.get(plan.output_collection)
        if isinstance(collected, list) and 0 <= index < len(collected):
            if id(collected) not in run.owned:
                # Values are shared with the state handle() was given: copy once per step.
                collected = list(collected)
                run.owned.add(id(collected))
                body.variables[plan.output_collection] = collected
            collected[index] = output
    if body_token is None:
        return
    if finished:
        _complete_body(run, body_token, node, plan, body, completed)
    elif plan.sequential:
        _start_inner(run, body, plan, completed, following)


def overlay(values: Mapping[str, object], base: Mapping[str, object]) -> Mapping[str, object]:
    """`base` as seen with `values` on top, without changing either."""
    return ChainMap(dict(values), cast(MutableMapping[str, object], base))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _complete_body(run: Run, token: st.Token, node: c.Node, plan: c.MultiPlan,
                   body: st.ScopeInstance, completed: int) -> None:
    """All instances completed, or the completion condition holds: the instances still
    running are cancelled (BPMN 2.0.2 §13.2.7 "remaining instances are cancelled"), the
    output collection goes to the enclosing scope, and the token leaves."""
    for inner_id in list(body.tokens):
        inner = run.state.tokens.get(inner_id)
        if inner is not None:
            run.cancel_token(inner, f"completion condition of {node.id}")
    collected = body.variables.get(plan.output_collection) if plan.output_collection else None
    run.audit(fx.AuditKind.LOOP_COMPLETED, node.id, token=token.id, completed=completed)

    def finish() -> None:
        if plan.output_collection:
            run.set_variable(st.Token(0, node.id, token.scope), plan.output_collection,
                             collected, node.id)
        run.leave_activity(token, node)

    run.guarded(token, finish)
