"""Wake-ups for external-task long polls: "a task of topic T may have become available".

`announce(topic)` is called inside the transaction that makes a task available (the shell
creating an external-task job, an unlock, a failure that will be retried). A long poll
registers a `Waiter` for its topics and sleeps on it between fetches instead of querying
every 100 ms.

- PostgreSQL: `announce` issues NOTIFY (payload = the topic) in the caller's transaction,
  so it is delivered on commit only and never for a rollback. One daemon thread per
  process LISTENs on its own psycopg connection and wakes the waiters of that topic in
  every process. It starts with the first long poll that has to wait, reconnects after
  errors (and then wakes every waiter, since notifications sent meanwhile are lost), and
  closes its connection when no long poll has waited for LISTENER_IDLE_S.
- SQLite (the single-process embedded default): the waiters are woken in this process
  after the transaction commits (transaction.on_commit).
- While the listener is not connected (or on another database), a waiter sleeps at most
  POLL_INTERVAL_S, which is the old polling; a warning is logged once.

A wake is only a hint: the woken long poll fetches again with the usual SKIP LOCKED claim
and goes back to waiting when another worker was faster.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction

__all__ = ["CHANNEL", "POLL_INTERVAL_S", "SAFETY_RECHECK_S", "Waiter", "announce", "shutdown",
           "waiting_for", "wake", "wakeups_reach_waiters"]

log = logging.getLogger(__name__)

CHANNEL = "flowdesk_external_task"
# How often a long poll looks again while no wake-up can reach it (the fallback).
POLL_INTERVAL_S = 0.1
# A waiter that can be woken still looks again this often: tasks can become available
# with no announce (an admin's incident retry, an instance resumed, a lost notification).
SAFETY_RECHECK_S = 5.0
# The listener closes its connection when no long poll has waited for this long.
LISTENER_IDLE_S = 2.0
_NOTIFY_WAIT_S = 0.5  # how long the listener blocks on its socket between idle checks
_RECONNECT_MAX_S = 30.0


class Waiter:
    """One waiting long poll: an Event set by a wake of one of its topics."""

    __slots__ = ("_event", "topics")

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = frozenset(topics)
        self._event = threading.Event()

    def clear(self) -> None:
        """Forget past wakes; call it before each fetch, so a wake during the fetch counts."""
        self._event.clear()

    def can_be_woken(self) -> bool:
        return wakeups_reach_waiters()

    def max_pause(self) -> float:
        """The longest this waiter may sleep before it must look again by itself."""
        return SAFETY_RECHECK_S if self.can_be_woken() else POLL_INTERVAL_S

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (capped by max_pause); True if a wake came.

        On PostgreSQL the first wait of the process starts the listener: a long poll that
        finds tasks at once never needs it.
        """
        if connections["default"].vendor == "postgresql":
            _ensure_listener()
        if seconds <= 0:
            return self._event.is_set()
        return self._event.wait(min(seconds, self.max_pause()))

    def _wake(self) -> None:
        self._event.set()


_lock = threading.Lock()
_waiters: dict[str, set[Waiter]] = {}
_listener: _Listener | None = None
_pid = os.getpid()
_warned = False


def announce(topic: str) -> None:
    """Tell long polls of `topic` that a task may be available once this transaction commits.

    Call it inside the transaction that made the task available; outside of one it takes
    effect at once.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, topic])
    else:
        transaction.on_commit(lambda: wake(topic))


def wake(topic: str) -> None:
    """Wake this process's long polls waiting for `topic`."""
    with _lock:
        for waiter in _waiters.get(topic, ()):
            waiter._wake()


def _wake_all() -> None:
    with _lock:
        for waiters in _waiters.values():
            for waiter in waiters:
                waiter._wake()


@contextmanager
def waiting_for(topics: Iterable[str]) -> Iterator[Waiter]:
    """Register a waiter for `topics` for the duration of a long poll.

    Register BEFORE the first fetch: a wake that comes between the fetch and the sleep is
    then kept in the waiter's Event instead of being lost. When the listener (re)connects
    it wakes every waiter, so a notification sent before it listened costs one extra
    fetch, never a missed task.
    """
    waiter = Waiter(topics)
    with _lock:
        _reset_after_fork()
        for topic in waiter.topics:
            _waiters.setdefault(topic, set()).add(waiter)
    try:
        yield waiter
    finally:
        with _lock:
            for topic in waiter.topics:
                group = _waiters.get(topic)
                if group is not None:
                    group.discard(waiter)
                    if not group:
                        del _waiters[topic]


def _reset_after_fork() -> None:
    """A forked child has none of its parent's threads: start its own listener."""
    global _listener, _pid
    if os.getpid() != _pid:
        _pid = os.getpid()
        _listener = None
        _waiters.clear()


def wakeups_reach_waiters() -> bool:
    """True when a wake can reach this process's waiters now (SQLite: always; PostgreSQL:
    while the listener is LISTENing). When False, waiters fall back to polling."""
    vendor = connections["default"].vendor
    if vendor == "sqlite":
        return True
    if vendor != "postgresql":
        return False
    listener = _listener
    return listener is not None and listener.listening.is_set()


def shutdown(timeout: float = 5.0) -> None:
    """Stop this process's listener and close its connection (a clean exit, tests); the
    next long poll that waits starts a new one."""
    global _listener
    with _lock:
        listener, _listener = _listener, None
    if listener is not None:
        listener.stop.set()
        listener.join(timeout)


def _ensure_listener() -> None:
    global _listener
    with _lock:
        if _listener is not None and _listener.is_alive() and not _listener.stop.is_set():
            return
        _listener = _Listener(_listener_params())
        _listener.start()


def _listener_params() -> dict[str, Any]:
    params = dict(connections["default"].get_connection_params())
    # Django's cursor class and adapters are for its own connections; the listener only
    # reads notifications, and a pool or prepared statements mean nothing to it.
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    params["application_name"] = "flowdesk external-task listener"
    params.setdefault("connect_timeout", 10)
    return params


def _warn_once(message: str, *args: object) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(message, *args)


class _Listener(threading.Thread):
    """LISTEN on its own connection; each notification wakes the waiters of its topic."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(name="external-task-listener", daemon=True)
        self.params = params
        self.listening = threading.Event()
        self.stop = threading.Event()
        self.failed = False

    def run(self) -> None:
        backoff = 0.5
        while not self._stop_if_idle(idle_since=None):
            try:
                self._listen()
                backoff = 0.5
            except Exception as exc:  # any failure: log, wait, reconnect
                self.failed = True
                _warn_once("external-task listener: cannot LISTEN on PostgreSQL (%s); long "
                           "polls look again every %.0f ms until it can", exc,
                           POLL_INTERVAL_S * 1000)
                log.debug("external-task listener error", exc_info=True)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, _RECONNECT_MAX_S)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(**self.params, autocommit=True) as conn:
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                # Anything announced before LISTEN took effect was not heard: look again.
                _wake_all()
                self.listening.set()
                if self.failed:
                    self.failed = False
                    log.info("external-task listener: listening again; long polls wait "
                             "for wake-ups")
                idle_since: float | None = None
                while not self.stop.is_set():
                    for notify in conn.notifies(timeout=_NOTIFY_WAIT_S):
                        wake(notify.payload)
                    with _lock:
                        busy = bool(_waiters)
                    if busy:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif self._stop_if_idle(idle_since=idle_since):
                        return
            finally:
                self.listening.clear()

    def _stop_if_idle(self, *, idle_since: float | None) -> bool:
        """Stop when told to or nobody waits (at once when not connected, after
        LISTENER_IDLE_S when connected). Decided under the lock, so a waiter that comes
        later starts a new listener."""
        global _listener
        with _lock:
            if self.stop.is_set():
                return True
            if _waiters:
                return False
            if idle_since is not None and time.monotonic() - idle_since < LISTENER_IDLE_S:
                return False
            self.stop.set()
            if _listener is self:
                _listener = None
            return True
