"""`manage.py bpmn_run`: process authors run their models through scenarios on a fake clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.corpus import BENCH_MODELS

HERE = Path(__file__).parent / "scenarios"
ORDER = HERE / "timer_escalation.bpmn"
APPROVAL = BENCH_MODELS / "approval_user_tasks.bpmn"


def run(tmp_path: Path, model: Path, scenario: str | None, *extra: str
        ) -> tuple[int, str, str]:
    args = [str(model), "--engine-only", *extra]
    if scenario is not None:
        path = tmp_path / "scenario.yaml"
        path.write_text(scenario, encoding="utf-8")
        args += ["--scenario", str(path)]
    out, err = (tmp_path / "out.txt").open("w+"), (tmp_path / "err.txt").open("w+")
    code = 0
    try:
        call_command("bpmn_run", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out.seek(0)
    err.seek(0)
    return code, out.read(), err.read()


APPROVED = """
steps:
  - complete: submit
    variables: {amount: 1500}
  - expect: {open_tasks: {review: 1}, completed: false}
  - complete: review
    variables: {approved: true}
  - complete: second
    variables: {finance_approved: true}
  - expect: {completed: true, variables: {status: approved}, visited: [submit, review, second, record]}
"""


def test_a_scenario_whose_expectations_hold_exits_zero(tmp_path):
    code, out, err = run(tmp_path, APPROVAL, APPROVED)
    assert code == 0, err
    assert "main (approval_user_tasks): completed" in out
    assert "visited:   submit review second record" in out


def test_json_prints_a_snapshot_per_step_and_the_final_state(tmp_path):
    code, out, _ = run(tmp_path, APPROVAL, APPROVED, "--json")
    document = json.loads(out)
    assert code == 0 and set(document) == {"steps", "final"}
    assert [s["step"] for s in document["steps"]] == [0, 1, 2, 3, 4, 5]
    first = document["steps"][0]["instances"]["main"]
    assert set(first) == {"process", "completed", "status", "variables", "open_tasks",
                          "visited", "cancelled", "service_calls", "incidents", "children"}
    assert first["open_tasks"] == [{"id": "submit", "assignee": None, "candidate_groups": [],
                                    "created": "2026-01-01T09:00:00+00:00", "due": None}]
    final = document["final"]["main"]
    assert final["completed"] is True and final["variables"]["status"] == "approved"


def test_a_failed_expectation_exits_one_and_says_what_differed(tmp_path):
    code, _, err = run(tmp_path, APPROVAL, """
steps:
  - complete: submit
    variables: {amount: 10}
  - expect: {open_tasks: {second: 1}}
""")
    assert code == 1
    assert "main: open_tasks is {'second': 0}, expected {'second': 1}" in err


def test_advance_fires_due_timers_in_order_each_at_its_instant(tmp_path):
    code, out, err = run(tmp_path, ORDER, """
steps:
  - advance: PT61M
  - expect: {service_calls: [notify, notify], open_tasks: {review: 1}}
  - advance: PT1H
  - expect: {completed: true, cancelled: [review], visited: [notify, notify]}
""", "--json")
    assert code == 0, err
    steps = json.loads(out)["steps"]
    assert steps[1]["instances"]["main"]["visited"] == ["notify", "notify"]


def test_scripted_service_error_takes_the_error_boundary(tmp_path):
    code, _, err = run(tmp_path, ORDER, """
services:
  charge:
    - error: CARD_DECLINED
steps:
  - complete: review
  - expect: {completed: true, service_calls: [charge], cancelled: [charge]}
""")
    assert code == 0, err


def test_messages_correlate_to_the_instance_with_that_business_key(tmp_path):
    code, _, err = run(tmp_path, ORDER, """
business_key: A-1
steps:
  - start: order
    label: other
    business_key: B-2
  - complete: review
  - complete: review
    instance: other
  - message: PaymentReceived
    correlation: {businessKey: B-2}
  - expect: {completed: true}
    instance: other
  - expect: {completed: false}
""")
    assert code == 0, err


def test_an_ambiguous_message_is_an_error_not_a_guess(tmp_path):
    with pytest.raises(CommandError, match="matches 2 waiting catchers"):
        run(tmp_path, ORDER, """
steps:
  - start: order
    label: other
  - complete: review
  - complete: review
    instance: other
  - message: PaymentReceived
""")


def test_scenario_mistakes_are_named_with_the_step(tmp_path):
    with pytest.raises(CommandError, match=r"step 2 \(complete\): unknown key\(s\) \['varibles'\]"):
        run(tmp_path, APPROVAL, """
steps:
  - complete: submit
  - complete: review
    varibles: {approved: true}
""")
    with pytest.raises(CommandError, match="step 1 \\(advance\\)"):
        run(tmp_path, APPROVAL, "steps:\n  - advance: soon\n")


def test_a_model_the_engine_cannot_run_is_refused_with_element_and_line(tmp_path):
    with pytest.raises(CommandError) as error:
        run(tmp_path, HERE / "unsupported_loop.bpmn", None)
    assert "unsupported_loop.bpmn:5: free: runtime.unsupported: a standard loop without a loopCondition" in str(
        error.value)


def test_without_a_scenario_tasks_are_completed_and_time_advances(tmp_path):
    code, out, _ = run(tmp_path, ORDER, None, "--json")
    final = json.loads(out)["final"]["main"]
    # Review is completed with no data, charge gets no scripted result, so it completes
    # with no variables; the instance then waits for the payment message.
    assert code == 0
    assert final["visited"] == ["review", "charge"] and final["status"] == "active"


def test_repeat_runs_fresh_instances(tmp_path):
    code, out, _ = run(tmp_path, APPROVAL, APPROVED, "--repeat", "3", "--json")
    assert code == 0 and json.loads(out)["final"]["main"]["completed"] is True


def test_every_executable_corpus_model_runs_or_is_refused_with_a_reason(capsys):
    from collections import Counter

    from bpmn.loader import load_model
    from engine import runtime
    from engine.scenario_run import run_engine_only
    from engine.scenarios import Scenario
    from tests.corpus import corpus_files

    outcomes: Counter[str] = Counter()
    for case in corpus_files():
        if not case.executable or not case.is_bpmn:
            continue
        loaded = load_model(case.path.read_bytes(), source=case.name)
        if not loaded.ok or loaded.definitions is None:
            assert loaded.errors, case.name
            outcomes["refused: invalid model"] += 1
            continue
        for process in loaded.definitions.executable_processes:
            problems = [d for d in runtime.runnable(loaded.definitions, process.id)[0]
                        if d.is_error]
            if problems:
                assert all(d.element_id and d.message for d in problems), case.name
                outcomes["refused: construct not run yet"] += 1
                continue
            run, _ = run_engine_only(loaded.definitions, Scenario(), process.id)
            snap = run.snapshot("main")
            if snap["completed"]:
                outcomes["completed"] += 1
            elif snap["incidents"]:
                outcomes["stopped at an incident"] += 1
            else:
                outcomes["waiting (message, signal or task)"] += 1
    with capsys.disabled():
        print(f"\nbpmn_run over the corpus: {dict(outcomes)}")
    assert outcomes["completed"] > 150


ORDER_SCENARIO = """
business_key: A-1
services:
  charge:
    - result: {charged: true}
steps:
  - advance: PT61M
  - expect: {service_calls: [notify, notify], open_tasks: {review: 1}}
  - complete: review
  - start: order
    label: other
    business_key: B-2
  - message: PaymentReceived
    correlation: {businessKey: A-1}
  - expect: {completed: true, visited: [notify, notify, review, charge, wait_payment]}
  - expect: {open_tasks: {review: 1}}
    instance: other
"""


def _without_times(steps):
    """Task creation instants differ (the database stamps rows); everything else must not."""
    def strip(snap):
        for task in snap["open_tasks"]:
            task.pop("created")
        for child in snap["children"]:
            strip(child)

    for step in steps:
        for snap in step["instances"].values():
            strip(snap)
    return steps


CLAIM_SCENARIO = """
steps:
  - message: ChangeRequested
  - expect: {open_tasks: {assess: 1, review_change: 1}}
  - complete: review_change
  - complete: assess
  - expect: {completed: true, visited: [review_change, on_change, assess, pay]}
"""

CLAIM_CANCELLED = """
steps:
  - message: CancelRequested
  - expect: {completed: true, cancelled: [assess], visited: [note_cancel, on_cancel], variables: {cancelled: true}}
"""


CALL_APPROVED = """
variables: {amount: 10}
business_key: B-1
services:
  check: [{result: {checked: true}}]
steps:
  - expect: {open_tasks: {follow_up: 1}}
  - complete: decide
    variables: {decision: "yes"}
  - expect: {open_tasks: [follow_up], variables: {amount: 10, decision: "yes"}, visited: [call_child]}
  - complete: follow_up
  - expect: {completed: true}
"""

CALL_REJECTED = """
variables: {amount: 10}
services:
  check: [{result: {checked: true}}]
steps:
  - complete: decide
    variables: {decision: "no"}
  - expect: {open_tasks: [follow_up, handle_rejection], variables: {code: REJECTED}, cancelled: [call_child]}
  - complete: handle_rejection
  - complete: follow_up
  - expect: {completed: true}
"""


def test_children_of_call_activities_appear_in_the_callers_snapshot(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text("process: parent\n" + CALL_APPROVED, encoding="utf-8")
    code, out, err = run(tmp_path, HERE / "call_activity.bpmn", None, "--json",
                         "--scenario", str(path))
    assert code == 0, err
    steps = json.loads(out)["steps"]
    (child,) = steps[0]["instances"]["main"]["children"]
    assert child["process"] == "child" and child["variables"] == {"amount": 10,
                                                                   "checked": True}
    assert [t["id"] for t in child["open_tasks"]] == ["decide"]
    (done,) = steps[-1]["instances"]["main"]["children"]
    assert done["completed"] is True and done["visited"] == ["check", "decide"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("model", "process", "text"), [
    (ORDER, "order", ORDER_SCENARIO),
    (HERE / "async_and_event_subprocess.bpmn", "claim", CLAIM_SCENARIO),
    (HERE / "async_and_event_subprocess.bpmn", "claim", CLAIM_CANCELLED),
    (HERE / "call_activity.bpmn", "parent", CALL_APPROVED),
    (HERE / "call_activity.bpmn", "parent", CALL_REJECTED),
], ids=["timers-messages-services", "async-and-event-subprocess", "interrupting-event-subprocess",
        "call-activity", "call-activity-error"])
def test_the_database_path_and_the_engine_only_path_agree_step_by_step(model, process, text):
    from bpmn.loader import load_model
    from engine.scenario_db import DatabaseRun
    from engine.scenario_run import run_engine_only, run_scenario
    from engine.scenarios import parse_scenario

    scenario = parse_scenario(text)
    data = model.read_bytes()
    definitions = load_model(data).definitions
    memory_run, memory_steps = run_engine_only(definitions, scenario, process)
    database_run = DatabaseRun(scenario, model.name, data)
    database_steps = run_scenario(database_run, process)

    assert memory_run.failures == [] and database_run.failures == []
    assert _without_times(database_steps) == _without_times(memory_steps)


def test_by_default_the_model_is_deployed_into_a_throwaway_database(tmp_path):
    import subprocess
    import sys

    from tests.corpus import REPO

    scenario = tmp_path / "order.yaml"
    scenario.write_text(ORDER_SCENARIO, encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    proc = subprocess.run(
        [sys.executable, "manage.py", "bpmn_run", str(ORDER), "--scenario", str(scenario),
         "--json"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
        check=False)
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout)["final"]
    assert final["main"]["completed"] is True and final["other"]["status"] == "active"
    # Nothing is left in the configured database: the run used a throw-away one.
    assert not (tmp_path / "kept.sqlite3").exists()
