"""History reads for auditors and the API: search the audit trail, stream it out, timelines.

Everything here reads `AuditEvent` rows only (plus the instance table to resolve a process
key or business key); nothing writes. Exports are generators over `.iterator()`, so a
million rows go out at the speed of the connection with memory flat: the CSV and NDJSON
functions never hold more than one chunk of rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from engine import runtime
from engine.models import SYSTEM_CHAIN, AuditEvent, AuditKind, ProcessInstance

__all__ = [
    "CSV_COLUMNS",
    "EXPORT_CHUNK",
    "audit_event_search",
    "audit_kinds",
    "audit_rows_csv",
    "audit_rows_ndjson",
    "instance_timeline",
]

# Rows fetched per round trip when streaming (a server-side cursor on PostgreSQL).
EXPORT_CHUNK = 2000

# The export columns, in order. `process` and `business_key` are looked up from the
# instance (they are not part of the hashed row); the rest are the row as stored, so an
# auditor can recompute every hash from the file (docs/audit.md has the recipe).
CSV_COLUMNS = ("at", "chain", "seq", "instance_id", "process", "business_key", "element_id",
               "kind", "actor", "actor_id", "data", "prev_hash", "hash")
_ROW_COLUMNS = tuple(c for c in CSV_COLUMNS if c not in ("process", "business_key"))

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such a cell gets a leading apostrophe. Element ids, kinds and hashes never start so;
# usernames and business keys can.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def audit_event_search(
    *,
    instance_id: int | None = None,
    definition_key: str | None = None,
    business_key: str | None = None,
    element_id: str | None = None,
    actor: str | None = None,
    kind: str | Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events matching every given filter, oldest first (by time, then row id).

    `definition_key` selects the events of every instance of any version of that process,
    and the `deployed` events of its versions; `business_key` the events of instances with
    that business key. `actor` is a username, exact. `kind` is one kind or several.
    `since` is inclusive and `until` exclusive, so consecutive windows do not overlap.
    """
    events = AuditEvent.objects.all()
    if instance_id is not None:
        events = events.filter(instance_id=instance_id)
    if definition_key is not None:
        of_key = ProcessInstance.objects.filter(definition__key=definition_key).values("pk")
        events = events.filter(
            Q(instance_id__in=of_key)
            | Q(chain=SYSTEM_CHAIN, kind=AuditKind.DEPLOYED, element_id=definition_key)
        )
    if business_key is not None:
        events = events.filter(instance_id__in=ProcessInstance.objects.filter(
            business_key=business_key).values("pk"))
    if element_id is not None:
        events = events.filter(element_id=element_id)
    if actor is not None:
        events = events.filter(actor=actor)
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        events = events.filter(kind__in=kinds)
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events.order_by("at", "id")


def audit_kinds() -> list[str]:
    """Every event kind the engine writes (for a search form's choices), sorted.

    Taken from the code, not from the table: a DISTINCT over millions of rows would be a
    full index scan for a dropdown.
    """
    kinds = {str(k) for k in runtime.AuditKind} | {str(k) for k in AuditKind}
    kinds.add("called by")
    return sorted(kinds)


def _with_instance_columns(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    instance = ProcessInstance.objects.filter(pk=OuterRef("instance_id"))
    return events.annotate(
        process=Subquery(instance.values("definition__key")[:1]),
        business_key=Subquery(instance.values("business_key")[:1]),
    )


def _rows(events: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    """The export rows of `events`, streamed in chunks (never the whole result in memory)."""
    for values in _with_instance_columns(events).values_list(*CSV_COLUMNS).iterator(
        chunk_size=EXPORT_CHUNK
    ):
        row = dict(zip(CSV_COLUMNS, values, strict=True))
        at: datetime = row["at"]
        row["at"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        yield row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def audit_rows_csv(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """`events` as CSV text, one string per line, the header first (RFC 4180, CRLF).

    `at` is UTC with microseconds (the form the hash recipe uses); `data` is compact JSON
    with sorted keys; an empty cell is a null.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    for row in _rows(events):
        yield line(_cell(row[name]) for name in CSV_COLUMNS)


def audit_rows_ndjson(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """`events` as newline-delimited JSON: one object per line, with CSV_COLUMNS as keys."""
    for row in _rows(events):
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def instance_timeline(*, instance_id: int) -> list[dict[str, Any]]:
    """What happened to one instance, in order: who did what when, with variable changes.

    Each entry: `seq`, `at` (datetime), `kind`, `element_id`, `actor` (username or None for
    the engine), `data`, and `change` for a variable being set: `{"name", "old", "new",
    "first"}` (`first` True when the variable had no value before), so a reader sees what
    a person or a step changed, not only the new value.
    """
    timeline: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    rows = AuditEvent.objects.filter(instance_id=instance_id).order_by("seq").values(
        "seq", "chain", "at", "kind", "element_id", "actor", "data")
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        entry: dict[str, Any] = dict(row)
        data = row["data"] if isinstance(row["data"], dict) else {}
        if row["kind"] in (str(runtime.AuditKind.VARIABLE_SET), AuditKind.VARIABLE_SET) and (
            "name" in data
        ):
            name = str(data["name"])
            entry["change"] = {"name": name, "old": values.get(name), "new": data.get("value"),
                               "first": name not in values}
            values[name] = data.get("value")
        timeline.append(entry)
    return timeline
