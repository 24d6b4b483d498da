"""Multi-instance activities (BPMN 2.0.2 §13.2.7, Camunda 7 / Zeebe / SpiffWorkflow forms)."""

from __future__ import annotations

from engine.runtime import effects as fx
from engine.runtime.triggers import TaskCompleted
from tests.runtime.helpers import script, seq, simulate


def mi(inner: str = "", *, sequential: bool = False, attrs: str = "") -> str:
    return (f'<multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}"'
            f"{attrs}>{inner}</multiInstanceLoopCharacteristics>")


def card(n: str) -> str:
    return f"<loopCardinality>{n}</loopCardinality>"


def user(loop: str, uid: str = "u") -> str:
    return f'<userTask id="{uid}">{loop}</userTask>'


def around(activity: str, aid: str = "u") -> str:
    return ('<startEvent id="s"/>' + activity + '<task id="after"/><endEvent id="e"/>'
            + seq("s", aid, "after", "e"))


def created(sim) -> list[fx.CreateUserTask]:
    return [e for e in sim.effects if isinstance(e, fx.CreateUserTask)]


def test_parallel_cardinality_creates_every_user_task_at_once():
    sim = simulate(around(user(mi(card("3")))))
    tasks = created(sim)
    assert len(tasks) == 3 and len({t.task_id for t in tasks}) == 3
    assert [t.variables["loopCounter"] for t in tasks] == [0, 1, 2]
    assert tasks[0].variables["nrOfInstances"] == 3
    assert tasks[0].variables["nrOfActiveInstances"] == 3
    for _ in range(3):
        sim.complete("u")
    assert sim.completed and sim.visited == ["u", "u", "u", "after"]


def test_sequential_starts_the_next_instance_when_the_previous_completes():
    sim = simulate(around(user(mi(card("3"), sequential=True))))
    assert sim.open_tasks == ["u"]
    sim.complete("u")
    assert sim.open_tasks == ["u"] and created(sim)[-1].variables["loopCounter"] == 1
    assert created(sim)[-1].variables["nrOfCompletedInstances"] == 1
    assert created(sim)[-1].variables["nrOfActiveInstances"] == 1
    sim.complete("u")
    sim.complete("u")
    assert sim.completed and sim.visited == ["u", "u", "u", "after"]


def test_cardinality_from_an_expression():
    sim = simulate(around(user(mi(card("${n + 1}")))), {"n": 1})
    assert len(sim.tasks) == 2


def test_camunda_collection_gives_each_instance_its_element():
    loop = mi(attrs=' camunda:collection="${items}" camunda:elementVariable="item"')
    sim = simulate(around(user(loop)), {"items": ["a", "b"]})
    assert [t.variables["item"] for t in created(sim)] == ["a", "b"]
    assert sim.state is not None and "item" not in sim.variables


def test_zeebe_input_and_output_collection_in_loop_counter_order():
    loop = mi('<extensionElements><zeebe:loopCharacteristics inputCollection="=items" '
              'inputElement="item" outputCollection="results" outputElement="=item * 10"/>'
              "</extensionElements>")
    sim = simulate(around(user(loop)), {"items": [1, 2, 3]})
    ids = [t.task_id for t in created(sim)]
    for task_id in reversed(ids):  # completion order does not matter
        sim.send(TaskCompleted(task_id, {}))
    assert sim.completed and sim.variables["results"] == [10, 20, 30]


def test_output_element_name_is_local_to_each_instance():
    loop = mi('<extensionElements><zeebe:loopCharacteristics inputCollection="=items" '
              'inputElement="item" outputCollection="results" outputElement="=answer"/>'
              "</extensionElements>", sequential=True)
    sim = simulate(around(user(loop)), {"items": ["x", "y"]})
    sim.complete("u", {"answer": "first"})
    sim.complete("u", {"answer": "second"})
    assert sim.completed and sim.variables["results"] == ["first", "second"]
    assert "answer" not in sim.variables


def test_spiffworkflow_data_refs_feed_script_instances():
    loop = mi("<loopDataInputRef>items</loopDataInputRef>"
              "<loopDataOutputRef>doubled</loopDataOutputRef>"
              '<inputDataItem id="item" name="item"/><outputDataItem id="out" name="out"/>',
              sequential=True)
    body = ('<startEvent id="s"/><scriptTask id="w" scriptFormat="python">' + loop
            + "<script>out = item * 2</script></scriptTask>" + seq("s", "w"))
    sim = simulate(body, {"items": [1, 2, 3]})
    assert sim.completed and sim.variables == {"items": [1, 2, 3], "doubled": [2, 4, 6]}
    assert sim.visited == ["w", "w", "w"]


def test_completion_condition_cancels_the_remaining_instances():
    loop = mi(card("3") + "<completionCondition>${nrOfCompletedInstances >= 2}"
              "</completionCondition>")
    sim = simulate(around(user(loop)))
    assert len(sim.tasks) == 3
    sim.complete("u")
    sim.complete("u")
    assert sim.completed and sim.tasks == {}
    assert sim.visited == ["u", "u", "after"] and sim.cancelled == ["u"]
    cancels = [e for e in sim.effects if isinstance(e, fx.CancelUserTask)]
    assert len(cancels) == 1


def test_empty_collection_completes_the_activity_at_once():
    loop = mi(attrs=' camunda:collection="${items}" camunda:elementVariable="item"')
    sim = simulate(around(user(loop)), {"items": []})
    assert sim.completed and sim.visited == ["after"] and created(sim) == []


def test_cardinality_zero_completes_at_once():
    sim = simulate(around(user(mi(card("0"), sequential=True))))
    assert sim.completed and sim.visited == ["after"]


def test_interrupting_boundary_cancels_every_inner_instance():
    body = ('<startEvent id="s"/>' + user(mi(card("3")))
            + '<boundaryEvent id="stop" attachedToRef="u"><messageEventDefinition '
            'messageRef="M"/></boundaryEvent><endEvent id="e"/><endEvent id="e2"/>'
            + seq("s", "u", "e") + seq("stop", "e2"))
    sim = simulate(body, extra='<message id="M" name="stop"/>')
    sim.complete("u")
    assert len(sim.subscriptions) == 1  # one boundary subscription for the whole body
    sim.message("stop")
    assert sim.completed and sim.tasks == {}
    assert sim.visited == ["u"] and sim.cancelled == ["u", "u"]
    assert fx.AuditKind.LOOP_CANCELLED in {e.kind for e in sim.effects
                                          if isinstance(e, fx.Audit)}


def test_error_from_an_inner_service_task_is_caught_on_the_body():
    body = ('<startEvent id="s"/><serviceTask id="job">' + mi(card("2"))
            + '</serviceTask><boundaryEvent id="err" attachedToRef="job">'
            "<errorEventDefinition/></boundaryEvent>"
            '<endEvent id="e"/><task id="handled"/>' + seq("s", "job", "e")
            + seq("err", "handled"))
    sim = simulate(body, services={"job": [{"error": "BAD"}]})
    assert len(sim.jobs) == 2
    sim.run()
    # The instance that threw and the other one are both cancelled, as a task that throws.
    assert sim.completed and sim.visited == ["handled"] and sim.cancelled == ["job", "job"]
    assert sim.jobs == {}


def test_parallel_service_tasks_get_a_job_each():
    body = '<startEvent id="s"/><serviceTask id="job">' + mi(card("4")) + "</serviceTask>" \
        + seq("s", "job")
    sim = simulate(body)
    assert len({j.job_id for j in sim.jobs.values()}) == 4
    assert sorted(j.payload["variables"]["loopCounter"] for j in sim.jobs.values()) == \
        [0, 1, 2, 3]
    sim.run()
    assert sim.completed and sim.visited == ["job"] * 4


def test_multi_instance_subprocess_counts_each_instance_after_its_inside():
    sub = ('<subProcess id="sub">' + mi(attrs=' camunda:collection="items" '
                                          'camunda:elementVariable="item"')
           + '<startEvent id="ss"/>' + script("w", "total = total + item")
           + '<endEvent id="se"/>' + seq("ss", "w", "se") + "</subProcess>")
    sim = simulate(around(sub, "sub"), {"items": [1, 2], "total": 0})
    assert sim.completed and sim.variables["total"] == 3
    assert sim.visited == ["w", "w", "sub", "sub", "after"]
    assert sim.state is not None and len(sim.state.scopes) == 1


def test_a_cardinality_that_is_not_a_number_is_an_incident():
    sim = simulate(around(user(mi(card("${n}")))), {"n": "many"})
    assert sim.incidents and sim.incidents[0].element_id == "u" and not sim.tasks


def test_sequential_over_ten_thousand_items_keeps_the_state_small():
    loop = mi(attrs=' camunda:collection="${items}" camunda:elementVariable="item"',
              sequential=True)
    body = ('<startEvent id="s"/><userTask id="u">' + loop + "</userTask>" + seq("s", "u"))
    sim = simulate(body, {"items": list(range(10_000))})
    start_size = sim.max_state_bytes
    for _ in range(200):
        sim.complete("u")
    assert sim.max_state_bytes < start_size + 200
    assert created(sim)[-1].variables["item"] == 200

    scripted = ('<startEvent id="s"/><scriptTask id="w" scriptFormat="python">' + loop
                + "<script>n = n + item</script></scriptTask>" + seq("s", "w"))
    run = simulate(scripted, {"items": list(range(10_000)), "n": 0})
    assert run.completed and run.variables["n"] == sum(range(10_000))
    assert run.visited.count("w") == 10_000
