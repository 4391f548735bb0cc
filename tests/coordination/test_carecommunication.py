"""MedCom CareCommunication in and out of a plan's threads (issue 17 item 3): a message out in MedCom's
shape, checked by fhir.resources and the independent validator; a message in from a hospital's system,
mapped onto the plan's threads, by the rules of the HospitalNotification ingest (idempotent by message id,
an OperationOutcome and nothing written when refused)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from coordination import services
from coordination.models import Message, MessageThread, ReceivedCareCommunication
from pathways import ingest
from pathways import services as hub_services
from pathways.choices import NotificationKind
from pathways.models import Notification
from tests.coordination.carecommunication_messages import inbound
from tests.fhir.validator import r4_issues

URL = reverse("api-coordination:medcom-care-communication")


@pytest.fixture
def hospital_system(world) -> APIClient:
    _credential, key = ingest.credential_issue(actor=None, organisation=world.hospital, name="EPJ")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _send(client: APIClient, message: dict[str, Any] | str) -> Any:
    body = message if isinstance(message, str) else json.dumps(message)
    return client.generic("POST", URL, body, "application/fhir+json")


def _nurse_writes(
    world, subject: str, body: str, *, recipients: list[Any] | None = None, priority: str = "routine"
) -> MessageThread:
    """A thread the home nurse starts for the municipality, to the hospital unless told otherwise."""
    return services.thread_start(
        actor=world.home_nurse,
        plan=world.plan,
        sender_organisation=world.municipality,
        recipients=recipients or [world.hospital],
        subject=subject,
        body=body,
        priority=priority,
    )


def _to_municipality(world, **kwargs: Any) -> dict[str, Any]:
    return inbound(sender_sor="1001", receiver_sor="2001", cpr=world.patient.cpr, **kwargs)


def test_a_received_message_starts_a_thread_and_the_municipality_hears_of_it_once(world, hospital_system):
    message = _to_municipality(world, message_id="epj-4711", priority="asap")
    first = _send(hospital_system, message)
    assert first.status_code == 200, first.content
    acknowledgement = first.json()
    assert acknowledgement["entry"][0]["resource"]["response"] == {"identifier": "epj-4711", "code": "ok"}
    again = _send(hospital_system, message)
    assert again.json() == acknowledgement
    received = Message.objects.get(plan=world.plan)
    assert received.sender is None
    assert received.sender_name == "Anne Holm"
    assert received.sender_organisation == world.hospital
    assert received.priority == "urgent"
    assert received.thread.subject == "Udskrivelse"
    assert received.body.startswith("Kirsten udskrives i morgen")
    assert [r.organisation for r in received.recipients.all()] == [world.municipality]
    assert ReceivedCareCommunication.objects.count() == 1
    told = Notification.objects.filter(kind=NotificationKind.MESSAGE_RECEIVED, plan=world.plan)
    assert told.exists()
    assert all(n.recipient_id in (world.coordinator.pk, world.home_nurse.pk) for n in told)


def test_a_reply_to_a_message_sent_from_here_goes_into_its_thread(world, hospital_system):
    thread = _nurse_writes(world, "Medicin ved udskrivelse", "Hvilken medicin skal Kirsten have med hjem?")
    ours = thread.messages.get()
    reply = _to_municipality(
        world, activity="reply-message", answers=str(ours.public_id), text="Se epikrisen."
    )
    assert _send(hospital_system, reply).status_code == 200
    assert [m.body for m in thread.messages.order_by("sent_at", "pk")] == [ours.body, "Se epikrisen."]
    assert MessageThread.objects.filter(plan=world.plan).count() == 1


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        ({"sender_sor": "3001"}, 403, "Bundle.entry[0].resource.sender"),  # not the credential's organisation
        ({"receiver_sor": "9999"}, 422, "Bundle.entry[0].resource.destination"),  # not in Fælles forløb
        ({"receiver_sor": "2002"}, 422, "Bundle.entry[0].resource.destination"),  # not in the plan
        ({"cpr": "0101501234"}, 422, "Bundle.entry[0].resource.destination"),  # no plan at all
        ({"text": "  "}, 422, "Bundle.entry[1].resource.payload"),
        ({"priority": "stat"}, 422, "Bundle.entry[1].resource.priority"),
        ({"activity": "reply-message"}, 422, "Bundle.entry[6].resource.entity"),  # answers nothing named
        ({"activity": "reply-message", "answers": "not-here"}, 422, "Bundle.entry[0]"),
        ({"activity": "shout"}, 422, "Bundle.entry[6].resource.activity"),
    ],
)
def test_a_refused_message_gets_an_operation_outcome_and_nothing_is_written(
    world, hospital_system, change, status, expression
):
    values = {"sender_sor": "1001", "receiver_sor": "2001", "cpr": world.patient.cpr} | change
    response = _send(hospital_system, inbound(**values))
    assert response.status_code == status, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    assert world.patient.cpr not in response.content.decode()
    assert not Message.objects.exists()
    assert not ReceivedCareCommunication.objects.exists()


def test_bodies_that_are_no_care_communication_are_refused(world, hospital_system):
    assert _send(hospital_system, "{not json").status_code == 400
    assert _send(hospital_system, {"resourceType": "Patient"}).status_code == 422
    wrong_type = _to_municipality(world)
    wrong_type["entry"].append({"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Encounter"}})
    assert _send(hospital_system, wrong_type).status_code == 422
    assert not Message.objects.exists()


def test_a_message_goes_out_as_a_care_communication_the_validators_accept(world):
    thread = _nurse_writes(
        world,
        "Udskrivelse",
        "Kan I sende epikrisen?\nTak.",
        recipients=[world.hospital, world.gp],
        priority="urgent",
    )
    first = thread.messages.get()
    reply = services.message_send(
        actor=world.hospital_doctor,
        thread=thread,
        sender_organisation=world.hospital,
        recipients=[world.municipality],
        body="Den er sendt.",
        priority="routine",
    )
    client = APIClient()
    client.force_authenticate(world.gp_doctor)
    bundles = []
    for message, receiver in ((first, world.hospital), (reply, world.municipality)):
        url = reverse(
            "api-coordination:message-care-communication", args=[world.plan.public_id, message.public_id]
        )
        response = client.get(url, {"receiver": str(receiver.public_id)})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fhir+json"
        bundles.append(response.json())
    by_name = client.get(
        reverse("api-coordination:message-care-communication", args=[world.plan.public_id, first.public_id])
    ).json()
    assert by_name["entry"][0]["resource"]["destination"][0]["endpoint"].endswith("=3001")  # Lægerne i Byen
    for bundle in bundles:
        Bundle.model_validate(bundle)
        assert r4_issues(bundle) == []
    header, communication = (entry["resource"] for entry in bundles[0]["entry"][:2])
    assert header["id"] == str(first.public_id)
    assert [d["endpoint"].rsplit("=", 1)[1] for d in header["destination"]] == ["1001"]  # one receiver
    assert "priority" not in communication  # MedCom: only for "regarding referral"
    assert communication["identifier"] == [{"value": f"urn:uuid:{thread.public_id}"}]
    assert [p["contentString"] for p in communication["payload"]] == ["Kan I sende epikrisen?\nTak."]
    provenance = bundles[1]["entry"][-1]["resource"]
    assert provenance["activity"]["coding"][0]["code"] == "reply-message"
    assert provenance["entity"][0]["what"]["reference"] == f"MessageHeader/{first.public_id}"
    other = APIClient()
    other.force_authenticate(world.outsider)
    url = reverse("api-coordination:message-care-communication", args=[world.plan.public_id, first.public_id])
    assert other.get(url).status_code == 404
    not_written_to = client.get(url, {"receiver": str(world.unrelated.public_id)})
    assert not_written_to.status_code == 404
    assert not_written_to.json()["resourceType"] == "OperationOutcome"


def test_our_message_out_and_the_hospitals_reply_in_make_one_thread(world, hospital_system):
    """Round trip: what goes out is answered by the hospital's system with a reply naming its id."""
    thread = _nurse_writes(world, "Hjælpemidler", "Er der bestilt rollator?")
    client = APIClient()
    client.force_authenticate(world.home_nurse)
    out = client.get(
        reverse(
            "api-coordination:message-care-communication",
            args=[world.plan.public_id, thread.messages.get().public_id],
        )
    ).json()
    answered = out["entry"][0]["resource"]["id"]
    reply = _to_municipality(
        world, activity="reply-message", answers=answered, text="Ja, den leveres fredag."
    )
    assert _send(hospital_system, reply).status_code == 200
    assert list(thread.messages.order_by("sent_at", "pk").values_list("body", flat=True)) == [
        "Er der bestilt rollator?",
        "Ja, den leveres fredag.",
    ]


def test_a_sender_outside_the_plan_gets_the_same_answer_as_for_no_plan(world):
    """A credential cannot learn which patients have a plan with whom."""
    _credential, key = ingest.credential_issue(actor=None, organisation=world.unrelated, name="Omsorgssystem")
    outsider = APIClient()
    outsider.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    in_plan = _send(outsider, inbound(sender_sor="2002", receiver_sor="2001", cpr=world.patient.cpr))
    no_plan = _send(outsider, inbound(sender_sor="2002", receiver_sor="2001", cpr="0101501234"))
    assert in_plan.status_code == no_plan.status_code == 422
    assert in_plan.json() == no_plan.json()
    assert not Message.objects.exists()


def test_a_reply_to_another_plans_message_is_refused(world, hospital_system):
    hub_services.participant_add(actor=None, plan=world.other_plan, organisation=world.hospital)
    foreign = services.thread_start(
        actor=world.outsider,
        plan=world.other_plan,
        sender_organisation=world.unrelated,
        recipients=[world.hospital],
        subject="Andet forløb",
        body="Om Ole.",
        priority="routine",
    ).messages.get()
    reply = _to_municipality(world, activity="reply-message", answers=str(foreign.public_id))
    response = _send(hospital_system, reply)
    assert response.status_code == 422
    assert not Message.objects.filter(plan=world.plan).exists()
    assert Message.objects.filter(plan=world.other_plan).count() == 1


def test_our_own_message_sent_back_changes_nothing(world, hospital_system):
    thread = _nurse_writes(world, "Hjælpemidler", "Er der bestilt rollator?")
    ours = thread.messages.get()
    echoed = _to_municipality(world, message_id=str(ours.public_id), text=ours.body)
    response = _send(hospital_system, echoed)
    assert response.status_code == 200
    assert response.json()["entry"][0]["resource"]["response"]["identifier"] == str(ours.public_id)
    assert list(Message.objects.filter(plan=world.plan)) == [ours]


def test_a_received_message_is_dated_when_it_was_sent_never_in_the_future(world, hospital_system):
    sent = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    assert _send(hospital_system, _to_municipality(world, sent=sent.isoformat())).status_code == 200
    ahead = (timezone.now() + timedelta(hours=5)).isoformat()
    assert _send(hospital_system, _to_municipality(world, sent=ahead, text="Senere.")).status_code == 200
    first, second = Message.objects.filter(plan=world.plan).order_by("pk")
    assert first.sent_at == sent
    assert second.sent_at <= timezone.now()
