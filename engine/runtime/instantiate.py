"""Instantiating receive tasks and event-based gateways (BPMN 2.0.2 §10.5.6 / §13.4.5
`instantiate="true"`; §14.4.1: the process then has no start event).

The deploy step arms their messages like message start events: `compiled.start_subscriptions`
lists a StartPoint (kind message, or signal for a signal catch after a gateway) for the
receive task itself, or for each catch event / receive task after the gateway. When such a
message arrives the shell calls `start(..., start_event_id=<that element>)` with the
message payload as the variables: the instance begins at that element with its message
already received, so the receive task completes at once, or the gateway is passed through
the flow to the catch event that fired and that event is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bpmn import model as m
from engine.runtime import compile as c
from engine.runtime import effects as fx
from engine.runtime import state as st

if TYPE_CHECKING:
    from engine.runtime.machine import Run

_KINDS = {m.Trigger.MESSAGE: "message", m.Trigger.SIGNAL: "signal"}


def _name(node: c.Node) -> str | None:
    name = node.name_text.literal if node.name_text is not None else None
    return None if name is None else str(name)


def start_points(nodes: Mapping[str, c.Node], process: m.Process) -> list[c.StartPoint]:
    """Where an instance may begin without a start event, for the shell to arm."""
    points: list[c.StartPoint] = []
    for node in process.scope.nodes.values():
        if isinstance(node, m.ReceiveTask) and node.instantiate:
            points.append(c.StartPoint(node.id, "message", _name(nodes[node.id])))
        elif isinstance(node, m.EventBasedGateway) and node.instantiate:
            for flow in nodes[node.id].outgoing:
                target = nodes[flow.target]
                if target.behaviour == c.RECEIVE:
                    kind: str | None = "message"
                else:
                    kind = _KINDS.get(target.trigger)
                if kind is not None and not any(p.element_id == target.id for p in points):
                    points.append(c.StartPoint(target.id, kind, _name(target)))
    return points


def instantiating_gateway(run: Run, element_id: str) -> c.Node | None:
    """The instantiating event-based gateway `element_id` follows, if any."""
    for flow_id in run.nodes[element_id].incoming:
        for node in run.nodes.values():
            if node.behaviour == c.EVENT_GATEWAY and element_id in node.gateway_flows and \
                    node.gateway_flows[element_id].id == flow_id and \
                    getattr(node.model, "instantiate", False):
                return node
    return None


def begin(run: Run, token: st.Token) -> None:
    """The instance starts at an instantiating element, its message already received
    (the payload was set as process variables by start())."""
    from engine.runtime.events import arm_boundaries

    if token.id in run.queue:
        run.queue.remove(token.id)  # never executed as an arrival: it already happened
    token.state = st.WAIT
    node = run.nodes[token.node]
    gateway = None if getattr(node.model, "instantiate", False) else \
        instantiating_gateway(run, node.id)
    if gateway is not None:
        flow = gateway.gateway_flows[node.id]
        run.audit(fx.AuditKind.GATEWAY_TAKEN, gateway.id, flows=[flow.id], token=token.id,
                  instantiate=True)
        token.flow = flow.id
    if node.behaviour == c.RECEIVE:
        run.audit(fx.AuditKind.ACTIVITY_STARTED, node.id, token=token.id, instantiate=True)
        arm_boundaries(run, token, node)
        run.complete_activity(token, node)
        return
    run.audit(fx.AuditKind.EVENT_CAUGHT, node.id, token=token.id, trigger=str(node.trigger))
    run.leave(token, run.select_outgoing(token, node))
