"""What runs around a task: asyncBefore/asyncAfter jobs (the token waits for an async job,
then goes on; failures are incidents) and SpiffWorkflow preScript/postScript."""

from __future__ import annotations

from engine import runtime
from engine.runtime import effects as fx
from engine.runtime import triggers as tr
from engine.runtime.simulate import Simulation
from tests.bpmn.fixtures import SPIFF, load
from tests.runtime.helpers import NOW, live_tokens, seq, simulate


def async_jobs(sim) -> list[tuple[str, object]]:
    return [(j.element_id, j.payload.get("async")) for j in sim.jobs.values() if j.kind == "async"]


def test_async_before_stops_the_token_in_front_of_the_task():
    sim = simulate('<startEvent id="s"/><userTask id="u" camunda:asyncBefore="true"/>'
                   '<endEvent id="e"/>' + seq("s", "u", "e"))
    assert async_jobs(sim) == [("u", "before")] and sim.tasks == {}
    (job,) = sim.jobs.values()
    assert job.due is None
    sim.send(tr.JobDone(job.job_id))
    assert sim.open_tasks == ["u"] and sim.jobs == {}
    sim.complete("u")
    assert sim.completed and sim.visited == ["u"]


def test_async_after_runs_the_task_then_waits_before_leaving():
    sim = simulate('<startEvent id="s"/>'
                   + '<scriptTask id="calc" scriptFormat="python" camunda:asyncAfter="true">'
                   '<script>x = 1</script></scriptTask><exclusiveGateway id="g"/>'
                   '<task id="one"/><task id="other"/><endEvent id="e"/><endEvent id="e2"/>'
                   + seq("s", "calc", "g") + seq("one", "e") + seq("other", "e2")
                   + '<sequenceFlow id="f1" sourceRef="g" targetRef="one"><conditionExpression>'
                   "${x == 1}</conditionExpression></sequenceFlow>"
                   '<sequenceFlow id="f2" sourceRef="g" targetRef="other"><conditionExpression>'
                   "${x != 1}</conditionExpression></sequenceFlow>")
    assert sim.visited == ["calc"] and sim.variables == {"x": 1}
    assert async_jobs(sim) == [("calc", "after")] and live_tokens(sim) == ["calc"]
    sim.run()
    assert sim.completed and sim.visited == ["calc", "one"]


def test_async_before_on_the_start_event_and_a_service_task_keep_the_service_scripts():
    sim = simulate('<startEvent id="s" camunda:asyncBefore="true"/>'
                   '<serviceTask id="charge" camunda:asyncBefore="true" camunda:asyncAfter="true"/>'
                   '<endEvent id="e"/>' + seq("s", "charge", "e"),
                   services={"charge": [{"result": {"paid": True}}]})
    assert async_jobs(sim) == [("s", "before")]
    sim.run()
    assert sim.completed and sim.variables == {"paid": True}
    assert sim.service_calls == ["charge"]
    kinds = [e.kind for e in sim.effects if isinstance(e, fx.ScheduleJob)]
    assert kinds == ["async", "async", "service", "async"]


def test_failed_async_job_is_an_incident_and_a_retry_goes_on():
    sim = simulate('<startEvent id="s"/><task id="t" camunda:asyncBefore="true"/>'
                   '<endEvent id="e"/>' + seq("s", "t", "e"))
    (job,) = sim.jobs.values()
    sim.send(tr.JobFailed(job.job_id, None, "database gone"))
    assert len(sim.incidents) == 1 and live_tokens(sim) == ["t"] and not sim.completed
    sim.send(tr.JobDone(job.job_id))
    assert sim.completed and sim.visited == ["t"]


def test_a_bpmn_error_code_on_an_async_job_is_still_an_incident():
    sim = simulate('<startEvent id="s"/><task id="t" camunda:asyncBefore="true"/>'
                   + seq("s", "t"))
    (job,) = sim.jobs.values()
    sim.send(tr.JobFailed(job.job_id, "E", "handler error"))
    assert len(sim.incidents) == 1 and live_tokens(sim) == ["t"]


def test_parallel_branches_each_get_their_own_async_job_and_join():
    sim = simulate('<startEvent id="s"/><parallelGateway id="f"/>'
                   '<task id="a" camunda:asyncBefore="true"/><task id="b" camunda:asyncAfter="true"/>'
                   '<parallelGateway id="j"/><endEvent id="e"/>'
                   + seq("s", "f", "a", "j", "e") + seq("f", "b", "j"))
    assert sorted(async_jobs(sim)) == [("a", "before"), ("b", "after")]
    sim.run()
    assert sim.completed and sorted(sim.visited) == ["a", "b"]


def test_async_before_on_a_multi_instance_activity_is_one_job_for_the_body():
    sim = simulate('<startEvent id="s"/><task id="t" camunda:asyncBefore="true">'
                   '<multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality>'
                   '</multiInstanceLoopCharacteristics></task><endEvent id="e"/>'
                   + seq("s", "t", "e"))
    assert async_jobs(sim) == [("t", "before")]
    sim.run()
    assert sim.completed and sim.visited == ["t", "t", "t"]


def test_cancelling_while_parked_cancels_the_async_job():
    sim = simulate('<startEvent id="s"/><task id="t" camunda:asyncBefore="true"/>'
                   + seq("s", "t"))
    sim.send(tr.Cancel("admin"))
    assert sim.jobs == {} and any(isinstance(e, fx.CancelJob) for e in sim.effects)


def test_async_state_survives_json():
    sim = simulate('<startEvent id="s"/><task id="t" camunda:asyncAfter="true"/>'
                   '<endEvent id="e"/>' + seq("s", "t", "e"))
    assert sim.state is not None
    (wait,) = sim.state.waits.values()
    assert wait.flows == ["t-e"]
    sim.run()
    assert sim.completed


def spiff(body: str, variables: dict[str, object] | None = None) -> Simulation:
    result = load(f'<process id="p" isExecutable="true">{body}</process>', SPIFF)
    assert result.ok and result.definitions is not None
    sim = Simulation(runtime.compile_process(result.definitions, "p"), NOW)
    sim.start(variables)
    return sim


def scripts(pre: str | None, post: str | None) -> str:
    out = "<extensionElements>"
    if pre:
        out += f"<spiffworkflow:preScript>{pre}</spiffworkflow:preScript>"
    if post:
        out += f"<spiffworkflow:postScript>{post}</spiffworkflow:postScript>"
    return out + "</extensionElements>"


def test_pre_script_runs_before_the_user_task_is_created_and_post_script_after_completion():
    sim = spiff('<startEvent id="s"/><userTask id="u">'
                + scripts("a = n + 1", "b = answer * 2") + '</userTask><endEvent id="e"/>'
                + seq("s", "u", "e"), {"n": 1})
    (task,) = sim.tasks.values()
    assert task.variables == {"n": 1, "a": 2}
    sim.complete("u", {"answer": 21})
    assert sim.completed and sim.variables == {"n": 1, "a": 2, "answer": 21, "b": 42}


def test_pre_and_post_scripts_wrap_a_script_task_in_order():
    sim = spiff('<startEvent id="s"/><scriptTask id="t">' + scripts("x = 1", "x = x * 10")
                + "<script>x = x + 1</script></scriptTask>" + seq("s", "t"))
    assert sim.completed and sim.variables == {"x": 20}


def test_failing_pre_script_is_an_incident_and_the_task_is_not_created():
    sim = spiff('<startEvent id="s"/><userTask id="u">' + scripts("a = missing + 1", None)
                + "</userTask>" + seq("s", "u"))
    assert len(sim.incidents) == 1 and sim.tasks == {} and live_tokens(sim) == ["u"]


def test_post_script_on_a_subprocess_sees_its_inner_variables():
    sim = spiff('<startEvent id="s"/><subProcess id="sub">' + scripts(None, "total = x")
                + '<startEvent id="ss"/><scriptTask id="w"><script>x = 5</script></scriptTask>'
                + seq("ss", "w") + "</subProcess>" + seq("s", "sub"))
    assert sim.completed and sim.variables == {"x": 5, "total": 5}


def test_inclusive_join_waits_for_a_token_parked_before_it():
    sim = simulate('<startEvent id="s"/><parallelGateway id="f"/><task id="a"/>'
                   '<userTask id="b"/><inclusiveGateway id="j" camunda:asyncBefore="true"/>'
                   '<userTask id="after"/>' + seq("s", "f", "a", "j", "after")
                   + seq("f", "b", "j"))
    assert async_jobs(sim) == [("j", "before")]
    sim.complete("b")  # b's token parks in front of the join too
    first, second = sorted(j.job_id for j in sim.jobs.values() if j.kind == "async")
    sim.send(tr.JobDone(first))
    assert sim.open_tasks == []  # the parked b token is still coming: no early firing
    sim.send(tr.JobDone(second))
    assert sim.open_tasks == ["after"]
    sim.complete("after")
    assert sim.completed and sim.visited.count("after") == 1
