"""A relative sees exactly what the patient's consent lets them see (relatives.access.relative_scope, asked
on every request): the whole plan as the patient sees it, or only the appointments and whom to call; a
withdrawn consent, a relative taken off the plan or ended sessions refuse them at once, in the same session;
and another patient's relative gets 404 (the portal's own page), the same as for a plan that does not
exist. Asking costs the same few queries however many relatives the session holds."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import services
from pathways.choices import PlanStatus, TaskKind
from pathways.models import AccessLog
from portal.access import PortalReader, readers_of
from portal.choices import ReaderRole
from portal.models import PortalSession
from portal.selectors import portal_plan_page
from relatives import services as relatives_services
from relatives.access import relative_scope
from relatives.choices import ConsentMethod, ConsentScope
from relatives.models import Relative
from tests.portal.test_plan import add_relative, build_rich_plan, main_of, plan_url, section, text_of

HOME = reverse("portal:home")


@pytest.fixture
def rich_plan(world):
    return build_rich_plan(world)


def relative_reader(world, relative: Relative) -> PortalReader:
    scope = ConsentScope(relative_scope(relative))
    return PortalReader(plan=world.plan, role=ReaderRole.RELATIVE, scope=scope, relative=relative)


# --- whole plan ------------------------------------------------------------------------------------------


def test_whole_plan_relative_sees_what_the_patient_sees(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world, scope=ConsentScope.WHOLE_PLAN)
    as_patient = portal_plan_page(
        reader=PortalReader(plan=world.plan, role=ReaderRole.PATIENT, scope=ConsentScope.WHOLE_PLAN)
    )
    as_relative = portal_plan_page(reader=relative_reader(world, daughter))

    same = dataclasses.replace(as_relative, is_patient=True, show_access_log=True)
    assert same == as_patient
    assert as_relative.goals
    assert as_relative.next_items
    assert as_relative.past_events

    html = main_of(portal_client(relatives=[daughter]).get(plan_url(world.plan)))
    for part in (
        "portal-matters",
        "portal-goals",
        "portal-next",
        "portal-coordinator",
        "portal-participants",
        "portal-past",
    ):
        section(html, part)
    assert "Kontrol på sygehuset" in html
    assert "Genoptræning" in html
    assert "Blodprøve" in html


def test_a_relative_gets_no_link_to_the_patients_access_log(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world, scope=ConsentScope.WHOLE_PLAN)

    html = portal_client(relatives=[daughter]).get(plan_url(world.plan)).content.decode()

    assert reverse("portal:access-log", args=[world.plan.public_id]) not in html


def test_a_relatives_read_is_logged_for_the_patient_with_the_relative_as_reader(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world)

    portal_client(relatives=[daughter]).get(plan_url(world.plan))

    row = AccessLog.objects.get(plan=world.plan, reader_id=daughter.pk)
    assert row.patient_id == world.patient.pk
    assert row.actor_id is None


# --- appointments only -----------------------------------------------------------------------------------


def test_appointments_only_sees_only_appointments_and_whom_to_call(rich_plan, portal_client):
    world = rich_plan
    son = add_relative(world, scope=ConsentScope.APPOINTMENTS, name="Mads Testesen")

    response = portal_client(relatives=[son]).get(plan_url(world.plan))

    assert response.status_code == 200
    html = main_of(response)
    ids = re.findall(r'<section aria-labelledby="([^"]+)"', html)
    assert ids == ["portal-next", "portal-coordinator", "portal-print"]  # print: the appointments
    coming = section(html, "portal-next")
    assert "Kontrol på sygehuset" in coming  # an appointment
    assert "Hjemmebesøg" in coming  # a home visit is an appointment too (the outbox reminds of both)
    assert "Genoptræning" not in html  # a task, not an appointment
    assert "Blodprøve" not in html  # done: what has happened is not theirs to see
    assert "At kunne blive boende hjemme." not in html  # what matters
    assert "Kan gå på trapperne" not in html  # the goals
    assert "KOL og diabetes" not in html  # the plan's title
    assert "Lægerne i Byen" not in html  # who takes part
    who = section(html, "portal-coordinator")
    assert 'href="tel:+4546310000"' in who
    assert "Vikar Hansen" in who
    assert reverse("portal:access-log", args=[world.plan.public_id]) not in html


def test_appointments_only_page_model_holds_nothing_else(rich_plan):
    world = rich_plan
    son = add_relative(world, scope=ConsentScope.APPOINTMENTS, name="Mads Testesen")

    page = portal_plan_page(reader=relative_reader(world, son))

    assert not page.whole_plan
    assert (page.what_matters, page.title, page.goals, page.participants, page.past_events) == (
        "",
        "",
        (),
        (),
        (),
    )
    assert page.next_items
    assert all(item.is_appointment for item in page.next_items)
    assert page.coordinator is not None
    assert page.substitute is not None


def test_appointments_only_never_sees_a_hidden_appointment(rich_plan, portal_client):
    world = rich_plan
    son = add_relative(world, scope=ConsentScope.APPOINTMENTS, name="Mads Testesen")
    services.task_create(
        actor=world.hospital_doctor,
        plan=world.plan,
        title="Skjult samtale",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        due_date=timezone.localdate() + timedelta(days=4),
        visible_to_patient=False,
    )

    assert "Skjult samtale" not in portal_client(relatives=[son]).get(plan_url(world.plan)).content.decode()


# --- refused at once, in the same session --------------------------------------------------------------


def test_withdrawn_consent_refuses_the_next_request_in_the_same_session(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world)
    client = portal_client(relatives=[daughter])
    assert client.get(plan_url(world.plan)).status_code == 200

    relatives_services.relative_consent_record(
        actor=world.coordinator, relative=daughter, scope=ConsentScope.NONE, method=ConsentMethod.SPOKEN
    )

    refused = client.get(plan_url(world.plan))
    assert refused.status_code == 404
    home = client.get(HOME)
    assert home.status_code == 200
    assert plan_url(world.plan) not in home.content.decode()
    # The portal's own page: the way back to its start, whom to call; not the staff's "Go to my patients".
    assert 'class="ff-portal"' in refused.content.decode()
    assert f'href="{HOME}"' in main_of(refused)
    assert 'href="/"' not in refused.content.decode()
    assert "Kirsten" not in refused.content.decode()


def test_narrowed_consent_takes_effect_on_the_next_request(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world)
    client = portal_client(relatives=[daughter])
    assert "portal-goals" in client.get(plan_url(world.plan)).content.decode()

    relatives_services.relative_consent_record(
        actor=world.coordinator,
        relative=daughter,
        scope=ConsentScope.APPOINTMENTS,
        method=ConsentMethod.SPOKEN,
        coercion_checked=True,
    )

    html = client.get(plan_url(world.plan)).content.decode()
    assert "portal-goals" not in html
    assert "Kontrol på sygehuset" in html


def test_contact_only_sees_nothing(rich_plan, portal_client):
    world = rich_plan
    contact = add_relative(world, scope=ConsentScope.CONTACT_ONLY)

    client = portal_client(relatives=[contact])

    assert client.get(plan_url(world.plan)).status_code == 404


def test_a_relative_removed_from_the_plan_is_refused(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world)
    client = portal_client(relatives=[daughter])
    assert client.get(plan_url(world.plan)).status_code == 200

    relatives_services.relative_remove(
        actor=world.coordinator, relative=daughter, expected_version=daughter.version
    )

    assert client.get(plan_url(world.plan)).status_code == 404
    assert plan_url(world.plan) not in client.get(HOME).content.decode()


def test_sessions_ended_after_the_session_began_refuse_the_relative(rich_plan, portal_client):
    world = rich_plan
    daughter = add_relative(world)
    client = portal_client(relatives=[daughter])
    assert client.get(plan_url(world.plan)).status_code == 200

    Relative.objects.filter(pk=daughter.pk).update(sessions_ended_at=timezone.now())

    assert client.get(plan_url(world.plan)).status_code == 404
    # A new sign-in after that is a new session: the consent still holds, so it reads the plan again.
    assert portal_client(relatives=[daughter]).get(plan_url(world.plan)).status_code == 200


def test_another_patients_relative_gets_404(rich_plan, portal_client):
    world = rich_plan
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    stranger = add_relative(world, plan=world.other_plan, actor=world.outsider, name="Per Andersen")
    client = portal_client(relatives=[stranger])

    response = client.get(plan_url(world.plan))

    assert response.status_code == 404
    assert client.get(plan_url(world.other_plan)).status_code == 200
    assert not AccessLog.objects.filter(plan=world.plan, reader_id=stranger.pk).exists()


def test_a_plan_that_does_not_exist_answers_the_same_404(world, portal_client):
    client = portal_client(patient=world.patient)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(reverse("portal:plan", args=["00000000-0000-4000-8000-000000000000"]))

    assert response.status_code == 404
    assert "call your coordinator" in text_of(main_of(response))
    assert "no-store" in response["Cache-Control"]


# --- queries: the same however many relatives the session holds -------------------------------------------


def _queries(run) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


def test_six_relatives_on_the_session_cost_the_same_queries_as_one(rich_plan, portal_client):
    world = rich_plan
    scopes = [ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS, ConsentScope.CONTACT_ONLY]
    relatives = [
        add_relative(world, scope=scopes[number % 3], name=f"Relative{number} Testesen")
        for number in range(6)
    ]
    one = portal_client(relatives=relatives[:1])
    one_session = PortalSession.objects.get()
    six = portal_client(relatives=relatives)
    six_session = PortalSession.objects.exclude(pk=one_session.pk).get()
    url = plan_url(world.plan)
    one.get(url)  # the content types cached, as in a running server

    assert len(readers_of(six_session)) == 4  # two of the six see nothing (contact only)
    assert _queries(lambda: readers_of(six_session)) == _queries(lambda: readers_of(one_session)) <= 3
    assert _queries(lambda: six.get(url)) == _queries(lambda: one.get(url))
