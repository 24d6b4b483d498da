"""The hot rows of a trigger written and read with plain SQL on PostgreSQL.

Every trigger reads its instance, writes a few rows (user tasks, jobs, subscriptions, the
instance's new state, its audit rows) and commits. Through the ORM each of those statements
costs about half a millisecond of Python (query building and compiling, client-side
parameter quoting); here each is a fixed SQL text per model, built once from the model's
own fields (so fields other apps add are written too), sent with server-side parameter
binding, which lets psycopg prepare it on the server after a few uses. Statements still
go through Django's cursor wrapper: the same transaction, the same error classes, query
logging and execute wrappers (query-count tests) see them.

Other databases (SQLite, the embedded default) take the ORM paths: `postgresql()` says
which one a caller is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.backends.utils import CursorWrapper

M = TypeVar("M", bound=models.Model)

__all__ = ["cursor", "fetch", "insert", "postgresql", "select_columns", "update"]


def postgresql() -> bool:
    """Is the current connection PostgreSQL (where the plain-SQL paths apply)?"""
    return bool(transaction.get_connection().vendor == "postgresql")


@contextmanager
def cursor() -> Iterator[CursorWrapper]:
    """A Django cursor over a server-side-binding psycopg cursor (PostgreSQL only).

    Parameters are sent apart from the SQL text, so one text serves every call and psycopg
    prepares it server-side after it has run a few times on this connection.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection = transaction.get_connection()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]
    wrapped = connection._prepare_cursor(raw)
    try:
        yield wrapped
    finally:
        wrapped.close()


# --- Per-model statement texts, built once ----------------------------------------------

_INSERTS: dict[type[models.Model], tuple[str, list[models.Field[Any, Any]]]] = {}
_COLUMNS: dict[tuple[type[models.Model], tuple[str, ...]], tuple[str, list[Any]]] = {}


def _insert_sql(model: type[models.Model]) -> tuple[str, list[models.Field[Any, Any]]]:
    found = _INSERTS.get(model)
    if found is None:
        connection = transaction.get_connection()
        qn = connection.ops.quote_name
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        columns = ", ".join(qn(f.column) for f in fields)
        sql = (f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608 - names only
               f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(meta.pk.column)}")
        found = _INSERTS[model] = (sql, fields)
    return found


def insert(obj: models.Model) -> None:
    """INSERT `obj` (a new row) in one statement and give it its primary key, as
    `obj.save(force_insert=True)` would, without signals (the engine's rows have none).
    Off PostgreSQL it is that save."""
    if not postgresql():
        obj.save(force_insert=True)
        return
    connection = transaction.get_connection()
    sql, fields = _insert_sql(type(obj))
    values = [f.pre_save(obj, True) for f in fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        # An expression (a field's db_default, F(), Now()): the ORM compiles those.
        obj.save(force_insert=True)
        return
    params = [f.get_db_prep_save(value, connection) for f, value in zip(fields, values,
                                                                           strict=True)]
    with cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias


_UPDATES: dict[tuple[type[models.Model], tuple[str, ...]],
               tuple[str, list[models.Field[Any, Any]]]] = {}


def update(obj: models.Model, update_fields: Sequence[str]) -> None:
    """UPDATE the row of `obj` with its current values of `update_fields`, as
    `obj.save(update_fields=...)` would, in one prepared statement and without signals
    (the engine's rows have none). Off PostgreSQL it is that save."""
    if not postgresql():
        obj.save(update_fields=list(update_fields))
        return
    connection = transaction.get_connection()
    key = (type(obj), tuple(update_fields))
    found = _UPDATES.get(key)
    if found is None:
        qn = connection.ops.quote_name
        meta = obj._meta
        fields: list[models.Field[Any, Any]] = []
        for name in update_fields:
            field = meta.get_field(name)
            if not isinstance(field, models.Field):
                raise TypeError(f"{name!r} is not a concrete field of {meta.label}")
            fields.append(field)
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
        found = _UPDATES[key] = (
            f"UPDATE {qn(meta.db_table)} SET {assignments} "  # noqa: S608 - names only
            f"WHERE {qn(meta.pk.column)} = %s", fields)
    sql, fields = found
    values = [f.pre_save(obj, False) for f in fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        obj.save(update_fields=list(update_fields))
        return
    params = [f.get_db_prep_save(value, connection) for f, value in zip(fields, values,
                                                                           strict=True)]
    with cursor() as cur:
        cur.execute(sql, [*params, obj.pk])


def select_columns(model: type[models.Model], alias: str,
                   defer: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """The SELECT list of `model`'s concrete fields (less `defer`) prefixed by `alias`,
    and the fields in that order, for `fetch`."""
    key = (model, (alias, *defer))
    found = _COLUMNS.get(key)
    if found is None:
        qn = transaction.get_connection().ops.quote_name
        fields = [f for f in model._meta.concrete_fields if f.attname not in defer
                  and f.name not in defer]
        found = _COLUMNS[key] = (", ".join(f"{alias}.{qn(f.column)}" for f in fields), fields)
    return found


def fetch(model: type[M], fields: Sequence[Any], values: Sequence[Any]) -> M:
    """A model instance from `values` read for `fields` (as `Model.from_db` builds it:
    fields not read are deferred). Values get the fields' from_db_value conversions."""
    connection = transaction.get_connection()
    converted = [
        f.from_db_value(v, None, connection) if v is not None and hasattr(f, "from_db_value")
        else v
        for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], converted)
