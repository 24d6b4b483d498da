"""The full persisted path on PostgreSQL: services, rows and audit chains, N clients at once.

    .venv/bin/python -m benchmarks.engine_persisted [--clients 4] [--seconds 20] [--threads]
        [--database-url postgres://postgres@127.0.0.1:5432/flowdesk_bench] [--profile]
        [--model all|one|approval] [--rounds 1] [--without-portal-receivers]

Creates the database named in the URL afresh (DROP DATABASE IF EXISTS, CREATE, migrate:
it must be a dedicated benchmark database on a local server), deploys a one-user-task
process and ../shared/bench-models/approval_user_tasks.bpmn, then runs each model for
`--seconds` with `--clients` client processes (forked after set-up, so each has its own
Python interpreter, its own core if one is free, and its own database connection;
`--threads` runs them as threads of one process instead, sharing one interpreter lock,
which is how the figures before 2026-12-02 were taken). A client loops:
process_instance_start (as the user "bench"), then user_task_complete for every user task
in order (the open task found by instance and element id; completed by the engine's caller,
actor None, so the inbox's claim and permission checks are not in the figure), then checks
the instance completed.
Prints instances/s per model, the p50/p95 time of one instance, the CPU one instance
cost in the clients and in their PostgreSQL backends (read from /proc: the server must be
local) and the capacity that gives (cores / CPU per instance: on a machine shared with
other work, wall-clock rates measure the neighbours too), the audit rows written per
instance, and verifies the hash chains of a sample of instances.

`--profile` runs one client under cProfile instead and prints the hottest functions.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._pg import recreate_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/flowdesk_bench"
BENCH_MODELS = Path(__file__).resolve().parents[2] / "shared" / "bench-models"
# A safety bound besides the clock: no client runs more instances than this per model.
MAX_INSTANCES_PER_CLIENT = 200_000
CHAIN_SAMPLE = 25

ONE_TASK_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs_one_task" targetNamespace="http://example.org/bench">
  <bpmn:process id="one_user_task" name="One user task" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="task" name="Do it">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@dataclass(frozen=True)
class Model:
    label: str
    key: str
    file_name: str
    bpmn: bytes
    # (element id of the user task, variables it is completed with), in order.
    tasks: tuple[tuple[str, dict[str, Any]], ...]


def _models() -> list[Model]:
    approval = (BENCH_MODELS / "approval_user_tasks.bpmn").read_bytes()
    return [
        Model("one user task", "one_user_task", "one_user_task.bpmn", ONE_TASK_BPMN,
              (("task", {}),)),
        Model("approval_user_tasks", "approval_user_tasks", "approval_user_tasks.bpmn",
              approval,
              (("submit", {"amount": 1500}), ("review", {"approved": True}),
               ("second", {"finance_approved": True}))),
    ]


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    instance_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # CPU seconds this client's process and its PostgreSQL backend spent in the measured
    # loop (processes only; None when the backend's /proc entry cannot be read).
    client_cpu: float | None = None
    server_cpu: float | None = None


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of the local PostgreSQL backend `pid`, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Database set-up -----------------------------------------------------------------


def _deploy(models: list[Model]) -> tuple[dict[str, int], Any]:
    from django.contrib.auth import get_user_model

    from engine.models import ProcessDefinition
    from engine.services.deployments import deployment_create

    user = get_user_model().objects.create_user(username="bench", password=None)
    deployment_create(files=[(m.file_name, m.bpmn) for m in models], actor=user,
                      name="persisted benchmark")
    ids = {m.key: ProcessDefinition.objects.filter(key=m.key).order_by("-version")
           .values_list("pk", flat=True).first() for m in models}
    missing = [key for key, pk in ids.items() if pk is None]
    if missing:
        sys.exit(f"deployment did not store {missing}")
    return {k: int(v) for k, v in ids.items() if v is not None}, user


# --- One instance, one client ---------------------------------------------------------


def run_instance(model: Model, definition_id: int, actor: Any) -> int:
    """Start one instance, complete its user tasks in order, check it completed.

    The client's own reads (which task is open, did the instance complete) are one plain
    indexed SELECT each, so that the figure is the engine's work (start + complete), not
    the ORM's query building in the client."""
    from django.db import connection

    from engine.services.instances import process_instance_start
    from engine.services.user_tasks import user_task_complete
    from engine.status import USER_TASK_ACTIVE, InstanceStatus

    instance, created = process_instance_start(definition_id=definition_id, actor=actor)
    if not created:
        raise RuntimeError("start did not create an instance")
    active = set(USER_TASK_ACTIVE)
    with connection.cursor() as cursor:
        for element_id, variables in model.tasks:
            # Only the instance in the WHERE clause: the one index that starts with it is
            # the plan whatever the statistics say. With status in it too, the planner of a
            # fresh database (no ANALYZE yet) ANDed in the open-task partial index, whose
            # dead entries grow with every completed task: the lookup slowed the run.
            cursor.execute("SELECT id, element_id, status FROM engine_usertask "
                           "WHERE instance_id = %s", [instance.pk])
            found = sorted(pk for pk, element, status in cursor.fetchall()
                           if element == element_id and status in active)
            if not found:
                raise RuntimeError(f"instance {instance.pk}: no open task {element_id!r}")
            # actor=None: completed by the engine's own caller (a system), without the
            # inbox's claim and permission checks (a person's path, not measured here).
            user_task_complete(task_id=found[0], actor=None, variables=variables)
        cursor.execute("SELECT status FROM engine_processinstance WHERE id = %s",
                       [instance.pk])
        status = cursor.fetchone()[0]
    if status != InstanceStatus.COMPLETED:
        raise RuntimeError(f"instance {instance.pk} ended {status!r}, not completed")
    return int(instance.pk)


def _client(model: Model, definition_id: int, actor: Any, deadline_box: Any,
            start_gate: Any, result: ClientResult) -> None:
    from django.db import connection

    try:
        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        start_gate.wait()
        deadline = deadline_box[0]  # set by the main thread before it reached the gate
        server0, client0 = _backend_cpu(backend), time.process_time()
        for _ in range(MAX_INSTANCES_PER_CLIENT):
            t0 = time.perf_counter()
            if t0 >= deadline:
                break
            try:
                result.instance_ids.append(run_instance(model, definition_id, actor))
            except Exception as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")
                if len(result.errors) > 20:
                    break
                continue
            result.latencies.append(time.perf_counter() - t0)
        server1 = _backend_cpu(backend)
        result.client_cpu = time.process_time() - client0
        if server0 is not None and server1 is not None:
            result.server_cpu = server1 - server0
    finally:
        connection.close()


def _process_client(model: Model, definition_id: int, actor: Any, deadline_box: Any,
                    start_gate: Any, queue: Any) -> None:
    """A forked client: the same loop, its result sent back through `queue`."""
    from django.db import connections

    # The parent closed its connection before forking; a copied socket must never be
    # used by two processes, so forget any that came along and open our own.
    for conn in connections.all(initialized_only=True):
        conn.connection = None
    result = ClientResult()
    try:
        _client(model, definition_id, actor, deadline_box, start_gate, result)
    finally:
        queue.put(result)


def _run_clients(model: Model, definition_id: int, actor: Any, *, clients: int,
                 seconds: float, threads: bool) -> tuple[list[ClientResult], float]:
    """Run `clients` clients together for `seconds`; (their results, elapsed seconds)."""
    if threads:
        results = [ClientResult() for _ in range(clients)]
        gate: Any = threading.Barrier(clients + 1)
        deadline_box: Any = [0.0]
        workers: list[Any] = [
            threading.Thread(target=_client, args=(model, definition_id, actor,
                                                   deadline_box, gate, result))
            for result in results
        ]
    else:
        context = multiprocessing.get_context("fork")
        gate = context.Barrier(clients + 1)
        deadline_box = context.Array("d", [0.0])
        queue = context.Queue()
        workers = [context.Process(target=_process_client, args=(
            model, definition_id, actor, deadline_box, gate, queue)) for _ in range(clients)]
    # Clients connect first, then all start together; the clock starts at the gate.
    for worker in workers:
        worker.start()
    start = time.perf_counter()
    deadline_box[0] = start + seconds
    gate.wait()
    if not threads:
        results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    return results, time.perf_counter() - start


@dataclass
class ModelFigures:
    label: str
    instances: int
    seconds: float
    latencies: list[float]
    errors: list[str]
    audit_rows_per_instance: float
    chains_checked: int
    chain_problems: list[str]
    client_cpu: float | None = None  # CPU seconds of all clients (processes only)
    server_cpu: float | None = None  # CPU seconds of their PostgreSQL backends

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds if self.seconds else 0.0

    def cpu_ms(self, seconds: float | None) -> float | None:
        if seconds is None or not self.instances:
            return None
        return seconds / self.instances * 1000

    @property
    def capacity(self) -> float | None:
        """Instances/s this work would reach with every core of the machine to itself:
        cores / CPU per instance (clients + database). On a shared machine this is the
        figure that does not depend on what the neighbours run."""
        if self.client_cpu is None or self.server_cpu is None or not self.instances:
            return None
        return (os.cpu_count() or 1) * self.instances / (self.client_cpu + self.server_cpu)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_model(model: Model, definition_id: int, actor: Any, *, clients: int,
              seconds: float, threads: bool = False) -> ModelFigures:
    from django.db import connection

    from engine.audit import verify_chain
    from engine.models import AuditEvent, instance_chain

    # Warm-up (compiled definition cache, connection), not counted.
    for _ in range(3):
        run_instance(model, definition_id, actor)
    connection.close()
    results, elapsed = _run_clients(model, definition_id, actor, clients=clients,
                                    seconds=seconds, threads=threads)
    instance_ids = [pk for r in results for pk in r.instance_ids]
    latencies = [t for r in results for t in r.latencies]
    errors = [e for r in results for e in r.errors]
    sample = random.Random(3).sample(instance_ids, min(CHAIN_SAMPLE, len(instance_ids)))
    rows = AuditEvent.objects.filter(instance_id__in=sample).count()
    problems = [str(p) for pk in sample for p in verify_chain(instance_chain(pk))]
    connection.close()
    client_cpu = (None if threads or any(r.client_cpu is None for r in results)
                  else sum(r.client_cpu or 0.0 for r in results))
    server_cpu = (None if any(r.server_cpu is None for r in results)
                  else sum(r.server_cpu or 0.0 for r in results))
    return ModelFigures(model.label, len(instance_ids), elapsed, latencies, errors,
                        rows / len(sample) if sample else 0.0, len(sample), problems,
                        client_cpu, server_cpu)


def _print_table(figures: list[ModelFigures], clients: int, how: str) -> None:
    print()
    print(f"Persisted path on PostgreSQL, {clients} client {how}, {os.cpu_count()} CPU(s)")
    header = ("model", "instances", "seconds", "instances/s", "p50 ms", "p95 ms",
              "client CPU ms/inst", "db CPU ms/inst", "capacity/s",
              "audit rows/inst", "chains ok", "errors")
    rows = [header]

    def number(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    for f in figures:
        rows.append((
            f.label, str(f.instances), f"{f.seconds:.1f}", f"{f.per_second:.1f}",
            f"{_percentile(f.latencies, 0.50) * 1000:.1f}",
            f"{_percentile(f.latencies, 0.95) * 1000:.1f}",
            number(f.cpu_ms(f.client_cpu), 2), number(f.cpu_ms(f.server_cpu), 2),
            number(f.capacity, 0),
            f"{f.audit_rows_per_instance:.1f}",
            f"{f.chains_checked - len({p.split(' ')[0] for p in f.chain_problems})}"
            f"/{f.chains_checked}",
            str(len(f.errors)),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print("capacity/s: cores / (client + db CPU per instance), the rate this work reaches "
          "when it has the machine to itself")
    for f in figures:
        for problem in f.chain_problems:
            print(f"CHAIN PROBLEM ({f.label}): {problem}")
        for error in f.errors[:5]:
            print(f"ERROR ({f.label}): {error}")


def _profile(models: list[Model], ids: dict[str, int], actor: Any, seconds: float) -> None:
    for model in models:
        for _ in range(3):
            run_instance(model, ids[model.key], actor)
        profiler = cProfile.Profile()
        count = 0
        deadline = time.perf_counter() + seconds
        profiler.enable()
        while time.perf_counter() < deadline and count < MAX_INSTANCES_PER_CLIENT:
            run_instance(model, ids[model.key], actor)
            count += 1
        profiler.disable()
        print(f"\n=== {model.label}: {count} instances in {seconds:.0f} s, one client, "
              "under cProfile ===")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--profile", action="store_true",
                        help="one client under cProfile; print the hottest functions")
    parser.add_argument("--model", choices=("all", "one", "approval"), default="all")
    parser.add_argument("--threads", action="store_true",
                        help="clients as threads of this process (one interpreter lock)")
    parser.add_argument("--without-portal-receivers", action="store_true",
                        help="disconnect the portal's receivers of the engine's user task "
                             "signals (permissions, SLA, notifications, live pushes): the "
                             "engine's own cost")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every model this many times, alternating models")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 64:
        parser.error("--clients must be 1..64")
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be in (0, 600]")

    models = _models()
    if args.model == "one":
        models = models[:1]
    elif args.model == "approval":
        models = models[1:]
    recreate_database(args.database_url)
    setup_django(args.database_url, name="persisted")
    ids, actor = _deploy(_models())
    if args.without_portal_receivers:
        from engine import signals

        for signal in (signals.user_task_created, signals.user_task_changed,
                       signals.user_tasks_cancelled):
            signal.receivers.clear()
            signal.sender_receivers_cache.clear()
        print("portal receivers of the user task signals disconnected", flush=True)
    if args.profile:
        _profile(models, ids, actor, args.seconds)
        return 0
    figures = []
    for round_ in range(1, args.rounds + 1):
        for model in models:
            figures.append(run_model(model, ids[model.key], actor, clients=args.clients,
                                     seconds=args.seconds, threads=args.threads))
            print(f"round {round_}, {model.label}: {figures[-1].per_second:.1f} instances/s",
                  flush=True)
    _print_table(figures, args.clients, "threads" if args.threads else "processes")
    failed = any(f.errors or f.chain_problems or not f.instances for f in figures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
