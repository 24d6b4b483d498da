"""Run calls in threads released at the same moment: the concurrency tests' one helper."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def run_together(calls: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Run every call in its own thread (so its own database connection), all released at
    once by a barrier; returns (results, failures) in completion order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = []
    failures: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except BaseException as exc:  # reported to the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, failures
