"""The access log and the audit trail's event tables are partitioned by month (pathways.partitions): a row
lands in its month, old months are dropped whole after the retention, every partition refuses UPDATE and
DELETE, a busy table is left for the next run, and the migrations' conversion keeps rows, ids, indexes,
foreign keys and triggers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from pathways import partitions, services
from pathways.choices import AccessAction, AccessPurpose, TaskStatus
from pathways.migrations import _partitioning
from pathways.models import AUDITED_MODELS, AccessLog, Task, event_model_label
from pathways.partitions import month_add, month_first, partition_name
from tests.database import refused, second_connection

# This month: the test database's partitions are the migrations', made from the real date.
TODAY = month_first(datetime.now(UTC))


def rows(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def partitions_of(table: str) -> set[str]:
    return {
        name
        for (name,) in rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
    }


def log_row(world: Any, at: datetime) -> AccessLog:
    return AccessLog.objects.create(
        actor=world.home_nurse,
        patient=world.patient,
        plan=world.plan,
        action=AccessAction.VIEW_PLAN,
        purpose=AccessPurpose.TREATMENT,
        at=at,
    )


def where(entry: AccessLog) -> str:
    """The partition a row is stored in."""
    ((name,),) = rows("SELECT tableoid::regclass::text FROM pathways_accesslog WHERE id = %s", [entry.pk])
    return str(name)


def at_month(month: date, day: int = 15) -> datetime:
    return datetime(month.year, month.month, day, 12, tzinfo=UTC)


@pytest.mark.django_db
def test_the_access_log_and_every_event_table_are_partitioned_by_month():
    tables = partitions.partitioned_tables()
    assert {t.table for t in tables} >= {
        "pathways_accesslog",
        "pathways_taskevent",
        "relatives_relativeevent",
    }
    assert len(tables) == 1 + len({t.table for t in tables if t.table.endswith("event")})
    for part in tables:
        ((strategy, column),) = rows(
            "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
            "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = %s::regclass",
            [part.table],
        )
        assert (strategy, column) == ("r", part.column)
        this_month = month_first(datetime.now(UTC))
        assert partition_name(part.table, this_month) in partitions_of(part.table)
        assert f"{part.table}_default" in partitions_of(part.table)


def test_a_read_and_a_change_land_in_this_months_partition(world):
    entry = log_row(world, datetime.now(UTC))
    assert where(entry) == partition_name("pathways_accesslog", month_first(datetime.now(UTC)))
    task = Task.objects.get(plan=world.plan)
    services.task_transition(actor=world.home_nurse, task=task, to_status=TaskStatus.ACCEPTED)
    ((name,),) = rows(
        "SELECT tableoid::regclass::text FROM pathways_taskevent WHERE pgh_obj_id = %s "
        "ORDER BY pgh_id DESC LIMIT 1",
        [task.pk],
    )
    assert name == partition_name("pathways_taskevent", month_first(datetime.now(UTC)))


def test_every_partition_refuses_update_and_delete_even_when_named_directly(world):
    partitions.partitions_maintain(today=TODAY)
    entries = [log_row(world, datetime.now(UTC)), log_row(world, at_month(month_add(TODAY, 2)))]
    # A row whose month has no partition yet waits in the default partition, which refuses the same.
    entries.append(log_row(world, at_month(month_add(TODAY, 30))))
    assert where(entries[-1]) == "pathways_accesslog_default"
    for entry in entries:
        partition = where(entry)
        assert refused(f"UPDATE {partition} SET reason = 'forged' WHERE id = %s", [entry.pk])  # noqa: S608
        assert refused(f"DELETE FROM {partition} WHERE id = %s", [entry.pk])  # noqa: S608
        assert refused("DELETE FROM pathways_accesslog WHERE id = %s", [entry.pk])
    assert AccessLog.objects.filter(pk__in=[e.pk for e in entries], reason="").count() == 3


def without_partitions(*months: date) -> None:
    """The access log without these months' partitions, for this test (its transaction rolls the drop
    back): other tests that seed data of the past may have made them."""
    with connection.cursor() as cursor:
        for month in months:
            cursor.execute(f"DROP TABLE IF EXISTS {partition_name('pathways_accesslog', month)}")


def constraints_checked_now() -> None:
    """Rows written in this test's transaction have their (deferred) foreign keys checked now, as rows two
    years old have long since: PostgreSQL refuses to drop a table with checks still pending."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_maintenance_makes_the_months_ahead_and_drops_months_past_the_retention(world):
    first_kept = month_add(TODAY, -settings.AUDIT_RETENTION_MONTHS)
    last_expired = month_add(first_kept, -1)
    without_partitions(first_kept, last_expired)
    with connection.cursor() as cursor:  # as the job made it then
        partitions.partition_create(cursor, partitions.partitioned_tables()[0], last_expired)
    expired = log_row(world, at_month(last_expired, day=28))
    kept = log_row(world, at_month(first_kept, day=1))
    assert where(expired) == partition_name("pathways_accesslog", last_expired)
    assert where(kept) == "pathways_accesslog_default"  # its month has no partition yet
    constraints_checked_now()

    made, dropped = partitions.partitions_maintain(today=TODAY)

    assert not AccessLog.objects.filter(pk=expired.pk).exists()
    assert where(kept) == partition_name("pathways_accesslog", first_kept)
    names = partitions_of("pathways_accesslog")
    ahead = {
        partition_name("pathways_accesslog", month_add(TODAY, n))
        for n in range(settings.AUDIT_PARTITIONS_AHEAD_MONTHS + 1)
    }
    assert ahead <= names
    assert partition_name("pathways_accesslog", last_expired) not in names
    assert dropped == 1
    assert made >= 1  # the kept row's month (the months ahead may be there from the migration)
    # Again: nothing left to make or drop.
    assert partitions.partitions_maintain(today=TODAY) == (0, 0)
    # A month on, the kept month has expired too and goes whole.
    constraints_checked_now()
    assert partitions.partitions_maintain(today=month_add(TODAY, 1))[1] >= 1  # the other tables' too
    assert partition_name("pathways_accesslog", first_kept) not in partitions_of("pathways_accesslog")
    assert not AccessLog.objects.filter(pk=kept.pk).exists()


def test_a_row_from_before_the_retention_left_in_the_default_partition_is_deleted(world):
    without_partitions(month_add(TODAY, -settings.AUDIT_RETENTION_MONTHS + 3))
    stray = log_row(world, at_month(month_add(TODAY, -settings.AUDIT_RETENTION_MONTHS - 3)))
    recent = log_row(world, at_month(month_add(TODAY, -settings.AUDIT_RETENTION_MONTHS + 3)))
    assert where(stray) == where(recent) == "pathways_accesslog_default"
    partitions.partitions_maintain(today=TODAY)
    assert not AccessLog.objects.filter(pk=stray.pk).exists()
    assert where(recent) == partition_name(
        "pathways_accesslog", month_add(TODAY, -settings.AUDIT_RETENTION_MONTHS + 3)
    )
    # The default partition is attached again, with its protection.
    waiting = log_row(world, at_month(month_add(TODAY, 40)))
    assert refused("DELETE FROM pathways_accesslog_default WHERE id = %s", [waiting.pk])


def test_a_row_written_before_its_partition_existed_is_kept_and_moved_into_it(world):
    later = month_add(TODAY, settings.AUDIT_PARTITIONS_AHEAD_MONTHS + 2)
    without_partitions(later)
    early = log_row(world, at_month(later))
    assert where(early) == "pathways_accesslog_default"
    partitions.partitions_maintain(today=month_add(later, -1))
    assert where(early) == partition_name("pathways_accesslog", later)
    assert AccessLog.objects.get(pk=early.pk).at == at_month(later)
    # The default partition is attached again, with its protection.
    stray = log_row(world, at_month(month_add(later, 40)))
    assert where(stray) == "pathways_accesslog_default"
    assert refused("DELETE FROM pathways_accesslog_default WHERE id = %s", [stray.pk])


@pytest.mark.django_db(transaction=True)
def test_a_table_busy_beyond_the_lock_timeout_is_left_for_the_next_run(monkeypatch):
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "200ms")
    future = month_add(TODAY, 1)
    ahead = month_add(future, settings.AUDIT_PARTITIONS_AHEAD_MONTHS)
    reader = second_connection()
    try:
        # A long read of the access log (its transaction open) holds a lock a new partition must wait for.
        reader.execute("SELECT count(*) FROM pathways_accesslog")
        partitions.partitions_maintain(today=future)
        assert partition_name("pathways_taskevent", ahead) in partitions_of("pathways_taskevent")
        assert partition_name("pathways_accesslog", ahead) not in partitions_of("pathways_accesslog")
        reader.rollback()
        partitions.partitions_maintain(today=future)
        assert partition_name("pathways_accesslog", ahead) in partitions_of("pathways_accesslog")
    finally:
        reader.rollback()
        reader.close()
        with connection.cursor() as cursor:  # the test database keeps the months the migrations made
            for table in (p.table for p in partitions.partitioned_tables()):
                cursor.execute(f"DROP TABLE IF EXISTS {partition_name(table, ahead)}")


def test_converting_a_table_keeps_its_rows_ids_indexes_foreign_keys_and_triggers(world):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE scratch_log (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "at timestamptz NOT NULL, patient_id bigint NOT NULL REFERENCES pathways_patient(id), "
            "note text NOT NULL CHECK (note <> 'x'))"
        )
        cursor.execute("CREATE INDEX scratch_log_patient ON scratch_log (patient_id, at DESC)")
        cursor.execute(
            "CREATE FUNCTION scratch_protect() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'pgtrigger: Cannot change %', TG_TABLE_NAME; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER scratch_append_only BEFORE UPDATE OR DELETE ON scratch_log "
            "FOR EACH ROW EXECUTE FUNCTION scratch_protect()"
        )
        cursor.execute("COMMENT ON TRIGGER scratch_append_only ON scratch_log IS 'hash-1'")
        two_years_ago = datetime.now(UTC) - timedelta(days=700)
        cursor.execute(
            "INSERT INTO scratch_log (at, patient_id, note) VALUES (%s, %s, 'old'), (now(), %s, 'new')",
            [two_years_ago, world.patient.pk, world.patient.pk],
        )
        _partitioning.table_partition(cursor, table="scratch_log", column="at")

        cursor.execute("SELECT note, tableoid::regclass::text FROM scratch_log ORDER BY id")
        assert cursor.fetchall() == [
            ("old", partition_name("scratch_log", month_first(two_years_ago))),
            ("new", partition_name("scratch_log", month_first(datetime.now(UTC)))),
        ]
        cursor.execute(
            "INSERT INTO scratch_log (at, patient_id, note) VALUES (now(), %s, 'next') RETURNING id",
            [world.patient.pk],
        )
        assert cursor.fetchone() == (3,)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'scratch_log' ORDER BY indexname")
        assert [d for (d,) in cursor.fetchall()] == [
            "CREATE INDEX scratch_log_patient ON ONLY public.scratch_log USING btree (patient_id, at DESC)",
            "CREATE UNIQUE INDEX scratch_log_pkey ON ONLY public.scratch_log USING btree (id, at)",
        ]
        cursor.execute(
            "SELECT d.description FROM pg_trigger t JOIN pg_description d ON d.objoid = t.oid "
            "WHERE t.tgrelid = 'scratch_log'::regclass AND t.tgname = 'scratch_append_only'"
        )
        assert cursor.fetchall() == [("hash-1",)]
    assert refused("UPDATE scratch_log SET note = 'forged'", [])
    for bad in (
        "INSERT INTO scratch_log (at, patient_id, note) VALUES (now(), 0, 'no such patient')",
        "INSERT INTO scratch_log (at, patient_id, note) VALUES (now(), %s, 'x')",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(bad, [world.patient.pk] if "%s" in bad else [])

    with connection.cursor() as cursor:
        _partitioning.table_unpartition(cursor, table="scratch_log")
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'scratch_log'")
        assert cursor.fetchone() == ("r",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'scratch_log' ORDER BY indexname")
        assert [d for (d,) in cursor.fetchall()] == [
            "CREATE INDEX scratch_log_patient ON public.scratch_log USING btree (patient_id, at DESC)",
            "CREATE UNIQUE INDEX scratch_log_pkey ON public.scratch_log USING btree (id)",
        ]
        cursor.execute("SELECT pg_get_serial_sequence('scratch_log', 'id') IS NOT NULL")
        assert cursor.fetchone() == (True,)
        cursor.execute(
            "INSERT INTO scratch_log (at, patient_id, note) VALUES (now(), %s, 'after') RETURNING id",
            [world.patient.pk],
        )
        assert cursor.fetchone() == (4,)
        cursor.execute("SELECT count(*) FROM scratch_log")
        assert cursor.fetchone() == (4,)
    assert refused("DELETE FROM scratch_log", [])
    for bad in (
        "INSERT INTO scratch_log (at, patient_id, note) VALUES (now(), 0, 'no such patient')",
        "INSERT INTO scratch_log (at, patient_id, note) VALUES (now(), %s, 'x')",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(bad, [world.patient.pk] if "%s" in bad else [])


def test_a_command_about_to_write_the_past_gets_those_months_first_within_the_retention(db):
    partitions.partitions_maintain(today=TODAY, since=month_add(TODAY, -5))
    names = partitions_of("pathways_accesslog")
    assert {partition_name("pathways_accesslog", month_add(TODAY, -n)) for n in range(6)} <= names
    partitions.partitions_maintain(today=TODAY, since=month_add(TODAY, -100))
    with connection.cursor() as cursor:
        oldest = min(partitions.month_partitions(cursor, "pathways_accesslog"))
    assert oldest == month_add(TODAY, -settings.AUDIT_RETENTION_MONTHS)


def test_a_row_lands_in_its_utc_month_at_the_edges_of_a_month(world):
    last_moment = datetime(TODAY.year, TODAY.month, 1, tzinfo=UTC) - timedelta(minutes=30)  # 23:30 UTC
    first_danish = datetime(TODAY.year, TODAY.month, 1, 0, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))
    first_utc = datetime(TODAY.year, TODAY.month, 1, tzinfo=UTC)
    partitions.partitions_maintain(today=TODAY, since=month_add(TODAY, -1))
    previous = partition_name("pathways_accesslog", month_add(TODAY, -1))
    assert where(log_row(world, last_moment)) == previous
    assert where(log_row(world, first_danish)) == previous  # still the last day of the month in UTC
    assert where(log_row(world, first_utc)) == partition_name("pathways_accesslog", TODAY)


@pytest.mark.django_db
def test_pgtrigger_still_finds_every_protection_installed_on_the_partitioned_tables():
    models = [AccessLog] + [apps.get_model(event_model_label(model)) for model in AUDITED_MODELS]
    for model in models:
        for trigger in model._meta.triggers:
            assert trigger.get_installation_status(model)[0] == "INSTALLED", (model, trigger.name)
