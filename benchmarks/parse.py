"""Parse throughput: our loader vs SpiffWorkflow's BpmnParser on the shared corpus, in one run.

    .venv/bin/pip install -e '.[bench]'     # SpiffWorkflow, a benchmark-only dependency
    .venv/bin/python -m benchmarks.parse [--rounds 3] [--nodes 10000]

Two figures for ours: "parse" is what SpiffWorkflow's BpmnParser also does (XML -> model,
with vendor extensions and the diagram); "load" adds what a deployment does on top
(parsing every expression and timer, semantic validation), which SpiffWorkflow does not
do. SpiffWorkflow is measured doing `add_bpmn_str` + `get_spec` for every process. The
ratio is taken over the files BOTH parse, so neither side is credited for giving up.
Times are process CPU time (best of N rounds), which is steadier than wall time on a
shared 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bpmn.loader import load_model
from bpmn.parser import build_definitions
from bpmn.xml import parse_xml
from tests.corpus import corpus_files


def ours(data: bytes) -> bool:
    return load_model(data).definitions is not None


def ours_parse(data: bytes) -> bool:
    build_definitions(parse_xml(data))
    return True


def spiff(data: bytes) -> bool:
    from SpiffWorkflow.bpmn.parser import BpmnParser

    parser = BpmnParser()
    parser.add_bpmn_str(data)
    for process_id in parser.get_process_ids():
        parser.get_spec(process_id)
    return True


def _attempt(fn: Callable[[bytes], bool], data: bytes) -> tuple[bool, float]:
    start = time.perf_counter()
    try:
        ok = fn(data)
    except Exception:  # RecursionError included: SpiffWorkflow raises it on long models
        ok = False
    return ok, time.perf_counter() - start


def sequential_model(n: int) -> bytes:
    """A process of n tasks in a row, with diagram shapes, as a modeler would write it."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<definitions '
             'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
             'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
             'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="d" targetNamespace="x">\n'
             '<process id="P" isExecutable="true">\n<startEvent id="start"/>\n']
    previous = "start"
    for i in range(n - 2):
        parts.append(f'<task id="t{i}"/>\n<sequenceFlow id="f{i}" sourceRef="{previous}" '
                     f'targetRef="t{i}"/>\n')
        previous = f"t{i}"
    parts.append(f'<endEvent id="end"/>\n<sequenceFlow id="fend" sourceRef="{previous}" '
                 'targetRef="end"/>\n</process>\n<bpmndi:BPMNDiagram><bpmndi:BPMNPlane '
                 'bpmnElement="P">\n')
    for i in range(n - 2):
        parts.append(f'<bpmndi:BPMNShape bpmnElement="t{i}"><dc:Bounds x="{i * 150}" y="0" '
                     'width="100" height="80"/></bpmndi:BPMNShape>\n')
    parts.append("</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n</definitions>\n")
    return "".join(parts).encode()


def corpus_benchmark(rounds: int) -> None:
    files = [(f.name, f.path.read_bytes()) for f in corpus_files() if f.is_bpmn]
    both: list[bytes] = []
    spiff_ok = ours_ok = 0
    for _name, data in files:
        a, _ = _attempt(ours, data)
        b, _ = _attempt(spiff, data)
        ours_ok += a
        spiff_ok += b
        if a and b:
            both.append(data)
    print(f"corpus: {len(files)} well-formed BPMN files; ours parses {ours_ok}, "
          f"SpiffWorkflow {spiff_ok}; timed over the {len(both)} both parse, "
          f"best of {rounds} rounds")
    best: dict[str, float] = {}
    for label, fn in (("ours parse", ours_parse), ("ours load", ours), ("spiff", spiff)):
        times = []
        for _ in range(rounds):
            start = time.process_time()
            for data in both:
                _attempt(fn, data)
            times.append(time.process_time() - start)
        best[label] = min(times)
        print(f"  {label:11s} {len(both) / best[label]:8.1f} files/s "
              f"({best[label] * 1000:.0f} ms CPU for the set)")
    for label in ("ours parse", "ours load"):
        print(f"  ratio {label:11s} {best['spiff'] / best[label]:.2f}x SpiffWorkflow's "
              "throughput")


def scale_benchmark(sizes: list[int]) -> None:
    print("sequential model of n flow nodes (ours: full load + validation)")
    per_node: list[float] = []
    for n in sizes:
        data = sequential_model(n)
        attempts = [_attempt(ours, data) for _ in range(3)]
        ok, seconds = all(a[0] for a in attempts), min(a[1] for a in attempts)
        per_node.append(seconds / n)
        print(f"  ours   n={n:6d}: {'ok' if ok else 'FAILED':6s} {seconds * 1000:8.1f} ms "
              f"({seconds / n * 1e6:.1f} us/node, {len(data) / 1e6:.1f} MB)")
    print(f"  growth of time per node from n={sizes[0]} to n={sizes[-1]}: "
          f"{per_node[-1] / per_node[0]:.2f}x (1.0 = linear)")
    for n in sizes:
        data = sequential_model(n)
        limit = sys.getrecursionlimit()
        start = time.perf_counter()
        try:
            spiff(data)
            outcome = "ok"
        except Exception as exc:  # SpiffWorkflow wraps its RecursionError
            outcome = f"{type(exc).__name__}: {str(exc)[:50]}"
        finally:
            sys.setrecursionlimit(limit)
        print(f"  spiff  n={n:6d}: {(time.perf_counter() - start) * 1000:8.1f} ms  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    corpus_benchmark(args.rounds)
    scale_benchmark([400, 500, 1000, args.nodes])


if __name__ == "__main__":
    main()
