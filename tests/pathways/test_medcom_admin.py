"""The admin's ingest section: integration credentials (issued with the key shown once, revoked by an
action, never edited) and received hospital notices (read-only, the message as received, reads logged)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pathways import ingest
from pathways.choices import AccessAction
from pathways.models import AccessLog, IntegrationCredential, ReceivedMessage
from tests.conftest import sign_in
from tests.pathways.medcom_messages import KIRSTEN_CPR, NO_PLAN_CPR, bundle, sender_for

pytestmark = pytest.mark.django_db


def test_an_issued_key_is_shown_once_and_only_its_hash_is_kept(client, world):
    sign_in(client, world.admin)
    response = client.post(
        reverse("admin:pathways_integrationcredential_add"),
        {"organisation": world.hospital.pk, "name": "EPJ Medicinsk afdeling"},
    )
    credential = IntegrationCredential.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:pathways_integrationcredential_change", args=[credential.pk]
    )
    shown = client.get(response["Location"]).content.decode()
    key = shown.split("<code>")[1].split("</code>")[0]
    assert ingest.credential_authenticate(key) == credential
    assert credential.created_by == world.admin
    assert key not in client.get(response["Location"]).content.decode()  # once
    assert key not in str(client.cookies)


def test_an_organisation_without_a_sor_code_gets_no_credential(client, world):
    world.gp.sor_code = ""
    world.gp.save()
    sign_in(client, world.admin)
    response = client.post(
        reverse("admin:pathways_integrationcredential_add"), {"organisation": world.gp.pk, "name": "EPJ"}
    )
    assert response.status_code == 200
    assert not IntegrationCredential.objects.exists()


def test_keys_are_revoked_by_the_list_action_and_stop_working(client, world):
    sender = sender_for(world.hospital)
    sign_in(client, world.admin)
    response = client.post(
        reverse("admin:pathways_integrationcredential_changelist"),
        {"action": "revoke", "_selected_action": [sender.credential.pk]},
    )
    assert response.status_code == 302
    assert ingest.credential_authenticate(sender.key) is None
    change = client.post(
        reverse("admin:pathways_integrationcredential_change", args=[sender.credential.pk]), {"name": "Ny"}
    )
    assert change.status_code == 403


def test_a_received_notice_is_read_only_and_opening_it_is_logged(client, world, caplog):
    sender = sender_for(world.hospital)
    at = timezone.now() - timedelta(hours=1)
    sender.receive(bundle("STAA", at=at, cpr=NO_PLAN_CPR, given_name="Erik", family_name="Hansen"))
    sender.receive(bundle("STIN", at=at, episode="other", cpr=KIRSTEN_CPR))
    unknown = ReceivedMessage.objects.get(citizen_name="Erik Hansen")
    known = ReceivedMessage.objects.get(patient=world.patient)
    sign_in(client, world.admin)
    listing = client.get(reverse("admin:pathways_receivedmessage_changelist")).content.decode()
    assert "Erik" not in listing
    assert NO_PLAN_CPR not in listing
    caplog.set_level(logging.INFO, logger="faelles_forloeb.access")
    opened = client.get(reverse("admin:pathways_receivedmessage_change", args=[unknown.pk])).content.decode()
    assert NO_PLAN_CPR in opened  # the message as it came
    assert str(unknown.public_id) in caplog.text
    client.get(reverse("admin:pathways_receivedmessage_change", args=[known.pk]))
    assert AccessLog.objects.filter(
        actor=world.admin, patient=world.patient, action=AccessAction.ADMIN_VIEW
    ).exists()
    refused = client.post(reverse("admin:pathways_receivedmessage_change", args=[known.pk]), {})
    assert refused.status_code == 403
    assert client.post(reverse("admin:pathways_receivedmessage_delete", args=[known.pk])).status_code == 403
