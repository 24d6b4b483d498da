"""Support for the job tests: service task handlers, and the worker processes they start.

No tests here: worker processes import this module through SERVICE_TASK_MODULES, so it
registers its handlers on import. In-process tests steer `BEHAVIOUR`; handlers meant for
other processes are steered by files named in the instance's variables.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.service_tasks import BpmnError, ServiceCall, service_task

# name -> what the in-process handler does next: "ok" | "fail" | "bpmn:<code>"
BEHAVIOUR: dict[str, str] = {}
CALLS: list[tuple[str, ServiceCall]] = []


def _behave(name: str, call: ServiceCall) -> Mapping[str, object]:
    CALLS.append((name, call))
    what = BEHAVIOUR.get(name, "ok")
    if what == "fail":
        raise RuntimeError(f"{name} is down")
    if what.startswith("bpmn:"):
        raise BpmnError(what[5:], f"{name} says no")
    return {f"{name}_done": True, f"{name}_key": call.idempotency_key}


@service_task("jobsTestDelegate")
def by_delegate(call: ServiceCall) -> Mapping[str, object]:
    return _behave("delegate", call)


@service_task("JobsTestClass")
def by_class(call: ServiceCall) -> Mapping[str, object]:
    return _behave("class", call)


@service_task("jobsTestBean")
def by_expression(call: ServiceCall) -> Mapping[str, object]:
    return _behave("expression", call)


@service_task("jobs-test-zeebe")
def by_zeebe(call: ServiceCall) -> Mapping[str, object]:
    return _behave("zeebe", call)


@service_task("jobs_test_by_id")
def by_id(call: ServiceCall) -> Mapping[str, object]:
    return _behave("by_id", call)


@service_task("jobsCharge")
def charge(call: ServiceCall) -> Mapping[str, object]:
    return _behave("charge", call)


@service_task("jobsFlaky")
def flaky(call: ServiceCall) -> Mapping[str, object]:
    return _behave("flaky", call)


@service_task("jobs-flaky-zeebe")
def flaky_zeebe(call: ServiceCall) -> Mapping[str, object]:
    return _behave("flaky_zeebe", call)


@service_task("jobsNoop")
def noop(call: ServiceCall) -> None:
    return None


def _log(call: ServiceCall, event: str) -> None:
    path = call.variables.get("log")
    if isinstance(path, str):
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, "key": call.idempotency_key,
                                  "pid": os.getpid(), "at": time.time(),
                                  "attempt": call.attempt}) + "\n")


@service_task("jobsSlowOnce")
def slow_once(call: ServiceCall) -> Mapping[str, object]:
    """Sleeps the first time it sees its key (the crash test kills it then); later, not."""
    marker = Path(str(call.variables["log"]) + ".seen")
    first = not marker.exists()
    marker.touch()
    _log(call, "start")
    if first:
        time.sleep(float(str(call.variables.get("sleep", 30))))
    _log(call, "end")
    return {"slow_done": True}


@service_task("jobsFailUntilFixed")
def fail_until_fixed(call: ServiceCall) -> Mapping[str, object]:
    _log(call, "attempt")
    if not Path(str(call.variables["fixed"])).exists():
        raise RuntimeError("the downstream system is down")
    return {"fixed_done": True}


# --- Worker processes for the multi-process tests ----------------------------------------

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("FLOWDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


# One queue per test run: two runs on one Redis (two checkouts, or CI next to a
# developer) never take each other's tasks.
QUEUE = f"flowdesk-test-{os.getpid()}-{int(time.time())}"


def drop_test_queue() -> None:
    """Remove this run's queue (and kombu's bindings for it) from Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.delete(QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}")


def worker_env(database_name: str, **extra: str) -> dict[str, str]:
    """Environment of a spawned worker: the pytest test database and our Redis db."""
    from django.db import connection

    s = connection.settings_dict
    user, host, port = s.get("USER") or "postgres", s.get("HOST") or "127.0.0.1", s.get(
        "PORT") or "5432"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({
        "DATABASE_URL": f"postgres://{user}@{host}:{port}/{database_name}",
        "REDIS_URL": REDIS_URL,
        "JOB_RUNNER": "celery",
        "SERVICE_TASK_MODULES": "tests.engine.test_jobs_handlers",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(REPO),
        "LOG_LEVEL": "INFO",
        "CELERY_QUEUE": QUEUE,
        **extra,
    })
    return env


class Procs:
    """Processes a test started; `stop()` kills every one of them (also on failure)."""

    def __init__(self, logdir: Path) -> None:
        import subprocess

        self._subprocess = subprocess
        self.logdir = logdir
        self.procs: dict[str, Any] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Any:
        out = (self.logdir / f"{name}.log").open("wb")
        proc = self._subprocess.Popen(argv, cwd=REPO, env=env, stdout=out,
                                      stderr=self._subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def celery_worker(self, name: str, env: dict[str, str]) -> Any:
        celery = str(Path(sys.executable).with_name("celery"))
        return self.start(name, [celery, "-A", "config", "worker", "--pool=solo",
                                 "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                                 "--loglevel=INFO"], env)

    def celery_beat(self, env: dict[str, str]) -> Any:
        celery = str(Path(sys.executable).with_name("celery"))
        return self.start("beat", [celery, "-A", "config", "beat", "--loglevel=INFO",
                                   "-s", str(self.logdir / "beat-schedule")], env)

    def log(self, name: str) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, name: str, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(name):
                return
            proc = self.procs[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            time.sleep(0.1)
        raise AssertionError(f"{name} did not log {text!r} in {timeout}s:\n{self.log(name)}")

    def kill(self, name: str) -> None:
        import signal

        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        import signal

        for proc in list(self.procs.values()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except self._subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            self.procs.pop(name, None)

    def tails(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.logdir.glob("*.log")))


def wait_until(predicate: Any, timeout: float, what: str, procs: Procs | None = None,
               interval: float = 0.05) -> float:
    """Poll `predicate` until true; returns the seconds it took. Fails with the logs."""
    from django.db import connection

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        connection.close()  # a fresh snapshot each round
        time.sleep(interval)
    logs = procs.tails() if procs is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


@contextmanager
def kicks_through(broker_url: str, settings: Any) -> Iterator[None]:
    """Let this (test) process kick the workers through `broker_url`, as a web process
    does (pytest-django's `settings` fixture; the Celery app's conf is restored after)."""
    from config.celery import app

    def forget_connections() -> None:
        # The connection and producer pools were made for the broker before (Celery
        # drops the same two after a fork).
        app._pool = None
        app.amqp._producer_pool = None

    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "task_default_queue")}
    settings.JOB_RUNNER = "celery"
    app.conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue=QUEUE)
    forget_connections()
    try:
        yield
    finally:
        app.conf.update(**saved)
        forget_connections()


def jobs_run_by(procs: Procs, name: str, task: str = r"\w+") -> int:
    """How many jobs worker `name` ran so far, from its log (each task logs its count);
    `task` narrows it to one task name (run_due_jobs = kicks, sweep_due_jobs = the beat)."""
    import re

    return sum(int(n) for n in re.findall(rf"Task flowdesk\.{task}\[[^\]]+\] succeeded in "
                                          r"[\d.e-]+s: (\d+)", procs.log(name)))


# (element id, start, end, variable names it saw) of each jobsTracked call, in this process.
TRACKED: list[tuple[str, float, float, list[str]]] = []


@service_task("jobsTracked")
def tracked(call: ServiceCall) -> Mapping[str, object]:
    began = time.monotonic()
    time.sleep(0.3)
    TRACKED.append((call.element_id, began, time.monotonic(), sorted(call.variables)))
    return {f"{call.element_id}_done": True}
