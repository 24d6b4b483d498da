"""Multiple and parallel-multiple events (BPMN 2.0.2 §10.5.1, Table 10.93).

An event with several event definitions is compiled into its own node (the *parent*, trigger
MULTIPLE or PARALLEL_MULTIPLE) plus one synthetic *part* node per definition, with id
``<event id>#<index>`` and exactly that one definition. Parts are never stood on by a token:
they exist so the ordinary arming code (timers, subscriptions, conditions) can wait for each
definition on its own; every such wait names its part as `Wait.element`.

Catching (intermediate catch, boundary, event subprocess start):
- multiple: the first part that occurs fires the event; the wait is re-targeted at the
  parent and handled exactly as a single-definition event (so interrupting boundaries,
  non-interrupting repetition and event subprocess starts behave as usual) and, where the
  event is consumed, the other parts are withdrawn;
- parallelMultiple: "all of the triggers are required" (§10.5.1). Each occurrence consumes
  its part's wait; its payload becomes variables right away (of the catching token's scope;
  for a boundary event or event subprocess start, of the enclosing scope instance), and the
  event fires when the last part has occurred. A non-interrupting one then arms all its
  parts again for the next round.
A multiple process start event is listed once per definition in
`compiled.start_subscriptions` / `start_timers`, each with the parent's element id, so any of
them starts an instance. Neither Camunda 7 nor Zeebe runs these events; where the spec is
silent the choices above are ours.

Throwing (intermediate throw, end): every definition is thrown, in document order
(§10.5.1: "all of the triggers are thrown"); message and signal definitions only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpmn import model as m
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run

# What each kind of multiple event may combine (support.py refuses the rest).
CATCH_TRIGGERS = frozenset({m.Trigger.MESSAGE, m.Trigger.TIMER, m.Trigger.SIGNAL,
                            m.Trigger.CONDITIONAL})
THROW_TRIGGERS = frozenset({m.Trigger.MESSAGE, m.Trigger.SIGNAL})
START_TRIGGERS = frozenset({m.Trigger.MESSAGE, m.Trigger.TIMER, m.Trigger.SIGNAL})


@dataclass(frozen=True, slots=True)
class MultiplePlan:
    """On the parent node: its parts, and whether all of them are needed."""

    parts: tuple[str, ...]
    parallel: bool


@dataclass(frozen=True, slots=True)
class PartOf:
    """On a part node: the event it belongs to."""

    parent: str


def part_id(event_id: str, index: int) -> str:
    return f"{event_id}#{index}"


def expand(builder: c._Builder, node: m.Event, out: c.Node, scope_id: str,
           links: dict[str | None, str]) -> None:
    """Compile one part node per event definition of `node` (called by compile)."""
    parts: list[str] = []
    for index, definition in enumerate(node.definitions):
        model = dataclasses.replace(node, id=part_id(node.id, index), definitions=(definition,),
                                    incoming=(), outgoing=())
        part = c.Node(model.id, out.behaviour, model, scope_id)
        builder.event(model, part, links)
        part.cancel_activity = out.cancel_activity
        part.multiple = PartOf(node.id)
        builder.nodes[model.id] = part
        parts.append(model.id)
    out.multiple = MultiplePlan(tuple(parts), node.parallel_multiple)


def plan_of(node: c.Node) -> MultiplePlan | None:
    plan = node.multiple
    return plan if isinstance(plan, MultiplePlan) else None


# ---------------------------------------------------------------------- catching


def arm(run: Run, token: st.Token, node: c.Node, role: str) -> bool:
    """Arm every part of a multiple event; False when `node` is not one."""
    plan = plan_of(node)
    if plan is None:
        return False
    from engine.runtime.events import arm_catch

    for part in plan.parts:
        arm_catch(run, token, run.nodes[part], role)
    return True


def _siblings(run: Run, wait: st.Wait, plan: MultiplePlan) -> list[st.Wait]:
    """The other live waits of the same event for the same holder and role."""
    return [w for w in run.state.waits.values()
            if w.id != wait.id and w.token == wait.token and w.role == wait.role
            and w.element in plan.parts]


def fire_part(run: Run, wait: st.Wait, variables: Mapping[str, object], *,
              by_id: bool) -> bool:
    """One definition of a multiple event occurred; False when `wait` is no part's."""
    part = run.nodes.get(wait.element)
    if part is None or not isinstance(part.multiple, PartOf):
        return False
    from engine.runtime.events import fire_wait

    parent = run.nodes[part.multiple.parent]
    plan = plan_of(parent)
    assert plan is not None  # noqa: S101 - compile sets both sides
    if not plan.parallel:
        if wait.role == st.OWN:
            for other in _siblings(run, wait, plan):
                run.drop_wait(other)
        # Any one definition fires the event: from here on it is the parent's wait.
        wait.element = parent.id
        fire_wait(run, wait, variables, by_id=by_id)
        return True
    run.drop_wait(wait, consumed=True)
    holder = _holder(run, wait, parent)
    run.audit(fx.AuditKind.EVENT_CAUGHT, parent.id, token=wait.token, part=part.id,
              trigger=str(part.trigger), complete=not _siblings(run, wait, plan))
    if variables:
        run.guarded(holder, lambda: run.set_variables(holder, variables, parent.id))
    if _siblings(run, wait, plan):
        return True  # parallelMultiple: still waiting for the others (§10.5.1)
    _occurred(run, wait, parent, plan)
    return True


def _holder(run: Run, wait: st.Wait, parent: c.Node) -> st.Token:
    """Whose variables a parallelMultiple occurrence's payload goes to."""
    if wait.role == st.EVENT_SUB:
        return st.Token(wait.token, parent.id, wait.token)
    token = run.state.tokens[wait.token]
    if wait.role == st.BOUNDARY:
        return st.Token(0, parent.id, token.scope)
    return token


def _occurred(run: Run, wait: st.Wait, parent: c.Node, plan: MultiplePlan) -> None:
    """Every definition of a parallelMultiple event has occurred: it fires."""
    if wait.role == st.EVENT_SUB:
        from engine.runtime.event_subprocess import _holder as scope_holder
        from engine.runtime.event_subprocess import begin

        scope = run.state.scopes[wait.token]
        if not parent.cancel_activity:
            arm(run, scope_holder(scope, parent.id), parent, st.EVENT_SUB)
        begin(run, scope, parent, {})
        return
    token = run.state.tokens[wait.token]
    if wait.role == st.BOUNDARY:
        if parent.cancel_activity:
            run.cancel_token(token, f"boundary event {parent.id}")
        else:
            arm(run, token, parent, st.BOUNDARY)  # the next round
        new = run.new_token(parent.id, token.scope)
        run.audit(fx.AuditKind.EVENT_CAUGHT, parent.id, token=new.id,
                  trigger=str(parent.trigger), attached_to=parent.attached_to,
                  interrupting=parent.cancel_activity)
        return
    run.guarded(token, lambda: run.leave(token, run.select_outgoing(token, parent)))


# ---------------------------------------------------------------------- throwing


def throw(run: Run, token: st.Token, node: c.Node) -> bool:
    """A throw or end event with several definitions throws all of them (§10.5.1)."""
    plan = plan_of(node)
    if plan is None:
        return False
    from engine.runtime.events import _send

    for part in plan.parts:
        _send(run, token, run.nodes[part])
    return True


def start_points(builder_nodes: Mapping[str, c.Node], node: m.StartEvent
                 ) -> list[tuple[str, m.EventDefinition]]:
    """(compiled node to read names from, definition) per definition of a start event."""
    if len(node.definitions) <= 1:
        return [(node.id, d) for d in node.definitions]
    return [(part_id(node.id, i), d) for i, d in enumerate(node.definitions)
            if part_id(node.id, i) in builder_nodes]
