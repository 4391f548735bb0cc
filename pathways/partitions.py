"""Monthly partitions for the tables that grow with every read and every change: the access log and the
audit trail's event tables (PostgreSQL declarative partitioning by range).

Each such table is partitioned on its time column (`at`, `pgh_created_at`): one partition per calendar
month in UTC, named `<table>_pYYYYMM`, and `<table>_default`, which takes a row no month partition takes,
so a maintenance run that did not happen never costs a log row (the next run moves such rows into their
month). `partitions_maintain` (beat, nightly) creates the partitions AUDIT_PARTITIONS_AHEAD_MONTHS ahead
and drops those older than AUDIT_RETENTION_MONTHS whole: retention is `DROP TABLE`, never `DELETE`, so the
append-only triggers stay as they are. PostgreSQL clones a partitioned table's row triggers onto every
partition, present and future, so an UPDATE or DELETE aimed at one partition is refused like one aimed at
the table.

What partitioning asks of these tables' schema: every unique index must contain the partition column, so
the primary key is (id, time) and the id is unique by its sequence (a plain sequence: PostgreSQL 15 has no
identity columns on partitioned tables); no other unique constraint is possible. Django still sees `id` as
the primary key, which it is in practice. A migration that adds an index or a column works as on any table;
one that adds a unique constraint without the time column fails, as it should.

Statements here are built from our own tables' names, quoted (hence the S608 exemptions).

`table_partition` converts an existing table (used by the migrations, in one transaction: the rows are
copied, so on a large installation the migration takes as long as copying the table).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from pathways.models import AUDITED_MODELS, AccessLog, event_model_label

log = logging.getLogger(__name__)

# How long a maintenance step waits for a lock on a busy table before it gives up until the next run: creating
# or dropping a partition locks the whole table for a moment, and must never queue the reads behind it.
LOCK_TIMEOUT = "5s"
# One maintenance run at a time (pg_advisory_xact_lock's key: "ff-part" as a number).
MAINTENANCE_LOCK = 0x66662D70617274


@dataclass(frozen=True)
class Partitioned:
    table: str
    column: str


def partitioned_tables() -> tuple[Partitioned, ...]:
    """The access log and every audited model's event table."""
    tables = [Partitioned(AccessLog._meta.db_table, "at")]
    for model in AUDITED_MODELS:
        event = apps.get_model(event_model_label(model))
        tables.append(Partitioned(event._meta.db_table, "pgh_created_at"))
    return tuple(tables)


def month_first(moment: date | datetime) -> date:
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y%m}"


def default_partition_name(table: str) -> str:
    return f"{table}_default"


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def month_partitions(cursor: CursorWrapper, table: str) -> dict[date, str]:
    """The table's month partitions by their first day (the default partition is not among them)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        [table],
    )
    prefix = f"{table}_p"
    found = {}
    for (name,) in cursor.fetchall():
        suffix = name.removeprefix(prefix)
        if name.startswith(prefix) and len(suffix) == 6 and suffix.isdigit():
            found[date(int(suffix[:4]), int(suffix[4:]), 1)] = name
    return found


def _months_in_default(cursor: CursorWrapper, part: Partitioned) -> list[date]:
    column, default = _quote(part.column), _quote(default_partition_name(part.table))
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', {column} AT TIME ZONE 'UTC')::date FROM {default}"  # noqa: S608
    )
    return sorted(row[0] for row in cursor.fetchall())


def partition_create(cursor: CursorWrapper, part: Partitioned, month: date) -> bool:
    """The month's partition, made if missing (True when made). Rows of that month waiting in the default
    partition are moved into it: the default is detached for the move (detaching drops its cloned
    triggers, so the move's DELETE is allowed) and attached again. Run inside a transaction."""
    if month in month_partitions(cursor, part.table):
        return False
    table, column = _quote(part.table), _quote(part.column)
    name, default = _quote(partition_name(part.table, month)), _quote(default_partition_name(part.table))
    lower, upper = _bound(month), _bound(month_add(month, 1))
    in_month = f"{column} >= {lower} AND {column} < {upper}"
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})")  # noqa: S608
    waiting = cursor.fetchone()[0]
    if waiting:
        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {default}")
    cursor.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({lower}) TO ({upper})")
    if waiting:
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {in_month} RETURNING *) "  # noqa: S608
            f"INSERT INTO {name} SELECT * FROM moved"
        )
        log.warning("Moved %s rows of %s from %s into %s", cursor.rowcount, month, default, name)
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")
    return True


def _default_expire(cursor: CursorWrapper, part: Partitioned, keep_from: date) -> None:
    """Rows waiting in the default partition from before `keep_from` go the way their month's partition
    went: deleted, with the default detached for the moment (so its cloned protection is off)."""
    column, default = _quote(part.column), _quote(default_partition_name(part.table))
    expired = f"{column} < {_bound(keep_from)}"
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {expired})")  # noqa: S608
    if not cursor.fetchone()[0]:
        return
    cursor.execute(f"ALTER TABLE {_quote(part.table)} DETACH PARTITION {default}")
    cursor.execute(f"DELETE FROM {default} WHERE {expired}")  # noqa: S608
    log.warning("Deleted %s rows older than the retention from %s", cursor.rowcount, default)
    cursor.execute(f"ALTER TABLE {_quote(part.table)} ATTACH PARTITION {default} DEFAULT")


def partitions_maintain(*, today: date | None = None, since: date | None = None) -> tuple[int, int]:
    """Every partitioned table: the months from this one (from `since`'s, for a command about to write
    rows of the past) to AUDIT_PARTITIONS_AHEAD_MONTHS ahead, and any month with rows in the default
    partition, get their partition; partitions of months that ended more
    than AUDIT_RETENTION_MONTHS ago are dropped. Returns (partitions made, partitions dropped).

    One table at a time, each in its own transaction under a short lock timeout: a table busy beyond it is
    skipped until the next run (the months ahead leave time for that). Safe to run again and in parallel
    (an advisory lock makes a second run wait)."""
    this_month = month_first(today or timezone.now())
    keep_from = month_add(this_month, -settings.AUDIT_RETENTION_MONTHS)
    made = dropped = 0
    for part in partitioned_tables():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MAINTENANCE_LOCK])
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                first = max(month_first(since), keep_from) if since else this_month
                last = month_add(this_month, settings.AUDIT_PARTITIONS_AHEAD_MONTHS)
                wanted = {month_add(first, n) for n in range(_months_between(first, last) + 1)}
                wanted.update(m for m in _months_in_default(cursor, part) if m >= keep_from)
                _default_expire(cursor, part, keep_from)
                for month in sorted(wanted):
                    made += partition_create(cursor, part, month)
                for month, name in sorted(month_partitions(cursor, part.table).items()):
                    if month_add(month, 1) <= keep_from:
                        cursor.execute(f"DROP TABLE {_quote(name)}")
                        dropped += 1
                        log.info("Dropped %s (retention: %s months)", name, settings.AUDIT_RETENTION_MONTHS)
        except DatabaseError:
            # A busy table (lock timeout) or a failure on one table leaves the others to be maintained.
            log.exception("Partition maintenance of %s failed; the next run tries again", part.table)
    return made, dropped


# --- Converting a table (the migrations) ----------------------------------------------------------------


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
    cursor.execute(f"CREATE TABLE {_quote(default_partition_name(table))} PARTITION OF {new} DEFAULT")
    part = Partitioned(table, column)
    cursor.execute(f"SELECT min({_quote(column)}), max({_quote(pk_column)}) FROM {old}")  # noqa: S608
    oldest, last_id = cursor.fetchone()
    this_month = month_first(timezone.now())
    month = month_first(oldest) if oldest is not None and oldest < timezone.now() else this_month
    while month <= month_add(this_month, months_ahead):
        partition_create(cursor, part, month)
        month = month_add(month, 1)
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
