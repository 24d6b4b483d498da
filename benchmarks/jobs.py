"""The job runner on PostgreSQL + Redis with real Celery workers: jobs/s and firing delay.

    .venv/bin/python -m benchmarks.jobs [--timers 10000] [--services 3000] [--steady 500]
        [--workers 1,2] [--database-url postgres://postgres@127.0.0.1:5432/flowdesk_jobs_bench]
        [--redis-url redis://127.0.0.1:6379/1]

Creates the database named in the URL afresh (DROP DATABASE IF EXISTS, CREATE, migrate:
it must be a dedicated benchmark database on a local server) and FLUSHES the Redis
database named by --redis-url. For each worker count it runs three phases, each with
that many `celery worker --pool=solo` processes and one `celery beat`, all started after
the phase's jobs exist (and stopped after it):

- services: `--services` instances of start -> no-op Python service task -> end are
  started first with the runner off; the workers then drain the jobs. jobs/s is the count
  over the time between the first and the last "job done" audit row.
- timers: `--timers` instances wait on a timer; once the workers are up, one UPDATE makes
  every timer due at the same instant T0 (a storm). jobs/s is the count over the time from
  T0 to the last "event caught" audit row; the delay of each timer is its firing time
  minus T0 (so p99 here is dominated by the queue, not by the sweep).
- steady: `--steady` timers come due spread evenly over 10 s (a load the workers can
  keep up with); the firing delay p50/p99 is what "a due timer fires within 2 s" means.

Every timer must fire exactly once (one "event caught" audit row per instance) and every
instance must complete; the benchmark fails otherwise. DEBUG is off in every process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks._pg import recreate_database
from engine.service_tasks import ServiceCall, service_task

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/flowdesk_jobs_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/1"
REPO = Path(__file__).resolve().parents[1]
STEADY_SECONDS = 10.0

_HEAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             id="defs" targetNamespace="http://example.org/bench">"""
TIMER_BPMN = _HEAD + b"""
  <process id="bench_timer" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <intermediateCatchEvent id="wait"><timerEventDefinition>
      <timeDuration>PT24H</timeDuration></timerEventDefinition></intermediateCatchEvent>
    <sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>"""
SERVICE_BPMN = _HEAD + b"""
  <process id="bench_noop" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="noop"/>
    <serviceTask id="noop" camunda:delegateExpression="${benchNoop}"/>
    <sequenceFlow id="f2" sourceRef="noop" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>"""


@service_task("benchNoop")
def bench_noop(call: ServiceCall) -> None:
    """The no-op service task the workers run (they import this module)."""
    return None


# --- Set-up -------------------------------------------------------------------------------


def _env(url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url, "REDIS_URL": redis_url, "DEBUG": "0",
        "SECRET_KEY": env.get("SECRET_KEY") or "jobs-benchmark-" + secrets.token_hex(16),
        "DJANGO_SETTINGS_MODULE": "config.settings", "SERVICE_TASK_MODULES": "benchmarks.jobs",
        "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING",
    })
    return env


def _setup_django(url: str, redis_url: str) -> None:
    os.environ.update(_env(url, redis_url))
    # This process only creates instances: no kicks, no runner of its own.
    os.environ["JOB_RUNNER"] = "off"
    os.environ.pop("SERVICE_TASK_MODULES")  # this file runs as __main__; workers import it
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from engine.services.deployments import deployment_create

    deployment_create(files=[("bench_timer.bpmn", TIMER_BPMN),
                             ("bench_noop.bpmn", SERVICE_BPMN)], actor=None)


def _start_some(key: str, count: int) -> None:
    from django.db import connection

    from engine.services.instances import process_instance_start

    for _ in range(count):
        process_instance_start(key=key)
    connection.close()


def _create(key: str, count: int, creators: int = 2) -> float:
    """Start `count` instances of `key` from `creators` forked processes; seconds taken."""
    from django.db import connection

    connection.close()
    began = time.perf_counter()
    share = [count // creators + (1 if i < count % creators else 0) for i in range(creators)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_start_some, args=(key, n)) for n in share if n]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"an instance creator failed (exit {p.exitcode})")
    return time.perf_counter() - began


# --- Workers ------------------------------------------------------------------------------


class Workers:
    def __init__(self, count: int, env: dict[str, str], logdir: Path) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        for n in range(count):
            self._start(f"w{n + 1}", [celery, "-A", "config", "worker", "--pool=solo",
                                      "-n", f"bench{n + 1}@%h", "--without-gossip",
                                      "--without-mingle", "--loglevel=INFO"], env)
        self._start("beat", [celery, "-A", "config", "beat", "--loglevel=INFO",
                             "-s", str(logdir / "beat-schedule")], env)
        self._wait_ready(count)

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        out = (self.logdir / f"{name}.log").open("wb")
        # argv is our own celery executable and fixed arguments.
        self.procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=out,  # noqa: S603
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def _wait_ready(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = sum("ready." in (self.logdir / f"w{n + 1}.log").read_text(errors="replace")
                        for n in range(count))
            if ready == count:
                return
            time.sleep(0.1)
        self.stop()
        sys.exit(f"workers did not start; logs in {self.logdir}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the worker processes used so far (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for p in self.procs[:-1]:  # the last one is beat
            try:
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def _kick(redis_url: str) -> None:
    from config.celery import app

    app.conf.update(broker_url=redis_url, task_always_eager=False)
    app.send_task("flowdesk.run_due_jobs", ignore_result=True)


def _wait_until_done(key: str, count: int, timeout: float) -> None:
    from django.db import connection

    from engine.models import ProcessInstance

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ProcessInstance.objects.filter(definition__key=key, status="completed").count()
        connection.close()
        if done >= count:
            return
        time.sleep(0.25)
    sys.exit(f"only {done} of {count} {key} instances completed within {timeout:.0f}s")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


# --- Phases -------------------------------------------------------------------------------


def _phase_services(n: int, workers: int, env: dict[str, str], logdir: Path,
                    redis_url: str) -> dict[str, Any]:
    from engine.models import AuditEvent

    created = _create("bench_noop", n)
    pool = Workers(workers, env, logdir)
    try:
        idle_cpu = pool.cpu_seconds()
        _kick(redis_url)
        _wait_until_done("bench_noop", n, timeout=max(120.0, n / 20))
        cpu = pool.cpu_seconds() - idle_cpu
    finally:
        pool.stop()
    done = list(AuditEvent.objects.filter(kind="job done", element_id="noop")
                .values_list("at", flat=True))
    if len(done) != n:
        sys.exit(f"FAILED: {len(done)} 'job done' audit rows for {n} service tasks")
    span = (max(done) - min(done)).total_seconds()
    return {"jobs": n, "jobs_per_s": n / max(span, 1e-3), "create_s": created,
            "cpu_ms": cpu * 1000 / n}


def _phase_timers(n: int, workers: int, env: dict[str, str], logdir: Path,
                  spread: float) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from engine.models import AuditEvent, Job

    created = _create("bench_timer", n)
    ids = list(Job.objects.filter(kind="timer", instance__definition__key="bench_timer")
               .order_by("id").values_list("instance_id", flat=True))
    pool = Workers(workers, env, logdir)
    try:
        idle_cpu = pool.cpu_seconds()
        t0 = timezone.now() + timedelta(seconds=0.5)
        with connection.cursor() as cursor:
            # Timer k comes due at t0 + k * spread / n (spread 0: all at t0).
            cursor.execute(
                "WITH r AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM engine_job"
                " WHERE kind = 'timer') UPDATE engine_job j SET due_at = %s + "
                "(r.k * %s) * interval '1 second' FROM r WHERE j.id = r.id",
                [t0, spread / n])
        due = {iid: t0 + timedelta(seconds=k * spread / n) for k, iid in enumerate(ids)}
        _wait_until_done("bench_timer", n, timeout=max(120.0, n / 20 + spread))
        cpu = pool.cpu_seconds() - idle_cpu
    finally:
        pool.stop()
    fired = list(AuditEvent.objects.filter(kind="event caught", element_id="wait",
                                           instance_id__in=list(due))
                 .values_list("instance_id", "at"))
    if len(fired) != n or len({i for i, _ in fired}) != n:
        sys.exit(f"FAILED: {len(fired)} firings of {n} timers (each must fire exactly once)")
    delays = [(at - due[i]).total_seconds() for i, at in fired]
    last: datetime = max(at for _, at in fired)
    span = (last - t0).total_seconds()
    return {"jobs": n, "jobs_per_s": n / max(span, 1e-3), "create_s": created,
            "p50": statistics.median(delays), "p99": _pct(delays, 0.99), "max": max(delays),
            "early": sum(1 for d in delays if d < 0), "cpu_ms": cpu * 1000 / n}


def _clear() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # Rows of finished instances only slow the next phase's counting; history stays
        # append-only in real use, here the benchmark database is thrown away anyway.
        cursor.execute("TRUNCATE engine_auditevent, engine_auditchain, engine_job, "
                       "engine_incident, engine_usertask, engine_eventsubscription, "
                       "engine_processinstance CASCADE")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=3_000)
    parser.add_argument("--steady", type=int, default=500)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",") if w]

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    recreate_database(args.database_url)
    _setup_django(args.database_url, args.redis_url)
    env = _env(args.database_url, args.redis_url)
    env["JOB_RUNNER"] = "celery"
    print(f"jobs benchmark: PostgreSQL {urlsplit(args.database_url).path.lstrip('/')}, "
          f"Redis {args.redis_url}, {os.cpu_count()} CPUs")
    print("| workers | phase | jobs | jobs/s | delay p50 | delay p99 | max "
          "| worker CPU ms/job | set-up s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for workers in counts:
        with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
            logdir = Path(tmp)
            rows = []
            if args.services:
                rows.append(("no-op service tasks",
                             _phase_services(args.services, workers, env, logdir,
                                             args.redis_url)))
                _clear()
            if args.timers:
                rows.append(("timer storm (all due at once)",
                             _phase_timers(args.timers, workers, env, logdir, 0.0)))
                _clear()
            if args.steady:
                rows.append((f"timers due over {STEADY_SECONDS:.0f} s",
                             _phase_timers(args.steady, workers, env, logdir, STEADY_SECONDS)))
                _clear()
            for label, r in rows:
                delay = (f"{r['p50']:.2f} s | {r['p99']:.2f} s | {r['max']:.2f} s"
                         if "p50" in r else " | | ")
                print(f"| {workers} | {label} | {r['jobs']:,} | {r['jobs_per_s']:,.0f} | "
                      f"{delay} | {r['cpu_ms']:.1f} | {r['create_s']:.0f} |", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other processes share the "
          "machine; jobs/s is bounded by what is left of its cores)")


if __name__ == "__main__":
    main()
