"""The plan in the portal as the patient reads it: what matters and the goals first, then what happens next
(only tasks marked visible to the patient, by date, with who and their phone), the coordinator and
substitute (organisations' phones only, never a staff member's own), who takes part and what has happened;
the chooser for a reader of several plans (each patient it names is logged); a kind page when there is no
plan; drafts never shown; the portal's own 404; a session ends when idle or after 12 hours; a fixed number of
queries however long the plan."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways import services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    GoalStatus,
    MembershipRole,
    PlanStatus,
    StayClass,
    StayEnd,
    StayStatus,
    TaskKind,
    TaskStatus,
)
from pathways.models import AccessLog, HospitalStay, Organisation, Task
from portal import access
from portal.access import PortalReader
from portal.choices import ReaderRole, SessionEnd
from portal.models import PortalSession
from portal.readmodels import NEXT_SHOWN
from portal.selectors import phone_uri, portal_plan_page
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, Relation
from tests.conftest import make_user, sign_in

HOME = reverse("portal:home")
# The sections of the patient's plan page, in the order the patient reads them (their ids in the page).
PATIENT_SECTIONS = [
    "portal-matters",
    "portal-goals",
    "portal-next",
    "portal-coordinator",
    "portal-participants",
    "portal-past",
]


def plan_url(plan) -> str:
    return reverse("portal:plan", args=[plan.public_id])


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section aria-labelledby="{section_id}">.*?</section>', html, flags=re.S)
    assert found, section_id
    return found.group(0)


def add_relative(world, *, scope=ConsentScope.WHOLE_PLAN, plan=None, name="Susanne Testesen", actor=None):
    """A relative on the plan (the world's by default) with the patient's consent to `scope`."""
    return relatives_services.relative_add(
        actor=actor or world.coordinator,
        plan=plan or world.plan,
        name=name,
        relation=Relation.CHILD,
        phone="28 19 45 63",
        email=f"{name.split()[0].lower()}@example.invalid",
        consent={"scope": scope, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )


def add_task(world, title: str, *, days: int | None, **fields) -> Task:
    values = {
        "actor": world.coordinator,
        "plan": world.plan,
        "title": title,
        "responsible_organisation": world.municipality,
        "kind": TaskKind.OTHER,
        "due_date": timezone.localdate() + timedelta(days=days) if days is not None else None,
    } | fields
    return services.task_create(**values)


@pytest.fixture
def rich_plan(world):
    return build_rich_plan(world)


def build_rich_plan(world):
    """Kirsten's plan as a patient meets it: a substitute coordinator, phones, agreed and proposed goals,
    coming appointments and tasks (one hidden from her), one done, and a hospital stay behind her."""
    Organisation.objects.filter(pk=world.municipality.pk).update(phone="46 31 74 00")
    Organisation.objects.filter(pk=world.hospital.pk).update(phone="47 32 21 00")
    Organisation.objects.filter(pk=world.gp.pk).update(phone="46 35 01 02")
    world.municipality.refresh_from_db()
    world.hospital.refresh_from_db()
    world.gp.refresh_from_db()
    substitute = make_user(
        "vikar", world.municipality, MembershipRole.COORDINATOR, last_name="Hansen", phone="46 31 74 11"
    )
    world.plan = services.coordinator_assign(
        actor=world.coordinator,
        plan=world.plan,
        coordinator=world.coordinator,
        organisation=world.municipality,
        phone="46 31 00 00",
        substitute=substitute,
    )
    today = timezone.localdate()
    services.goal_create(
        actor=world.coordinator,
        plan=world.plan,
        description="Kan gå på trapperne",
        expected_result="To etager uden pause",
        target_date=today + timedelta(days=90),
    )
    Task.objects.filter(plan=world.plan, title="Hjemmebesøg").update(due_date=today + timedelta(days=2))
    add_task(
        world,
        "Kontrol på sygehuset",
        days=10,
        kind=TaskKind.APPOINTMENT,
        responsible_organisation=world.hospital,
        responsible_person=world.hospital_doctor,
        actor=world.hospital_doctor,
    )
    add_task(world, "Genoptræning", days=20, kind=TaskKind.REHABILITATION)
    add_task(world, "Internt møde", days=5, visible_to_patient=False)
    done = add_task(
        world,
        "Blodprøve",
        days=-3,
        kind=TaskKind.APPOINTMENT,
        responsible_organisation=world.gp,
        actor=world.gp_doctor,
    )
    services.task_transition(actor=world.gp_doctor, task=done, to_status=TaskStatus.COMPLETED)
    now = timezone.now()
    HospitalStay.objects.create(
        patient=world.patient,
        plan=world.plan,
        hospital=world.hospital,
        stay_class=StayClass.INPATIENT,
        status=StayStatus.FINISHED,
        started_at=now - timedelta(days=30),
        ended_at=now - timedelta(days=25),
        end_reason=StayEnd.DISCHARGED,
    )
    return world


def patient_reader(world) -> PortalReader:
    return PortalReader(plan=world.plan, role=ReaderRole.PATIENT, scope=ConsentScope.WHOLE_PLAN)


# --- what the patient sees, in order --------------------------------------------------------------


def test_patient_reads_what_matters_and_goals_first_then_what_happens_next_then_who(rich_plan, portal_client):
    world = rich_plan
    response = portal_client(patient=world.patient).get(plan_url(world.plan))

    assert response.status_code == 200
    html = main_of(response)
    ids = re.findall(r'<section aria-labelledby="([^"]+)"', html)
    assert ids[: len(PATIENT_SECTIONS)] == PATIENT_SECTIONS
    assert "At kunne blive boende hjemme." in section(html, "portal-matters")
    goals = section(html, "portal-goals")
    assert "Kan gå på trapperne" in goals
    assert "To etager uden pause" in goals


def test_headings_go_down_one_level_at_a_time(rich_plan, portal_client):
    html = main_of(portal_client(patient=rich_plan.patient).get(plan_url(rich_plan.plan)))

    levels = [int(level) for level in re.findall(r"<h([1-6])[\s>]", html)]
    assert levels[0] == 1
    assert levels.count(1) == 1
    assert all(after <= before + 1 for before, after in itertools.pairwise(levels))


def test_what_happens_next_lists_visible_tasks_by_date_with_who_and_phone(rich_plan, portal_client):
    world = rich_plan
    html = main_of(portal_client(patient=world.patient).get(plan_url(world.plan)))
    coming = section(html, "portal-next")

    assert "<ol" in coming
    titles = re.findall(r"<li>\s*<p><strong>.*?</strong>.*?</p>\s*<p>(.*?)<br>", coming, flags=re.S)
    assert titles == ["Hjemmebesøg", "Kontrol på sygehuset", "Genoptræning"]
    in_ten_days = timezone.localdate() + timedelta(days=10)
    assert f'datetime="{in_ten_days:%Y-%m-%d}"' in coming
    assert "Medicinsk afdeling, Hospital_Doctor" in coming  # the organisation and the person named
    assert 'href="tel:+4547322100"' in coming
    assert "47 32 21 00" in coming


def test_a_task_hidden_from_the_patient_is_not_shown_anywhere(rich_plan, portal_client):
    html = portal_client(patient=rich_plan.patient).get(plan_url(rich_plan.plan)).content.decode()

    assert "Internt møde" not in html


def test_what_has_happened_shows_done_tasks_and_hospital_stays_in_short(rich_plan, portal_client):
    world = rich_plan
    html = main_of(portal_client(patient=world.patient).get(plan_url(world.plan)))
    past = section(html, "portal-past")

    assert "Blodprøve" in past
    assert "Lægerne i Byen" in past
    assert "Blodprøve" not in section(html, "portal-next")
    assert "Medicinsk afdeling" in past
    started = timezone.localdate() - timedelta(days=30)
    assert f'datetime="{started:%Y-%m-%d}"' in past


def test_coordinator_and_substitute_are_named_with_their_phones(rich_plan, portal_client):
    world = rich_plan
    html = main_of(portal_client(patient=world.patient).get(plan_url(world.plan)))
    who = section(html, "portal-coordinator")

    assert "Coordinator" in who
    assert "Hjemmesygeplejen Roskilde" in who
    assert 'href="tel:+4546310000"' in who  # the plan's coordinator phone
    assert "Vikar Hansen" in who
    assert 'href="tel:+4546317400"' in who  # the substitute's organisation's phone
    assert "46 31 74 11" not in who  # never the substitute's own number


def test_staff_members_own_numbers_never_reach_the_plan(rich_plan, portal_client):
    """User.phone is where the outbox texts a staff member: a task's person or the substitute is reached
    through their organisation, and where it has no phone, the page gives none."""
    world = rich_plan
    Organisation.objects.filter(pk=world.hospital.pk).update(phone="")
    world.hospital_doctor.phone = "29 99 88 77"
    world.hospital_doctor.save(update_fields=["phone"])

    html = main_of(portal_client(patient=world.patient).get(plan_url(world.plan)))

    assert "Kontrol på sygehuset" in html
    assert "Hospital_Doctor" in html
    assert "29 99 88 77" not in html
    assert "tel:+4529998877" not in html
    assert "46 31 74 11" not in html  # the substitute's own number


def test_goals_say_how_we_know_it_worked(rich_plan, portal_client):
    world = rich_plan
    client = portal_client(patient=world.patient)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    goals = section(main_of(client.get(plan_url(world.plan))), "portal-goals")

    assert "How we know it worked: To etager uden pause" in text_of(goals)
    assert "What we look for" not in goals


def test_who_takes_part_names_each_organisation_and_its_sector(rich_plan):
    page = portal_plan_page(reader=patient_reader(rich_plan))

    names = [participant.organisation for participant in page.participants]
    assert names == ["Medicinsk afdeling", "Hjemmesygeplejen Roskilde", "Lægerne i Byen"]
    assert all(participant.sector for participant in page.participants)
    assert page.participants[0].phone_uri == "tel:+4547322100"


def test_only_agreed_goals_are_shown(rich_plan):
    world = rich_plan
    cancelled = services.goal_create(actor=world.coordinator, plan=world.plan, description="Droppet mål")
    services.goal_update(
        actor=world.coordinator,
        goal=cancelled,
        expected_version=cancelled.version,
        description=cancelled.description,
        expected_result="",
        target_date=None,
        status=GoalStatus.CANCELLED,
    )

    page = portal_plan_page(reader=patient_reader(world))

    assert [goal.description for goal in page.goals] == ["Kan gå på trapperne"]


def test_the_patient_has_a_link_to_who_has_seen_the_plan(rich_plan, portal_client):
    world = rich_plan
    html = portal_client(patient=world.patient).get(plan_url(world.plan)).content.decode()

    assert reverse("portal:access-log", args=[world.plan.public_id]) in html


def test_reading_the_plan_is_logged_for_the_patient(rich_plan, portal_client):
    world = rich_plan
    portal_client(patient=world.patient).get(plan_url(world.plan))

    row = AccessLog.objects.get(plan=world.plan, reader_id=world.patient.pk)
    assert row.actor_id is None
    assert row.patient_id == world.patient.pk


def test_phone_numbers_become_tel_links():
    assert phone_uri("46 31 30 10") == "tel:+4546313010"
    assert phone_uri("+45 22 41 63 18") == "tel:+4522416318"
    assert phone_uri("0045 22416318") == "tel:+4522416318"
    assert phone_uri("1813") == "tel:1813"
    assert phone_uri("") == ""


# --- home: one plan, several, none; drafts ----------------------------------------------------------


def test_one_plan_goes_straight_to_it(world, portal_client):
    response = portal_client(patient=world.patient).get(HOME)

    assert response.status_code == 302
    assert response["Location"] == plan_url(world.plan)


def test_a_relative_of_two_patients_chooses_whose_plan(world, portal_client):
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    daughter = add_relative(world, name="Susanne Testesen")
    other = add_relative(
        world,
        name="Susanne Testesen",
        plan=world.other_plan,
        actor=world.outsider,
        scope=ConsentScope.APPOINTMENTS,
    )

    response = portal_client(relatives=[daughter, other]).get(HOME)

    assert response.status_code == 200
    html = main_of(response)
    links = re.findall(r'<a href="([^"]+)">(.*?)</a>', html)
    assert [href for href, _text in links] == [plan_url(world.plan), plan_url(world.other_plan)]
    assert "Kirsten Testesen" in links[0][1]
    assert "Ole Andersen" in links[1][1]
    assert "KOL og diabetes" not in html  # whose plan, not what it is about: that is on the plan page
    assert "Hjertesvigt" not in html
    # Each patient named is a read of their data: one row each, "saw you in a list".
    rows = AccessLog.objects.filter(reader_id__isnull=False).order_by("patient_id")
    assert sorted((row.patient_id, row.plan_id, row.action, row.purpose) for row in rows) == sorted(
        [
            (world.patient.pk, world.plan.pk, AccessAction.LIST, AccessPurpose.RELATIVE_CONSENT),
            (world.other_patient.pk, world.other_plan.pk, AccessAction.LIST, AccessPurpose.RELATIVE_CONSENT),
        ]
    )
    assert {row.reader for row in rows} == {daughter, other}


def test_a_head_request_writes_no_access_log_row(world, portal_client):
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    as_relative = add_relative(world, name="Kirsten Testesen", plan=world.other_plan, actor=world.outsider)
    client = portal_client(patient=world.patient, relatives=[as_relative])

    chooser = client.head(HOME)
    plan = client.head(plan_url(world.plan))

    assert (chooser.status_code, plan.status_code) == (200, 200)
    assert not AccessLog.objects.exists()
    client.get(plan_url(world.plan))
    assert AccessLog.objects.count() == 1


def test_a_patient_who_is_also_a_relative_chooses_between_own_plan_and_the_other(world, portal_client):
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    as_relative = add_relative(world, name="Kirsten Testesen", plan=world.other_plan, actor=world.outsider)

    response = portal_client(patient=world.patient, relatives=[as_relative]).get(HOME)

    links = re.findall(r'<a href="([^"]+)">', main_of(response))
    assert links == [plan_url(world.plan), plan_url(world.other_plan)]
    logged = {(row.patient_id, row.purpose) for row in AccessLog.objects.filter(action=AccessAction.LIST)}
    assert logged == {
        (world.patient.pk, AccessPurpose.OWN_DATA),
        (world.other_patient.pk, AccessPurpose.RELATIVE_CONSENT),
    }


def test_no_plan_gives_a_kind_page_with_whom_to_call(world, portal_client):
    Organisation.objects.filter(pk=world.unrelated.pk).update(phone="72 36 40 00")
    services.coordinator_assign(
        actor=world.outsider,
        plan=world.other_plan,
        coordinator=make_user("holbaek_coordinator", world.unrelated, MembershipRole.COORDINATOR),
        organisation=world.unrelated,
    )

    response = portal_client(patient=world.other_patient).get(HOME)  # the plan is still a draft

    assert response.status_code == 200
    html = main_of(response)
    assert "<h1>" in html
    assert "Hjemmeplejen Holbæk" in html
    assert 'href="tel:+4572364000"' in html
    assert "Hjertesvigt" not in html
    assert reverse("portal:plan", args=[world.other_plan.public_id]) not in html


def test_no_plan_and_no_one_to_name_still_answers_kindly(world, portal_client):
    relative = add_relative(world)
    relatives_services.relative_consent_record(
        actor=world.coordinator, relative=relative, scope=ConsentScope.NONE, method=ConsentMethod.SPOKEN
    )

    response = portal_client(relatives=[relative]).get(HOME)

    assert response.status_code == 200
    assert "<h1>" in main_of(response)
    assert "tel:" not in main_of(response)


def test_a_draft_plan_is_not_shown(world, portal_client):
    client = portal_client(patient=world.other_patient)

    assert client.get(plan_url(world.other_plan)).status_code == 404
    assert "Hjertesvigt" not in client.get(HOME).content.decode()


@pytest.mark.parametrize("status", [PlanStatus.ON_HOLD, PlanStatus.COMPLETED])
def test_a_paused_or_finished_plan_is_still_shown_and_says_so(world, portal_client, status):
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=status)

    response = portal_client(patient=world.patient).get(plan_url(world.plan))

    assert response.status_code == 200
    assert 'class="alert alert-info"' in main_of(response)


def test_a_revoked_plan_is_not_shown(world, portal_client):
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.REVOKED)

    assert portal_client(patient=world.patient).get(plan_url(world.plan)).status_code == 404


def test_the_plan_page_is_private_and_not_cached(world, portal_client):
    response = portal_client(patient=world.patient).get(plan_url(world.plan))

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_without_a_portal_session_the_plan_sends_to_sign_in(world, client):
    response = client.get(plan_url(world.plan))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:sign-in")


def test_the_plan_page_refuses_writes(world, portal_client):
    assert portal_client(patient=world.patient).post(plan_url(world.plan)).status_code == 405


def test_a_plan_one_may_not_open_gets_the_portals_own_404_page(world, portal_client):
    client = sign_in(portal_client(patient=world.patient), world.coordinator)  # on the staff side too
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(plan_url(world.other_plan))

    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="ff-portal"' in html
    assert f'href="{HOME}"' in main_of(response)
    assert "call your coordinator" in text_of(main_of(response))
    assert "Ole" not in html
    assert 'href="/"' not in html  # not the staff's 404: no "Go to my patients"
    assert "Go to my patients" not in html
    assert {part.strip() for part in response["Cache-Control"].split(",")} >= {"private", "no-store"}


# --- what happens next: the first few, the rest under "Later" -----------------------------------------


def test_a_long_list_of_what_happens_next_shows_the_first_five_and_folds_the_rest(rich_plan, portal_client):
    world = rich_plan
    _more_tasks(world, 14)  # 17 coming, as on Kirsten's demo plan
    client = portal_client(patient=world.patient)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    coming = section(main_of(client.get(plan_url(world.plan))), "portal-next")

    shown, _, folded = coming.partition("<details")
    assert shown.count("<li>") == NEXT_SHOWN
    assert "Hjemmebesøg" in shown  # the nearest first
    assert folded.count("<li>") == 17 - NEXT_SHOWN
    assert re.search(r"<summary>\s*Later: 12 more\s*</summary>", folded)
    assert "Opgave 13" in folded
    assert '<ol class="nobullet-list bordered-list ff-portal-next" start="6">' in folded


def test_a_short_list_of_what_happens_next_has_nothing_folded(rich_plan, portal_client):
    coming = section(
        main_of(portal_client(patient=rich_plan.patient).get(plan_url(rich_plan.plan))), "portal-next"
    )

    assert coming.count("<li>") == 3
    assert "<details" not in coming


# --- the session: idle, and at most 12 hours ----------------------------------------------------------


def _session_aged(*, started: timedelta, idle: timedelta) -> None:
    now = timezone.now()
    PortalSession.objects.update(started_at=now - started, last_seen_at=now - idle)


def test_a_session_ends_after_12_hours_however_busy(world, portal_client):
    client = portal_client(patient=world.patient)
    _session_aged(started=timedelta(hours=12, minutes=1), idle=timedelta(minutes=1))

    response = client.get(plan_url(world.plan))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:sign-in")
    session = PortalSession.objects.get()
    assert session.ended_at is not None
    assert session.end_reason == SessionEnd.EXPIRED
    assert not AccessLog.objects.exists()


def test_a_busy_session_of_less_than_12_hours_goes_on(world, portal_client):
    client = portal_client(patient=world.patient)
    _session_aged(started=timedelta(hours=11, minutes=50), idle=timedelta(minutes=1))

    assert client.get(plan_url(world.plan)).status_code == 200
    session = PortalSession.objects.get()
    assert session.ended_at is None
    assert timezone.now() - session.last_seen_at < timedelta(minutes=1)


def test_an_idle_session_ends_as_idle(world, portal_client):
    client = portal_client(patient=world.patient)
    _session_aged(started=timedelta(hours=1), idle=timedelta(minutes=31))

    assert client.get(plan_url(world.plan)).status_code == 302
    assert PortalSession.objects.get().end_reason == SessionEnd.IDLE


def test_touching_a_session_ended_meanwhile_keeps_it_ended(world, portal_client):
    portal_client(patient=world.patient)
    session = PortalSession.objects.get()
    PortalSession.objects.update(ended_at=timezone.now(), end_reason=SessionEnd.SIGNED_OUT)

    assert access.portal_session_touch(session=session, now=timezone.now()) is None
    assert PortalSession.objects.get().end_reason == SessionEnd.SIGNED_OUT


# --- queries: the same number however long the plan -------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code in (200, 302)
    return len(queries)


def _more_tasks(world, count: int) -> None:
    for number in range(count):
        add_task(
            world,
            f"Opgave {number}",
            days=number + 1,
            responsible_person=world.home_nurse,
            kind=TaskKind.APPOINTMENT if number % 2 else TaskKind.OTHER,
        )
    done = add_task(world, "Gjort", days=-1)
    services.task_transition(actor=world.coordinator, task=done, to_status=TaskStatus.COMPLETED)


@pytest.mark.parametrize("scope", [None, ConsentScope.WHOLE_PLAN, ConsentScope.APPOINTMENTS])
def test_plan_page_queries_do_not_grow_with_the_plan(rich_plan, portal_client, scope):
    world = rich_plan
    if scope is None:
        client = portal_client(patient=world.patient)
    else:
        client = portal_client(relatives=[add_relative(world, scope=scope)])
    url = plan_url(world.plan)
    _more_tasks(world, 1)
    few = _count(client, url)
    _more_tasks(world, 9)
    many = _count(client, url)

    assert Task.objects.filter(plan=world.plan).count() > 15
    assert few == many
    assert many <= 16


def test_home_page_queries_do_not_grow_with_the_plan(rich_plan, portal_client, django_assert_max_num_queries):
    world = rich_plan
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    other = add_relative(world, plan=world.other_plan, actor=world.outsider)
    client = portal_client(patient=world.patient, relatives=[other])
    _more_tasks(world, 1)
    few = _count(client, HOME)
    _more_tasks(world, 9)

    with django_assert_max_num_queries(few):
        response = client.get(HOME)
    assert response.status_code == 200
    assert few <= 12


def test_the_session_cookie_is_the_portals_own(world, portal_client):
    client = portal_client(patient=world.patient)

    assert settings.PORTAL_SESSION_COOKIE in client.cookies
    assert client.get(plan_url(world.plan)).status_code == 200
