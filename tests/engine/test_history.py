"""History reads: search filters, CSV / NDJSON exports streamed, an instance's timeline."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from engine import history
from engine.audit import AuditEntry, audit_append_many, event_hash
from engine.history import (
    CSV_COLUMNS,
    audit_event_search,
    audit_rows_csv,
    audit_rows_ndjson,
    instance_timeline,
)
from engine.models import AuditEvent
from engine.services.instances import process_instance_set_variables, process_instance_start
from engine.services.user_tasks import user_task_complete
from tests.engine._instances import NOW, deploy, open_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_runs() -> dict[str, int]:
    """Two approval instances (business keys B-1 and B-2) and one minimal one; one completed."""
    users = get_user_model().objects
    ann, bob = users.create_user("ann"), users.create_user("bob")
    deploy("approval.bpmn")
    deploy("minimal_process.bpmn")
    first, _ = process_instance_start(key="approval", variables={"requester": "ann"},
                                      business_key="B-1", actor=ann, now=NOW)
    second, _ = process_instance_start(key="approval", variables={"requester": "bob"},
                                       business_key="B-2", actor=bob,
                                       now=NOW + timedelta(hours=1))
    process_instance_set_variables(instance_id=first.pk, variables={"amount": 10}, actor=bob,
                                   now=NOW + timedelta(hours=2))
    process_instance_set_variables(instance_id=first.pk, variables={"amount": 25}, actor=bob,
                                   now=NOW + timedelta(hours=3))
    user_task_complete(task_id=open_task(first.pk, "Review").pk, actor=None,
                       variables={"ok": True}, now=NOW + timedelta(hours=4))
    other, _ = process_instance_start(key=_minimal_key(), actor=ann,
                                      now=NOW + timedelta(hours=5))
    return {"first": first.pk, "second": second.pk, "other": other.pk}


def _minimal_key() -> str:
    from engine.models import ProcessDefinition

    return ProcessDefinition.objects.exclude(key="approval").get().key


def test_search_by_business_key_returns_only_that_instances_events(two_runs: dict) -> None:
    events = list(audit_event_search(business_key="B-2"))
    assert events and {e.instance_id for e in events} == {two_runs["second"]}
    assert events[0].kind == "process started"


def test_search_by_process_key_takes_every_instance_and_the_deployment(two_runs: dict) -> None:
    events = audit_event_search(definition_key="approval")
    instances = {e.instance_id for e in events}
    assert instances == {two_runs["first"], two_runs["second"], None}
    deployed = [e for e in events if e.kind == "deployed"]
    assert len(deployed) == 1 and deployed[0].data["key"] == "approval"


def test_search_by_actor_element_and_kind_combine(two_runs: dict) -> None:
    by_bob = list(audit_event_search(actor="bob", kind="variable set"))
    # bob set `requester` when starting the second run, and `amount` twice on the first.
    assert sorted((e.instance_id, e.data["name"], e.data["value"]) for e in by_bob) == sorted([
        (two_runs["second"], "requester", "bob"),
        (two_runs["first"], "amount", 10), (two_runs["first"], "amount", 25),
    ])
    review = audit_event_search(element_id="Review", kind=["activity started",
                                                           "activity completed"])
    assert sorted((e.instance_id, e.kind) for e in review) == sorted([
        (two_runs["first"], "activity started"), (two_runs["first"], "activity completed"),
        (two_runs["second"], "activity started"),
    ])


def test_time_window_includes_since_and_excludes_until(two_runs: dict) -> None:
    window = audit_event_search(since=NOW + timedelta(hours=1), until=NOW + timedelta(hours=4))
    times = {e.at for e in window}
    assert times == {NOW + timedelta(hours=h) for h in (1, 2, 3)}


def test_search_results_are_ordered_by_time(two_runs: dict) -> None:
    times = list(audit_event_search().values_list("at", flat=True))
    assert times == sorted(times) and len(times) > 10


def test_unknown_filters_values_find_nothing_instead_of_everything(two_runs: dict) -> None:
    assert not audit_event_search(business_key="nope").exists()
    assert not audit_event_search(definition_key="nope").exists()
    assert not audit_event_search(actor="nobody").exists()


def test_csv_has_a_header_then_one_line_per_event_with_the_hashed_content(
    two_runs: dict,
) -> None:
    events = audit_event_search(instance_id=two_runs["first"])
    text = "".join(audit_rows_csv(events))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == events.count()
    assert {r["process"] for r in rows} == {"approval"}
    assert {r["business_key"] for r in rows} == {"B-1"}
    amount = [r for r in rows if r["kind"] == "variable set" and '"amount"' in r["data"]]
    assert [json.loads(r["data"])["value"] for r in amount] == [10, 25]
    assert [r["actor"] for r in amount] == ["bob", "bob"]
    # The export carries everything the hash recipe needs: an auditor can re-verify it.
    for row in rows:
        at = datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert event_hash(
            chain=row["chain"], seq=int(row["seq"]), prev_hash=row["prev_hash"],
            instance_id=int(row["instance_id"]), element_id=row["element_id"] or None,
            kind=row["kind"], actor=row["actor"] or None,
            actor_id=int(row["actor_id"]) if row["actor_id"] else None,
            at=at, data=json.loads(row["data"]),
        ) == row["hash"]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_defused() -> None:
    user = get_user_model().objects.create_user("=HYPERLINK(1)")
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables={"requester": "x"},
                                         business_key="+cmd", actor=user, now=NOW)
    rows = list(csv.DictReader(io.StringIO("".join(
        audit_rows_csv(audit_event_search(instance_id=instance.pk))))))
    assert {r["actor"] for r in rows} == {"'=HYPERLINK(1)"}
    assert {r["business_key"] for r in rows} == {"'+cmd"}


def test_csv_of_no_events_is_just_the_header() -> None:
    assert list(audit_rows_csv(AuditEvent.objects.none())) == [",".join(CSV_COLUMNS) + "\r\n"]


def test_ndjson_is_one_json_object_a_line_with_the_same_fields(two_runs: dict) -> None:
    events = audit_event_search(business_key="B-2")
    lines = list(audit_rows_ndjson(events))
    assert len(lines) == events.count() and all(line.endswith("\n") for line in lines)
    objects = [json.loads(line) for line in lines]
    assert set(objects[0]) == set(CSV_COLUMNS)
    assert objects[0]["kind"] == "process started" and objects[0]["actor"] == "bob"
    assert objects[0]["business_key"] == "B-2" and objects[0]["process"] == "approval"
    assert isinstance(objects[0]["data"], dict)
    assert [o["seq"] for o in objects] == list(range(1, len(objects) + 1))


def test_exports_run_no_query_before_they_are_read(
    two_runs: dict, django_assert_num_queries: object,
) -> None:
    events = audit_event_search(business_key="B-1")
    with django_assert_num_queries(0):  # type: ignore[operator]
        stream = audit_rows_csv(events)
        header = next(stream)
    assert header.startswith("at,chain,seq")
    assert sum(1 for _ in stream) == events.count()


def _many_events(count: int) -> None:
    padding = "x" * 300
    with transaction.atomic():
        audit_append_many("instance:999", [
            AuditEntry(kind="activity started", at=NOW + timedelta(microseconds=n),
                       instance_id=999, element_id=f"Task_{n % 7}", actor="bulk",
                       data={"n": n, "note": padding})
            for n in range(count)
        ])


def _peak_bytes(consume: object) -> int:
    tracemalloc.start()
    try:
        consume()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_exports_stream_in_chunks_so_memory_does_not_grow_with_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _many_events(6000)
    monkeypatch.setattr(history, "EXPORT_CHUNK", 200)
    events = audit_event_search(instance_id=999)

    def stream_csv() -> None:
        assert sum(1 for _ in audit_rows_csv(events)) == 6001

    def stream_ndjson() -> None:
        assert sum(1 for _ in audit_rows_ndjson(events)) == 6000

    def load_all() -> None:
        assert len(list(events.values_list(*[c for c in CSV_COLUMNS if c not in (
            "process", "business_key")]))) == 6000

    loaded = _peak_bytes(load_all)
    # Streaming 200 rows at a time must peak far below holding all 6000 rows at once.
    assert _peak_bytes(stream_csv) < loaded / 4
    assert _peak_bytes(stream_ndjson) < loaded / 4


def test_timeline_lists_who_did_what_with_old_and_new_variable_values(two_runs: dict) -> None:
    timeline = instance_timeline(instance_id=two_runs["first"])
    assert [e["seq"] for e in timeline] == list(range(1, len(timeline) + 1))
    assert timeline[0]["kind"] == "process started" and timeline[0]["actor"] == "ann"
    changes = [(e["actor"], e["change"]) for e in timeline if "change" in e]
    assert changes == [
        ("ann", {"name": "requester", "old": None, "new": "ann", "first": True}),
        ("bob", {"name": "amount", "old": None, "new": 10, "first": True}),
        ("bob", {"name": "amount", "old": 10, "new": 25, "first": False}),
        (None, {"name": "ok", "old": None, "new": True, "first": True}),
    ]
    assert timeline[-1]["kind"] == "process completed"
    assert timeline[-1]["at"] == NOW + timedelta(hours=4)


def test_timeline_of_an_unknown_instance_is_empty() -> None:
    assert instance_timeline(instance_id=123456) == []
