"""Gateways: exclusive, inclusive (split and join), parallel, event-based and complex."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run


def exclusive(run: Run, token: st.Token, node: c.Node) -> None:
    """Exclusive gateway: the first flow in document order whose condition holds wins (a
    flow without condition holds, as in Camunda 7); the default flow only when none holds;
    none and no default is an incident (BPMN 2.0.2 §13.3.2: "an exception is thrown")."""
    chosen: c.Flow | None = None
    for flow in node.outgoing:
        if flow.id != node.default and (flow.condition is None
                                        or run.condition(flow.condition, token)):
            chosen = flow
            break
    if chosen is None:
        chosen = next((f for f in node.outgoing if f.id == node.default), None)
    if chosen is None:
        from engine.runtime.machine import Stuck

        raise Stuck(f"exclusive gateway {node.id!r}: no condition holds and there is no "
                    "default flow")
    run.audit(fx.AuditKind.GATEWAY_TAKEN, node.id, flows=[chosen.id], token=token.id)
    run.move(token, chosen)


def _inclusive_split(run: Run, token: st.Token, node: c.Node) -> None:
    """Inclusive split: every flow whose condition holds (or has none); the default flow
    only when none holds; neither is an incident (BPMN 2.0.2 §13.3.3)."""
    taken = [f for f in node.outgoing if f.id != node.default and
             (f.condition is None or run.condition(f.condition, token))]
    if not taken:
        taken = [f for f in node.outgoing if f.id == node.default]
    if not taken:
        from engine.runtime.machine import Stuck

        raise Stuck(f"inclusive gateway {node.id!r}: no condition holds and there is no "
                    "default flow")
    run.audit(fx.AuditKind.GATEWAY_TAKEN, node.id, flows=[f.id for f in taken],
              token=token.id)
    run.leave(token, taken)


def parallel(run: Run, token: st.Token, node: c.Node) -> None:
    """Parallel gateway: a join waits for one token per incoming flow (counted per flow, so
    a second token on the same flow waits for the next firing, e.g. in loops); then all
    outgoing flows are taken (BPMN 2.0.2 §13.3.4)."""
    if len(node.incoming) > 1:
        waiting = _tokens_at(run, token.scope, node.id)
        by_flow = _first_per_flow(waiting)
        if any(flow not in by_flow for flow in node.incoming):
            token.state = st.JOIN
            run.audit(fx.AuditKind.GATEWAY_WAITING, node.id, flow=token.flow, token=token.id)
            return
        token = _consume(run, node, [by_flow[f] for f in node.incoming])
    run.audit(fx.AuditKind.GATEWAY_TAKEN, node.id, flows=[f.id for f in node.outgoing],
              token=token.id)
    run.leave(token, list(node.outgoing))


def inclusive(run: Run, token: st.Token, node: c.Node) -> None:
    if len(node.incoming) <= 1:
        _inclusive_split(run, token, node)
        return
    token.state = st.JOIN
    if not try_inclusive_join(run, token.scope, node):
        run.audit(fx.AuditKind.GATEWAY_WAITING, node.id, flow=token.flow, token=token.id)


def try_inclusive_join(run: Run, scope_id: int, node: c.Node) -> bool:
    """Fire the inclusive join `node` in scope instance `scope_id` if it may fire now.

    BPMN 2.0.2 §13.4.3: it fires when some incoming flow holds a token and, for every
    incoming flow without one, no token in the scope instance can still reach that flow
    (without passing through the join), unless that token can also reach a flow that
    already holds a token (it belongs to a later wave). A token resting on a subprocess
    stands for everything inside it. Reachability is precomputed per incoming flow, so
    this costs one set lookup per live token of the scope instance.
    """
    scope = run.state.scopes.get(scope_id)
    if scope is None:
        return False
    waiting = _tokens_at(run, scope_id, node.id)
    if not waiting:
        return False
    by_flow = _first_per_flow(waiting)
    empty = [f for f in node.incoming if f not in by_flow]
    if empty:
        filled = [node.upstream.get(f, frozenset()) for f in by_flow]
        blockers = [node.upstream.get(f, frozenset()) for f in empty]
        for token_id in scope.tokens:
            other = run.state.tokens[token_id]
            if other.node == node.id:
                if other.state == st.WAIT and other.flow in empty:
                    return False  # parked by asyncBefore on an empty flow: it is coming
                continue
            if any(other.node in up for up in blockers) and not any(
                    other.node in up for up in filled):
                return False
    survivor = _consume(run, node, list(by_flow.values()))
    survivor.state = st.READY
    _inclusive_split(run, survivor, node)
    return True


NR_ARRIVED = "nrOfArrivedTokens"


def complex_gateway(run: Run, token: st.Token, node: c.Node) -> None:
    """Complex gateway (BPMN 2.0.2 §10.6.5, §13.3.5). Camunda 7 does not run it; we run
    the part of the spec that can be stated plainly:

    - as a split it is an inclusive split (every true flow, else the default);
    - as a join with an activationCondition it is "waiting for start" until the condition,
      evaluated when a token arrives with `nrOfArrivedTokens` (the tokens waiting at the
      gateway, this one included) over the variables in scope, holds: the waiting tokens
      merge and leave as from an inclusive split. Then it is "waiting for reset": tokens of
      the same wave that arrive later are absorbed (they produce nothing; the spec's
      optional flows taken on reset are not run) until no token of the scope instance can
      still reach the gateway; then it waits for start again;
    - as a join without an activationCondition it is an inclusive join (§13.4.3).
    """
    if len(node.incoming) <= 1:
        _inclusive_split(run, token, node)
        return
    if node.activation is None:
        inclusive(run, token, node)
        return
    scope_id = token.scope
    waiting = _tokens_at(run, scope_id, node.id)
    reset = next((t for t in waiting if t.state == st.RESET), None)
    if reset is not None:
        run.audit(fx.AuditKind.GATEWAY_JOINED, node.id, flows=[token.flow],
                  tokens=[token.id], absorbed=True)
        run.remove_token(token)
        _wave_over(run, scope_id, node)
        return
    from engine.runtime.loops import overlay
    from engine.runtime.variables import view

    token.state = st.JOIN
    arrived = [t for t in waiting if t.state in (st.JOIN, st.READY)]
    if not run.condition_over(node.activation, overlay({NR_ARRIVED: len(arrived)},
                                                        view(run.state, token))):
        run.audit(fx.AuditKind.GATEWAY_WAITING, node.id, flow=token.flow, token=token.id)
        return
    survivor = _consume(run, node, arrived)
    # The survivor leaves; a marker token stays at the gateway for its reset phase.
    marker = run.new_token(node.id, scope_id, None)
    marker.state = st.RESET
    survivor.state = st.READY
    _inclusive_split(run, survivor, node)
    _wave_over(run, scope_id, node)


def _wave_over(run: Run, scope_id: int, node: c.Node) -> bool:
    """End the reset phase of complex gateway `node` when no token of the scope instance
    can still reach it. True if it ended."""
    scope = run.state.scopes.get(scope_id)
    if scope is None:
        return False
    reset = next((t for t in _tokens_at(run, scope_id, node.id) if t.state == st.RESET), None)
    if reset is None:
        return False
    upstream = frozenset().union(*node.upstream.values()) if node.upstream else frozenset()
    for token_id in scope.tokens:
        other = run.state.tokens[token_id]
        if other.node != node.id and other.node in upstream:
            return False
    run.audit(fx.AuditKind.GATEWAY_TAKEN, node.id, flows=[], token=reset.id, reset=True)
    run.end_token(reset)
    return True


def recheck_inclusive_joins(run: Run) -> bool:
    """After tokens came to rest: try every inclusive join that has waiting tokens in a
    scope instance where tokens moved or ended in this step. True if one fired."""
    if not run.compiled.joins:
        run.dirty.clear()  # no inclusive or complex gateway: no token can wait at one
        return False
    fired = False
    dirty, run.dirty = run.dirty, set()
    for scope_id in sorted(dirty):
        scope = run.state.scopes.get(scope_id)
        if scope is None:
            continue
        tokens = [run.state.tokens[i] for i in scope.tokens]
        if not any(t.state == st.JOIN or t.state == st.RESET for t in tokens):
            continue  # nothing waits at a join in this scope instance
        # Inclusive joins, and complex joins without an activationCondition (which join
        # like inclusive ones).
        joins = dict.fromkeys(
            t.node for t in tokens if t.state == st.JOIN and (
                run.nodes[t.node].behaviour == c.INCLUSIVE
                or (run.nodes[t.node].behaviour == c.COMPLEX
                    and run.nodes[t.node].activation is None)))
        for join_id in joins:
            if try_inclusive_join(run, scope_id, run.nodes[join_id]):
                fired = True
        for reset in [t for t in tokens if t.state == st.RESET]:
            if reset.id in run.state.tokens and _wave_over(run, scope_id, run.nodes[reset.node]):
                fired = True
    return fired


def event_based(run: Run, token: st.Token, node: c.Node) -> None:
    """Event-based gateway: wait for every event after it; the first to happen wins and
    the others are withdrawn (BPMN 2.0.2 §13.3.6). Done in events.fire_wait."""
    from engine.runtime.events import arm_catch

    token.state = st.WAIT
    run.audit(fx.AuditKind.GATEWAY_WAITING, node.id, token=token.id)
    for flow in node.outgoing:
        arm_catch(run, token, run.nodes[flow.target], st.GATEWAY)


# ---------------------------------------------------------------------- helpers


def _tokens_at(run: Run, scope_id: int, node_id: str) -> list[st.Token]:
    scope = run.state.scopes[scope_id]
    tokens = run.state.tokens
    return [tokens[i] for i in scope.tokens
            if tokens[i].node == node_id and tokens[i].state in (st.JOIN, st.READY, st.RESET)]


def _first_per_flow(tokens: list[st.Token]) -> dict[str, st.Token]:
    first: dict[str, st.Token] = {}
    for token in sorted(tokens, key=lambda t: t.id):
        if token.flow is not None:
            first.setdefault(token.flow, token)
    return first


def _consume(run: Run, node: c.Node, tokens: list[st.Token]) -> st.Token:
    """Merge the given tokens into the oldest one, which goes on."""
    tokens = sorted(tokens, key=lambda t: t.id)
    survivor = tokens[0]
    for other in tokens[1:]:
        run.remove_token(other)
    run.audit(fx.AuditKind.GATEWAY_JOINED, node.id, flows=[t.flow for t in tokens],
              tokens=[t.id for t in tokens])
    survivor.state = st.WAIT
    return survivor
