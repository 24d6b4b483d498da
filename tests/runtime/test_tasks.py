"""Tasks: user tasks, scripts, service/send/business rule jobs, receive tasks."""

from __future__ import annotations

from datetime import timedelta

from engine.runtime.effects import CreateUserTask, ScheduleJob
from tests.runtime.helpers import NOW, live_tokens, script, seq, simulate


def test_user_task_assignment_due_and_priority_are_resolved():
    sim = simulate('<startEvent id="s"/><userTask id="u" name="Review" '
                   'camunda:assignee="${boss}" camunda:candidateGroups="sales, ${team}" '
                   'camunda:dueDate="P2D" camunda:followUpDate="${follow}" '
                   'camunda:priority="${prio}" camunda:formKey="embedded:app:review"/>'
                   + seq("s", "u"), {"boss": "ann", "team": "ops", "prio": 70,
                                     "follow": "2025-03-10T00:00:00Z"})
    (task,) = [e for e in sim.effects if isinstance(e, CreateUserTask)]
    assert (task.name, task.assignee, task.candidate_groups) == ("Review", "ann",
                                                                   ("sales", "ops"))
    assert task.due == NOW + timedelta(days=2) and task.priority == 70
    assert task.follow_up is not None and task.follow_up.day == 10
    assert task.form is not None and task.form.key == "embedded:app:review"


def test_user_task_completion_sets_root_variables_and_continues():
    sim = simulate('<startEvent id="s"/><userTask id="u"/><endEvent id="e"/>'
                   + seq("s", "u", "e"))
    sim.complete("u", {"approved": True}, actor="bob")
    assert sim.completed and sim.variables == {"approved": True}


def test_script_task_runs_assignments_over_scope_variables():
    sim = simulate('<startEvent id="s"/>' + script("a", "y = x * 2\nz = y + 1")
                   + seq("s", "a"), {"x": 4})
    assert sim.variables == {"x": 4, "y": 8, "z": 9}


def test_script_result_variable_takes_the_value_of_a_one_line_script():
    sim = simulate('<startEvent id="s"/><scriptTask id="a" scriptFormat="javascript" '
                   'camunda:resultVariable="sum"><script>x = a + b</script></scriptTask>'
                   + seq("s", "a"), {"a": 1, "b": 2})
    assert sim.completed and sim.variables["sum"] == 3 and sim.variables["x"] == 3


def test_a_groovy_script_that_is_one_expression_stores_its_value_in_the_result_variable():
    sim = simulate('<startEvent id="s"/><scriptTask id="a" scriptFormat="groovy" '
                   'camunda:resultVariable="sum"><script>a + b</script></scriptTask>'
                   + seq("s", "a"), {"a": 1, "b": 2})
    assert sim.completed and sim.variables["sum"] == 3


def test_script_error_is_an_incident_and_the_token_stays():
    sim = simulate('<startEvent id="s"/>' + script("a", "y = missing + 1")
                   + '<task id="b"/>' + seq("s", "a", "b"))
    assert not sim.completed and live_tokens(sim) == ["a"]
    assert sim.incidents[0].element_id == "a" and "script failed" in sim.incidents[0].message


def test_service_task_schedules_a_job_and_continues_with_its_result():
    sim = simulate('<startEvent id="s"/><serviceTask id="svc" camunda:type="external" '
                   'camunda:topic="charge"/><endEvent id="e"/>' + seq("s", "svc", "e"),
                   {"amount": 3})
    (job,) = [e for e in sim.effects if isinstance(e, ScheduleJob)]
    assert job.kind == "service" and job.payload["topic"] == "charge"
    assert job.payload["variables"] == {"amount": 3}
    sim.services["svc"] = [{"result": {"charged": True}}]
    sim.run()
    assert sim.completed and sim.variables["charged"] is True


def test_send_and_business_rule_tasks_are_jobs_of_their_kind():
    sim = simulate('<startEvent id="s"/><sendTask id="snd" messageRef="m"/>'
                   '<businessRuleTask id="br" camunda:decisionRef="d"/>'
                   + seq("s", "snd", "br"), extra='<message id="m" name="Note"/>')
    assert [j.kind for j in sim.jobs.values()] == ["send"]
    sim.run()
    assert sim.completed and sim.service_calls == ["snd", "br"]


def test_job_final_failure_without_code_is_an_incident_and_the_job_stays():
    sim = simulate('<startEvent id="s"/><serviceTask id="svc"/><task id="b"/>'
                   + seq("s", "svc", "b"), services={"svc": [{"fail": "timeout"}]})
    sim.run()
    assert not sim.completed and sim.incidents[0].message == "timeout"
    assert live_tokens(sim) == ["svc"] and len(sim.jobs) == 1


def test_receive_task_waits_for_its_message():
    sim = simulate('<startEvent id="s"/><receiveTask id="r" messageRef="m"/><task id="a"/>'
                   + seq("s", "r", "a"), extra='<message id="m" name="Reply"/>')
    assert [s.name for s in sim.subscriptions.values()] == ["Reply"]
    sim.message("Reply", {"answer": 42})
    assert sim.completed and sim.visited == ["r", "a"] and sim.variables == {"answer": 42}
