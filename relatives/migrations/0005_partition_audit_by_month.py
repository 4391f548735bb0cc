"""The relatives app's audit-trail event tables become partitioned by month (pathways.partitions; converted by pathways/migrations/_partitioning.py)."""

from django.db import migrations

from pathways.migrations import _partitioning

TABLES = [
    ("relatives_childchecklistitemevent", "pgh_created_at"),
    ("relatives_relativeconsentevent", "pgh_created_at"),
    ("relatives_relativeevent", "pgh_created_at"),
    ("relatives_relativeneedevent", "pgh_created_at"),
    ("relatives_strainscreeningevent", "pgh_created_at"),
    ("relatives_supportreferralevent", "pgh_created_at"),
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
        ("relatives", "0004_relative_history_labels"),
        ("pathways", "0018_partition_access_log_and_audit_by_month"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition),
    ]
