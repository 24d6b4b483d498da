"""External-task long polls sleep until a task of their topics may be there, not in a loop.

The PostgreSQL tests have another thread commit while the test thread long-polls (the
SQLite test database is in memory and locks whole tables, so those run on PostgreSQL
only); the others run on both databases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from engine import external_wakeup
from engine.models import ProcessInstance
from engine.services.external_tasks import TopicRequest, external_task_fetch_and_lock
from engine.services.instances import process_instance_start
from tests.engine._instances import deploy
from tests.markers import needs_postgresql_row_locks

pytestmark = pytest.mark.django_db

CHARGE = [TopicRequest("charge", lock_duration_ms=60_000)]
SHIP = [TopicRequest("ship", lock_duration_ms=60_000)]


@pytest.fixture(autouse=True)
def _no_listener_left() -> Iterator[None]:
    """Each test starts with no listener and leaves none (its connection would keep the
    test database from being dropped)."""
    external_wakeup.shutdown()
    yield
    external_wakeup.shutdown()


def start() -> ProcessInstance:
    instance, _ = process_instance_start(key="jobs_external", variables={"amount": 10})
    return instance


def later(seconds: float, call: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """Run `call` in another thread (its own connection) after `seconds`; the dict gets
    "at", the monotonic time just after it returned (after its commit), or "error"."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            time.sleep(seconds)
            call()
            outcome["at"] = time.monotonic()
        except BaseException as exc:  # reported to the test thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def finished(thread: threading.Thread, outcome: dict[str, object]) -> float:
    thread.join(timeout=30)
    if "error" in outcome:
        raise AssertionError(f"the other thread failed: {outcome['error']!r}")
    at = outcome["at"]
    assert isinstance(at, float)
    return at


def listener_up() -> None:
    """Have the listener LISTENing before the test's long poll (it then stays up for
    LISTENER_IDLE_S), so its start-up wake is not counted against the poll."""
    with external_wakeup.waiting_for(["warm-up"]) as waiter:
        give_up = time.monotonic() + 10
        while not external_wakeup.wakeups_reach_waiters():
            assert time.monotonic() < give_up, "the listener did not connect"
            waiter.wait(0.02)


def selects(queries: CaptureQueriesContext) -> list[str]:
    """The statements that read (SQLite also logs its BEGIN and COMMIT)."""
    return [q["sql"][:80] for q in queries if q["sql"].startswith("SELECT")]


def rolled_back_start() -> None:
    with transaction.atomic():
        start()
        transaction.set_rollback(True)


@needs_postgresql_row_locks
def test_a_long_poll_returns_within_half_a_second_of_another_threads_commit(
        transactional_db: None) -> None:
    deploy("jobs_external.bpmn")
    listener_up()
    thread, outcome = later(1.0, start)
    with CaptureQueriesContext(connection) as queries:
        tasks = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                             async_response_timeout_ms=10_000)
    returned = time.monotonic()
    committed = finished(thread, outcome)
    assert [t.activity_id for t in tasks] == ["Charge"] and tasks[0].worker_id == "w1"
    assert returned - committed < 0.5
    # One fetch before the wait, one after the wake: not one every 100 ms.
    fetches = [q for q in queries if "SKIP LOCKED" in q["sql"]]
    assert len(fetches) == 2


def test_an_idle_long_poll_makes_a_handful_of_queries_in_three_seconds(
        transactional_db: None) -> None:
    deploy("jobs_external.bpmn")
    began = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        tasks = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                             async_response_timeout_ms=3_000)
    assert tasks == [] and time.monotonic() - began >= 3.0
    # A fetch and the look at the soonest lock expiry; once more when the PostgreSQL
    # listener has just connected (it wakes every waiter then). Polling made 30 fetches.
    assert len(selects(queries)) <= 4, selects(queries)


@needs_postgresql_row_locks
def test_a_task_of_another_topic_does_not_wake_the_long_poll(transactional_db: None) -> None:
    deploy("jobs_external.bpmn")
    listener_up()
    thread, outcome = later(0.3, start)  # a "charge" task; the poll waits for "ship"
    began = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        tasks = external_task_fetch_and_lock(worker_id="w1", topics=SHIP,
                                             async_response_timeout_ms=1_500)
    finished(thread, outcome)
    assert tasks == [] and time.monotonic() - began >= 1.5
    assert len(selects(queries)) == 2, selects(queries)  # never woken: no refetch


def test_an_expired_lock_is_picked_up_by_a_waiting_long_poll_without_an_announce(
        db: None) -> None:
    deploy("jobs_external.bpmn")
    start()
    [task] = external_task_fetch_and_lock(worker_id="w1",
                                          topics=[TopicRequest("charge", 400)])
    began = time.monotonic()
    [again] = external_task_fetch_and_lock(worker_id="w2", topics=CHARGE,
                                           async_response_timeout_ms=10_000)
    waited = time.monotonic() - began
    assert again.id == task.id and again.worker_id == "w2"
    # Woken by its own reckoning of the expiry, well before the safety re-check.
    assert 0.3 <= waited < external_wakeup.SAFETY_RECHECK_S - 1


def test_a_wake_comes_on_commit_and_never_for_a_rolled_back_transaction(
        transactional_db: None) -> None:
    with external_wakeup.waiting_for(["charge"]) as waiter:
        give_up = time.monotonic() + 10
        while not external_wakeup.wakeups_reach_waiters():
            assert time.monotonic() < give_up, "the listener did not connect"
            waiter.wait(0.02)
        waiter.clear()
        with transaction.atomic():
            external_wakeup.announce("charge")
            transaction.set_rollback(True)
        assert not waiter.wait(1.0)
        with transaction.atomic():
            external_wakeup.announce("charge")
            assert not waiter.wait(0.3)  # not before the commit
        assert waiter.wait(2.0)


@needs_postgresql_row_locks
def test_a_rolled_back_task_does_not_end_the_long_poll(transactional_db: None) -> None:
    deploy("jobs_external.bpmn")
    listener_up()
    thread, outcome = later(0.3, rolled_back_start)
    with CaptureQueriesContext(connection) as queries:
        tasks = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                             async_response_timeout_ms=1_500)
    finished(thread, outcome)
    assert tasks == [] and len(selects(queries)) == 2, selects(queries)
    assert not ProcessInstance.objects.exists()


@needs_postgresql_row_locks
def test_without_a_listener_the_long_poll_falls_back_to_polling_and_warns_once(
        transactional_db: None, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    deploy("jobs_external.bpmn")
    working = external_wakeup._listener_params
    # Nothing listens on port 1: the listener cannot connect, as when the server refuses.
    monkeypatch.setattr(external_wakeup, "_listener_params", lambda: {**working(), "port": 1})
    monkeypatch.setattr(external_wakeup, "_warned", False)
    caplog.set_level(logging.WARNING, logger="engine.external_wakeup")
    thread, outcome = later(0.5, start)
    tasks = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                         async_response_timeout_ms=10_000)
    returned = time.monotonic()
    committed = finished(thread, outcome)
    assert len(tasks) == 1 and returned - committed < 0.5
    with CaptureQueriesContext(connection) as queries:
        assert external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                            async_response_timeout_ms=500) == []
    assert len(selects(queries)) >= 6  # it polled every 100 ms
    warnings = [r for r in caplog.records if "cannot LISTEN" in r.getMessage()]
    assert len(warnings) == 1


def woken_within(waiter: external_wakeup.Waiter, seconds: float) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if waiter.wait(give_up - time.monotonic()):
            return True
    return False


@needs_postgresql_row_locks
def test_the_listener_reconnects_after_its_connection_is_killed(transactional_db: None) -> None:
    with external_wakeup.waiting_for(["charge"]) as waiter:
        assert woken_within(waiter, 10)  # connected: it wakes every waiter
        waiter.clear()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND application_name = %s",
                           ["flowdesk external-task listener"])
            assert cursor.fetchone() == (True,)
        # Back again, it wakes every waiter (a notification may have been lost meanwhile).
        assert woken_within(waiter, 10)
        give_up = time.monotonic() + 2
        while not external_wakeup.wakeups_reach_waiters():  # set just after that wake
            assert time.monotonic() < give_up
            time.sleep(0.01)
        waiter.clear()
        with transaction.atomic():
            external_wakeup.announce("charge")
        assert woken_within(waiter, 2)


@needs_postgresql_row_locks
def test_an_admins_incident_retry_wakes_a_waiting_long_poll(transactional_db: None) -> None:
    from engine.models import Incident
    from engine.services.external_tasks import external_task_failure
    from engine.services.incidents import incident_retry

    deploy("jobs_external.bpmn")
    start()
    [task] = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE)
    external_task_failure(task_id=task.id, worker_id="w1", error_message="card API down",
                          retries=0)
    incident = Incident.objects.get(resolved_at__isnull=True)
    listener_up()
    thread, outcome = later(1.0, lambda: incident_retry(incident_id=incident.pk, actor=None))
    tasks = external_task_fetch_and_lock(worker_id="w2", topics=CHARGE,
                                         async_response_timeout_ms=10_000)
    returned = time.monotonic()
    committed = finished(thread, outcome)
    assert [t.id for t in tasks] == [task.id] and tasks[0].worker_id == "w2"
    assert returned - committed < 0.5  # not the 5 s re-check


@needs_postgresql_row_locks
def test_resuming_an_instance_wakes_a_long_poll_for_its_external_task(
        transactional_db: None) -> None:
    from engine.services.instances import process_instance_resume, process_instance_suspend

    deploy("jobs_external.bpmn")
    instance = start()
    process_instance_suspend(instance_id=instance.pk)
    assert external_task_fetch_and_lock(worker_id="w1", topics=CHARGE) == []
    listener_up()
    thread, outcome = later(1.0, lambda: process_instance_resume(instance_id=instance.pk))
    tasks = external_task_fetch_and_lock(worker_id="w1", topics=CHARGE,
                                         async_response_timeout_ms=10_000)
    returned = time.monotonic()
    committed = finished(thread, outcome)
    assert [t.activity_id for t in tasks] == ["Charge"]
    assert returned - committed < 0.5  # not the 5 s re-check
