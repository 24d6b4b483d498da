"""Settings for `benchmarks.api --pool`: the project settings plus psycopg's connection pool.

Under ASGI every request runs its synchronous code in a fresh thread, and Django's
connections are per thread, so CONN_MAX_AGE cannot keep them: each request would open a
new PostgreSQL connection. Django 5.1+ can use psycopg's pool instead (CONN_MAX_AGE must
then be 0).
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": int(os.environ.get("DB_POOL_MIN", "4")),
    "max_size": int(os.environ.get("DB_POOL_MAX", "16")),
}
