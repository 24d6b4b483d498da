"""DB_POOL_MAX_SIZE: the opt-in psycopg pool that keeps connections across ASGI requests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]

# Settings are read once per process, so each case starts a Python of its own.
_PROBE = (
    "import django; django.setup()\n"
    "from django.db import connection\n"
    # Wait for the pool's min_size connection first: a request made while the pool is
    # still filling gets a second connection, and then either may come back.
    "connection.pool.open(wait=True)\n"
    "connection.ensure_connection()\n"
    "first = connection.connection\n"
    "connection.close()\n"
    "connection.ensure_connection()\n"
    "print(type(connection.pool).__name__, connection.pool.max_size,"
    " connection.connection is first)\n"
)


def _run(database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url, **env}
    return subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs PostgreSQL: the pool is psycopg's; runs in the PostgreSQL pass")
def test_pool_hands_back_the_same_connection_after_close() -> None:
    db = connection.settings_dict  # the test database pytest-django made
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    done = _run(url, DB_POOL_MAX_SIZE="3", DB_POOL_MIN_SIZE="1", DB_CONN_MAX_AGE="0")
    assert done.returncode == 0, done.stderr
    # close() returns the connection to the pool; the next request gets it back, unopened.
    assert done.stdout.split() == ["ConnectionPool", "3", "True"]


def test_pool_refuses_sqlite(tmp_path: Path) -> None:
    done = _run(f"sqlite:///{tmp_path / 'db.sqlite3'}", DB_POOL_MAX_SIZE="3")
    assert done.returncode != 0
    assert "DB_POOL_MAX_SIZE needs a postgres:// DATABASE_URL" in done.stderr


def test_pool_refuses_persistent_connections_too() -> None:
    done = _run("postgres://postgres@127.0.0.1:5432/unused", DB_POOL_MAX_SIZE="3",
                DB_CONN_MAX_AGE="60")
    assert done.returncode != 0
    assert "DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE exclude each other" in done.stderr
