"""Audit chains under real concurrency: one chain serialises, different chains never wait."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db import OperationalError, connection, connections, transaction

from engine.audit import AuditEntry, audit_append, audit_append_many, verify_all
from engine.models import AuditEvent
from tests.markers import needs_postgresql_row_locks

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_postgresql_row_locks,
]

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
WAIT = 10


def _in_thread(work: Callable[[], None], failures: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported to the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _append_committed(chain: str, kind: str = "process started") -> None:
    with transaction.atomic():
        audit_append(chain=chain, kind=kind, at=T0)


def test_concurrent_appends_to_one_chain_get_consecutive_seqs_without_gaps():
    threads_count, rounds = 4, 15
    barrier = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def worker(number: int) -> Callable[[], None]:
        def work() -> None:
            # All start at once on a chain that does not exist yet: the first appends
            # race on creating the head row too.
            barrier.wait(timeout=WAIT)
            for round_number in range(rounds):
                entries = [
                    AuditEntry(kind="activity started", at=T0, data={"w": number, "r": round_number}),
                    AuditEntry(kind="activity completed", at=T0, data={"w": number, "r": round_number}),
                ]
                with transaction.atomic():
                    audit_append_many("instance:1", entries)
        return work

    threads = [_in_thread(worker(number), failures) for number in range(threads_count)]
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    total = threads_count * rounds * 2
    seqs = list(AuditEvent.objects.filter(chain="instance:1").order_by("seq")
                .values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    # A batch is contiguous: the two events of one transaction sit next to each other.
    kinds = list(AuditEvent.objects.filter(chain="instance:1").order_by("seq")
                 .values_list("kind", flat=True))
    assert kinds == ["activity started", "activity completed"] * (total // 2)
    report = verify_all()
    assert (report.chains, report.events, report.problems) == (1, total, [])


def test_a_held_chain_blocks_its_own_appends_but_not_another_chains():
    _append_committed("instance:1")
    _append_committed("instance:2")
    holding, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold_chain_1() -> None:
        with transaction.atomic():
            audit_append(chain="instance:1", kind="task created", at=T0)
            holding.set()
            release.wait(timeout=WAIT)

    holder = _in_thread(hold_chain_1, failures)
    try:
        assert holding.wait(timeout=WAIT)

        other = _in_thread(lambda: _append_committed("instance:2", "task created"), failures)
        other.join(timeout=5)
        assert not other.is_alive(), "an append to chain 2 waited for chain 1's lock"

        blocked: list[BaseException] = []

        def same_chain() -> None:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '300ms'")
                audit_append(chain="instance:1", kind="task created", at=T0)

        same = _in_thread(same_chain, blocked)
        same.join(timeout=WAIT)
        assert len(blocked) == 1 and isinstance(blocked[0], OperationalError)
        assert "lock timeout" in str(blocked[0])
    finally:
        release.set()
        holder.join(timeout=WAIT)

    assert failures == []
    counts = {chain: AuditEvent.objects.filter(chain=chain).count()
              for chain in ("instance:1", "instance:2")}
    assert counts == {"instance:1": 2, "instance:2": 2}
    assert verify_all().problems == []


def test_verifying_while_others_append_reports_no_false_breaks():
    stop = threading.Event()
    failures: list[BaseException] = []

    def keep_appending() -> None:
        while not stop.is_set():
            _append_committed("instance:1", "activity started")

    writer = _in_thread(keep_appending, failures)
    try:
        reports = [verify_all() for _ in range(20)]
    finally:
        stop.set()
        writer.join(timeout=WAIT)

    assert failures == []
    assert [problem for report in reports for problem in report.problems] == []
    assert reports[-1].events > 0
