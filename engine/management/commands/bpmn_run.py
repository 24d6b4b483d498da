"""`manage.py bpmn_run MODEL.bpmn`: run a model through a scenario on a simulated clock."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bpmn.loader import load_model
from bpmn.model import Definitions
from engine import runtime
from engine.scenario_db import DatabaseRun
from engine.scenario_run import ScenarioRun, run_engine_only, run_scenario
from engine.scenarios import Scenario, ScenarioError, parse_scenario


@contextmanager
def throwaway_database() -> Iterator[None]:
    """A fresh, migrated database for this run only, dropped afterwards: SQLite in memory,
    or a database of its own next to the configured PostgreSQL one."""
    original_name = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite":
        connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}),
                                            "NAME": f"flowdesk_bpmn_run_{os.getpid()}"}
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)


class Command(BaseCommand):
    help = ("Run a BPMN model through a YAML scenario (complete tasks, let time pass, send "
            "messages and signals, check expectations). Exit 0 when every expect held.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="the .bpmn file")
        parser.add_argument("--scenario", help="a YAML scenario (see docs/bpmn_run.md); "
                            "without one, user tasks are completed with no data and time "
                            "advances to each next timer until the instance ends or is stuck")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.add_argument("--repeat", type=int, default=1,
                            help="run the scenario N times on fresh instances")
        parser.add_argument("--engine-only", action="store_true",
                            help="run the pure runtime with no database, the state going "
                                 "through JSON after every trigger (default: deploy into a "
                                 "throw-away database and use the engine services)")

    def handle(self, *args: Any, **options: Any) -> None:
        model = Path(options["model"])
        try:
            data = model.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {model}: {exc.strerror or exc}") from None
        scenario = Scenario()
        if options["scenario"]:
            try:
                scenario = parse_scenario(Path(options["scenario"]).read_text("utf-8"))
            except OSError as exc:
                raise CommandError(f"cannot read {options['scenario']}: "
                                   f"{exc.strerror or exc}") from None
            except ScenarioError as exc:
                raise CommandError(f"{options['scenario']}: {exc}") from None
        definitions, process_id = self._load(model, data, scenario)
        result: dict[str, Any] = {}
        failures: list[str] = []
        with nullcontext() if options["engine_only"] else throwaway_database():
            for _ in range(max(1, options["repeat"])):
                run: ScenarioRun
                try:
                    if options["engine_only"]:
                        run, steps = run_engine_only(definitions, scenario, process_id)
                    else:
                        run = DatabaseRun(scenario, model.name, data)
                        steps = run_scenario(run, process_id)
                except ScenarioError as exc:
                    raise CommandError(str(exc)) from None
                result = {"steps": steps, "final": run.snapshots()}
                failures = run.failures
        self._print(result, failures, as_json=options["json"])
        if failures:
            sys.exit(1)

    def _load(self, model: Path, data: bytes, scenario: Scenario) -> tuple[Definitions, str]:
        loaded = load_model(data, source=str(model))
        if not loaded.ok or loaded.definitions is None:
            raise CommandError(self._refusal(model, loaded.errors))
        definitions = loaded.definitions
        executable = [p.id for p in definitions.executable_processes]
        if scenario.process is not None:
            process_id = scenario.process
            if process_id not in executable:
                raise CommandError(f"{model}: no executable process {process_id!r}; it has "
                                   f"{executable}")
        elif len(executable) == 1:
            process_id = executable[0]
        else:
            raise CommandError(f"{model}: {len(executable)} executable processes "
                               f"{executable}; name one with 'process:' in a scenario")
        # Refused exactly as a deployment would refuse it: every executable process counts.
        problems = [d for p in executable for d in runtime.runnable(definitions, p)[0]
                    if d.is_error]
        if problems:
            raise CommandError(self._refusal(model, problems))
        return definitions, process_id

    @staticmethod
    def _refusal(model: Path, diagnostics: Any) -> str:
        lines = [d.format(str(model)) for d in diagnostics]
        return "refused at deploy:\n  " + "\n  ".join(lines)

    def _print(self, result: dict[str, Any], failures: list[str], *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        else:
            for label, snap in result["final"].items():
                tasks = ", ".join(t["id"] for t in snap["open_tasks"]) or "-"
                self.stdout.write(f"{label} ({snap['process']}): {snap['status']}")
                self.stdout.write(f"  visited:   {' '.join(snap['visited']) or '-'}")
                if snap["cancelled"]:
                    self.stdout.write(f"  cancelled: {' '.join(snap['cancelled'])}")
                self.stdout.write(f"  open tasks: {tasks}")
                if snap["incidents"]:
                    for incident in snap["incidents"]:
                        self.stdout.write(f"  incident at {incident['element_id']}: "
                                          f"{incident['message']}")
                self.stdout.write(f"  variables: {json.dumps(snap['variables'], default=str)}")
        for failure in failures:
            self.stderr.write(f"expectation failed: {failure}")
