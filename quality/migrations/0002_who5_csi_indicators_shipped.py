from django.db import migrations


def ship(apps, schema_editor):
    from quality import instruments

    instruments.ship(apps)


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial_questionnaires_indicators")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
