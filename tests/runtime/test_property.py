"""Property: random block-structured processes always complete, every token consumed once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import count, pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpmn.loader import load_model
from engine import runtime
from engine.runtime.effects import AuditKind
from engine.runtime.simulate import Simulation
from tests.bpmn.fixtures import wrap
from tests.runtime.helpers import NOW


@dataclass
class Task:
    user: bool


@dataclass
class Seq:
    items: list[object]


@dataclass
class Split:
    kind: str  # parallel | exclusive | inclusive
    branches: list[object]
    taken: list[bool] = field(default_factory=list)  # which branches the data selects


@dataclass
class Sub:
    body: object


def blocks() -> st.SearchStrategy[object]:
    task = st.builds(Task, st.booleans())

    def extend(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        split = st.tuples(st.sampled_from(["parallel", "exclusive", "inclusive"]),
                          st.lists(inner, min_size=2, max_size=3),
                          st.lists(st.booleans(), min_size=3, max_size=3),
                          st.integers(0, 2)).map(_split)
        return st.one_of(st.builds(Seq, st.lists(inner, min_size=1, max_size=3)), split,
                         st.builds(Sub, inner))

    return st.recursive(task, extend, max_leaves=12)


def _split(args: tuple[str, list[object], list[bool], int]) -> Split:
    kind, branches, flags, pick = args
    n = len(branches)
    if kind == "parallel":
        taken = [True] * n
    elif kind == "exclusive":
        taken = [i == pick % n for i in range(n)]
    else:
        taken = flags[:n] if any(flags[:n]) else [i == 0 for i in range(n)]
    return Split(kind, branches, taken)


class Emitter:
    def __init__(self) -> None:
        self.ids = count()
        self.expected: Counter[str] = Counter()
        self.variables: dict[str, object] = {}

    def new(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids)}"

    def emit(self, block: object, parts: list[str], live: bool) -> tuple[str, str]:
        """Append the XML of `block`; return its entry and exit node ids."""
        if isinstance(block, Task):
            tid = self.new("u" if block.user else "t")
            parts.append(f'<{"userTask" if block.user else "task"} id="{tid}"/>')
            if live:
                self.expected[tid] += 1
            return tid, tid
        if isinstance(block, Seq):
            ends = [self.emit(item, parts, live) for item in block.items]
            for (_, a), (b, _) in pairwise(ends):
                parts.append(self.flow(a, b))
            return ends[0][0], ends[-1][1]
        if isinstance(block, Sub):
            sid = self.new("sub")
            inner: list[str] = []
            start, end = self.new("ss"), self.new("se")
            entry, exit_ = self.emit(block.body, inner, live)
            inner += [f'<startEvent id="{start}"/>', f'<endEvent id="{end}"/>',
                      self.flow(start, entry), self.flow(exit_, end)]
            parts.append(f'<subProcess id="{sid}">{"".join(inner)}</subProcess>')
            if live:
                self.expected[sid] += 1
            return sid, sid
        assert isinstance(block, Split)
        tag = {"parallel": "parallelGateway", "exclusive": "exclusiveGateway",
               "inclusive": "inclusiveGateway"}[block.kind]
        split, join = self.new("split"), self.new("join")
        parts += [f'<{tag} id="{split}"/>', f'<{tag} id="{join}"/>']
        for i, branch in enumerate(block.branches):
            taken = live and block.taken[i]
            entry, exit_ = self.emit(branch, parts, taken)
            condition = None
            if block.kind != "parallel":
                name = f"c_{split}_{i}"
                self.variables[name] = block.taken[i]
                condition = f"${{{name}}}"
            parts.append(self.flow(split, entry, condition))
            parts.append(self.flow(exit_, join))
        return split, join

    def flow(self, source: str, target: str, condition: str | None = None) -> str:
        fid = self.new("f")
        if condition is None:
            return f'<sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
        return (f'<sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
                f"<conditionExpression>{condition}</conditionExpression></sequenceFlow>")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_random_block_structured_process_completes_consuming_every_token(block):
    emitter = Emitter()
    parts: list[str] = []
    entry, exit_ = emitter.emit(block, parts, True)
    parts += ['<startEvent id="start"/>', '<endEvent id="end"/>',
              emitter.flow("start", entry), emitter.flow(exit_, "end")]
    xml = wrap(f'<process id="p" isExecutable="true">{"".join(parts)}</process>')
    result = load_model(xml.encode())
    assert result.ok and result.definitions is not None, result.errors
    sim = Simulation(runtime.compile_process(result.definitions, "p"), NOW)
    sim.start(emitter.variables)
    sim.run()
    assert sim.completed and sim.incidents == []
    assert sim.state is not None and sim.state.tokens == {} and sim.state.waits == {}
    assert len(sim.state.scopes) == 1
    assert Counter(sim.visited) == emitter.expected
    ends = Counter(e for e in sim.audits(AuditKind.EVENT_PASSED) if e == "end")
    assert ends == Counter({"end": 1})
