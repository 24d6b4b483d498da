"""Every real file in the shared corpus gives a model or diagnostics, never an exception."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from bpmn.loader import load_model
from bpmn.parser import NODE_BUILDERS
from tests.corpus import REPO, CorpusFile, corpus_files

FILES = corpus_files()

# The INDEX vocabulary we promise to reproduce: flow node names, loop markers, and every
# derived kind written with a colon (`boundaryEvent:timer`, `subProcess:event`, ...).
_PLAIN_KINDS = frozenset(NODE_BUILDERS) | {
    "standardLoopCharacteristics", "multiInstanceLoopCharacteristics"}


def _promised(kinds: frozenset[str]) -> set[str]:
    return {k for k in kinds if k in _PLAIN_KINDS or ":" in k}


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    return {f.name: load_model(f.path.read_bytes(), source=f.name) for f in FILES}


def test_corpus_index_is_complete():
    assert len(FILES) >= 700, "the shared corpus lost files"


def test_no_file_makes_the_parser_fail(results):
    internal = [name for name, r in results.items()
                if any(d.code == "bpmn.internal" for d in r.diagnostics)]
    assert internal == []


def test_every_wellformed_bpmn_file_gives_a_model(results):
    missing = [(f.name, [d.message for d in results[f.name].diagnostics])
               for f in FILES if f.is_bpmn and results[f.name].definitions is None]
    assert missing == []


@pytest.mark.parametrize("case", [f for f in FILES if not f.is_bpmn], ids=lambda f: f.name)
def test_broken_or_foreign_files_are_refused_with_a_line(results, case: CorpusFile):
    result = results[case.name]
    assert result.definitions is None
    assert not result.ok
    first = result.diagnostics[0]
    assert first.line is not None and first.line >= 1
    expected = "bpmn.not-bpmn" if case.wellformed == "not-bpmn" else "xml."
    assert first.code.startswith(expected), first


def test_parser_keeps_every_element_kind_the_index_lists(results):
    dropped: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for f in FILES:
        if not f.is_bpmn:
            continue
        counts = results[f.name].definitions.element_counts
        for kind in _promised(f.elements):
            if kind.endswith(":ref"):
                # INDEX marks an <eventDefinitionRef> as `<event>:ref`; we resolve the
                # reference, so the event must carry the referenced definition's trigger.
                event = kind.split(":")[0]
                ok = any(k.startswith(event + ":") and not k.endswith("nonInterrupting")
                         for k in counts)
            else:
                ok = kind in counts
            if not ok:
                dropped[kind] += 1
                examples.setdefault(kind, f.name)
    assert not dropped, f"dropped kinds: {dict(dropped)}; e.g. {examples}"


def test_outcomes_over_the_corpus_are_counted(results, capsys):
    outcome = Counter()
    for f in FILES:
        r = results[f.name]
        if r.definitions is None:
            outcome["refused"] += 1
        elif r.ok:
            outcome["deployable"] += 1
        else:
            outcome["model with errors"] += 1
    with capsys.disabled():
        print(f"\ncorpus outcomes: {dict(outcome)}")
    assert outcome["deployable"] > 300


def test_cli_json_over_the_whole_corpus_crashes_on_nothing():
    paths = [str(f.path) for f in FILES]
    proc = subprocess.run(
        [sys.executable, "-m", "bpmn", "check", "--json", *paths],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1  # the corpus holds broken files on purpose
    lines = proc.stdout.splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines, strict=True):
        obj = json.loads(line)
        assert obj["file"] == path
        assert set(obj) == {"file", "ok", "processes", "elements", "diagnostics"}
        for d in obj["diagnostics"]:
            assert set(d) == {"severity", "code", "message", "element_id", "line"}
