"""Terse builders for small runtime fixture models, and a started Simulation for each."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape

from engine import runtime
from engine.runtime.simulate import Simulation
from tests.bpmn.fixtures import load

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def flow(source: str, target: str, cond: str | None = None, fid: str | None = None) -> str:
    fid = fid or f"{source}-{target}"
    if cond is None:
        return f'<sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f'<conditionExpression xsi:type="tFormalExpression">{escape(cond)}'
            f"</conditionExpression></sequenceFlow>")


def seq(*ids: str) -> str:
    """Flows chaining the ids in order."""
    return "".join(flow(a, b) for a, b in itertools.pairwise(ids))


def script(sid: str, text: str, fmt: str = "python") -> str:
    return f'<scriptTask id="{sid}" scriptFormat="{fmt}"><script>{escape(text)}</script></scriptTask>'


def compiled(body: str, extra: str = "", pid: str = "p") -> runtime.CompiledProcess:
    result = load(f'<process id="{pid}" isExecutable="true">{body}</process>{extra}')
    assert result.ok, [d.format("t") for d in result.errors]
    assert result.definitions is not None
    return runtime.compile_process(result.definitions, pid)


def simulate(body: str, variables: Mapping[str, object] | None = None, *, extra: str = "",
             start_event_id: str | None = None,
             services: dict[str, list[Mapping[str, object]]] | None = None) -> Simulation:
    sim = Simulation(compiled(body, extra), NOW, services=services or {})
    sim.start(variables, start_event_id=start_event_id)
    return sim


def live_tokens(sim: Simulation) -> list[str]:
    assert sim.state is not None
    return sorted(t.node for t in sim.state.tokens.values())
