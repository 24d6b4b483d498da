"""Parse throughput: our loader vs SpiffWorkflow's BpmnParser on the shared corpus, in one run.

    .venv/bin/pip install -e '.[bench]'     # SpiffWorkflow, a benchmark-only dependency
    .venv/bin/python -m benchmarks.parse [--rounds 3] [--nodes 10000]

Ours is measured doing everything a deployment does: hardened XML parse, model build,
vendor extensions, expression and timer parsing, validation. SpiffWorkflow is measured
doing `add_bpmn_str` + `get_spec` for every process (its own model build). The corpus
ratio is taken over the files BOTH parse, so neither side is credited for giving up early.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bpmn.loader import load_model
from tests.corpus import corpus_files


def ours(data: bytes) -> bool:
    return load_model(data).definitions is not None


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
    except Exception:
        ok = False
    except RecursionError:
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
    for label, fn in (("ours", ours), ("spiff", spiff)):
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for data in both:
                _attempt(fn, data)
            times.append(time.perf_counter() - start)
        best[label] = min(times)
        print(f"  {label:6s} {len(both) / best[label]:8.1f} files/s "
              f"({best[label] * 1000:.0f} ms for the set)")
    print(f"  ratio  {best['spiff'] / best['ours']:.2f}x SpiffWorkflow's throughput")


def scale_benchmark(sizes: list[int]) -> None:
    print("sequential model of n flow nodes (ours: full load + validation)")
    per_node: list[float] = []
    for n in sizes:
        data = sequential_model(n)
        ok, seconds = _attempt(ours, data)
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
        except RecursionError:
            outcome = "RecursionError"
        except Exception as exc:
            outcome = type(exc).__name__
        finally:
            sys.setrecursionlimit(limit)
        print(f"  spiff  n={n:6d}: {outcome:14s} {(time.perf_counter() - start) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    corpus_benchmark(args.rounds)
    scale_benchmark([500, 1000, args.nodes])


if __name__ == "__main__":
    main()
