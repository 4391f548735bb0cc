"""A relative who wants news on paper gets their own letter, addressed to them: their name, their address,
their first name in the greeting — never the patient's address."""

from datetime import date

from django.urls import reverse

from pathways import outbox, services
from pathways.choices import NotificationChannel, TaskKind
from pathways.models import Notification
from relatives.choices import ConsentAction, ConsentMethod, ConsentScope, Relation, RelativeChannel
from relatives.models import Relative, RelativeConsent
from tests.conftest import sign_in


def test_a_relatives_letter_is_addressed_to_the_relative(client, world):
    world.patient.address, world.patient.postal_code, world.patient.city = (
        "Møllehusvej 14",
        "4000",
        "Roskilde",
    )
    world.patient.save()
    relative = Relative.objects.create(
        plan=world.plan,
        name="Susanne Poulsen",
        relation=Relation.CHILD,
        address="Strandvejen 3, 4600 Køge",
        preferred_channel=RelativeChannel.LETTER,
    )
    RelativeConsent.objects.create(
        plan=world.plan,
        relative=relative,
        action=ConsentAction.GIVEN,
        scope=ConsentScope.APPOINTMENTS,
        method=ConsentMethod.SPOKEN,
        coercion_checked=True,
    )
    task = services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Kontrol i lungeambulatoriet",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        window_start=date(2027, 5, 10),
        due_date=date(2027, 5, 10),
    )
    letter = Notification.objects.addressed_to(relative).get(task=task, channel=NotificationChannel.LETTER)
    outbox.deliver_due(now=letter.due_at)

    sign_in(client, world.coordinator)
    queue = client.get(reverse("pathways:letters")).content.decode()
    assert "Susanne Poulsen" in queue
    assert "Strandvejen 3, 4600 Køge" in queue
    assert "Pårørende til Kirsten Testesen" in queue
    page = client.get(reverse("pathways:letter", args=[letter.public_id])).content.decode()
    assert "Kære Susanne" in page
    assert "Strandvejen 3<br>" in page
    assert "Møllehusvej" not in page
    assert world.patient.cpr not in page
