"""Compensation (BPMN 2.0.2 §10.5.4, §13.5.5): undo completed activities in reverse order.

What is recorded. Each scope instance keeps, in `ScopeInstance.compensation["done"]`, one
record per completed activity instance that can be compensated, in order of completion:
an activity with a compensation boundary event whose associated `isForCompensation`
activity is its handler, or an embedded subprocess that has a handler, a compensation
event subprocess, or recorded completed activities of its own. A record is
`{"a": activity id, "l": variables, "d": inner records}`: `l` is the activity's local
variables at completion (a task's input-mapped locals, a subprocess's scope variables;
Camunda 7 runs the handler with the variables the activity instance had), `d` the inner
records of a subprocess. Nothing else is history: activities without a handler leave no
trace, and the records go with their scope instance when it ends (a completed
subprocess's records travel inside its own record in the enclosing scope).

Throwing. A compensation throw or end event compensates, in the scope it belongs to (for
one in an event subprocess: the scope around it, Camunda 7), either the activity named by
`activityRef` (all its completed instances) or every recorded activity, in reverse order
of completion. Each record is taken out of "done" as it is chosen, so an activity
instance is compensated at most once. The thrower waits (Camunda 7 always waits, whatever
`waitForCompletion` says) on a *compensation run*: a scope instance owned by the throwing
token (state SUB, like a subprocess) that holds the records still to compensate ("todo")
and runs their handlers one after another, each as an ordinary activity (user task, job,
script...) outside the normal flow. A completed subprocess is compensated by its own
boundary handler if it has one, else by its compensation event subprocess (run in a
re-created scope instance with the subprocess's variables and inner records, so it may
throw compensation itself), else by compensating its inner records in reverse order.
When the run has nothing left, the thrower goes on (intermediate) or ends (end event).

Loops and multi-instance: every completed iteration or inner instance is a record of its
own (an inner instance's in the scope around the body), so all are compensated, last
first. A handler with loop characteristics is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpmn import model as m
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run

Record = dict[str, Any]

# What a compensation run does when its last record is compensated ("then").
LEAVE = "leave"  # an intermediate throw event: the thrower takes its outgoing flows
END = "end"  # a compensation end event: the thrower ends
UP = "up"  # a re-created subprocess instance: back to the enclosing compensation run
CANCEL = "cancel"  # a cancelled transaction: its cancel boundary event (transaction.py)


@dataclass(frozen=True, slots=True)
class CompensationIndex:
    """Built once per compiled process; None on CompiledProcess when nothing compensates."""

    handler_of: dict[str, str] = field(default_factory=dict)  # activity -> its handler
    esp_start_of: dict[str, str] = field(default_factory=dict)  # subprocess -> comp. start
    throw_ref: dict[str, str | None] = field(default_factory=dict)  # thrower -> activityRef
    # Subprocesses that contain (at any depth) something with a handler.
    holders: frozenset[str] = frozenset()


# ---------------------------------------------------------------------- compile time


def _associations(process: m.Process) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    scopes = [process.scope] + [n.scope for n in m.walk_scope(process.scope)
                                if isinstance(n, m.SubProcess)]
    for scope in scopes:
        pairs.extend((a.source, a.target) for a in scope.artifacts
                     if a.kind == "association" and a.source and a.target)
    return pairs


def handlers(process: m.Process) -> dict[str, str]:
    """Activity id -> its compensation handler: the isForCompensation activity associated
    with the activity's compensation boundary event (BPMN 2.0.2 §10.5.4; the association
    may be drawn either way)."""
    nodes = {n.id: n for n in m.walk_scope(process.scope)}
    linked: dict[str, str] = {}
    for source, target in _associations(process):
        for one, other in ((source, target), (target, source)):
            node, handler = nodes.get(one), nodes.get(other)
            if (isinstance(node, m.BoundaryEvent) and node.trigger is m.Trigger.COMPENSATE
                    and isinstance(handler, m.Activity) and handler.is_for_compensation):
                linked[node.attached_to] = handler.id
    return linked


def build_index(process: m.Process) -> CompensationIndex | None:
    handler_of = handlers(process)
    esp_start_of: dict[str, str] = {}
    throw_ref: dict[str, str | None] = {}
    parents: dict[str, str] = {}
    for node in m.walk_scope(process.scope):
        if isinstance(node, m.SubProcess):
            for inner in node.scope.nodes.values():
                parents[inner.id] = node.id
            if node.triggered_by_event:
                for inner in node.scope.nodes.values():
                    if isinstance(inner, m.StartEvent) and \
                            inner.trigger is m.Trigger.COMPENSATE:
                        host = parents.get(node.id)
                        if host is not None:
                            esp_start_of[host] = inner.id
        if isinstance(node, m.IntermediateThrowEvent | m.EndEvent):
            for d in node.definitions:
                if isinstance(d, m.CompensateEventDefinition):
                    throw_ref[node.id] = d.activity_ref
    if not (handler_of or esp_start_of or throw_ref):
        return None
    holders: set[str] = set()
    for leaf in (*handler_of, *esp_start_of):
        current = parents.get(leaf)
        while current is not None:
            holders.add(current)
            current = parents.get(current)
    return CompensationIndex(handler_of, esp_start_of, throw_ref, frozenset(holders))


def check(process: m.Process, refuse: Any) -> None:
    """What compensation and transactions cannot run here: refused with element and line.
    `refuse(node, what)` is support.unsupported's reporter."""
    linked = handlers(process)
    nodes = {n.id: n for n in m.walk_scope(process.scope)}
    scope_of: dict[str, m.Scope] = {n.id: process.scope for n in process.scope.nodes.values()}
    owner_of: dict[str, m.FlowNode | None] = dict.fromkeys(process.scope.nodes)
    for node in m.walk_scope(process.scope):
        if isinstance(node, m.SubProcess):
            for inner in node.scope.nodes.values():
                scope_of[inner.id] = node.scope
                owner_of[inner.id] = node
    for node in nodes.values():
        trigger = node.trigger if isinstance(node, m.Event) else None
        if isinstance(node, m.Activity) and node.is_for_compensation and \
                node.loop is not None:
            # The handler token carries the compensated instance's variables as locals;
            # a loop would replace them per iteration.
            refuse(node, "a compensation handler with loop characteristics")
        if isinstance(node, m.BoundaryEvent) and trigger is m.Trigger.COMPENSATE \
                and node.attached_to not in linked:
            refuse(node, "a compensation boundary event without an associated "
                   "isForCompensation handler")
        if isinstance(node, m.BoundaryEvent) and trigger is m.Trigger.CANCEL and not \
                isinstance(nodes.get(node.attached_to), m.Transaction):
            # §10.5.4 Table 10.93: a cancel boundary event is only attached to a transaction.
            refuse(node, "a cancel boundary event on anything but a transaction")
        if isinstance(node, m.EndEvent) and trigger is m.Trigger.CANCEL and not \
                isinstance(owner_of.get(node.id), m.Transaction):
            # §10.5.3: a cancel end event is only used directly inside a transaction.
            refuse(node, "a cancel end event outside a transaction")
        if isinstance(node, m.StartEvent) and trigger is m.Trigger.COMPENSATE:
            esp = owner_of.get(node.id)
            if isinstance(esp, m.SubProcess) and esp.triggered_by_event and \
                    owner_of.get(esp.id) is None:
                # §10.3.5: a compensation event subprocess compensates its subprocess; at
                # process level only a calling process could trigger it.
                refuse(node, "a compensation event subprocess at process level")
        if isinstance(node, m.IntermediateThrowEvent | m.EndEvent):
            for d in node.definitions:
                if isinstance(d, m.CompensateEventDefinition) and d.activity_ref and \
                        d.activity_ref not in _compensable_scope(node, scope_of, owner_of):
                    refuse(node, "a compensation activityRef outside the thrower's scope")
        if isinstance(node, m.Activity) and node.is_for_compensation and \
                node.id not in linked.values():
            refuse(node, "a compensation handler no compensation boundary event points to")


def _compensable_scope(node: m.FlowNode, scope_of: dict[str, m.Scope],
                       owner_of: dict[str, m.FlowNode | None]) -> set[str]:
    """The activities a throw may name: those of its scope, or of the scope around the
    event subprocess it is in (Camunda 7)."""
    owner = owner_of.get(node.id)
    if isinstance(owner, m.SubProcess) and owner.triggered_by_event:
        return set(scope_of[owner.id].nodes) | set(scope_of[node.id].nodes)
    return set(scope_of[node.id].nodes)


# ---------------------------------------------------------------------- recording


def record(run: Run, token: st.Token, node: c.Node) -> None:
    """The activity of `token` completed: remember it when it can be compensated. Called
    by complete_activity before the token's child scope instance and locals go."""
    index = run.compiled.compensation
    if index is None:
        return
    scope = run.state.scopes.get(token.scope)
    if scope is not None and isinstance(node.loop, c.MultiPlan) and run.is_inner(token) \
            and scope.parent is not None:
        # A multi-instance inner instance is recorded in the scope around the body, one
        # record per completed instance with its loopCounter and element variable
        # (Camunda 7 compensates every completed instance).
        scope = run.state.scopes.get(scope.parent)
    if scope is None or is_running(scope):
        return  # a handler completing inside a compensation run is not compensated again
    rec: Record = {"a": node.id}
    inner: list[Record] = []
    if token.child is not None:
        child = run.state.scopes.get(token.child)
        if child is not None:
            if child.variables:
                rec["l"] = dict(child.variables)
            if child.compensation:
                inner = list(child.compensation.get("done", ()))
    elif token.locals:
        rec["l"] = dict(token.locals)
    if inner:
        rec["d"] = inner
    if node.id in index.handler_of or node.id in index.esp_start_of or inner:
        if scope.compensation is None:
            scope.compensation = {}
        scope.compensation["done"] = [*scope.compensation.get("done", ()), rec]


# ---------------------------------------------------------------------- throwing


def _target(run: Run, token: st.Token, ref: str | None) -> st.ScopeInstance:
    """The scope instance a throw compensates: its own, or for a throw inside an event
    subprocess, the scope instance the event subprocess runs in, unless its activityRef
    names an activity of the event subprocess itself (Camunda 7 allows both)."""
    scope = run.state.scopes[token.scope]
    owner = run.nodes.get(scope.element)
    own = ref is not None and ref in run.nodes and \
        run.nodes[ref].scope == run.nodes[token.node].scope
    if owner is not None and owner.event_subprocess and scope.parent is not None and not own:
        return run.state.scopes[scope.parent]
    return scope


def throw(run: Run, token: st.Token, node: c.Node, then: str) -> None:
    """A compensation intermediate throw or end event (§10.5.4)."""
    index = run.compiled.compensation
    ref = index.throw_ref.get(node.id) if index is not None else None
    target = _target(run, token, ref)
    done: list[Record] = list((target.compensation or {}).get("done", ()))
    chosen = [r for r in done if ref is None or r["a"] == ref]
    if target.compensation is not None:
        target.compensation["done"] = [r for r in done if not (ref is None or r["a"] == ref)]
    run.audit(fx.AuditKind.EVENT_THROWN, node.id, token=token.id, trigger="compensate",
              activity=ref)
    run.audit(fx.AuditKind.COMPENSATION_THROWN, node.id, token=token.id, activity=ref,
              count=len(chosen))
    token.state = st.SUB
    comp = st.ScopeInstance(run.state.allocate(), node.id, token.scope, token.id,
                            compensation={"todo": chosen, "then": then})
    run.state.scopes[comp.id] = comp
    token.child = comp.id
    advance(run, comp)


def start_run(run: Run, scope: st.ScopeInstance, then: str) -> None:
    """Turn `scope` (whose tokens are gone) into a compensation run of its own records:
    a cancelled transaction compensates what completed inside it (§10.3.6)."""
    done = list((scope.compensation or {}).get("done", ()))
    scope.compensation = {"todo": done, "then": then}
    advance(run, scope)


def is_running(scope: st.ScopeInstance) -> bool:
    return scope.compensation is not None and "then" in scope.compensation


def advance(run: Run, scope: st.ScopeInstance) -> None:
    """Compensate the next record of the run `scope` (the last one still to do: reverse
    order of completion), or finish the run. Called again when the handler's tokens end
    (machine.complete_scope)."""
    comp = scope.compensation
    assert comp is not None  # noqa: S101 - only compensation runs get here
    while True:
        current = comp.pop("cur", None)
        if current is not None:
            run.audit(fx.AuditKind.COMPENSATION_COMPLETED, current, scope=scope.id)
        todo: list[Record] = comp["todo"]
        if not todo:
            _finish(run, scope)
            return
        rec = todo.pop()
        comp["cur"] = rec["a"]
        if _compensate(run, scope, rec):
            return  # a handler runs; its end brings us back here


def _compensate(run: Run, scope: st.ScopeInstance, rec: Record) -> bool:
    """Start compensating one record in the run `scope`; False when nothing had to run."""
    index = run.compiled.compensation
    assert index is not None  # noqa: S101
    activity = rec["a"]
    handler = index.handler_of.get(activity)
    esp_start = index.esp_start_of.get(activity)
    run.audit(fx.AuditKind.COMPENSATION_STARTED, activity, scope=scope.id, handler=handler
              or esp_start)
    if handler is not None:
        # The handler runs as an ordinary activity, with the variables the compensated
        # activity had when it completed as its locals (Camunda 7).
        token = run.new_token(handler, scope.id)
        if rec.get("l"):
            token.locals = dict(rec["l"])
        return True
    inner: list[Record] = list(rec.get("d", ()))
    if esp_start is None and not inner:
        return False
    # Re-create the completed subprocess's scope instance under a stand-in token, with its
    # variables at completion: its compensation event subprocess runs there (and may throw
    # compensation to the inner records, kept as "done"), or its inner records are
    # compensated there in reverse order (the default compensation, §13.5.5).
    stand = st.Token(run.state.allocate(), activity, scope.id, state=st.SUB)
    run.state.tokens[stand.id] = stand
    scope.tokens[stand.id] = None
    sub = st.ScopeInstance(run.state.allocate(), activity, scope.id, stand.id,
                           dict(rec.get("l") or {}))
    run.state.scopes[sub.id] = sub
    stand.child = sub.id
    if esp_start is not None:
        from engine.runtime.event_subprocess import begin

        sub.compensation = {"done": inner, "todo": [], "then": UP}
        begin(run, sub, run.nodes[esp_start], {})
    else:
        sub.compensation = {"todo": inner, "then": UP}
        advance(run, sub)
    return True


def _finish(run: Run, scope: st.ScopeInstance) -> None:
    comp = scope.compensation or {}
    then = comp.get("then")
    owner = run.state.tokens.get(scope.token) if scope.token is not None else None
    run.state.scopes.pop(scope.id, None)
    if owner is None:
        return
    owner.child = None
    if then == UP:
        parent = run.state.scopes.get(scope.parent) if scope.parent is not None else None
        run.remove_token(owner)
        if parent is not None and is_running(parent):
            advance(run, parent)
        return
    if then == CANCEL:
        from engine.runtime.transaction import cancelled

        cancelled(run, owner)
        return
    node = run.nodes[owner.node]
    owner.state = st.WAIT
    if then == END:
        run.end_token(owner)
        return
    run.guarded(owner, lambda: run.leave(owner, run.select_outgoing(owner, node)))
