"""Shared test markers."""

from __future__ import annotations

import pytest
from django.db import connection

# Row-lock and concurrency tests mean nothing on SQLite (it locks the whole file); make
# test runs every database test a second time on PostgreSQL, where these run.
needs_postgresql_row_locks = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL row locks; runs in the PostgreSQL pass of make test",
)
