"""The engine's hot statements are prepared on the PostgreSQL server and planned once.

Django turns psycopg's prepared statements off unless the settings ask for them; without
them PostgreSQL planned every statement of every trigger again, which cost more of its CPU
than running them (docs/benchmarks.md). These tests fail if that ever comes back.
"""

from __future__ import annotations

import pytest
from django.db import connection

from engine.services.instances import process_instance_start
from engine.services.user_tasks import user_task_complete
from tests.engine._instances import NOW, deploy, open_task
from tests.engine.test_settings import _run_django
from tests.markers import needs_postgresql_row_locks


@pytest.mark.django_db
@needs_postgresql_row_locks
def test_a_trigger_reuses_the_prepared_plans_of_the_ones_before_it():
    deploy("inbox_plain.bpmn")
    for _ in range(8):  # psycopg prepares a statement on its fifth use on a connection
        instance, _created = process_instance_start(key="inbox_plain", now=NOW)
        user_task_complete(task_id=open_task(instance.pk, "Work").pk, actor=None, now=NOW)

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM "
                       "pg_prepared_statements WHERE NOT from_sql")
        prepared = cursor.fetchall()
    texts = " ".join(text for text, _runs in prepared)
    # The instance lock, the audit append, the state save and the task insert.
    for table in ("engine_processinstance", "engine_auditchain", "engine_usertask"):
        assert table in texts, f"no prepared statement touches {table}: {prepared}"
    assert any(runs >= 3 for _text, runs in prepared), prepared


def test_prepared_statements_are_on_for_postgresql_and_can_be_turned_off():
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['OPTIONS'].get('prepare_threshold', '-'))")
    url = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/flowdesk",
           "DB_PREPARE_THRESHOLD": ""}  # empty is unset

    default = _run_django(url, code)
    off = _run_django({**url, "DB_PREPARE_THRESHOLD": "none"}, code)
    sqlite = _run_django({**url, "DATABASE_URL": "sqlite:///:memory:"}, code)

    assert default.returncode == 0, default.stderr
    assert default.stdout.split()[-1] == "5"
    assert off.stdout.split()[-1] == "None"
    assert sqlite.stdout.split()[-1] == "-"
