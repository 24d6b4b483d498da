"""The embedded default: the server `make run` starts fires timers with no Redis and no worker.

`manage.py runserver` (the command `make run` ends with, autoreloader included) runs as a
subprocess on a temporary SQLite file, with REDIS_URL unset. No Celery worker exists; the
runner thread inside the server process must fire the timer within 2 s of its due time.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.engine.test_jobs_handlers import REPO, Procs

# Ports this test may use (the first free one is taken: another run may hold one).
PORTS = [int(p) for p in os.environ.get("FLOWDESK_TEST_EMBEDDED_PORTS",
                                        "8105,8106,8107,8108,8109").split(",")]


def _free_port() -> int:
    import socket

    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"none of the ports {PORTS} is free (FLOWDESK_TEST_EMBEDDED_PORTS)")
FIXTURE = Path(__file__).parent / "fixtures" / "jobs_timer_boundary.bpmn"

START_SCRIPT = f"""
from pathlib import Path
from engine.services.deployments import deployment_create
from engine.services.instances import process_instance_start
data = Path({str(FIXTURE)!r}).read_bytes()
deployment_create(files=[("jobs_timer_boundary.bpmn", data)], actor=None)
instance, _ = process_instance_start(key="jobs_timer_boundary", variables={{"wait": "PT2S"}})
print("INSTANCE", instance.pk)
"""


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "JOB_RUNNER", "FLOWDESK_EMBEDDED_RUNNER") and not k.startswith("PYTEST")}
    env.update({"DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "config.settings",
                "PYTHONPATH": str(REPO)})
    return env


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    try:
        yield started
    finally:
        started.stop()


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_dev_server_fires_a_timer_with_no_redis_and_no_worker(procs, tmp_path):
    db = tmp_path / "embedded.sqlite3"
    env = _env(db)
    _manage(env, "migrate", "--noinput", "-v", "0")
    port = _free_port()
    server = procs.start("server", [sys.executable, "manage.py", "runserver",
                                    f"127.0.0.1:{port}"], env)
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise AssertionError("the server exited:\n" + procs.log("server"))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError("the server did not come up:\n" + procs.log("server")) from None
            time.sleep(0.2)
    out = _manage(env, "shell", "-c", START_SCRIPT)
    instance_id = int(out.split("INSTANCE")[1].split()[0])

    def fired() -> tuple[str, str] | None:
        with sqlite3.connect(db, timeout=5) as con:
            row = con.execute(
                "SELECT a.at, t.status FROM engine_auditevent a JOIN engine_usertask t"
                " ON t.instance_id = a.instance_id AND t.element_id = 'Escalated'"
                " WHERE a.instance_id = ? AND a.element_id = 'Late' AND a.kind = 'event caught'",
                (instance_id,)).fetchone()
        return row

    with sqlite3.connect(db, timeout=5) as con:
        (due_text,) = con.execute("SELECT due_at FROM engine_job WHERE instance_id = ?",
                                  (instance_id,)).fetchone()
    deadline = time.monotonic() + 15
    row = fired()
    while row is None and time.monotonic() < deadline:
        time.sleep(0.1)
        row = fired()
    assert row is not None, "the timer did not fire:\n" + procs.log("server")
    at_text, status = row
    assert status == "open"
    delay = datetime.fromisoformat(at_text) - datetime.fromisoformat(due_text)
    assert 0 <= delay.total_seconds() < 2, delay
