"""Monthly partitions for the tables that grow with every read and every change: the access log and the
audit trail's event tables (PostgreSQL declarative partitioning by range).

Each such table is partitioned on its time column (`at`, `pgh_created_at`): one partition per calendar
month in UTC, named `<table>_pYYYYMM`, and `<table>_default`, which takes a row no month partition takes,
so a maintenance run that did not happen never costs a log row (the next run moves such rows into their
month; one from before the retention is deleted). `partitions_maintain` (beat, nightly) creates the
partitions AUDIT_PARTITIONS_AHEAD_MONTHS ahead and drops those older than AUDIT_RETENTION_MONTHS whole:
retention is `DROP TABLE`, never `DELETE`, so the append-only triggers stay as they are. PostgreSQL clones a
partitioned table's row triggers onto every partition, present and future, so an UPDATE or DELETE aimed at
one partition is refused like one aimed at the table.

What partitioning asks of these tables' schema: every unique index must contain the partition column, so
the primary key is (id, time) and the id is unique by its sequence (a plain sequence: PostgreSQL 15 has no
identity columns on partitioned tables); no other unique constraint is possible. Django still sees `id` as
the primary key, which it is in practice. A migration that adds an index or a column works as on any table;
one that adds a unique constraint without the time column fails, as it should. The migrations convert the
tables with their own frozen copy of the conversion (pathways/migrations/_partitioning.py).

Statements here are built from our own tables' names, quoted (hence the S608 exemptions).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from pathways.models import AUDITED_MODELS, AccessLog, event_model_label

logger = logging.getLogger(__name__)

# How long a maintenance step waits for its lock on the table. Creating, detaching or dropping a partition
# locks the whole table (ACCESS EXCLUSIVE), and while the step waits, every read of patient data (each
# writes an access-log row) queues behind it: so the wait is short, and a table still busy after it is left
# for the next night (the months made ahead leave many nights for that).
LOCK_TIMEOUT = "500ms"
# One maintenance step at a time (pg_advisory_xact_lock's key: "ff-part" as a number).
MAINTENANCE_LOCK = 0x66662D70617274
# A partition's lower bound as pg_get_expr writes it: FOR VALUES FROM ('2026-12-01 00:00:00+00') TO (…).
_LOWER_BOUND = re.compile(r"FROM \('(\d{4})-(\d{2})-01 00:00:00\+00'\)")


@dataclass(frozen=True)
class PartitionedTable:
    """A table partitioned by month on `column`, a timestamp with time zone."""

    table: str
    column: str


def partitioned_tables() -> tuple[PartitionedTable, ...]:
    """The access log and every audited model's event table."""
    tables = [PartitionedTable(AccessLog._meta.db_table, "at")]
    for model in AUDITED_MODELS:
        event = apps.get_model(event_model_label(model))
        tables.append(PartitionedTable(event._meta.db_table, "pgh_created_at"))
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
    """The table's month partitions by their first day, read from their bounds (not their names, which a
    renamed table would not change). The default partition is not among them."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [table],
    )
    found = {}
    for name, bound in cursor.fetchall():
        if match := _LOWER_BOUND.search(bound):
            found[date(int(match[1]), int(match[2]), 1)] = name
    return found


def _columns(cursor: CursorWrapper, table: str) -> str:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return ", ".join(_quote(name) for (name,) in cursor.fetchall())


def _months_in_default(cursor: CursorWrapper, part: PartitionedTable) -> list[date]:
    column, default = _quote(part.column), _quote(default_partition_name(part.table))
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', {column} AT TIME ZONE 'UTC')::date FROM {default}"  # noqa: S608
    )
    return sorted(row[0] for row in cursor.fetchall())


def _lock(cursor: CursorWrapper, part: PartitionedTable) -> None:
    """This transaction's hold on the table for a change of its partitions (see LOCK_TIMEOUT)."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MAINTENANCE_LOCK])
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    cursor.execute(f"LOCK TABLE {_quote(part.table)} IN ACCESS EXCLUSIVE MODE")


def partition_create(cursor: CursorWrapper, part: PartitionedTable, month: date) -> bool:
    """The month's partition, made if missing (True when made). Rows of that month waiting in the default
    partition are moved into it: the default is detached for the move (detaching drops its cloned
    triggers, so the move's DELETE is allowed) and attached again.

    Must run in a transaction: between detach and attach the table has no default partition."""
    if not connection.in_atomic_block:
        raise RuntimeError("partition_create detaches the default partition: call it in a transaction")
    if month in month_partitions(cursor, part.table):
        return False
    _lock(cursor, part)  # no row can arrive in the default between the check below and the new partition
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
        columns = _columns(cursor, part.table)
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {in_month} RETURNING {columns}) "  # noqa: S608
            f"INSERT INTO {name} ({columns}) SELECT {columns} FROM moved"
        )
        logger.warning("Moved %s rows of %s from %s into %s", cursor.rowcount, month, default, name)
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")
    return True


def _default_expire(cursor: CursorWrapper, part: PartitionedTable, keep_from: date) -> int:
    """Rows waiting in the default partition from before `keep_from` go the way their month's partition
    went: deleted, with the default detached for the moment (so its cloned protection is off)."""
    column, default = _quote(part.column), _quote(default_partition_name(part.table))
    expired = f"{column} < {_bound(keep_from)}"
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {expired})")  # noqa: S608
    if not cursor.fetchone()[0]:
        return 0
    _lock(cursor, part)
    cursor.execute(f"ALTER TABLE {_quote(part.table)} DETACH PARTITION {default}")
    cursor.execute(f"DELETE FROM {default} WHERE {expired}")  # noqa: S608
    deleted = int(cursor.rowcount)
    logger.warning("Deleted %s rows older than the retention from %s", deleted, default)
    cursor.execute(f"ALTER TABLE {_quote(part.table)} ATTACH PARTITION {default} DEFAULT")
    return deleted


def _partition_drop(cursor: CursorWrapper, part: PartitionedTable, month: date) -> bool:
    name = month_partitions(cursor, part.table).get(month)
    if name is None:
        return False
    _lock(cursor, part)
    cursor.execute(f"DROP TABLE {_quote(name)}")
    logger.info("Dropped %s (retention: %s months)", name, settings.AUDIT_RETENTION_MONTHS)
    return True


def _step(part: PartitionedTable, what: str, change: Callable[[CursorWrapper], bool | int]) -> bool:
    """One change of one table's partitions in its own transaction, so a busy table (lock timeout) or a
    failure costs only this step. True when it committed a change."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            return bool(change(cursor))
    except DatabaseError:
        logger.exception(
            "Partition maintenance of %s (%s) failed; the next run tries again", part.table, what
        )
        return False


def partitions_maintain(*, today: date | None = None, since: date | None = None) -> tuple[int, int]:
    """Every partitioned table: the months from this one (from `since`'s, for a command about to write
    rows of the past) to AUDIT_PARTITIONS_AHEAD_MONTHS ahead, and any month with rows in the default
    partition, get their partition; partitions of months that ended more than AUDIT_RETENTION_MONTHS ago
    are dropped. Returns (partitions made, partitions dropped).

    Each step in its own short transaction (the beat task runs in autocommit; inside a caller's transaction
    the steps are savepoints and their locks last until it ends). Safe to run again and in parallel."""
    this_month = month_first(today or timezone.now())
    keep_from = month_add(this_month, -settings.AUDIT_RETENTION_MONTHS)
    first = max(month_first(since), keep_from) if since else this_month
    last = month_add(this_month, settings.AUDIT_PARTITIONS_AHEAD_MONTHS)
    made = dropped = 0
    for part in partitioned_tables():
        with connection.cursor() as cursor:
            waiting = _months_in_default(cursor, part)
            existing = month_partitions(cursor, part.table)
        _step(part, "expire the default's old rows", partial(_default_expire, part=part, keep_from=keep_from))
        wanted = {month_add(first, n) for n in range(_months_between(first, last) + 1)}
        wanted.update(month for month in waiting if month >= keep_from)
        for month in sorted(wanted - existing.keys()):
            made += _step(part, f"make {month:%Y-%m}", partial(partition_create, part=part, month=month))
        for month in sorted(m for m in existing if m < keep_from):
            dropped += _step(part, f"drop {month:%Y-%m}", partial(_partition_drop, part=part, month=month))
    return made, dropped
