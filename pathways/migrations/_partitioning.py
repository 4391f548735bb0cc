"""The conversion of a table to one partitioned by month and back, as the migrations that did it ran it
(pathways 0018, relatives 0005, coordination 0005, quality 0003). Frozen here, beside the migrations and
apart from the running code (pathways.partitions), so a later change there never changes what an old
migration does. The leading underscore keeps Django from taking this module for a migration.

Statements are built from the tables' own names, quoted (hence the S608 exemptions).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.conf import settings
from django.db.backends.utils import CursorWrapper


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _month_first(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def _month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _partition_create(cursor: CursorWrapper, table: str, month: date) -> None:
    lower, upper = month.isoformat(), _month_add(month, 1).isoformat()
    cursor.execute(
        f"CREATE TABLE {_quote(f'{table}_p{month:%Y%m}')} PARTITION OF {_quote(table)} "
        f"FOR VALUES FROM ('{lower} 00:00:00+00') TO ('{upper} 00:00:00+00')"
    )


def _definitions(cursor: CursorWrapper, table: str) -> tuple[list[str], list[str], list[str]]:
    """The table's own indexes, foreign keys and triggers (with their comments) as statements that make
    them again on a table of the same name. Indexes behind the primary key are left out (remade apart)."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' AND conparentid = 0",
        [table],
    )
    foreign_keys = [
        f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}"
        for name, definition in cursor.fetchall()
    ]
    cursor.execute(
        "SELECT t.tgname, pg_get_triggerdef(t.oid), d.description FROM pg_trigger t "
        "LEFT JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_trigger'::regclass "
        "WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal AND t.tgparentid = 0",
        [table],
    )
    triggers = []
    for name, definition, comment in cursor.fetchall():
        triggers.append(definition)
        if comment is not None:
            triggers.append(
                f"COMMENT ON TRIGGER {_quote(name)} ON {_quote(table)} IS "
                f"'{comment.replace(chr(39), chr(39) * 2)}'"
            )
    return indexes, foreign_keys, triggers


def _primary_key(cursor: CursorWrapper, table: str) -> tuple[str, str, str]:
    """The primary key's name, its (single) column and that column's type."""
    cursor.execute(
        "SELECT c.conname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.conrelid = %s::regclass AND c.contype = 'p'",
        [table],
    )
    name, column, kind = cursor.fetchone()
    return name, column, kind


def table_partition(cursor: CursorWrapper, *, table: str, column: str, months_ahead: int = 3) -> None:
    """Make `table` partitioned by month on `column`, keeping its rows, columns, checks, indexes, foreign
    keys and triggers (with pgtrigger's comments). The id keeps counting where it was."""
    indexes, foreign_keys, triggers = _definitions(cursor, table)
    pk_name, pk_column, pk_type = _primary_key(cursor, table)
    old, new = _quote(f"{table}_unpartitioned"), _quote(table)
    cursor.execute(f"ALTER TABLE {new} RENAME TO {old}")
    cursor.execute(
        f"CREATE TABLE {new} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) "
        f"PARTITION BY RANGE ({_quote(column)})"
    )
    cursor.execute(f"CREATE TABLE {_quote(f'{table}_default')} PARTITION OF {new} DEFAULT")
    cursor.execute(f"SELECT min({_quote(column)}), max({_quote(pk_column)}) FROM {old}")  # noqa: S608
    oldest, last_id = cursor.fetchone()
    # From the oldest row's month, but not before the retention: older rows wait in the default partition,
    # and the first nightly run deletes them (pathways.partitions).
    now = datetime.now(UTC)
    this_month = _month_first(now)
    keep_from = _month_add(this_month, -settings.AUDIT_RETENTION_MONTHS)
    month = max(_month_first(oldest), keep_from) if oldest is not None and oldest < now else this_month
    while month <= _month_add(this_month, months_ahead):
        _partition_create(cursor, table, month)
        month = _month_add(month, 1)
    cursor.execute(f"INSERT INTO {new} SELECT * FROM {old}")  # noqa: S608
    cursor.execute(f"DROP TABLE {old}")
    sequence = _quote(f"{table}_{pk_column}_seq")
    cursor.execute(f"CREATE SEQUENCE {sequence} AS {pk_type} OWNED BY {new}.{_quote(pk_column)}")
    if last_id is not None:
        cursor.execute("SELECT setval(%s, %s)", [f"{table}_{pk_column}_seq", last_id])
    cursor.execute(f"ALTER TABLE {new} ALTER COLUMN {_quote(pk_column)} SET DEFAULT nextval('{sequence}')")
    cursor.execute(
        f"ALTER TABLE {new} ADD CONSTRAINT {_quote(pk_name)} "
        f"PRIMARY KEY ({_quote(pk_column)}, {_quote(column)})"
    )
    for statement in (*foreign_keys, *indexes, *triggers):
        cursor.execute(statement)


def table_unpartition(cursor: CursorWrapper, *, table: str) -> None:
    """The reverse of table_partition: one plain table with an identity primary key again."""
    indexes, foreign_keys, triggers = _definitions(cursor, table)
    pk_name, pk_column, _ = _primary_key(cursor, table)
    old, new = _quote(f"{table}_partitioned"), _quote(table)
    cursor.execute(f"ALTER TABLE {new} RENAME TO {old}")
    cursor.execute(
        f"CREATE TABLE {new} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
    )
    cursor.execute(f"ALTER TABLE {new} ALTER COLUMN {_quote(pk_column)} DROP DEFAULT")
    cursor.execute(f"INSERT INTO {new} SELECT * FROM {old}")  # noqa: S608
    cursor.execute(f"SELECT max({_quote(pk_column)}) FROM {new}")  # noqa: S608
    (last_id,) = cursor.fetchone()
    cursor.execute(f"DROP TABLE {old}")  # its partitions and its sequence with it
    cursor.execute(f"ALTER TABLE {new} ALTER COLUMN {_quote(pk_column)} ADD GENERATED BY DEFAULT AS IDENTITY")
    if last_id is not None:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s)", [table, pk_column, last_id])
    cursor.execute(f"ALTER TABLE {new} ADD CONSTRAINT {_quote(pk_name)} PRIMARY KEY ({_quote(pk_column)})")
    for statement in (*foreign_keys, *indexes, *triggers):
        cursor.execute(statement)
