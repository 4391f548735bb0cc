"""Letters: a patient who wants news on paper gets a letter that the coordinator's organisation prints
from its print queue; the letter says the appointment's day in plain Danish."""

from datetime import date

from django.urls import reverse

from pathways import outbox, services
from pathways.choices import AccessAction, ContactChannel, NotificationChannel, TaskKind
from pathways.models import AccessLog, Notification
from tests.conftest import sign_in


def _letter(world) -> Notification:
    world.patient.preferred_contact = ContactChannel.LETTER
    world.patient.address, world.patient.postal_code, world.patient.city = (
        "Møllehusvej 14",
        "4000",
        "Roskilde",
    )
    world.patient.save()
    task = services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Kontrol i lungeambulatoriet",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        window_start=date(2027, 5, 10),
        due_date=date(2027, 5, 10),
    )
    letter = Notification.objects.get(task=task, channel=NotificationChannel.LETTER)
    outbox.deliver_due(now=letter.due_at)
    letter.refresh_from_db()
    return letter


def test_a_letter_waits_in_the_coordinators_print_queue_with_name_and_address(client, world):
    letter = _letter(world)
    sign_in(client, world.coordinator)
    queue = client.get(reverse("pathways:letters"))
    assert queue.status_code == 200
    text = queue.content.decode()
    assert "Kirsten Testesen" in text
    assert "Møllehusvej 14, 4000 Roskilde" in text
    assert "Til udskrivning" in text
    page = client.get(reverse("pathways:letter", args=[letter.public_id])).content.decode()
    assert "Du har en aftale den 10. maj 2027." in page
    assert "46 31 00 00" in page  # the coordinator's phone
    assert world.patient.cpr not in page
    assert AccessLog.objects.filter(actor=world.coordinator, action=AccessAction.LIST).exists()


def test_marking_a_letter_printed_moves_it_out_of_the_to_print_list(client, world):
    letter = _letter(world)
    sign_in(client, world.home_nurse)  # the coordinator's organisation prints
    response = client.post(reverse("pathways:letter-printed", args=[letter.public_id]))
    assert response.status_code == 302
    letter.refresh_from_db()
    assert letter.read_at is not None
    assert "Til udskrivning" not in client.get(reverse("pathways:letters")).content.decode()


def test_a_letter_is_not_in_another_organisations_queue(client, world):
    letter = _letter(world)
    sign_in(client, world.hospital_doctor)
    assert "Kirsten" not in client.get(reverse("pathways:letters")).content.decode()
    assert client.get(reverse("pathways:letter", args=[letter.public_id])).status_code == 404
