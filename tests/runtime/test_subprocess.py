"""Embedded subprocesses: scope instances, variable scoping, io mappings, completion."""

from __future__ import annotations

from tests.runtime.helpers import flow, live_tokens, script, seq, simulate


def sub(body: str, sid: str = "sub", ext: str = "") -> str:
    return f'<subProcess id="{sid}">{ext}{body}</subProcess>'


def test_subprocess_completes_when_no_token_is_left_inside():
    sim = simulate('<startEvent id="s"/>' + sub(
        '<startEvent id="ss"/><parallelGateway id="f"/><userTask id="a"/><userTask id="b"/>'
        '<endEvent id="e1"/><endEvent id="e2"/>' + seq("ss", "f", "a", "e1") + seq("f", "b", "e2"))
        + '<task id="after"/><endEvent id="e"/>' + seq("s", "sub", "after", "e"))
    sim.complete("a")
    assert "sub" not in sim.visited
    sim.complete("b")
    assert sim.completed and sim.visited == ["a", "b", "sub", "after"]
    assert sim.state is not None and len(sim.state.scopes) == 1


def test_script_in_subprocess_sets_new_names_on_the_root_and_known_locals_in_place():
    inputs = ('<extensionElements><camunda:inputOutput>'
              '<camunda:inputParameter name="local">${1}</camunda:inputParameter>'
              '</camunda:inputOutput></extensionElements>')
    sim = simulate('<startEvent id="s"/>' + sub(
        '<startEvent id="ss"/>' + script("w", "local = local + 1\nfresh = local\nx = x + 1")
        + '<userTask id="look"/>' + seq("ss", "w", "look"), ext=inputs)
        + seq("s", "sub"), {"x": 1})
    assert sim.state is not None
    scopes = {s.element: s.variables for s in sim.state.scopes.values()}
    assert scopes["sub"] == {"local": 2}
    assert scopes["p"] == {"x": 2, "fresh": 2}
    sim.complete("look")
    assert sim.variables == {"x": 2, "fresh": 2}


def test_output_mapping_copies_inner_values_to_the_parent_scope():
    io = ('<extensionElements><camunda:inputOutput>'
          '<camunda:inputParameter name="n">${10}</camunda:inputParameter>'
          '<camunda:outputParameter name="result">${n * 2}</camunda:outputParameter>'
          '</camunda:inputOutput></extensionElements>')
    sim = simulate('<startEvent id="s"/>' + sub('<startEvent id="ss"/><task id="t"/>'
                                               + seq("ss", "t"), ext=io)
                   + seq("s", "sub"))
    assert sim.completed and sim.variables == {"result": 20}


def test_zeebe_io_mapping_on_a_task_creates_locals_and_outputs():
    io = ('<extensionElements><zeebe:ioMapping><zeebe:input source="=a + 1" target="b"/>'
          '<zeebe:output source="=b * 10" target="c"/></zeebe:ioMapping></extensionElements>')
    sim = simulate(f'<startEvent id="s"/><userTask id="u">{io}</userTask><endEvent id="e"/>'
                   + seq("s", "u", "e"), {"a": 1})
    (task,) = sim.tasks.values()
    assert task.variables == {"a": 1, "b": 2}
    sim.complete("u")
    assert sim.completed and sim.variables == {"a": 1, "c": 20}


def test_task_completion_variables_go_to_the_root_unless_a_nearer_scope_has_the_name():
    io = ('<extensionElements><camunda:inputOutput>'
          '<camunda:inputParameter name="mine">${0}</camunda:inputParameter>'
          '</camunda:inputOutput></extensionElements>')
    sim = simulate('<startEvent id="s"/>' + sub('<startEvent id="ss"/><userTask id="u"/>'
                                               '<userTask id="v"/>' + seq("ss", "u", "v"),
                                               ext=io) + seq("s", "sub"))
    sim.complete("u", {"mine": 5, "other": 6})
    assert sim.state is not None
    scopes = {s.element: s.variables for s in sim.state.scopes.values()}
    assert scopes == {"p": {"other": 6}, "sub": {"mine": 5}}


def test_nested_subprocesses_complete_inside_out():
    inner = sub('<startEvent id="s3"/><userTask id="deep"/>' + seq("s3", "deep"), sid="inner")
    sim = simulate('<startEvent id="s"/>' + sub('<startEvent id="s2"/>' + inner
                                               + seq("s2", "inner"), sid="outer")
                   + '<task id="after"/>' + seq("s", "outer", "after"))
    assert live_tokens(sim) == ["deep", "inner", "outer"]
    sim.complete("deep")
    assert sim.completed and sim.visited == ["deep", "inner", "outer", "after"]


def test_terminate_inside_a_subprocess_ends_only_the_subprocess():
    sim = simulate('<startEvent id="s"/>' + sub(
        '<startEvent id="ss"/><parallelGateway id="f"/><userTask id="wait"/>'
        '<endEvent id="t"><terminateEventDefinition/></endEvent>'
        + seq("ss", "f", "wait") + seq("f", "t")) + '<task id="after"/>'
        + seq("s", "sub", "after"))
    assert sim.completed and sim.cancelled == ["wait"] and sim.visited == ["sub", "after"]


def test_subprocess_without_start_event_starts_its_unconnected_nodes():
    sim = simulate('<startEvent id="s"/>' + sub('<task id="a"/><task id="b"/>')
                   + seq("s", "sub"))
    assert sim.completed and sim.visited == ["a", "b", "sub"]


def test_conditional_flow_inside_subprocess_reads_outer_variables():
    sim = simulate('<startEvent id="s"/>' + sub(
        '<startEvent id="ss"/><exclusiveGateway id="g" default="g-n"/><task id="y"/>'
        '<task id="n"/>' + seq("ss", "g") + flow("g", "y", "${go}") + flow("g", "n"))
        + seq("s", "sub"), {"go": True})
    assert sim.visited == ["y", "sub"]
