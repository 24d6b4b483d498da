"""The audit trail: hash chains are built on append, guarded against change, and verified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from engine.audit import (
    AuditEntry,
    audit_append,
    audit_append_many,
    event_hash,
    verify_all,
    verify_chain,
)
from engine.errors import AuditIsAppendOnly, AuditNeedsTransaction, DeploymentInvalid
from engine.models import (
    GENESIS_HASH,
    SYSTEM_CHAIN,
    AuditChain,
    AuditEvent,
    AuditKind,
    instance_chain,
)
from engine.services.deployments import deployment_create

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 9, 0, 0, 123456, tzinfo=UTC)
TABLE = AuditEvent._meta.db_table
TRIGGER = "engine_auditevent_append_only"
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the append-only trigger exists on PostgreSQL only; runs in the PostgreSQL pass",
)


def _append_chain(chain: str = "instance:7", count: int = 5) -> list[AuditEvent]:
    return [
        audit_append(
            chain=chain,
            kind=AuditKind.ACTIVITY_STARTED,
            at=T0 + timedelta(seconds=number),
            instance_id=7,
            element_id=f"Task_{number}",
            actor="alice",
            data={"n": number},
        )
        for number in range(1, count + 1)
    ]


@contextmanager
def _trigger_off() -> Iterator[None]:
    """Tampering needs the PostgreSQL trigger out of the way (the test user owns the table)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")


def _tamper(sql: str, params: tuple[Any, ...] = (), **names: str) -> None:
    """Raw SQL past the code guards (and past the trigger on PostgreSQL)."""
    with _trigger_off(), connection.cursor() as cursor:
        cursor.execute(sql.format(table=TABLE, **names), params)


def _messages(chain: str) -> list[str]:
    return [str(problem) for problem in verify_chain(chain)]


# --- Appending builds a chain ----------------------------------------------------------


def test_appending_builds_a_linked_chain_and_moves_the_head():
    events = _append_chain(count=3)

    rows = list(AuditEvent.objects.filter(chain="instance:7").order_by("seq"))
    assert [row.seq for row in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert [row.hash for row in rows] == [event.hash for event in events]
    head = AuditChain.objects.get(name="instance:7")
    assert (head.last_seq, head.last_hash) == (3, rows[-1].hash)
    assert verify_chain("instance:7") == []


def test_each_chain_counts_its_own_sequence():
    audit_append(chain=instance_chain(1), kind="process started", at=T0, instance_id=1)
    audit_append(chain=instance_chain(2), kind="process started", at=T0, instance_id=2)
    audit_append(chain=instance_chain(1), kind="process completed", at=T0, instance_id=1)

    seqs = sorted(AuditEvent.objects.values_list("chain", "seq"))
    assert seqs == [("instance:1", 1), ("instance:1", 2), ("instance:2", 1)]
    report = verify_all()
    assert (report.chains, report.events, report.problems) == (2, 3, [])


def test_a_batch_is_appended_with_one_lock_one_insert_and_one_head_update(
    django_assert_num_queries,
):
    audit_append(chain="instance:9", kind="process started", at=T0, instance_id=9)
    batch = [
        AuditEntry(kind="activity started", at=T0, instance_id=9, element_id=f"T{number}")
        for number in range(50)
    ]

    # PostgreSQL writes the rows and the head in one statement; other databases in two.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        created = audit_append_many("instance:9", batch)

    assert [event.seq for event in created] == list(range(2, 52))
    assert all(event.pk is not None for event in created)
    assert AuditChain.objects.get(name="instance:9").last_seq == 51
    assert verify_chain("instance:9") == []


def test_the_new_chain_hint_inserts_the_head_and_falls_back_when_it_exists():
    first = [AuditEntry(kind="process started", at=T0, instance_id=7, element_id="p")]
    created = audit_append_many("instance:7", first, new_chain=True)
    assert [event.seq for event in created] == [1]
    head = AuditChain.objects.get(name="instance:7")
    assert (head.last_seq, head.last_hash) == (1, created[0].hash)

    # A wrong hint (the chain exists) writes nothing twice: the ordinary path appends.
    again = [AuditEntry(kind="process completed", at=T0, instance_id=7, element_id="p")]
    created = audit_append_many("instance:7", again, new_chain=True)
    assert [event.seq for event in created] == [2]
    assert AuditEvent.objects.filter(chain="instance:7").count() == 2
    assert verify_chain("instance:7") == []


def test_a_user_actor_is_kept_as_username_and_id_so_deleting_the_user_keeps_history():
    user = get_user_model().objects.create_user("carol")
    event = audit_append(chain=SYSTEM_CHAIN, kind="task claimed", at=T0, actor=user)
    user_id = user.pk

    user.delete()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.actor_id) == ("carol", user_id)
    assert verify_chain(SYSTEM_CHAIN) == []


def test_the_documented_recipe_reproduces_the_stored_hash_without_engine_code():
    # docs/audit.md tells auditors exactly this; if it changes, the doc must change too.
    audit_append(chain="system", kind="deployed", at=T0, actor="root")
    event = audit_append(
        chain="instance:3", kind="variable set",
        at=datetime(2025, 3, 3, 10, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        actor=None, instance_id=3, element_id="Review", data={"b": [1, "ü"], "a": None},
    )
    stored = AuditEvent.objects.get(pk=event.pk)

    content = {
        "chain": "instance:3", "seq": 1, "prev_hash": "0" * 64, "instance_id": 3,
        "element_id": "Review", "kind": "variable set", "actor": None, "actor_id": None,
        "at": "2025-03-03T08:00:00.000005Z", "data": {"a": None, "b": [1, "ü"]},
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stored.hash == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_data_that_the_database_rewrites_still_verifies_after_reading_it_back():
    # jsonb turns 1e+20 into an integer and has no -0.0; JSON has no tuples or int keys.
    data = {
        "floats": [1.5, 1e-7, 1e20, -0.0, 1.0, 0.1 + 0.2, 5e-324, -2.5e300],
        "big": 2**70, "text": 'Zürich ✓ "q" \\ \n', "tuple": (1, 2), 3: "int key",
        "nested": {"b": True, "a": [None, False, {}]},
    }
    event = audit_append(chain="instance:4", kind="variable set", at=T0, data=data)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data["floats"][2] == 10**20 and stored.data["3"] == "int key"
    assert verify_chain("instance:4") == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"at": datetime(2025, 3, 3, 9, 0)}, "timezone-aware"),
        ({"kind": "Not A Kind!"}, "kind"),
        ({"data": {"x": float("nan")}}, "finite JSON"),
        ({"data": {"x": object()}}, "finite JSON"),
        ({"chain": ""}, "chain"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(change, error):
    arguments = {"chain": "instance:5", "kind": "process started", "at": T0, **change}

    with pytest.raises(ValueError, match=error):
        audit_append(**arguments)

    assert not AuditEvent.objects.exists() and not AuditChain.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_appending_outside_a_transaction_is_refused():
    with pytest.raises(AuditNeedsTransaction) as refused:
        audit_append(chain="instance:1", kind="process started", at=T0)

    assert refused.value.code == "audit.no-transaction"
    assert not AuditEvent.objects.exists()


# --- Append-only guards ----------------------------------------------------------------


def test_orm_updates_and_deletes_of_audit_rows_are_refused():
    (event,) = _append_chain(count=1)
    stored = AuditEvent.objects.get(pk=event.pk)
    stored.kind = "forged"

    attempts = [
        stored.save,
        stored.delete,
        lambda: AuditEvent.objects.filter(pk=event.pk).update(kind="forged"),
        lambda: AuditEvent.objects.all().delete(),
        lambda: AuditEvent.objects.bulk_update([stored], ["kind"]),
    ]
    for attempt in attempts:
        with pytest.raises(AuditIsAppendOnly) as refused:
            attempt()
        assert refused.value.code == "audit.append-only"

    assert AuditEvent.objects.get(pk=event.pk).kind == "activity started"
    assert verify_chain("instance:7") == []


@on_postgresql
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET kind = 'forged'",
        "DELETE FROM {table}",
    ],
)
def test_postgresql_trigger_refuses_raw_sql_updates_and_deletes(statement):
    _append_chain(count=2)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement.format(table=TABLE))

    assert AuditEvent.objects.count() == 2
    assert verify_chain("instance:7") == []


# --- Tampering is detected -------------------------------------------------------------


def test_changed_data_names_that_row():
    _append_chain()

    _tamper("UPDATE {table} SET data = %s WHERE chain = %s AND seq = 3",
            ('{"n": 300}', "instance:7"))

    assert _messages("instance:7") == [
        "instance:7 3: content changed: the row does not match its hash (edited, or moved here)"
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "mallory"), ("kind", "task completed"), ("element_id", "Other"),
     ("instance_id", 8), ("actor_id", 1)],
)
def test_every_hashed_column_is_covered(column, value):
    _append_chain()

    _tamper("UPDATE {table} SET {column} = %s WHERE chain = %s AND seq = 2",
            (value, "instance:7"), column=column)

    (problem,) = verify_chain("instance:7")
    assert (problem.seq, problem.message.split(":")[0]) == (2, "content changed")


def test_changed_time_names_that_row():
    _append_chain()

    _tamper("UPDATE {table} SET at = %s WHERE chain = %s AND seq = 4",
            (T0 + timedelta(days=1), "instance:7"))

    assert [problem.seq for problem in verify_chain("instance:7")] == [4]


def test_deleted_middle_row_names_the_next_row():
    _append_chain()

    _tamper("DELETE FROM {table} WHERE chain = %s AND seq = 3", ("instance:7",))

    assert _messages("instance:7") == ["instance:7 4: row(s) missing before this one (seq 3)"]


def test_deleted_first_rows_name_the_first_remaining_row():
    _append_chain()

    _tamper("DELETE FROM {table} WHERE chain = %s AND seq <= 2", ("instance:7",))

    assert _messages("instance:7") == [
        "instance:7 3: row(s) missing before this one (seq 1..2)"
    ]


def test_deleted_last_row_is_caught_by_the_chain_head():
    _append_chain()

    _tamper("DELETE FROM {table} WHERE chain = %s AND seq = 5", ("instance:7",))

    assert _messages("instance:7") == [
        "instance:7 4: the chain head says the last row is seq 5; rows after seq 4 are missing"
    ]


def test_deleting_every_row_of_a_chain_is_caught_by_the_chain_head():
    _append_chain()

    _tamper("DELETE FROM {table} WHERE chain = %s", ("instance:7",))

    report = verify_all()
    assert report.chains == 1 and [problem.seq for problem in report.problems] == [5]
    assert "every row of the chain is missing" in report.problems[0].message


def test_swapped_rows_name_the_first_of_them():
    _append_chain()

    for old, new in ((2, 1000), (3, 2), (1000, 3)):
        _tamper("UPDATE {table} SET seq = %s WHERE chain = %s AND seq = %s",
                (new, "instance:7", old))

    (problem,) = verify_chain("instance:7")
    assert problem.seq == 2 and problem.message.startswith("content changed")


def test_a_replaced_row_with_a_valid_own_hash_is_caught_by_the_next_rows_link():
    rows = _append_chain()
    _tamper("DELETE FROM {table} WHERE chain = %s AND seq = 3", ("instance:7",))
    # A forger who knows the recipe rebuilds row 3 consistently with row 2 ...
    content: dict[str, Any] = {
        "chain": "instance:7", "seq": 3, "prev_hash": rows[1].hash, "instance_id": 7,
        "element_id": "Task_3", "kind": "activity started", "actor": "mallory",
        "actor_id": None, "at": T0 + timedelta(seconds=3), "data": {"n": 3},
    }
    AuditEvent.objects.bulk_create([AuditEvent(**content, hash=event_hash(**content))])

    # ... but row 4 still carries the hash of the original row 3.
    (problem,) = verify_chain("instance:7")
    assert problem.seq == 4
    assert problem.message.startswith("prev_hash does not match the hash of seq 3")


def test_a_row_inserted_at_the_end_behind_the_heads_back_is_caught():
    rows = _append_chain(count=2)
    content: dict[str, Any] = {
        "chain": "instance:7", "seq": 3, "prev_hash": rows[-1].hash, "instance_id": 7,
        "element_id": "Task_3", "kind": "task completed", "actor": "mallory",
        "actor_id": None, "at": T0, "data": {},
    }
    AuditEvent(**content, hash=event_hash(**content)).save()

    assert _messages("instance:7") == [
        "instance:7 3: rows after the chain head (seq 2) were inserted behind its back"
    ]


def test_a_chain_head_that_disagrees_with_the_last_row_is_reported():
    _append_chain(count=3)

    AuditChain.objects.filter(name="instance:7").update(last_hash="f" * 64)

    assert _messages("instance:7") == [
        "instance:7 3: the chain head's hash does not match the last row's hash"
    ]


def test_a_chain_without_head_row_is_reported():
    _append_chain(count=2)

    AuditChain.objects.filter(name="instance:7").delete()

    assert _messages("instance:7") == ["instance:7 2: the chain has rows but no head row"]


def test_only_the_first_break_of_a_chain_is_reported_and_other_chains_stay_ok():
    _append_chain("instance:7")
    _append_chain("instance:8")
    _tamper("UPDATE {table} SET actor = 'x' WHERE chain = %s AND seq IN (2, 4)",
            ("instance:7",))

    report = verify_all()

    assert (report.chains, report.events) == (2, 10)
    assert [(problem.chain, problem.seq) for problem in report.problems] == [("instance:7", 2)]


# --- manage.py verify_audit ------------------------------------------------------------


def _verify_command(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_verify_audit_prints_ok_and_exits_0_when_every_chain_holds():
    _append_chain("instance:7", count=3)
    _append_chain("instance:8", count=2)

    assert _verify_command() == (0, "2 chains, 5 events verified, OK\n")
    assert _verify_command("--chain", "instance:8") == (0, "1 chains, 2 events verified, OK\n")


def test_verify_audit_names_each_broken_row_and_exits_1():
    _append_chain("instance:7")
    _append_chain("instance:8")
    _append_chain("instance:9")
    _tamper("UPDATE {table} SET data = '{{}}' WHERE chain = %s AND seq = 2", ("instance:7",))
    _tamper("DELETE FROM {table} WHERE chain = %s AND seq = 4", ("instance:9",))

    code, output = _verify_command()

    assert code == 1
    assert output.splitlines() == [
        "instance:7 2: content changed: the row does not match its hash (edited, or moved here)",
        "instance:9 5: row(s) missing before this one (seq 4)",
        "3 chains, 14 events verified, 2 broken",
    ]
    assert _verify_command("--chain", "instance:8")[0] == 0


def test_verify_audit_refuses_an_unknown_chain():
    with pytest.raises(CommandError, match="no audit chain named 'instance:404'"):
        call_command("verify_audit", "--chain", "instance:404", stdout=StringIO())


# --- Deployments write the system chain ------------------------------------------------


def test_deploying_writes_one_deployed_event_per_new_version_on_the_system_chain(bpmn):
    admin = get_user_model().objects.create_user("deployer")
    data = bpmn("two_processes.bpmn")

    deployment = deployment_create(files=[("two.bpmn", data)], actor=admin, name="pair")

    events = list(AuditEvent.objects.filter(chain=SYSTEM_CHAIN).order_by("seq"))
    assert [(e.seq, e.kind, e.actor, e.actor_id) for e in events] == [
        (1, "deployed", "deployer", admin.pk), (2, "deployed", "deployer", admin.pk),
    ]
    assert all(e.at == deployment.deployed_at and e.instance_id is None for e in events)
    definitions = {d.key: d for d in deployment.process_definitions.all()}
    assert [e.data for e in events] == [
        {
            "deployment_id": deployment.pk, "deployment_name": "pair",
            "definition_id": definitions[e.element_id].pk, "key": e.element_id,
            "version": 1, "checksum": hashlib.sha256(data).hexdigest(),
            "source_name": "two.bpmn",
        }
        for e in events
    ]
    assert verify_chain(SYSTEM_CHAIN) == []


def test_redeploying_identical_bytes_or_a_refused_file_writes_no_event(bpmn):
    deployment_create(files=[("m.bpmn", bpmn("minimal_process.bpmn"))], actor=None)

    deployment_create(files=[("m.bpmn", bpmn("minimal_process.bpmn"))], actor=None)
    with pytest.raises(DeploymentInvalid):
        deployment_create(files=[("b.bpmn", bpmn("flow_to_missing_target.bpmn"))], actor=None)
    deployment_create(files=[("m.bpmn", bpmn("minimal_process_renamed.bpmn"))], actor=None)

    versions = [e.data["version"] for e in AuditEvent.objects.filter(chain=SYSTEM_CHAIN)]
    assert versions == [1, 2]
    assert verify_chain(SYSTEM_CHAIN) == []


# --- One vocabulary of kinds (docs/audit.md) -----------------------------------------


def test_every_kind_the_runtime_writes_is_in_the_one_vocabulary():
    from engine import runtime

    assert {str(k) for k in runtime.AuditKind} <= set(AuditKind.values)


def test_every_kind_is_lower_case_words_separated_by_single_spaces():
    for kind in AuditKind.values:
        assert kind == " ".join(kind.split()) and kind == kind.lower(), kind
        assert all(part.isalpha() for part in kind.split()), kind


def test_a_kind_written_with_underscores_is_stored_in_the_vocabulary_and_verifies():
    event = audit_append(chain="instance:11", kind="task_claimed", at=T0, instance_id=11)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.kind == event.kind == AuditKind.TASK_CLAIMED == "task claimed"
    assert verify_chain("instance:11") == []


def test_a_run_writes_only_kinds_of_the_vocabulary():
    from engine.services.instances import process_instance_start, process_instance_suspend
    from tests.engine._instances import deploy

    bob = get_user_model().objects.create_user("bob")
    deploy("approval.bpmn")
    instance, _ = process_instance_start(key="approval", variables={"requester": "bob"},
                                         actor=bob, now=T0)
    process_instance_suspend(instance_id=instance.pk, actor=bob, now=T0)
    kinds = set(AuditEvent.objects.filter(instance_id=instance.pk).values_list("kind",
                                                                               flat=True))
    assert {"process started", "activity started", "suspended"} <= kinds
    assert kinds <= set(AuditKind.values)


def test_every_kind_written_anywhere_in_the_code_is_in_the_vocabulary():
    # Every literal kind handed to an audit writer in engine/ and tasks_portal/ (as stored,
    # i.e. underscores read as spaces) is listed in AuditKind, which docs/audit.md explains.
    import ast
    from pathlib import Path

    from engine.audit import audit_kind

    root = Path(__file__).resolve().parents[2]
    writers = {"audit_append", "audit_append_many", "audit_append_hinted", "audit_instance",
               "AuditEntry", "_record"}
    found: dict[str, str] = {}
    for path in [*root.joinpath("engine").rglob("*.py"),
                 *root.joinpath("tasks_portal").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in writers:
                continue
            literals = [k.value for k in node.keywords if k.arg == "kind"]
            if name == "audit_instance" and len(node.args) > 1:
                literals.append(node.args[1])
            for value in literals:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found[value.value] = f"{path.relative_to(root)}:{node.lineno}"
    assert found, "the scan found no audit writer at all"
    missing = {kind: where for kind, where in found.items()
               if audit_kind(kind) not in AuditKind.values}
    assert missing == {}
