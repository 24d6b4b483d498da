"""The instance state: compact JSON, lossless round trip, no history, bench model sizes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine import runtime
from engine.runtime.simulate import Simulation
from tests.corpus import BENCH_MODELS
from tests.runtime.helpers import NOW, compiled, seq, simulate


def size(state: runtime.InstanceState) -> int:
    return len(json.dumps(state.to_json(), separators=(",", ":")))


def load_bench(name: str) -> runtime.CompiledProcess:
    from bpmn.loader import load_model

    path = BENCH_MODELS / f"{name}.bpmn"
    result = load_model(path.read_bytes(), source=path.name)
    assert result.ok and result.definitions is not None
    return runtime.compile_process(result.definitions, result.definitions.
                                   executable_processes[0].id)


BUSY = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="u"/>'
        '<subProcess id="sub"><startEvent id="ss"/><serviceTask id="svc"/>'
        '<intermediateCatchEvent id="c"><messageEventDefinition messageRef="m"/>'
        '</intermediateCatchEvent>' + seq("ss", "svc", "c") + '</subProcess>'
        '<boundaryEvent id="b" attachedToRef="sub" cancelActivity="false">'
        '<timerEventDefinition><timeCycle>R2/PT1H</timeCycle></timerEventDefinition>'
        '</boundaryEvent><task id="late"/><parallelGateway id="j"/><endEvent id="e"/>'
        + seq("s", "f", "u", "j") + seq("f", "sub", "j", "e") + seq("b", "late"))


def test_round_trip_is_lossless_in_a_busy_state():
    sim = simulate(BUSY, {"a": {"b": [1, 2.5, None, "x"]}},
                   extra='<message id="m" name="M"/>')
    assert sim.state is not None
    data = sim.state.to_json()
    again = runtime.InstanceState.from_json(json.loads(json.dumps(data)))
    assert again.to_json() == data
    assert again.tokens == sim.state.tokens and again.waits == sim.state.waits


def test_json_round_trip_after_every_trigger_gives_the_same_run():
    def drive(roundtrip: bool) -> list[str]:
        sim = Simulation(compiled(BUSY, '<message id="m" name="M"/>'), NOW, roundtrip=roundtrip)
        sim.start({})
        (svc,) = [j for j in sim.jobs.values() if j.kind == "service"]
        sim.work_job(svc)
        sim.advance(timedelta(hours=3))
        sim.message("M")
        sim.complete("u")
        assert sim.completed
        return [repr(e) for e in sim.effects]

    assert drive(True) == drive(False)


def test_state_holds_no_history_after_many_steps():
    body = ('<startEvent id="s"/><exclusiveGateway id="m"/><userTask id="u"/>'
            '<exclusiveGateway id="x" default="x-m"/><endEvent id="e"/>'
            + seq("s", "m", "u", "x") + seq("x", "m")
            + '<sequenceFlow id="done" sourceRef="x" targetRef="e"><conditionExpression>'
              '${stop}</conditionExpression></sequenceFlow>')
    sim = simulate(body)
    assert sim.state is not None
    first = size(sim.state)
    for _ in range(200):
        sim.complete("u", {"stop": False})
    assert size(sim.state) <= first + 40  # ids grow in digits, nothing else


def test_handle_does_not_change_the_state_it_was_given():
    cp = compiled('<startEvent id="s"/><userTask id="u"/>' + seq("s", "u"))
    step = runtime.start(cp, {}, now=NOW)
    before = json.dumps(step.state.to_json())
    (task,) = [e for e in step.effects if isinstance(e, runtime.CreateUserTask)]
    runtime.handle(cp, step.state, runtime.TaskCompleted(task.task_id, {"x": 1}), now=NOW)
    assert json.dumps(step.state.to_json()) == before


def test_stale_trigger_is_refused():
    cp = compiled('<startEvent id="s"/><userTask id="u"/>' + seq("s", "u"))
    step = runtime.start(cp, {}, now=NOW)
    with pytest.raises(runtime.UnknownTrigger):
        runtime.handle(cp, step.state, runtime.TaskCompleted(999), now=NOW)
    with pytest.raises(runtime.UnknownTrigger):
        runtime.handle(cp, step.state, runtime.TimerFired(1), now=NOW)


def test_cancel_removes_everything_and_ends_the_instance():
    sim = simulate(BUSY, extra='<message id="m" name="M"/>')
    sim.send(runtime.Cancel("by admin"))
    assert sim.state is not None and sim.state.status == "cancelled"
    assert sim.tasks == {} and sim.jobs == {} and sim.subscriptions == {}
    assert sim.state.tokens == {} and "u" in sim.cancelled


def test_xor_loop_1000_loops_exactly_1000_times_in_small_state():
    sim = Simulation(load_bench("xor_loop_1000"), NOW)
    sim.start({})
    assert sim.completed and sim.variables["counter"] == 1000
    assert sim.visited.count("inc") == 1000 and sim.visited.count("init") == 1
    assert sim.state is not None and size(sim.state) < 5_000


def test_approval_model_state_while_waiting_is_under_2kb_and_completes():
    sim = Simulation(load_bench("approval_user_tasks"), NOW)
    sim.start({"amount": 5000})
    assert sim.state is not None and size(sim.state) < 2_000
    sim.complete("submit")
    sim.complete("review", {"approved": True})
    assert size(sim.state) < 2_000
    sim.complete("second", {"finance_approved": True})
    assert sim.completed and sim.variables["status"] == "approved"
    assert sim.visited == ["submit", "review", "second", "record"]
    assert sim.max_state_bytes < 2_000


@pytest.mark.parametrize(("name", "expected"), [
    ("seq_200", {"i": 200}), ("seq_200_none", {}), ("parallel_100", {"r99": 99}),
    ("inclusive_or_10", {"o0": True, "o4": True})])
def test_bench_models_within_scope_complete(name, expected):
    sim = Simulation(load_bench(name), NOW)
    sim.start({})
    assert sim.completed and sim.state is not None and sim.state.tokens == {}
    assert expected.items() <= sim.variables.items()
    if name == "inclusive_or_10":
        assert "o5" not in sim.variables and sim.visited.count("b0") == 1
