"""The quality app's audit-trail event tables become partitioned by month (pathways.partitions; converted by pathways/migrations/_partitioning.py)."""

from django.db import migrations

from pathways.migrations import _partitioning

TABLES = [
    ("quality_questionnaireresponseevent", "pgh_created_at"),
    ("quality_socialbackgroundevent", "pgh_created_at"),
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
        ("quality", "0002_who5_csi_indicators_shipped"),
        ("pathways", "0018_partition_access_log_and_audit_by_month"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition),
    ]
