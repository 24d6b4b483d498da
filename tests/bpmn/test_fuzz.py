"""Property: random byte mutations of real corpus files never make the loader raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpmn.loader import LoadResult, load_model
from tests.corpus import corpus_files

# A spread of vendors, kept small so one example stays fast.
SAMPLES = sorted((f for f in corpus_files() if f.is_bpmn and f.path.stat().st_size < 40_000),
                 key=lambda f: f.name)[::12]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)).path.read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        if action == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif action == "truncate":
            del data[pos:]
        else:
            end = min(len(data), pos + draw(st.integers(1, 200)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_corpus_files_give_a_model_or_diagnostics(data: bytes):
    result = load_model(data, source="mutant.bpmn")
    assert isinstance(result, LoadResult)
    assert not any(d.code == "bpmn.internal" for d in result.diagnostics), result.diagnostics
    if result.definitions is None:
        assert result.diagnostics and not result.ok
