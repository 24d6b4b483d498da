"""The inclusive join waits exactly for the tokens that can still arrive (BPMN 2.0.2 §13.4.3)."""

from __future__ import annotations

from tests.runtime.helpers import flow, live_tokens, script, seq, simulate

# split -> a, b, c (conditional) -> join -> after
DIAMOND = ('<startEvent id="s"/><inclusiveGateway id="split"/>'
           '<userTask id="a"/><userTask id="b"/><userTask id="c"/>'
           '<inclusiveGateway id="join"/><task id="after"/><endEvent id="e"/>'
           + seq("s", "split") + flow("split", "a", "${va}") + flow("split", "b", "${vb}")
           + flow("split", "c", "${vc}") + seq("a", "join") + seq("b", "join")
           + seq("c", "join") + seq("join", "after", "e"))


def test_join_waits_only_for_branches_that_were_taken():
    sim = simulate(DIAMOND, {"va": True, "vb": True, "vc": False})
    assert sim.open_tasks == ["a", "b"]
    sim.complete("a")
    assert "after" not in sim.visited and live_tokens(sim) == ["b", "join"]
    sim.complete("b")
    assert sim.completed and sim.visited == ["a", "b", "after"]
    assert sim.visited.count("after") == 1


def test_join_fires_at_once_when_a_single_branch_was_taken():
    sim = simulate(DIAMOND, {"va": False, "vb": False, "vc": True})
    sim.complete("c")
    assert sim.completed and sim.visited == ["c", "after"]


def test_join_waits_for_a_token_still_upstream_of_an_empty_flow():
    # One branch goes through a second user task before reaching the join.
    body = ('<startEvent id="s"/><parallelGateway id="fork"/><userTask id="a"/>'
            '<userTask id="b1"/><userTask id="b2"/><inclusiveGateway id="join"/>'
            '<task id="after"/><endEvent id="e"/>'
            + seq("s", "fork", "a", "join") + seq("fork", "b1", "b2", "join")
            + seq("join", "after", "e"))
    sim = simulate(body)
    sim.complete("a")
    sim.complete("b1")
    assert "after" not in sim.visited
    sim.complete("b2")
    assert sim.completed and sim.visited.count("after") == 1


def test_join_fires_when_the_other_token_takes_a_path_away_from_it():
    # Branch b may leave through an exclusive gateway to its own end: once it does, the
    # waiting join must fire (re-checked after the step, not only on arrival).
    body = ('<startEvent id="s"/><parallelGateway id="fork"/><task id="a"/>'
            '<userTask id="b"/><exclusiveGateway id="x" default="x-join"/>'
            '<endEvent id="away"/><inclusiveGateway id="join"/><task id="after"/>'
            '<endEvent id="e"/>' + seq("s", "fork", "a", "join") + seq("fork", "b", "x")
            + flow("x", "away", "${leave}") + flow("x", "join") + seq("join", "after", "e"))
    sim = simulate(body, {"leave": True})
    assert live_tokens(sim) == ["b", "join"]
    sim.complete("b")
    assert sim.completed and sim.visited == ["a", "b", "after"]


def test_join_is_blocked_by_a_token_inside_a_subprocess_upstream():
    body = ('<startEvent id="s"/><parallelGateway id="fork"/><task id="a"/>'
            '<subProcess id="sub"><startEvent id="ss"/><userTask id="inner"/>'
            '<endEvent id="se"/>' + seq("ss", "inner", "se") + '</subProcess>'
            '<inclusiveGateway id="join"/><task id="after"/><endEvent id="e"/>'
            + seq("s", "fork", "a", "join") + seq("fork", "sub", "join")
            + seq("join", "after", "e"))
    sim = simulate(body)
    assert live_tokens(sim) == ["inner", "join", "sub"]
    sim.complete("inner")
    assert sim.completed and sim.visited == ["a", "inner", "sub", "after"]


def test_join_is_blocked_by_a_boundary_path_of_a_waiting_activity():
    # b's timer boundary leads to the join, so while b waits the join must wait too.
    body = ('<startEvent id="s"/><parallelGateway id="fork"/><task id="a"/>'
            '<userTask id="b"/><boundaryEvent id="tb" attachedToRef="b">'
            '<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>'
            '</boundaryEvent><endEvent id="be"/><inclusiveGateway id="join"/>'
            '<task id="after"/><endEvent id="e"/>' + seq("s", "fork", "a", "join")
            + seq("fork", "b", "be") + seq("tb", "join") + seq("join", "after", "e"))
    sim = simulate(body)
    assert live_tokens(sim) == ["b", "join"]
    sim.fire_next_timer()
    assert sim.completed and sim.cancelled == ["b"] and sim.visited == ["a", "after"]


def test_join_in_a_loop_fires_once_per_pass():
    body = ('<startEvent id="s"/>' + script("init", "n = 0") +
            '<exclusiveGateway id="m"/><inclusiveGateway id="split"/>'
            + script("a", "n = n + 1") + '<userTask id="b"/><task id="c"/>'
            '<inclusiveGateway id="join"/><exclusiveGateway id="again" default="again-e"/>'
            '<endEvent id="e"/>' + seq("s", "init", "m", "split")
            + flow("split", "a", "${true}") + flow("split", "b", "${n == 0}")
            + flow("split", "c", "${false}") + seq("a", "join") + seq("b", "join")
            + seq("c", "join") + seq("join", "again") + flow("again", "m", "${n < 3}")
            + flow("again", "e"))
    sim = simulate(body)
    # Pass 1 takes a and b; the join waits for b.
    assert sim.open_tasks == ["b"] and sim.variables["n"] == 1
    sim.complete("b")
    # Passes 2 and 3 take only a: the join fires at once each time.
    assert sim.completed and sim.variables["n"] == 3
    assert sim.visited.count("a") == 3 and sim.visited.count("b") == 1


def test_inclusive_bench_model_shape_takes_five_branches_and_joins_once():
    branches = "".join(f'<task id="b{i}"/>' for i in range(10))
    flows = "".join(flow("split", f"b{i}", f"v > {i}") + seq(f"b{i}", "join")
                    for i in range(10))
    body = ('<startEvent id="s"/><inclusiveGateway id="split"/>' + branches +
            '<inclusiveGateway id="join"/><task id="after"/><endEvent id="e"/>'
            + seq("s", "split") + flows + seq("join", "after", "e"))
    sim = simulate(body, {"v": 5})
    assert sim.completed and sorted(sim.visited[:-1]) == [f"b{i}" for i in range(5)]
    assert sim.visited[-1] == "after" and sim.visited.count("after") == 1
