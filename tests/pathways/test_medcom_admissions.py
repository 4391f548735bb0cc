"""The "admissions without a plan" page: the receiving organisation's notices about citizens with no plan,
newest first, with each citizen's admissions in the last 12 months (3 or more stand out), logged as a read,
linked from the caseload and the worklist; and the example messages sent to a running server."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import ingest, services
from pathways.choices import AccessAction, ReceivedState, Sector
from pathways.demo import DEMO_MEDCOM_KEY
from pathways.models import AccessLog, Organisation, ReceivedMessage
from tests.conftest import sign_in
from tests.pathways.medcom_messages import NO_PLAN_CPR, Sender, bundle, message_id, sender_for

pytestmark = pytest.mark.django_db

PAGE = reverse("pathways:admissions-without-plan")
ERIK = {"cpr": NO_PLAN_CPR, "given_name": "Erik", "family_name": "Hansen"}
GRETHE = {"cpr": "2207381456", "given_name": "Grethe", "family_name": "Nielsen"}


@pytest.fixture
def hospital_sender(world) -> Sender:
    return sender_for(world.hospital)


def admit(
    sender: Sender, citizen: dict[str, Any], days_ago: float, episode: str, code: str = "STIN", **extra
):
    message = bundle(code, at=timezone.now() - timedelta(days=days_ago), episode=episode, **citizen, **extra)
    status, answer = sender.receive(message)
    assert status == 200, answer
    return message


def rows(response) -> list[str]:
    """The data-admissions counts of the page's rows, in order."""
    html = response.content.decode()
    return [part.split('"')[0] for part in html.split('data-admissions="')[1:]]


def test_staff_of_the_receiving_organisation_see_its_notices_newest_first_with_repeated_admissions_marked(
    client, world, hospital_sender
):
    for number, days in enumerate((300, 200, 90, 1)):
        admit(hospital_sender, ERIK, days, f"erik-{number}")
    admit(hospital_sender, ERIK, 400, "erik-long-ago")  # more than 12 months ago: not counted
    admit(hospital_sender, GRETHE, 2, "grethe", code="STAA")
    sign_in(client, world.home_nurse)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    # Newest first: Erik's admission yesterday, Grethe's acute ambulant stay, then Erik's earlier ones.
    assert rows(response) == ["4", "1", "4", "4", "4", "4"]
    assert html.index("Erik Hansen") < html.index("Grethe Nielsen")
    assert html.count("ff-admission-candidate") == 5
    assert "5. dec 1943" in html  # the date of birth, from the CPR number
    assert NO_PLAN_CPR not in html
    assert "Medicinsk afdeling" in html
    assert ">STAA<" in html


def test_a_cancelled_admission_and_another_receivers_notices_are_not_counted(client, world, hospital_sender):
    admit(hospital_sender, ERIK, 50, "erik-1")
    admit(hospital_sender, ERIK, 20, "erik-2")
    cancelled = admit(hospital_sender, ERIK, 10, "erik-3")
    admit(hospital_sender, ERIK, 9, "erik-3", code="AN_STIN", refers_to=message_id(cancelled))
    admit(hospital_sender, ERIK, 5, "erik-4", receiver=("2002", "Hjemmeplejen Holbæk"))
    # The conversion of an acute ambulant stay into an admission is one stay.
    admit(hospital_sender, ERIK, 2, "erik-5", code="STAA")
    admit(hospital_sender, ERIK, 1.9, "erik-5")
    sign_in(client, world.home_nurse)
    counted = set(rows(client.get(PAGE)))
    assert counted == {"3"}


def test_other_organisations_see_none_of_them(client, world, hospital_sender):
    admit(hospital_sender, ERIK, 1, "erik")
    for user in (world.outsider, world.gp_doctor, world.hospital_doctor, world.admin):
        sign_in(client, user)
        response = client.get(PAGE)
        assert response.status_code == 200
        assert rows(response) == []
        assert "Erik" not in response.content.decode()


def test_a_municipal_units_staff_see_what_their_municipality_receives(client, world, hospital_sender):
    roskilde = Organisation.objects.create(
        name="Roskilde Kommune", sector=Sector.MUNICIPALITY, sor_code="2000", municipality_code="265"
    )
    Organisation.objects.filter(pk=world.municipality.pk).update(parent=roskilde)
    admit(hospital_sender, ERIK, 1, "erik", receiver=("2000", "Roskilde Kommune"))
    sign_in(client, world.home_nurse)
    assert rows(client.get(PAGE)) == ["1"]
    client.force_login(world.outsider)
    assert rows(client.get(PAGE)) == []


def test_the_page_reads_in_the_same_number_of_queries_for_one_row_and_thirty(client, world, hospital_sender):
    sign_in(client, world.home_nurse)
    admit(hospital_sender, ERIK, 1, "erik-0")

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(PAGE).status_code == 200
        return len(context.captured_queries)

    one = queries()
    for number in range(1, 30):
        citizen = {
            "cpr": f"0101{50 + number % 40:02d}{1000 + number}",
            "given_name": "Borger",
            "family_name": str(number),
        }
        admit(hospital_sender, citizen, number, f"episode-{number}")
    assert ReceivedMessage.objects.filter(state=ReceivedState.NO_PLAN).count() == 30
    assert queries() == one


def test_reading_the_list_is_logged_without_the_cpr_number(client, world, hospital_sender, caplog):
    known = services.patient_create(
        cpr=GRETHE["cpr"], given_name="Grethe", family_name="Nielsen", home_municipality="265"
    )
    admit(hospital_sender, ERIK, 2, "erik")
    admit(hospital_sender, GRETHE, 1, "grethe")
    sign_in(client, world.home_nurse)
    caplog.set_level(logging.INFO, logger="faelles_forloeb.access")
    client.get(PAGE)
    logged = AccessLog.objects.get(actor=world.home_nurse, action=AccessAction.LIST)
    assert (logged.patient, logged.organisation) == (known, world.municipality)
    erik = ReceivedMessage.objects.get(citizen_name="Erik Hansen")
    assert str(erik.public_id) in caplog.text
    assert NO_PLAN_CPR not in caplog.text
    assert "Erik" not in caplog.text


def test_the_caseload_and_the_worklist_link_to_the_list_for_those_who_have_one(
    client, world, hospital_sender
):
    sign_in(client, world.home_nurse)
    assert PAGE not in client.get(reverse("pathways:caseload")).content.decode()
    admit(hospital_sender, ERIK, 1, "erik")
    assert PAGE in client.get(reverse("pathways:caseload")).content.decode()
    client.force_login(world.coordinator)
    assert PAGE in client.get(reverse("coordination:worklist")).content.decode()
    client.force_login(world.gp_doctor)
    assert PAGE not in client.get(reverse("pathways:caseload")).content.decode()


def test_the_list_is_paginated(client, world, hospital_sender):
    for number in range(27):
        citizen = {
            "cpr": f"0202{50 + number:02d}{2000 + number}",
            "given_name": "Borger",
            "family_name": str(number),
        }
        admit(hospital_sender, citizen, number + 1, f"episode-{number}")
    sign_in(client, world.home_nurse)
    assert len(rows(client.get(PAGE))) == 25
    assert len(rows(client.get(PAGE, {"page": 2}))) == 2


# --- The example messages, sent to a running server -------------------------------------------------------


@pytest.fixture
def demo_receivers(transactional_db):
    """The demo's hospital department and municipality (the examples' SOR codes), and the demo key."""
    hospital = Organisation.objects.create(
        name="Medicinsk afdeling", sector=Sector.HOSPITAL, sor_code="990100000000002"
    )
    Organisation.objects.create(
        name="Roskilde Kommune", sector=Sector.MUNICIPALITY, sor_code="990200000000001"
    )
    ingest.credential_issue(actor=None, organisation=hospital, name="EPJ (demo)", key=DEMO_MEDCOM_KEY)


def test_an_example_message_is_sent_to_the_running_server_and_its_acknowledgement_printed(
    live_server, demo_receivers, capsys
):
    call_command("medcom_send", "grethe-acute-ambulant", url=live_server.url)
    status_line, answer = capsys.readouterr().out.split("\n", 1)
    assert status_line.startswith("200 OK")
    assert json.loads(answer)["entry"][0]["resource"]["eventCoding"]["code"] == "acknowledgement-message"
    assert ReceivedMessage.objects.get().state == ReceivedState.NO_PLAN
    # Sent again it is a repeat: the same answer, nothing new; with a new id it is a new message.
    call_command("medcom_send", "grethe-acute-ambulant", url=live_server.url)
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1]) == json.loads(answer)
    assert ReceivedMessage.objects.count() == 1
    call_command("medcom_send", "grethe-acute-ambulant", url=live_server.url, new_id=True)
    assert ReceivedMessage.objects.count() == 2


def test_the_send_command_names_its_examples_and_says_when_the_server_refuses(
    live_server, demo_receivers, capsys
):
    call_command("medcom_send", list=True)
    assert "kirsten-discharge" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("medcom_send", "no-such-example", url=live_server.url)
    with pytest.raises(CommandError):
        call_command("medcom_send", "grethe-acute-ambulant", url=live_server.url, key="ffm_wrong")
    assert "401" in capsys.readouterr().out
    assert not ReceivedMessage.objects.exists()
