"""Row locks. The only module that calls select_for_update, so lock order lives in one place.

Lock order: process keys in ascending key order (a deployment may carry several keys;
two deployments locking the same keys in the same order cannot deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.models import ProcessKey


def lock_process_keys(keys: Iterable[str]) -> dict[str, ProcessKey]:
    """Lock (creating if needed) the version counter row of every key, in key order.

    Must run inside a transaction. Rows are created with INSERT ... ON CONFLICT DO NOTHING,
    so two first deployments of one key meet on the unique index instead of both inserting.
    """
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    ProcessKey.objects.bulk_create(
        [ProcessKey(key=key) for key in ordered], ignore_conflicts=True
    )
    rows = ProcessKey.objects.select_for_update().filter(key__in=ordered).order_by("key")
    return {row.key: row for row in rows}
