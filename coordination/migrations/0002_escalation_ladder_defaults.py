"""The default escalation ladder for responsibility disputes (issue 11): after 5 working days to each
organisation's escalation contact, after 10 to the cross-sector secretariat. Data, edited in the admin;
a step already there (by number) is left as the administrator set it."""

from django.db import migrations

DEFAULT_LADDER = [(1, 5, "organisation_contacts"), (2, 10, "secretariat")]


def add_default_ladder(apps, _schema_editor):
    EscalationStep = apps.get_model("coordination", "EscalationStep")
    for step, days, target in DEFAULT_LADDER:
        if not EscalationStep.objects.filter(step=step).exists() and not EscalationStep.objects.filter(
            after_working_days=days
        ).exists():
            EscalationStep.objects.create(step=step, after_working_days=days, target=target)


def remove_default_ladder(apps, _schema_editor):
    EscalationStep = apps.get_model("coordination", "EscalationStep")
    for step, days, target in DEFAULT_LADDER:
        EscalationStep.objects.filter(step=step, after_working_days=days, target=target).delete()


class Migration(migrations.Migration):
    dependencies = [("coordination", "0001_initial_coordination")]

    operations = [migrations.RunPython(add_default_ladder, remove_default_ladder)]
