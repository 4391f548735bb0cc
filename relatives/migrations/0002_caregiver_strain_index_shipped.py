from django.db import migrations


def ship(apps, schema_editor):
    from relatives import instruments

    instruments.ship(apps.get_model("relatives", "StrainInstrument"), apps.get_model("relatives", "StrainItem"))


class Migration(migrations.Migration):
    dependencies = [("relatives", "0001_initial_relatives")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
