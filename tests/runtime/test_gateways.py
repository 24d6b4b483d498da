"""Exclusive, parallel, inclusive split and event-based gateways."""

from __future__ import annotations

from datetime import timedelta

from tests.runtime.helpers import flow, live_tokens, script, seq, simulate

XOR = ('<startEvent id="s"/><exclusiveGateway id="g" default="g-c"/><task id="a"/>'
       '<task id="b"/><task id="c"/><endEvent id="e"/>' + seq("s", "g")
       + flow("g", "a", "${x > 10}") + flow("g", "b", "${x > 5}") + flow("g", "c")
       + seq("a", "e") + seq("b", "e") + seq("c", "e"))


def test_exclusive_takes_the_first_true_flow_in_document_order():
    assert simulate(XOR, {"x": 20}).visited == ["a"]
    assert simulate(XOR, {"x": 7}).visited == ["b"]


def test_exclusive_takes_the_default_only_when_no_condition_holds():
    assert simulate(XOR, {"x": 1}).visited == ["c"]


def test_exclusive_without_true_condition_or_default_is_an_incident():
    sim = simulate('<startEvent id="s"/><exclusiveGateway id="g"/><task id="a"/>'
                   + seq("s", "g") + flow("g", "a", "=x > 1"), {"x": 0})
    assert live_tokens(sim) == ["g"] and sim.incidents[0].element_id == "g"


def test_exclusive_condition_that_fails_to_evaluate_is_an_incident():
    sim = simulate(XOR, {})
    assert sim.incidents and sim.incidents[0].element_id == "g" and not sim.completed


def test_exclusive_loop_runs_exactly_n_times():
    body = ('<startEvent id="s"/>' + script("init", "n = 0") +
            '<exclusiveGateway id="m"/>' + script("inc", "n = n + 1") +
            '<exclusiveGateway id="c" default="back"/><endEvent id="e"/>'
            + seq("s", "init", "m", "inc", "c") + flow("c", "e", "n >= 25")
            + flow("c", "m", fid="back"))
    sim = simulate(body)
    assert sim.completed and sim.variables["n"] == 25 and sim.visited.count("inc") == 25


def test_parallel_fork_and_join_waits_for_every_branch():
    sim = simulate('<startEvent id="s"/><parallelGateway id="f"/><userTask id="a"/>'
                   '<userTask id="b"/><parallelGateway id="j"/><task id="after"/>'
                   '<endEvent id="e"/>' + seq("s", "f", "a", "j", "after", "e")
                   + seq("f", "b", "j"))
    assert sim.open_tasks == ["a", "b"]
    sim.complete("b")
    assert live_tokens(sim) == ["a", "j"] and "after" not in sim.visited
    sim.complete("a")
    assert sim.completed and sim.visited == ["b", "a", "after"]


def test_parallel_join_counts_per_incoming_flow_so_extra_tokens_wait_for_the_next_firing():
    # Two tokens arrive on flow m-j before a's one: the join fires once, with one of them
    # and a's token; the other stays waiting at the join for a partner on a-j.
    body = ('<startEvent id="s"/><parallelGateway id="f"/><userTask id="a"/>'
            '<parallelGateway id="p2"/><exclusiveGateway id="m"/><parallelGateway id="j"/>'
            '<task id="after"/><endEvent id="e"/>'
            + seq("s", "f", "a", "j", "after", "e") + seq("f", "p2")
            + flow("p2", "m", fid="one") + flow("p2", "m", fid="two") + seq("m", "j"))
    sim = simulate(body)
    assert live_tokens(sim) == ["a", "j", "j"]
    sim.complete("a")
    assert sim.visited == ["a", "after"] and live_tokens(sim) == ["j"]
    assert not sim.completed


def test_inclusive_split_takes_all_true_flows_or_default():
    body = ('<startEvent id="s"/><inclusiveGateway id="g" default="g-d"/><task id="a"/>'
            '<task id="b"/><task id="d"/><inclusiveGateway id="j"/><endEvent id="e"/>'
            + seq("s", "g") + flow("g", "a", "${x > 1}") + flow("g", "b", "${x > 2}")
            + flow("g", "d") + seq("a", "j") + seq("b", "j") + seq("d", "j") + seq("j", "e"))
    assert simulate(body, {"x": 5}).visited == ["a", "b"]
    assert simulate(body, {"x": 2}).visited == ["a"]
    assert simulate(body, {"x": 0}).visited == ["d"]


def test_inclusive_split_without_true_or_default_is_an_incident():
    sim = simulate('<startEvent id="s"/><inclusiveGateway id="g"/><task id="a"/>'
                   + seq("s", "g") + flow("g", "a", "${x > 1}"), {"x": 0})
    assert sim.incidents and live_tokens(sim) == ["g"]


EVENT_GATEWAY = (
    '<startEvent id="s"/><eventBasedGateway id="g"/>'
    '<intermediateCatchEvent id="msg"><messageEventDefinition messageRef="m"/>'
    '</intermediateCatchEvent>'
    '<intermediateCatchEvent id="tmr"><timerEventDefinition><timeDuration>PT1H</timeDuration>'
    '</timerEventDefinition></intermediateCatchEvent>'
    '<receiveTask id="rcv" messageRef="m2"/>'
    '<task id="a"/><task id="b"/><task id="c"/><endEvent id="e"/>'
    + seq("s", "g") + seq("g", "msg", "a", "e") + seq("g", "tmr", "b", "e")
    + seq("g", "rcv", "c", "e"))
MESSAGES = '<message id="m" name="Paid"/><message id="m2" name="Cancelled"/>'


def test_event_based_gateway_message_wins_and_withdraws_the_timer():
    sim = simulate(EVENT_GATEWAY, extra=MESSAGES)
    assert sorted(s.name for s in sim.subscriptions.values()) == ["Cancelled", "Paid"]
    assert len(sim.jobs) == 1
    sim.message("Paid", {"paid": True})
    assert sim.completed and sim.visited == ["a"] and sim.variables["paid"] is True
    assert sim.jobs == {} and sim.subscriptions == {}


def test_event_based_gateway_timer_wins():
    sim = simulate(EVENT_GATEWAY, extra=MESSAGES)
    sim.advance(timedelta(hours=2))
    assert sim.completed and sim.visited == ["b"] and sim.subscriptions == {}


def test_event_based_gateway_receive_task_wins():
    sim = simulate(EVENT_GATEWAY, extra=MESSAGES)
    sim.message("Cancelled")
    assert sim.completed and sim.visited == ["rcv", "c"] and sim.jobs == {}
