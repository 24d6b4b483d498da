"""Auditor pages: history search, an instance's timeline, CSV / NDJSON export, chain health;
auditors (and admins) read, approvers and anonymous visitors do not, nobody writes here."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client

from engine.models import AuditEvent, ProcessInstance
from engine.services.instances import process_instance_set_variables, process_instance_start
from engine.services.user_tasks import user_task_complete
from tasks_portal import audit_views
from tests.portal._roles import client_as, role_users
from tests.portal.test_admin_pages import GOOD, _deploy

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
TABLE = AuditEvent._meta.db_table


@pytest.fixture
def users() -> dict[str, User]:
    return role_users()


@pytest.fixture
def auditor(users: dict[str, User]) -> Client:
    return client_as(users, "auditor")


@pytest.fixture
def story(users: dict[str, User]) -> dict[str, ProcessInstance]:
    """Two expense reviews: INV-1 (amount changed by ada, then completed), INV-2 waiting."""
    definition = _deploy(GOOD, actor=users["admin"])
    first, _ = process_instance_start(definition_id=definition.pk, business_key="INV-1",
                                      variables={"amount": 100}, actor=users["admin"], now=T0)
    second, _ = process_instance_start(definition_id=definition.pk, business_key="INV-2",
                                       actor=users["admin"], now=T0 + timedelta(hours=1))
    process_instance_set_variables(instance_id=first.pk, variables={"amount": 80},
                                   actor=users["admin"], now=T0 + timedelta(hours=2))
    task = first.tasks.get()
    user_task_complete(task_id=task.pk, actor=None, now=T0 + timedelta(hours=3))
    return {"first": first, "second": second}


def _urls(instance: ProcessInstance) -> list[str]:
    return ["/audit/", "/audit/?business_key=INV-1", "/audit/export.csv?business_key=INV-1",
            "/audit/export.ndjson", f"/audit/instances/{instance.pk}/", "/audit/health/"]


@pytest.mark.parametrize("role, status", [("auditor", 200), ("admin", 200),
                                          ("approver", 403), ("anonymous", 302)])
def test_history_pages_are_for_auditors_and_admins(
    users: dict, story: dict, role: str, status: int,
) -> None:
    client = client_as(users, role)
    for url in _urls(story["first"]):
        assert client.get(url).status_code == status, url


def test_audit_pages_answer_reads_only(users: dict, story: dict) -> None:
    client = client_as(users, "auditor")
    before = AuditEvent.objects.count()
    for url in _urls(story["first"]):
        assert client.post(url, {"x": "1"}).status_code == 405, url
    assert AuditEvent.objects.count() == before


def test_search_by_business_key_lists_only_that_instances_events(
    auditor: Client, story: dict,
) -> None:
    body = auditor.get("/audit/?business_key=INV-2").content.decode()
    second = story["second"].pk
    assert f'href="/audit/instances/{second}/">#{second}</a>' in body
    assert f'/audit/instances/{story["first"].pk}/' not in body
    assert "process started" in body


def test_search_by_user_kind_element_and_time_narrows_the_result(
    auditor: Client, story: dict,
) -> None:
    body = auditor.get("/audit/", {"actor": "ada", "kind": "variable set",
                                   "since": "2025-06-02T09:30", "until": "2025-06-02T10:30"}
                       ).content.decode()
    rows = body.count("<tr>") - 1  # minus the header row
    assert rows == 1 and "amount" in body and "80" in body
    element = auditor.get("/audit/", {"element": "Review", "kind": "activity completed",
                                      "process": "expense_review"}).content.decode()
    assert element.count("<tr>") - 1 == 1


def test_bad_search_input_is_explained(auditor: Client) -> None:
    response = auditor.get("/audit/", {"since": "yesterday", "instance": "abc"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid date/time." in body and "Enter a whole number." in body
    response = auditor.get("/audit/", {"since": "2025-06-02T10:00", "until": "2025-06-02T09:00"})
    assert response.status_code == 400 and "Until must be after From." in response.content.decode()
    assert auditor.get("/audit/export.csv", {"since": "nope"}).status_code == 400


def test_history_pages_by_one_row_more_than_a_page_without_counting(
    auditor: Client, story: dict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 3)
    total = AuditEvent.objects.count()
    first = auditor.get("/audit/").content.decode()
    assert "Events 1\u20133" in first and 'rel="next"' in first
    last_page = (total + 2) // 3
    last = auditor.get("/audit/", {"page": last_page}).content.decode()
    assert 'rel="next"' not in last and 'rel="prev"' in last


def test_csv_export_streams_the_search_result(auditor: Client, story: dict) -> None:
    response = auditor.get("/audit/export.csv", {"business_key": "INV-1"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="flowdesk-history-')
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = AuditEvent.objects.filter(instance_id=story["first"].pk).count()
    assert len(rows) == expected
    assert {r["business_key"] for r in rows} == {"INV-1"}
    amounts = [json.loads(r["data"])["value"] for r in rows
               if r["kind"] == "variable set" and json.loads(r["data"])["name"] == "amount"]
    assert amounts == [100, 80]


def test_ndjson_export_has_one_object_per_line(auditor: Client, story: dict) -> None:
    response = auditor.get("/audit/export.ndjson", {"instance": story["second"].pk})
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    objects = [json.loads(line) for line in lines]
    assert objects and {o["instance_id"] for o in objects} == {story["second"].pk}
    assert objects[0]["kind"] == "process started" and objects[0]["actor"] == "ada"


def test_instance_timeline_shows_who_did_what_with_the_variable_change(
    auditor: Client, story: dict,
) -> None:
    body = auditor.get(f"/audit/instances/{story['first'].pk}/").content.decode()
    assert "INV-1" in body and "expense_review" in body
    assert "<del>100</del> →" in body and "<ins>80</ins>" in body
    started = body.index("process started")
    completed = body.index("process completed")
    assert started < body.index("<ins>80</ins>") < completed
    assert '<span class="fd-who">ada</span>' in body
    assert '<span class="fd-who">engine</span>' in body  # the task completed by the engine


def test_timeline_of_an_unknown_instance_is_404(auditor: Client) -> None:
    assert auditor.get("/audit/instances/424242/").status_code == 404


def test_health_page_says_the_chains_verify(auditor: Client, story: dict) -> None:
    body = auditor.get("/audit/health/").content.decode()
    events = AuditEvent.objects.count()
    assert "The chains verify" in body
    assert f"<strong>3</strong> chains, <strong>{events}</strong> events" in body


def _tamper(sql: str, params: list[Any]) -> None:
    """Raw SQL past the code guards and, on PostgreSQL, past the append-only trigger."""
    trigger = "engine_auditevent_append_only"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {trigger}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {trigger}")


def test_health_page_names_the_first_broken_row(auditor: Client, story: dict) -> None:
    chain = f"instance:{story['first'].pk}"
    _tamper(f"UPDATE {TABLE} SET actor = %s WHERE chain = %s AND seq = 4",  # noqa: S608
            ["mallory", chain])
    response = auditor.get("/audit/health/")
    body = response.content.decode()
    assert "The audit trail is broken" in body
    assert f"First broken row: chain <code>{chain}</code>, seq <strong>4</strong>" in body
    assert "content changed" in body
    one = auditor.get("/audit/health/", {"chain": f"instance:{story['second'].pk}"})
    assert "The chains verify" in one.content.decode()


@pytest.mark.django_db(transaction=True)
def test_csv_export_streams_under_asgi_without_loading_it_all(
    users: dict, story: dict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under an ASGI server (daphne in production) Django would collect a plain iterator
    into a list before sending it; the export hands it an async iterator instead."""
    import asyncio
    import warnings

    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    monkeypatch.setattr(audit_views, "EXPORT_LINES", 2)
    expected = AuditEvent.objects.filter(instance_id=story["first"].pk).count()

    async def fetch() -> tuple[list[bytes], bool]:
        client = AsyncClient()
        await sync_to_async(client.force_login)(users["auditor"])
        response = await client.get("/audit/export.csv", {"business_key": "INV-1"})
        chunks = [chunk async for chunk in response.streaming_content]
        # The view ran on asgiref's worker thread: close its connection there, as a
        # server does at the end of a request, so the test database can be dropped.
        await sync_to_async(connections.close_all)()
        return chunks, response.is_async

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "must consume synchronous iterators" fails the test
        chunks, is_async = asyncio.run(fetch())
    assert is_async
    assert len(chunks) == (expected + 1 + 1) // 2  # header + rows, two lines a chunk
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == expected and {r["business_key"] for r in rows} == {"INV-1"}


def test_search_form_suggests_process_keys_and_event_kinds(auditor: Client, story: dict) -> None:
    body = auditor.get("/audit/").content.decode()
    assert '<datalist id="process-keys"><option value="expense_review">' in body
    assert '<option value="variable set">' in body
    assert 'list="process-keys"' in body and 'list="audit-kinds"' in body
