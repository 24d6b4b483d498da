"""`manage.py run_jobs`: the job runner in the foreground (ops, tests, no broker needed)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from engine import jobs


class Command(BaseCommand):
    help = (
        "Run due jobs (timers, service tasks, async continuations) until stopped with "
        "Ctrl-C / SIGTERM. Any number may run next to each other and next to Celery "
        "workers: jobs are claimed with row locks and leases. --once runs what is due now "
        "and exits (printing how many ran)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true",
                            help="run what is due until nothing is, then exit")
        parser.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                            help="longest sleep between rounds (default JOB_POLL_SECONDS, 1)")
        parser.add_argument("--worker-id", default=None,
                            help="lease owner name (default host:pid:thread)")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = options["worker_id"] or jobs.worker_name()
        if options["once"]:
            ran = jobs.run_until_idle(worker_id=worker, max_seconds=3600)
            self.stdout.write(f"{ran} jobs run")
            return
        stop = threading.Event()

        def _stop(signum: int, _frame: object) -> None:
            stop.set()
            jobs.wake()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        poll = options["poll"] if options["poll"] is not None else float(
            jobs.setting("JOB_POLL_SECONDS", 1.0))
        self.stdout.write(f"job runner {worker} started (poll {poll}s); Ctrl-C stops it")
        self.stdout.flush()
        jobs.run_forever(stop=stop, worker_id=worker, poll_seconds=poll)
        self.stdout.write("job runner stopped")
