"""Standard loops (BPMN 2.0.2 §13.2.7): test before/after, loopMaximum, loopCounter, scope."""

from __future__ import annotations

import json

from bpmn.loader import load_model
from engine import runtime
from engine.runtime import effects as fx
from engine.runtime.simulate import Simulation
from tests.corpus import BENCH_MODELS
from tests.runtime.helpers import NOW, live_tokens, script, seq, simulate


def loop(condition: str | None, *, before: bool = False, maximum: int | None = None) -> str:
    attrs = f' testBefore="{str(before).lower()}"'
    if maximum is not None:
        attrs += f' loopMaximum="{maximum}"'
    cond = "" if condition is None else f"<loopCondition>{condition}</loopCondition>"
    return f"<standardLoopCharacteristics{attrs}>{cond}</standardLoopCharacteristics>"


def looped_script(text: str, lp: str, sid: str = "w") -> str:
    return (f'<scriptTask id="{sid}" scriptFormat="python">{lp}<script>{text}</script>'
            "</scriptTask>")


def test_test_after_runs_once_even_when_the_condition_is_false_at_first():
    sim = simulate('<startEvent id="s"/>' + looped_script("n = n + 1", loop("n &lt; 0"))
                   + '<endEvent id="e"/>' + seq("s", "w", "e"), {"n": 0})
    assert sim.completed and sim.variables == {"n": 1} and sim.visited == ["w"]


def test_test_before_skips_the_activity_when_the_condition_is_false_at_first():
    sim = simulate('<startEvent id="s"/>' + looped_script("n = n + 1", loop("n &lt; 0", before=True))
                   + '<task id="after"/>' + seq("s", "w", "after"), {"n": 0})
    assert sim.completed and sim.variables == {"n": 0} and sim.visited == ["after"]
    assert sim.audits(fx.AuditKind.LOOP_COMPLETED) == ["w"]


def test_loop_repeats_while_the_condition_holds():
    sim = simulate('<startEvent id="s"/>' + looped_script("n = n + 1", loop("n &lt; 5"))
                   + seq("s", "w"), {"n": 0})
    assert sim.completed and sim.variables == {"n": 5} and sim.visited == ["w"] * 5


def test_loop_maximum_caps_the_iterations():
    sim = simulate('<startEvent id="s"/>' + looped_script("n = n + 1", loop("True", maximum=3))
                   + seq("s", "w"), {"n": 0})
    assert sim.completed and sim.variables == {"n": 3} and sim.visited == ["w"] * 3


def test_loop_counter_is_a_local_counting_iterations_from_zero():
    sim = simulate('<startEvent id="s"/>' + looped_script(
        "seen = seen + [loopCounter]", loop("loopCounter &lt; 3", before=True))
        + seq("s", "w"), {"seen": []})
    assert sim.completed and sim.variables == {"seen": [0, 1, 2]}


def test_user_task_loop_creates_one_task_per_iteration_with_its_counter():
    sim = simulate('<startEvent id="s"/><userTask id="u">' + loop("${!done}")
                   + '</userTask><endEvent id="e"/>' + seq("s", "u", "e"), {"done": False})
    (task,) = sim.tasks.values()
    assert task.variables["loopCounter"] == 0
    sim.complete("u", {"done": False})
    (task,) = sim.tasks.values()
    assert task.variables["loopCounter"] == 1
    sim.complete("u", {"done": True})
    assert sim.completed and sim.visited == ["u", "u"]
    created = [e for e in sim.effects if isinstance(e, fx.CreateUserTask)]
    assert len(created) == 2 and created[0].task_id != created[1].task_id


def test_looped_subprocess_runs_its_inside_once_per_iteration():
    sub = ('<subProcess id="sub">' + loop("n &lt; 3") + '<startEvent id="ss"/>'
           + script("inc", "n = n + 1") + '<endEvent id="se"/>' + seq("ss", "inc", "se")
           + "</subProcess>")
    sim = simulate('<startEvent id="s"/>' + sub + '<endEvent id="e"/>' + seq("s", "sub", "e"),
                   {"n": 0})
    assert sim.completed and sim.variables == {"n": 3}
    assert sim.visited == ["inc", "sub"] * 3


def test_boundary_timer_on_a_loop_interrupts_the_whole_loop():
    body = ('<startEvent id="s"/><userTask id="u">' + loop("${true}") + "</userTask>"
            '<boundaryEvent id="late" attachedToRef="u"><timerEventDefinition>'
            "<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>"
            '<endEvent id="e"/>' + seq("s", "u") + seq("late", "e"))
    sim = simulate(body)
    sim.complete("u")
    sim.complete("u")
    assert sim.open_tasks == ["u"] and len([j for j in sim.jobs.values()
                                            if j.kind == "timer"]) == 1
    sim.fire_next_timer()
    assert sim.completed and sim.visited == ["u", "u"] and sim.cancelled == ["u"]
    assert sim.tasks == {}


def test_a_condition_that_fails_is_an_incident_and_the_token_stays():
    sim = simulate('<startEvent id="s"/>' + looped_script("n = 1", loop("missing &lt; 3"))
                   + seq("s", "w"))
    assert not sim.completed and sim.incidents and sim.incidents[0].element_id == "w"
    assert live_tokens(sim) == ["w"]


def test_a_loop_without_condition_is_refused_with_its_element():
    from tests.bpmn.fixtures import load

    result = load('<process id="p" isExecutable="true"><startEvent id="s"/>'
                  f'<task id="x">{loop(None, maximum=3)}</task>' + seq("s", "x") + "</process>")
    assert result.definitions is not None
    found = [d for d in runtime.unsupported(result.definitions, "p") if d.is_error]
    assert [d.element_id for d in found] == ["x"]


def test_loop_std_1000_bench_model_completes_with_counter_1000_in_small_state():
    result = load_model((BENCH_MODELS / "loop_std_1000.bpmn").read_bytes())
    assert result.definitions is not None
    compiled = runtime.compile_process(result.definitions, "loop_std_1000")
    sim = Simulation(compiled, NOW)
    sim.start({})
    assert sim.completed and sim.variables == {"counter": 1000}
    assert sim.visited.count("inc") == 1000
    assert sim.state is not None
    size = len(json.dumps(sim.state.to_json()))
    print(f"\nloop_std_1000: state {size} bytes, largest {sim.max_state_bytes}")
    assert size < 5_000 and sim.max_state_bytes < 5_000
