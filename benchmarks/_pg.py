"""Set-up shared by the PostgreSQL benchmarks: a fresh local database, Django on it."""

from __future__ import annotations

import os
import secrets
import sys
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def recreate_database(url: str) -> None:
    """Drop and create the database `url` names; refuses shared names and other hosts,
    since a benchmark must never wipe a database someone uses."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in {"postgres", "template0", "template1"}:
        sys.exit(f"refusing to recreate database {name!r}: give a dedicated benchmark database")
    if (parts.hostname or "") not in LOCAL_HOSTS:
        sys.exit(f"refusing to drop a database on {parts.hostname!r}: the benchmark runs on a "
                 "local server")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str, *, name: str) -> None:
    """Django on `url`, migrated, measured as deployed (DEBUG off: it would also keep every
    query in memory). `name` only labels the throw-away secret key."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", f"{name}-benchmark-" + secrets.token_hex(16))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
