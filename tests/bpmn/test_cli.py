"""`python -m bpmn check`: the text and JSON output other tools rely on, and the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bpmn.fixtures import write_model
from tests.corpus import REPO


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpmn", "check", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=False)


GOOD = """
<process id="Order" isExecutable="true">
  <startEvent id="Start"/>
  <sequenceFlow id="f1" sourceRef="Start" targetRef="Review"/>
  <userTask id="Review"/>
  <sequenceFlow id="f2" sourceRef="Review" targetRef="End"/>
  <endEvent id="End"/>
</process>"""

BROKEN = """
<process id="Order" isExecutable="true">
  <startEvent id="Start"/>
  <sequenceFlow id="f1" sourceRef="Start" targetRef="Nowhere"/>
</process>"""


def test_a_good_file_prints_ok_and_exits_zero(tmp_path: Path):
    path = write_model(tmp_path / "good.bpmn", GOOD)
    proc = run_check(str(path))
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"{path}: OK"


def test_a_broken_file_prints_file_line_element_code_message_and_exits_one(tmp_path: Path):
    path = write_model(tmp_path / "broken.bpmn", BROKEN)
    proc = run_check(str(path))
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if "flow.target-missing" in x)
    # file:line: element_id: code: message
    assert line.startswith(f"{path}:4: f1: flow.target-missing: ")
    assert "Nowhere" in line


def test_json_prints_one_object_per_file_with_processes_and_element_counts(tmp_path: Path):
    good = write_model(tmp_path / "good.bpmn", GOOD)
    bad = tmp_path / "not-xml.bpmn"
    bad.write_bytes(b"\x00\xffgarbage")
    proc = run_check("--json", str(good), str(bad))
    assert proc.returncode == 1
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first == {"file": str(good), "ok": True, "processes": ["Order"],
                     "elements": first["elements"], "diagnostics": []}
    assert first["elements"]["userTask"] == 1
    assert first["elements"]["startEvent"] == 1
    assert second["ok"] is False and second["processes"] == [] and second["elements"] == {}
    assert second["diagnostics"][0]["code"] == "xml.syntax"
    assert second["diagnostics"][0]["line"] == 1


def test_a_missing_file_is_a_diagnostic_not_a_traceback(tmp_path: Path):
    proc = run_check(str(tmp_path / "nope.bpmn"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "file.unreadable" in proc.stdout


def test_a_file_over_the_size_limit_is_refused_without_reading_it(tmp_path: Path):
    path = write_model(tmp_path / "good.bpmn", GOOD)
    proc = run_check("--max-bytes", "100", str(path))
    assert proc.returncode == 1
    assert "xml.too-large" in proc.stdout
