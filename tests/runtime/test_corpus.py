"""Every executable process of the shared corpus either compiles or is refused with reasons."""

from __future__ import annotations

from collections import Counter

from bpmn.loader import load_model
from engine import runtime
from engine.runtime.simulate import Simulation
from tests.corpus import corpus_files
from tests.runtime.helpers import NOW


def test_every_corpus_process_compiles_or_says_why_not():
    files = corpus_files()  # the shared corpus is required: a missing one fails loudly
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for item in files:
        if not item.is_bpmn or not item.path.exists():
            continue
        result = load_model(item.path.read_bytes(), source=item.name)
        if not result.ok or result.definitions is None:
            counts["file not loadable"] += 1
            continue
        for process in result.definitions.executable_processes:
            found = [d for d in runtime.unsupported(result.definitions, process.id)
                     if d.is_error]
            try:
                compiled = runtime.compile_process(result.definitions, process.id)
            except runtime.CompileError as refused:
                assert refused.diagnostics, item.name
                counts["refused"] += 1
                for d in refused.diagnostics:
                    reasons[d.message.split(" is not supported")[0]] += 1
                continue
            assert not found, (item.name, found)
            counts["compiled"] += 1
            # Run it with empty data: it must end, wait, or raise an incident; never crash.
            sim = Simulation(compiled, NOW)
            sim.start({}, start_event_id=(compiled.none_starts or compiled.starts)[0])
            sim.run(max_steps=2_000)
            counts["ran: completed" if sim.completed else
                   "ran: incident" if sim.incidents else "ran: waiting"] += 1
    print(f"\ncorpus processes: {dict(counts)}")
    print("refusal reasons:", dict(reasons.most_common(15)))
    assert counts["compiled"] > 0
