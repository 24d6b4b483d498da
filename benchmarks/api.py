"""Start-instance requests over HTTP against the ASGI server (Daphne) on PostgreSQL.

    .venv/bin/python -m benchmarks.api [--clients 4] [--seconds 20] [--port 8401]
        [--database-url postgres://postgres@127.0.0.1:5432/flowdesk_api_bench]
        [--idempotency] [--conn-max-age 60] [--pool]

Creates the database named in the URL afresh (DROP DATABASE IF EXISTS, CREATE, migrate:
it must be a dedicated benchmark database on a local server), deploys the demo approval
process (engine/demo/approval.bpmn: the instance rests on its first user task, so every
request does a real start: a definition lookup, the token run, the instance and task
rows, the audit chain with its first events, the task's object permissions), makes an API
token with the `start` scope, and starts Daphne (`config.asgi:application`, DEBUG off,
token throttle off) as a separate process. Then `--clients` client processes each keep one
HTTP/1.1 connection open and send `POST /api/v1/process-definitions/approval/start/`
back to back for `--seconds`, after a short warm-up. Prints requests/s, p50/p90/p99
latency, the error count, the server's CPU time per request (from /proc, so less
dependent on what else runs on the machine than the wall clock), and checks that the
database holds exactly one instance per 201 answer. `--idempotency` sends a fresh
Idempotency-Key with each request (the cost of the idempotency record). `--pool` runs
the server with psycopg's connection pool (DB_POOL_MAX_SIZE=16, DB_POOL_MIN_SIZE=4, see
docs/operations.md) instead of Django's per-thread persistent connections.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/flowdesk_api_bench"
PATH = "/api/v1/process-definitions/approval/start/"
BODY = json.dumps({"variables": {"amount": 750, "requester": "bench"}}).encode()
WARMUP_SECONDS = 2.0


def _env(database_url: str, conn_max_age: int, pool: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "API_TOKEN_RATE": "100000000/min",
        "JOB_RUNNER": "off",
        "DB_CONN_MAX_AGE": "0" if pool else str(conn_max_age),
        "DB_POOL_MAX_SIZE": "16" if pool else "0",
        "DB_POOL_MIN_SIZE": "4",
        "LOG_LEVEL": "WARNING",
    })
    env.pop("REDIS_URL", None)
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=env, check=True,  # noqa: S603
                          capture_output=True, text=True)
    return done.stdout


def _fresh_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing odd database name {name!r}")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _set_up(env: dict[str, str]) -> str:
    _manage(env, "migrate", "--noinput", "-v", "0")
    code = (
        "from pathlib import Path\n"
        "from django.contrib.auth import get_user_model\n"
        "from engine.services.deployments import deployment_create\n"
        "admin = get_user_model().objects.create(username='bench-admin')\n"
        "p = Path('engine/demo/approval.bpmn')\n"
        "deployment_create(files=[(p.name, p.read_bytes())], actor=admin)\n"
    )
    _manage(env, "shell", "-c", code)
    return _manage(env, "create_api_token", "bench", "--scopes", "start",
                   "--create-user").strip()


def _count_instances(env: dict[str, str]) -> int:
    out = _manage(env, "shell", "-c", "from engine.models import ProcessInstance; "
                                      "print(ProcessInstance.objects.count())")
    return int(out.strip().splitlines()[-1])


def _sessions_opened(database_url: str) -> int | None:
    """Connections ever opened to the benchmark database (PostgreSQL 14+ statistics)."""
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s",
                           (name,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for(port: int, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"daphne exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("daphne did not answer /healthz in time")


def _client(port: int, token: str, seconds: float, idempotency: bool,
            out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    warm_until = time.monotonic() + WARMUP_SECONDS
    end = warm_until + seconds
    began = 0.0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if idempotency:
            headers["Idempotency-Key"] = secrets.token_hex(16)
        t0 = time.perf_counter()
        conn.request("POST", PATH, body=BODY, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - t0
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if now >= warm_until:
            if not began:
                began = now
            latencies.append(elapsed)
    out.put({"latencies": latencies, "statuses": statuses,
             "measured": time.monotonic() - began if began else 0.0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=8401)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="DB_CONN_MAX_AGE of the server (0 = a connection per request)")
    parser.add_argument("--idempotency", action="store_true")
    parser.add_argument("--pool", action="store_true",
                        help="the server uses psycopg's connection pool (DB_POOL_MAX_SIZE=16)")
    args = parser.parse_args()

    env = _env(args.database_url, args.conn_max_age, args.pool)
    _fresh_database(args.database_url)
    token = _set_up(env)
    server = subprocess.Popen(  # noqa: S603 - our own daphne, fixed arguments
        [str(Path(PYTHON).parent / "daphne"), "-b", "127.0.0.1", "-p", str(args.port),
         "config.asgi:application"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        _wait_for(args.port, server)
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        clients = [multiprocessing.Process(target=_client, args=(
            args.port, token, args.seconds, args.idempotency, queue))
            for _ in range(args.clients)]
        cpu_before = _cpu_seconds(server.pid)
        for process in clients:
            process.start()
        results = [queue.get() for _ in clients]
        server_cpu = _cpu_seconds(server.pid) - cpu_before
        for process in clients:
            process.join()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses: dict[int, int] = {}
    for r in results:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    measured = max(r["measured"] for r in results)
    created = _count_instances(env)
    sessions = _sessions_opened(args.database_url)
    ok = statuses.get(201, 0)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    connections = "psycopg pool" if args.pool else f"DB_CONN_MAX_AGE={args.conn_max_age}"
    idempotency = ", Idempotency-Key on every request" if args.idempotency else ""
    print(f"daphne + PostgreSQL, {args.clients} clients, {args.seconds:.0f} s measured "
          f"(after {WARMUP_SECONDS:.0f} s warm-up), {connections}{idempotency}")
    print(f"  requests/s: {len(latencies) / measured:,.1f}  "
          f"({len(latencies)} measured requests)")
    print(f"  latency ms: p50 {pct(0.50):.1f}  p90 {pct(0.90):.1f}  p99 {pct(0.99):.1f}  "
          f"mean {statistics.fmean(latencies) * 1000:.1f}  max {latencies[-1] * 1000:.1f}")
    print(f"  statuses: {dict(sorted(statuses.items()))}; instances in the database: "
          f"{created} ({'matches' if created == ok else 'DOES NOT MATCH'} the 201 count)")
    print(f"  PostgreSQL connections opened during the run (set-up included): {sessions}")
    total = sum(statuses.values())
    print(f"  Daphne CPU: {server_cpu * 1000 / total:.1f} ms per request "
          f"({server_cpu / (measured + WARMUP_SECONDS):.0%} of one core)")
    if created != ok or set(statuses) != {201}:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
