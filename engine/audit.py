"""Append-only, hash-chained audit events: appending them and verifying the chains."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from engine import locks
from engine import rows as db_rows
from engine.errors import AuditNeedsTransaction
from engine.models import GENESIS_HASH, AuditChain, AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = [
    "AuditEntry",
    "AuditReport",
    "Problem",
    "audit_append",
    "audit_append_hinted",
    "audit_append_many",
    "audit_kind",
    "canonical_bytes",
    "event_hash",
    "verify",
    "verify_all",
    "verify_chain",
]

_KIND = re.compile(r"[a-z][a-z0-9_. -]{0,63}")
# Python writes floats of magnitude >= 1e16 in exponent form ("1e+16"); PostgreSQL's jsonb
# keeps them as numeric and gives back "10000000000000000", an integer. Such floats are
# always integral, so we store the integer up front and the hash survives the round trip.
_FLOAT_AS_INT_FROM = 1e16
_HEAD_BATCH = 500
_CHUNK = 2000


# --- The hash recipe (docs/audit.md states it for auditors; keep both in step) ---------


def format_at(at: datetime) -> str:
    """`at` as hashed: ISO 8601 in UTC with microseconds and a Z, 2025-03-03T09:00:00.000000Z."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(
    *,
    chain: str,
    seq: int,
    prev_hash: str,
    instance_id: int | None,
    element_id: str | None,
    kind: str,
    actor: str | None,
    actor_id: int | None,
    at: datetime,
    data: Any,
) -> bytes:
    """The exact bytes an event's hash is taken over: one JSON object, keys sorted, compact."""
    content = {
        "chain": chain,
        "seq": seq,
        "prev_hash": prev_hash,
        "instance_id": instance_id,
        "element_id": element_id,
        "kind": kind,
        "actor": actor,
        "actor_id": actor_id,
        "at": format_at(at),
        "data": data,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8")


def event_hash(**content: Any) -> str:
    """Hex SHA-256 of canonical_bytes(**content)."""
    return hashlib.sha256(canonical_bytes(**content)).hexdigest()


def _normalise_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Data as the database will give it back, so the hash taken now verifies later."""
    if data is None:
        return {}
    try:
        plain = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit data must be finite JSON values: {exc}") from exc
    if not isinstance(plain, dict):
        raise ValueError("audit data must be a JSON object")
    normalised: dict[str, Any] = _floats_like_the_database(plain)
    return normalised


def _floats_like_the_database(value: Any) -> Any:
    if isinstance(value, float):
        if abs(value) >= _FLOAT_AS_INT_FROM:
            return int(value)
        # jsonb has no negative zero.
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {key: _floats_like_the_database(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats_like_the_database(item) for item in value]
    return value


# --- Appending -------------------------------------------------------------------------


def audit_kind(kind: str) -> str:
    """`kind` in the one vocabulary (engine.models.AuditKind): words separated by single
    spaces; "task_claimed" and "task claimed" are the same kind."""
    return " ".join(str(kind).replace("_", " ").split())


def _in_vocabulary(entry: AuditEntry) -> AuditEntry:
    kind = entry.kind
    if "_" not in kind and "  " not in kind:
        return entry  # the common case: already a kind of the vocabulary
    return dataclasses.replace(entry, kind=audit_kind(kind))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event to append; the chain, sequence number and hashes are assigned on append."""

    kind: str
    at: datetime
    actor: AbstractBaseUser | str | None = None
    instance_id: int | None = None
    element_id: str | None = None
    data: Mapping[str, Any] | None = None


def _actor_fields(actor: AbstractBaseUser | str | None) -> tuple[str | None, int | None]:
    if actor is None:
        return None, None
    if isinstance(actor, str):
        return actor, None
    pk = actor.pk
    return actor.get_username(), int(pk) if pk is not None else None


def audit_append(
    *,
    chain: str,
    kind: str,
    at: datetime,
    actor: AbstractBaseUser | str | None = None,
    instance_id: int | None = None,
    element_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to `chain`. Must run inside the transaction of what it records."""
    entry = AuditEntry(kind=kind, at=at, actor=actor, instance_id=instance_id,
                       element_id=element_id, data=data)
    (event,) = audit_append_many(chain, [entry])
    return event


def audit_append_many(
    chain: str,
    entries: Sequence[AuditEntry],
    *,
    new_chain: bool = False,
    head_hint: tuple[int, int, str] | None = None,
    returning: bool = True,
) -> list[AuditEvent]:
    """Append `entries` to `chain` in order: one lock, one bulk insert, one head update.

    Must run inside a transaction, so the events commit or vanish with the change they
    record; the chain head stays locked until that transaction ends. `new_chain` is a hint
    that the chain has no head yet (a process instance created in this transaction): the
    head is then inserted with its final seq and hash in one statement, which also locks
    it; if a head exists after all, the append takes the ordinary path. `head_hint` is
    the head (id, last seq, last hash) as the caller read it in this transaction (with
    the instance row, engine.locks): on PostgreSQL the rows then go in with a
    compare-and-set of the head in the same statement, and only a head that moved since
    costs the ordinary lock. With `returning=False` no AuditEvent objects are built and
    [] is returned (the trigger path, which does not need them).
    """
    appended = _append(chain, entries, new_chain=new_chain, head_hint=head_hint,
                       returning=returning)
    return appended[1]


def audit_append_hinted(
    chain: str,
    entries: Sequence[AuditEntry],
    *,
    new_chain: bool = False,
    head_hint: tuple[int, int, str] | None = None,
) -> tuple[int, int, str] | None:
    """audit_append_many without building AuditEvent objects; returns the chain head
    after the append, (id, last seq, last hash), for the caller's next `head_hint`
    (None when nothing was appended or the head id is not known)."""
    return _append(chain, entries, new_chain=new_chain, head_hint=head_hint,
                   returning=False)[0]


_Row = tuple[str, int, int | None, str | None, str, str | None, int | None, datetime,
             dict[str, Any], str, str]


def _append(
    chain: str,
    entries: Sequence[AuditEntry],
    *,
    new_chain: bool,
    head_hint: tuple[int, int, str] | None,
    returning: bool,
) -> tuple[tuple[int, int, str] | None, list[AuditEvent]]:
    if not entries:
        return head_hint, []
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise AuditNeedsTransaction()
    if not chain or len(chain) > 100:
        raise ValueError(f"bad audit chain name {chain!r}")
    prepared = [(_in_vocabulary(entry), _normalise_data(entry.data),
                 _actor_fields(entry.actor)) for entry in entries]
    for entry, _, _ in prepared:
        if not _KIND.fullmatch(entry.kind):
            raise ValueError(f"bad audit event kind {entry.kind!r}")
        format_at(entry.at)  # refuses naive datetimes before anything is locked

    if connection.vendor != "postgresql":
        return None, _append_orm(chain, prepared, new_chain=new_chain)
    if new_chain:
        rows, seq, prev = _chained_rows(chain, prepared, 0, GENESIS_HASH)
        stored = _pg_insert(rows, new_head=(chain, seq, prev))
        if stored is not None:
            return (stored[0], seq, prev), _events(rows, stored[1]) if returning else []
    elif head_hint is not None:
        head_id, seq, prev = head_hint
        rows, new_seq, new_prev = _chained_rows(chain, prepared, seq, prev)
        stored = _pg_insert(rows, compare_and_set=(head_id, seq, prev, new_seq, new_prev))
        if stored is not None:
            return (head_id, new_seq, new_prev), _events(rows, stored[1]) if returning else []
    # The ordinary path: lock the head, then the same compare-and-set cannot miss.
    head = locks.lock_audit_chain(chain)
    rows, seq, prev = _chained_rows(chain, prepared, head.last_seq, head.last_hash)
    stored = _pg_insert(rows, compare_and_set=(head.pk, head.last_seq, head.last_hash,
                                               seq, prev))
    if stored is None:  # pragma: no cover - the head is locked by this transaction
        raise RuntimeError(f"audit chain {chain!r} moved under its lock")
    return (head.pk, seq, prev), _events(rows, stored[1]) if returning else []


def _append_orm(chain: str, prepared: Sequence[_Prepared], *, new_chain: bool
                ) -> list[AuditEvent]:
    """Other databases: the same chain through the ORM."""
    if new_chain:
        rows, seq, prev = _chained_rows(chain, prepared, 0, GENESIS_HASH)
        if _insert_head(chain, seq, prev):
            return AuditEvent.objects.bulk_create(_events(rows, None))
    head = locks.lock_audit_chain(chain)
    rows, seq, prev = _chained_rows(chain, prepared, head.last_seq, head.last_hash)
    created = AuditEvent.objects.bulk_create(_events(rows, None))
    AuditChain.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=prev)
    return created


def _events(rows: list[_Row], ids: dict[int, int] | None) -> list[AuditEvent]:
    """AuditEvent objects of `rows`; with `ids` (seq -> id) as rows already stored."""
    events = [AuditEvent(**dict(zip(_EVENT_COLUMNS, row, strict=True))) for row in rows]
    if ids is not None:
        alias = transaction.get_connection().alias
        for event in events:
            event.pk = ids[event.seq]
            event._state.adding = False
            event._state.db = alias
    return events


_EVENT_COLUMNS = ("chain", "seq", "instance_id", "element_id", "kind", "actor", "actor_id",
                  "at", "data", "prev_hash", "hash")
_EVENT_TYPES = ("varchar", "bigint", "bigint", "varchar", "varchar", "varchar", "bigint",
                "timestamptz", "jsonb", "varchar", "varchar")
_SQL: dict[str, str] = {}


def _pg_sql() -> dict[str, str]:
    if not _SQL:
        qn = transaction.get_connection().ops.quote_name
        events, heads = qn(AuditEvent._meta.db_table), qn(AuditChain._meta.db_table)
        columns = ", ".join(qn(name) for name in _EVENT_COLUMNS)
        arrays = ", ".join(f"%s::{kind}[]" for kind in _EVENT_TYPES)
        insert = (f"INSERT INTO {events} ({columns}) "  # noqa: S608 - names only
                  f"SELECT * FROM unnest({arrays}) AS u WHERE EXISTS (SELECT 1 FROM h) "
                  "RETURNING id, seq")
        _SQL["new"] = (f"WITH h AS (INSERT INTO {heads} (name, last_seq, last_hash) "  # noqa: S608
                       "VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id), "
                       f"e AS ({insert}) SELECT h.id, e.id, e.seq FROM h, e")
        _SQL["cas"] = (f"WITH h AS (UPDATE {heads} SET last_seq = %s, last_hash = %s "  # noqa: S608
                       "WHERE id = %s AND last_seq = %s AND last_hash = %s RETURNING id), "
                       f"e AS ({insert}) SELECT h.id, e.id, e.seq FROM h, e")
    return _SQL


def _pg_insert(
    rows: list[_Row],
    *,
    new_head: tuple[str, int, str] | None = None,
    compare_and_set: tuple[int, int, str, int, str] | None = None,
) -> tuple[int, dict[int, int]] | None:
    """PostgreSQL: insert `rows` and write the chain head in ONE prepared statement.

    With `new_head` (name, seq, hash) the head is inserted (ON CONFLICT DO NOTHING) and the
    rows only if that insert happened. With `compare_and_set` (id, seq, hash, new seq, new
    hash) the head moves on only if it is still at (seq, hash), and the rows go in only
    then: a head that another transaction moved meanwhile (its UPDATE waits for that
    transaction, then sees the new head) writes nothing. Returns (the head id, the rows'
    ids by seq), or None when nothing was written.
    """
    sql = _pg_sql()
    columns = list(zip(*rows, strict=True))
    values: list[Any] = [list(column) for column in columns]
    data_index = _EVENT_COLUMNS.index("data")
    values[data_index] = [json.dumps(d, ensure_ascii=False, allow_nan=False)
                          for d in columns[data_index]]
    if new_head is not None:
        statement, params = sql["new"], [*new_head, *values]
    else:
        assert compare_and_set is not None  # noqa: S101 - one of the two is always given
        head_id, seq, digest, new_seq, new_digest = compare_and_set
        statement, params = sql["cas"], [new_seq, new_digest, head_id, seq, digest, *values]
    with db_rows.cursor() as cursor:
        cursor.execute(statement, params)
        result = cursor.fetchall()
    if not result:
        return None
    return int(result[0][0]), {seq_: pk for _, pk, seq_ in result}


_Prepared = tuple[AuditEntry, dict[str, Any], tuple[str | None, int | None]]


def _chained_rows(
    chain: str, prepared: Sequence[_Prepared], seq: int, prev: str
) -> tuple[list[_Row], int, str]:
    """The rows of `prepared` following a head at (`seq`, `prev`), and the new head."""
    rows: list[_Row] = []
    for entry, data, (actor, actor_id) in prepared:
        seq += 1
        digest = event_hash(
            chain=chain, seq=seq, prev_hash=prev, instance_id=entry.instance_id,
            element_id=entry.element_id, kind=entry.kind, actor=actor, actor_id=actor_id,
            at=entry.at, data=data,
        )
        rows.append((chain, seq, entry.instance_id, entry.element_id, entry.kind, actor,
                     actor_id, entry.at, data, prev, digest))
        prev = digest
    return rows, seq, prev


def _insert_head(chain: str, seq: int, digest: str) -> bool:
    """Insert the head of a chain that has none, already at (`seq`, `digest`).

    True if this transaction inserted it (the uncommitted row is ours alone until commit:
    another first append waits on the unique index, then finds it and locks it). False if
    the chain had a head: nothing was written.
    """
    connection = transaction.get_connection()
    table = connection.ops.quote_name(AuditChain._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, last_seq, last_hash) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (name) DO NOTHING RETURNING id",
            [chain, seq, digest],
        )
        return cursor.fetchone() is not None


# --- Verifying -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """The first broken place of one chain. `seq` names the row (or the head's last seq)."""

    chain: str
    seq: int
    message: str

    def __str__(self) -> str:
        return f"{self.chain} {self.seq}: {self.message}"


@dataclass(slots=True)
class AuditReport:
    """What a verification walked and what it found."""

    chains: int = 0
    events: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_ROW_FIELDS = ("chain", "seq", "prev_hash", "instance_id", "element_id", "kind", "actor",
               "actor_id", "at", "data", "hash")


@dataclass(slots=True)
class _Walk:
    """Where the walk of one chain stands."""

    chain: str
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    broken: bool = False


def _check_row(walk: _Walk, row: dict[str, Any]) -> Problem | None:
    seq = row["seq"]
    content = {name: row[name] for name in _ROW_FIELDS if name != "hash"}
    if event_hash(**content) != row["hash"]:
        return Problem(
            walk.chain, seq,
            "content changed: the row does not match its hash (edited, or moved here)",
        )
    if seq != walk.last_seq + 1:
        missing = (f"seq {walk.last_seq + 1}" if seq == walk.last_seq + 2
                   else f"seq {walk.last_seq + 1}..{seq - 1}")
        return Problem(walk.chain, seq, f"row(s) missing before this one ({missing})")
    if row["prev_hash"] != walk.last_hash:
        before = f"seq {walk.last_seq}" if walk.last_seq else "the chain start"
        return Problem(
            walk.chain, seq,
            f"prev_hash does not match the hash of {before}: a row before it was deleted, "
            "replaced or inserted out of order",
        )
    return None


def _check_head(walk: _Walk, head: tuple[int, str] | None) -> Problem | None:
    if head is None:
        return Problem(walk.chain, walk.last_seq, "the chain has rows but no head row")
    head_seq, head_hash = head
    if head_seq == walk.last_seq and head_hash == walk.last_hash:
        return None
    if head_seq > walk.last_seq:
        return Problem(
            walk.chain, walk.last_seq,
            f"the chain head says the last row is seq {head_seq}; rows after "
            f"seq {walk.last_seq} are missing",
        )
    if head_seq < walk.last_seq:
        return Problem(
            walk.chain, walk.last_seq,
            f"rows after the chain head (seq {head_seq}) were inserted behind its back",
        )
    return Problem(walk.chain, walk.last_seq,
                   "the chain head's hash does not match the last row's hash")


def _walk_rows(rows: Iterable[dict[str, Any]], report: AuditReport) -> Iterator[_Walk]:
    """Check rows ordered by (chain, seq); yield each chain's walk when it ends."""
    walk: _Walk | None = None
    for row in rows:
        report.events += 1
        if walk is None or row["chain"] != walk.chain:
            if walk is not None:
                yield walk
            walk = _Walk(row["chain"])
        if walk.broken:
            continue
        problem = _check_row(walk, row)
        if problem is not None:
            report.problems.append(problem)
            walk.broken = True
            continue
        walk.last_seq, walk.last_hash = row["seq"], row["hash"]
    if walk is not None:
        yield walk


def _check_heads(walks: list[_Walk], report: AuditReport) -> None:
    heads = {
        name: (seq, digest)
        for name, seq, digest in AuditChain.objects.filter(
            name__in=[walk.chain for walk in walks]
        ).values_list("name", "last_seq", "last_hash")
    }
    for walk in walks:
        report.chains += 1
        if walk.broken:
            continue
        problem = _check_head(walk, heads.get(walk.chain))
        if problem is not None:
            report.problems.append(problem)


def _verify(chain: str | None) -> AuditReport:
    report = AuditReport()
    events = AuditEvent.objects.order_by("chain", "seq").values(*_ROW_FIELDS)
    heads = AuditChain.objects.order_by("name")
    if chain is not None:
        events = events.filter(chain=chain)
        heads = heads.filter(name=chain)
    # One stream over every row; heads are fetched for a few hundred chains at a time,
    # so memory stays flat however many instances there are.
    pending: list[_Walk] = []
    for walk in _walk_rows(events.iterator(chunk_size=_CHUNK), report):
        pending.append(walk)
        if len(pending) >= _HEAD_BATCH:
            _check_heads(pending, report)
            pending = []
    _check_heads(pending, report)
    # Heads whose rows are all gone.
    has_rows = AuditEvent.objects.filter(chain=OuterRef("name"))
    for name, head_seq in (
        heads.exclude(Exists(has_rows)).values_list("name", "last_seq").iterator(_CHUNK)
    ):
        report.chains += 1
        if head_seq:
            report.problems.append(Problem(
                name, head_seq, f"the chain head says the last row is seq {head_seq}; "
                "every row of the chain is missing",
            ))
    return report


def verify(*, chain: str | None = None) -> AuditReport:
    """Walk every chain (or one) and report the first broken row of each.

    Runs in one transaction so the rows and heads come from one snapshot (REPEATABLE READ
    on PostgreSQL) and appends committed meanwhile do not look like tampering.
    """
    connection = transaction.get_connection()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(chain)


def verify_chain(name: str) -> list[Problem]:
    """Problems of chain `name`: its first broken row and a head disagreeing with its rows."""
    return verify(chain=name).problems


def verify_all() -> AuditReport:
    """Verify every chain."""
    return verify()
