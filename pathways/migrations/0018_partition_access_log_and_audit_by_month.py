"""The access log and the hub's audit-trail event tables become partitioned by month (pathways.partitions; converted by pathways/migrations/_partitioning.py): the
access log's public_id stops being unique (a unique index must contain the partition column) and its patient loses
the index accesslog_patient_at_idx makes redundant; then each table is rebuilt partitioned with its rows."""

import uuid

import django.db.models.deletion

from django.db import migrations, models

from pathways.migrations import _partitioning

TABLES = [
    ("pathways_accesslog", "at"),
    ("pathways_goalevent", "pgh_created_at"),
    ("pathways_membershipevent", "pgh_created_at"),
    ("pathways_pathwayplanevent", "pgh_created_at"),
    ("pathways_patientevent", "pgh_created_at"),
    ("pathways_planconditionevent", "pgh_created_at"),
    ("pathways_planparticipantevent", "pgh_created_at"),
    ("pathways_plantemplateevent", "pgh_created_at"),
    ("pathways_taskevent", "pgh_created_at"),
    ("pathways_transitionevent", "pgh_created_at"),
]


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, column in TABLES:
            _partitioning.table_partition(cursor, table=table, column=column)


def unpartition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, _ in TABLES:
            _partitioning.table_unpartition(cursor, table=table)


class Migration(migrations.Migration):
    dependencies = [
        ("pathways", "0017_api_idempotency_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="accesslog",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AlterField(
            model_name="accesslog",
            name="patient",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="access_log",
                to="pathways.patient",
                verbose_name="patient",
            ),
        ),
        migrations.RunPython(partition, unpartition),
    ]
