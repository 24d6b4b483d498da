"""Complex gateways (activationCondition, reset phase) and conditional events."""

from __future__ import annotations

from tests.runtime.helpers import flow, live_tokens, seq, simulate


def cond(expr: str) -> str:
    return f"<activationCondition>{expr}</activationCondition>"


def three_way(activation: str, after: str = '<userTask id="after"/>') -> str:
    return ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="a"/><userTask id="b"/>'
            '<userTask id="c"/>' + f'<complexGateway id="j">{activation}</complexGateway>'
            + after + '<endEvent id="e"/>' + seq("s", "f") + seq("f", "a", "j")
            + seq("f", "b", "j") + seq("f", "c", "j") + seq("j", "after", "e"))


def test_complex_join_fires_when_two_of_three_have_arrived_and_absorbs_the_third():
    sim = simulate(three_way(cond("${nrOfArrivedTokens >= 2}")))
    sim.complete("a")
    assert sim.open_tasks == ["b", "c"]
    sim.complete("b")
    assert sim.open_tasks == ["c", "after"]
    sim.complete("c")  # the third of the wave: absorbed, nothing more leaves the gateway
    assert sim.open_tasks == ["after"] and live_tokens(sim) == ["after"]
    sim.complete("after")
    assert sim.completed and sim.visited.count("after") == 1


def test_complex_join_condition_can_read_process_variables():
    sim = simulate(three_way(cond("${nrOfArrivedTokens >= quorum}")), {"quorum": 1})
    sim.complete("a")
    assert sim.open_tasks == ["b", "c", "after"]
    sim.complete("after")
    assert not sim.completed  # b and c still belong to the wave
    sim.complete("b")
    sim.complete("c")
    assert sim.completed and sim.visited.count("after") == 1


def test_process_completes_when_the_absorbing_wave_ends_after_everything_else():
    sim = simulate(three_way(cond("${nrOfArrivedTokens >= 2}"), '<task id="after"/>'))
    sim.complete("a")
    sim.complete("b")
    assert not sim.completed and live_tokens(sim) == ["c", "j"]
    sim.complete("c")
    assert sim.completed


def test_complex_without_activation_condition_joins_like_an_inclusive_gateway():
    sim = simulate(three_way(""))
    for task in ("a", "b"):
        sim.complete(task)
        assert "after" not in sim.open_tasks
    sim.complete("c")
    assert sim.open_tasks == ["after"]


def test_complex_split_takes_every_true_flow_or_the_default():
    body = ('<startEvent id="s"/><complexGateway id="g" default="d"/><task id="x"/>'
            '<task id="y"/><task id="z"/>' + seq("s", "g") + flow("g", "x", "${n > 1}")
            + flow("g", "y", "${n > 2}") + flow("g", "z", fid="d"))
    sim = simulate(body, {"n": 5})
    assert sim.completed and sorted(sim.visited) == ["x", "y"]
    sim = simulate(body, {"n": 0})
    assert sim.completed and sim.visited == ["z"]


def test_complex_join_condition_failure_is_an_incident():
    sim = simulate(three_way(cond("${missing >= 2}")))
    sim.complete("a")
    assert len(sim.incidents) == 1


# ---------------------------------------------------------------------- conditional events

def conditional(expr: str) -> str:
    return (f"<conditionalEventDefinition><condition>{expr}</condition>"
            "</conditionalEventDefinition>")


def test_conditional_catch_waits_until_a_variable_change_makes_it_true():
    sim = simulate('<startEvent id="s"/><parallelGateway id="f"/>'
                   f'<intermediateCatchEvent id="wait">{conditional("${ready}")}'
                   '</intermediateCatchEvent><task id="go"/><userTask id="u"/>'
                   + seq("s", "f", "wait", "go") + seq("f", "u"), {"ready": False})
    assert live_tokens(sim) == ["u", "wait"] and sim.subscriptions == {}
    sim.complete("u", {"other": 1})
    assert "go" not in sim.visited and live_tokens(sim) == ["wait"]
    assert not sim.completed


def test_conditional_catch_already_true_on_arrival_passes_at_once():
    sim = simulate('<startEvent id="s"/>'
                   f'<intermediateCatchEvent id="wait">{conditional("${n > 1}")}'
                   '</intermediateCatchEvent><task id="go"/>' + seq("s", "wait", "go"), {"n": 2})
    assert sim.completed and sim.visited == ["go"]


def test_conditional_catch_fires_when_another_branch_sets_the_variable():
    sim = simulate('<startEvent id="s"/><parallelGateway id="f"/>'
                   f'<intermediateCatchEvent id="wait">{conditional("${ready}")}'
                   '</intermediateCatchEvent><task id="go"/><userTask id="u"/>'
                   + seq("s", "f", "wait", "go") + seq("f", "u"), {"ready": False})
    sim.complete("u", {"ready": True})
    assert sim.completed and sim.visited == ["u", "go"]


def test_interrupting_conditional_boundary_cancels_the_task_when_it_turns_true():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="work"/>'
            '<userTask id="other"/><task id="escalated"/>'
            + seq("s", "f", "work") + seq("f", "other")
            + f'<boundaryEvent id="b" attachedToRef="work">{conditional("${urgent}")}'
            '</boundaryEvent>' + seq("b", "escalated"))
    sim = simulate(body, {"urgent": False})
    assert sim.open_tasks == ["work", "other"]
    sim.complete("other", {"urgent": True})
    assert sim.completed and sim.cancelled == ["work"] and sim.visited == ["other",
                                                                          "escalated"]


def test_non_interrupting_conditional_boundary_fires_on_each_false_to_true_change():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="work"/>'
            '<userTask id="t1"/><userTask id="t2"/><userTask id="t3"/><task id="note"/>'
            + seq("s", "f", "work") + seq("f", "t1", "t2", "t3")
            + '<boundaryEvent id="b" attachedToRef="work" cancelActivity="false">'
            + conditional("${n > 0}") + "</boundaryEvent>" + seq("b", "note"))
    sim = simulate(body, {"n": 0})
    sim.complete("t1", {"n": 1})
    sim.complete("t2", {"n": 2})  # still true: no new firing
    assert sim.visited.count("note") == 1
    sim.complete("t3", {"n": 0})
    assert sim.visited.count("note") == 1 and sim.open_tasks == ["work"]
    assert sim.state is not None
    (wait,) = [w for w in sim.state.waits.values() if w.kind == "condition"]
    assert not wait.holds


def test_non_interrupting_conditional_boundary_fires_again_after_being_false():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="work"/>'
            '<userTask id="t1"/><userTask id="t2"/><userTask id="t3"/><task id="note"/>'
            + seq("s", "f", "work") + seq("f", "t1", "t2", "t3")
            + '<boundaryEvent id="b" attachedToRef="work" cancelActivity="false">'
            + conditional("${n > 0}") + "</boundaryEvent>" + seq("b", "note"))
    sim = simulate(body, {"n": 0})
    sim.complete("t1", {"n": 1})
    sim.complete("t2", {"n": 0})
    sim.complete("t3", {"n": 5})
    assert sim.visited.count("note") == 2 and sim.cancelled == []
    sim.complete("work")
    assert sim.completed and sim.state is not None and sim.state.waits == {}


def test_conditional_event_subprocess_interrupts_when_its_condition_turns_true():
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="a"/><userTask id="b"/>'
            + seq("s", "f", "a") + seq("f", "b")
            + '<subProcess id="stop" triggeredByEvent="true"><startEvent id="es">'
            + conditional("${cancel}") + '</startEvent><task id="cleanup"/>'
            + seq("es", "cleanup") + "</subProcess>")
    sim = simulate(body, {"cancel": False})
    assert sim.open_tasks == ["a", "b"]
    sim.complete("a", {"cancel": True})
    assert sim.completed and sim.cancelled == ["b"] and sim.visited == ["a", "cleanup", "stop"]


def test_non_interrupting_conditional_event_subprocess_runs_alongside():
    body = ('<startEvent id="s"/><userTask id="a"/><userTask id="b"/><endEvent id="e"/>'
            + seq("s", "a", "b", "e")
            + '<subProcess id="note" triggeredByEvent="true"><startEvent id="es" '
            'isInterrupting="false">' + conditional("${flag}") + '</startEvent>'
            '<task id="noted"/>' + seq("es", "noted") + "</subProcess>")
    sim = simulate(body, {"flag": False})
    sim.complete("a", {"flag": True})
    assert sim.visited == ["a", "noted", "note"] and sim.open_tasks == ["b"]
    sim.complete("b")
    assert sim.completed


def test_conditional_catch_that_cannot_be_evaluated_on_arrival_is_an_incident():
    sim = simulate('<startEvent id="s"/>'
                   f'<intermediateCatchEvent id="wait">{conditional("${missing > 1}")}'
                   '</intermediateCatchEvent>' + seq("s", "wait"))
    assert len(sim.incidents) == 1 and live_tokens(sim) == ["wait"]


def test_variables_set_from_outside_start_a_conditional_event_subprocess():
    from engine.runtime import AuditKind, VariablesSet

    body = ('<startEvent id="s"/><userTask id="work"/><endEvent id="e"/>'
            + seq("s", "work", "e")
            + '<subProcess id="esp" triggeredByEvent="true">'
            f'<startEvent id="es" isInterrupting="false">{conditional("${level > 2}")}'
            '</startEvent><task id="alarm"/><endEvent id="ee"/>'
            + seq("es", "alarm", "ee") + "</subProcess>")
    sim = simulate(body, {"level": 1})
    sim.send(VariablesSet({"level": 2}))
    assert "alarm" not in sim.visited and sim.variables["level"] == 2
    step = sim.send(VariablesSet({"level": 3}, by="api"))
    assert sim.visited == ["alarm", "esp"] and sim.open_tasks == ["work"]  # not interrupting
    sets = [e for e in step.effects if getattr(e, "kind", None) == AuditKind.VARIABLE_SET]
    assert [(e.data["name"], e.data["value"], e.data["by"]) for e in sets] == [
        ("level", 3, "api")]
