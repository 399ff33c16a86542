"""Bulk writes for large imports: hundreds of thousands of rows in a few statements.

``QuerySet.bulk_create`` and ``bulk_update`` prepare every value of every
row through its model field and build SQL expressions per row (on SQLite
``bulk_update`` makes a ``CASE WHEN`` per row and field; ``bulk_create``
sends at most 999 parameters a statement). For a 100,000-learner import
that is most of the time (docs/performance.md, "## Imports"). These helpers
take rows of values that are already what the database stores, and write
them the cheapest way each database offers:

* SQLite: one prepared statement run by ``executemany`` on the sqlite3
  connection itself (no per-row Python beyond building the tuple);
* PostgreSQL: ``COPY ... FROM STDIN`` of text built in one piece (inserts),
  ``UPDATE ... FROM unnest(arrays)`` (updates).

Row values may be only ``None``, ``int`` and ``str`` (UUIDs as 32 hex digits,
which both databases read; JSON as its text), so what is written is exactly
what the ORM would write: callers prepare anything else with
``db_value``. Constant columns (the same value on every row) are prepared
once through their field. The caller provides the transaction.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid

from django.db import DEFAULT_DB_ALIAS, connections, transaction

# Rows per executemany / COPY buffer: bounds the memory of the text built at once.
CHUNK = 20000


def db_value(model, name, value, using=DEFAULT_DB_ALIAS):
    """``value`` for field ``name`` of ``model`` as the ORM would send it, for one of the row tuples."""
    connection = connections[using]
    prepared = model._meta.get_field(name).get_db_prep_save(value, connection)
    return _plain(prepared, connection)


def _plain(value, connection):
    """A prepared value as None/int/str: UUIDs as hex, datetimes in ISO format, PostgreSQL's JSON wrapper as text."""
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # psycopg's Int2 and the like
        return int(value)
    if isinstance(value, str):  # TextChoices members
        return str.__str__(value)
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if hasattr(value, "obj") and hasattr(value, "dumps"):  # psycopg's Json / Jsonb
        return (value.dumps or json.dumps)(value.obj)
    raise TypeError(f"progress.bulk cannot write {type(value).__name__} values")


def uuid4_hexes(count):
    """``count`` random version-4 UUIDs as 32 hex digits (each as ``uuid.uuid4().hex``), in ascending order.

    One ``os.urandom`` call for all of them; sorted, so rows inserted in this
    order fill a UUID primary key's index page by page rather than at random.
    """
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(byte & 0x0F | 0x40 for byte in raw[6::16])  # version 4
    raw[8::16] = bytes(byte & 0x3F | 0x80 for byte in raw[8::16])  # RFC 4122 variant
    text = raw.hex()
    return sorted(text[start:start + 32] for start in range(0, 32 * count, 32))


def _copy_text(value):
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int):
        return str(int(value))
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def insert(model, columns, rows, *, constant=None, using=DEFAULT_DB_ALIAS):
    """INSERT ``rows`` (tuples of values for ``columns``) into ``model``'s table; ``constant``: {field: value}.

    Rows go in in the order given (auto-increment ids follow it, as with
    ``bulk_create``). Returns the number of rows written.
    """
    connection = connections[using]
    meta, quote = model._meta, connection.ops.quote_name
    constant = constant or {}
    names = [meta.get_field(name).column for name in [*columns, *constant]]
    extra = tuple(db_value(model, name, value, using) for name, value in constant.items())
    table = quote(meta.db_table)
    column_list = ", ".join(quote(name) for name in names)
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        tail = "".join("\t" + _copy_text(value) for value in extra) + "\n"
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
            for start in range(0, len(rows), CHUNK):
                copy.write("".join(
                    "\t".join(map(_copy_text, row)) + tail for row in rows[start:start + CHUNK]
                ))
        return len(rows)
    sql = f"INSERT INTO {table} ({column_list}) VALUES ({', '.join(['?'] * len(names))})"
    raw = connection.connection.cursor()
    try:
        if extra:
            for start in range(0, len(rows), CHUNK):
                raw.executemany(sql, [(*row, *extra) for row in rows[start:start + CHUNK]])
        else:
            raw.executemany(sql, rows)
    finally:
        raw.close()
    return len(rows)


def update(model, columns, rows, *, constant=None, using=DEFAULT_DB_ALIAS):
    """UPDATE rows by primary key: ``rows`` are ``(pk, *values for columns)``; ``constant``: {field: value}.

    Only the named columns change (like ``bulk_update``: ``auto_now`` fields
    are left alone unless named). JSON columns take their JSON text.
    """
    connection = connections[using]
    meta, quote = model._meta, connection.ops.quote_name
    constant = constant or {}
    fields = [meta.get_field(name) for name in columns]
    extra = [db_value(model, name, value, using) for name, value in constant.items()]
    extra_columns = [meta.get_field(name).column for name in constant]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        # The new values are COPYed into a scratch table (dropped at commit), then one UPDATE joins it:
        # parameters would be quoted one by one in Python (Django binds them on the client).
        scratch = quote(f"bulk_{meta.db_table}_{'_'.join(f.column for f in fields)}"[:63])
        definitions = ", ".join(
            [f"id {meta.pk.db_type(connection)}"] + [f"c{n} {f.db_type(connection)}" for n, f in enumerate(fields)]
        )
        sets = [f"{quote(f.column)} = v.c{n}" for n, f in enumerate(fields)]
        sets += [f"{quote(column)} = %s" for column in extra_columns]
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ({definitions}) ON COMMIT DROP")
            cursor.execute(f"TRUNCATE {scratch}")
            with cursor.cursor.copy(f"COPY {scratch} FROM STDIN") as copy:
                for start in range(0, len(rows), CHUNK):
                    copy.write("".join("\t".join(map(_copy_text, row)) + "\n" for row in rows[start:start + CHUNK]))
            cursor.execute(f"ANALYZE {scratch}")
            cursor.execute(f"UPDATE {table} SET {', '.join(sets)} FROM {scratch} AS v WHERE {table}.{pk} = v.id",
                           extra)
        return len(rows)
    sets = [f"{quote(f.column)} = ?" for f in fields] + [f"{quote(column)} = ?" for column in extra_columns]
    sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {pk} = ?"
    raw = connection.connection.cursor()
    try:
        for start in range(0, len(rows), CHUNK):
            raw.executemany(sql, [(*row[1:], *extra, row[0]) for row in rows[start:start + CHUNK]])
    finally:
        raw.close()
    return len(rows)
