"""Hvem har set mine oplysninger? The patient's own access log in the portal (issue 14 item 4).

Every read of the patient's data of the last two years, newest first, in plain words: staff pages, lists,
the API, the administration, the history, emergency accesses (marked, with their reason) and relatives'
reads in the portal. The patient's own portal reads and reads of a relative's support record are left out.
Only the patient may open it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from pathways import services
from pathways.access import access_plan
from pathways.audit import PatientRead, access_log_write, portal_read_log_write
from pathways.choices import AccessAction, AccessPurpose, MembershipRole, PlanStatus
from pathways.models import AccessLog, Membership, Patient
from portal import demo, selectors
from portal.access import PortalReader, access_portal_plan
from portal.choices import ReaderRole, SignInMethod
from portal.selectors import portal_access_log_page
from portal.signin import portal_session_start
from relatives import services as relatives_services
from relatives.choices import ConsentMethod, ConsentScope, Relation, RelativeChannel

REASON = "Indlagt akut om natten med åndenød, skal kende planen."


def _relative(world, name="Susanne Hansen", scope=ConsentScope.WHOLE_PLAN, plan=None):
    return relatives_services.relative_add(
        actor=world.coordinator if plan is None else None,
        plan=plan or world.plan,
        name=name,
        relation=Relation.CHILD,
        email=f"{name.split()[0].lower()}@example.invalid",
        preferred_channel=RelativeChannel.EMAIL,
        consent={"scope": scope, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )


def _read(
    actor, world, action, *, organisation=None, purpose=AccessPurpose.TREATMENT, patient=None, plan=None
):
    plan = plan or world.plan
    access_log_write(
        actor=actor,
        reads=[
            PatientRead((patient or world.patient).pk, plan.pk, organisation.pk if organisation else None)
        ],
        action=action,
        purpose=purpose,
    )


def _relative_reads(relative):
    """The relative opens the plan in the portal (logged for the patient, as the portal does)."""
    session, _key = portal_session_start(
        method=SignInMethod.LINK_AND_CODE, patient=None, relatives=[relative]
    )
    access_portal_plan(session, public_id=relative.plan.public_id, action=AccessAction.PORTAL_PLAN)


def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _log_url(plan, page=None):
    url = reverse("portal:access-log", args=[plan.public_id])
    return f"{url}?page={page}" if page else url


def _entries(html: str) -> list[str]:
    return re.findall(r'<article class="ff-portal-card[^"]*">.*?</article>', html, flags=re.S)


def _patient_log(world):
    reader = PortalReader(plan=world.plan, role=ReaderRole.PATIENT, scope=ConsentScope.WHOLE_PLAN)
    with translation.override("en"):
        return portal_access_log_page(reader, page_number=None)


@pytest.fixture
def every_channel(world):
    """A read of Kirsten's data through each channel: the staff pages (the plan, a list, the history), the
    API, the administration, and her daughter in the portal."""
    access_plan(world.home_nurse, world.plan.public_id)  # the plan page: logged by the access policy
    _read(world.gp_doctor, world, AccessAction.LIST, organisation=world.gp)
    _read(world.hospital_doctor, world, AccessAction.API_READ, organisation=world.hospital)
    _read(world.admin, world, AccessAction.ADMIN_VIEW, purpose=AccessPurpose.ADMINISTRATION)
    _read(world.coordinator, world, AccessAction.VIEW_HISTORY, organisation=world.municipality)
    _relative_reads(_relative(world))


def test_reads_from_each_channel_are_listed_in_plain_words(world, every_channel, portal_client):
    client = _english(portal_client(patient=world.patient))

    response = client.get(_log_url(world.plan))

    assert response.status_code == 200
    html = response.content.decode()
    assert len(_entries(html)) == 6
    assert '<h2 id="portal-log-list">Who looked</h2>' in html
    for words in (
        "Opened your plan",
        "Saw you in a list",
        "Got your plan through another IT system",
        "Opened your data in the admin system",
        "Saw the history of your plan",
        "Your relative Susanne Hansen",
        "Read your plan",
    ):
        assert words in html, words
    for organisation in ("Hjemmesygeplejen Roskilde", "Lægerne i Byen", "Medicinsk afdeling"):
        assert organisation in html
    assert response["Cache-Control"].replace(" ", "") in ("private,no-store", "no-store,private")


def test_each_entry_says_who_with_role_then_what_and_why(world, every_channel):
    entries = {entry.what: entry for entry in _patient_log(world).entries}

    nurse = entries["Opened your plan"]
    assert (nurse.organisation, nurse.role, nurse.why) == (
        "Hjemmesygeplejen Roskilde",
        "Doctor, nurse or therapist",
        "To treat you or help you",
    )
    assert entries["Saw the history of your plan"].role == "Coordinator"
    admin = entries["Opened your data in the admin system"]
    assert admin.by_administrator
    assert (admin.role, admin.why) == ("System administrator", "To run and check the IT system")
    relative = entries["Read your plan"]
    assert relative.by_relative
    assert (relative.person, relative.why) == ("Susanne Hansen", "You let them see your plan")


def test_newest_read_comes_first(world, portal_client):
    _read(world.gp_doctor, world, AccessAction.VIEW_PLAN, organisation=world.gp)
    _read(world.hospital_doctor, world, AccessAction.VIEW_PLAN, organisation=world.hospital)

    html = portal_client(patient=world.patient).get(_log_url(world.plan)).content.decode()

    assert html.index("Medicinsk afdeling") < html.index("Lægerne i Byen")


def test_an_emergency_access_stands_out_with_its_reason(world, portal_client):
    services.emergency_access_grant(
        actor=world.outsider, organisation=world.unrelated, plan=world.plan, reason=REASON
    )
    access_plan(world.outsider, world.plan.public_id)  # read under the emergency access
    _read(world.gp_doctor, world, AccessAction.VIEW_PLAN, organisation=world.gp)

    html = portal_client(patient=world.patient).get(_log_url(world.plan)).content.decode()

    marked = [entry for entry in _entries(html) if "ff-portal-card--marked" in entry]
    assert len(marked) == 1
    assert "Hjemmeplejen Holbæk" in marked[0]
    assert REASON in marked[0]
    entry = next(e for e in _patient_log(world).entries if e.emergency)
    assert (entry.why, entry.reason) == ("Emergency access", REASON)


def test_the_reason_of_an_ordinary_read_is_not_shown(world):
    access_log_write(
        actor=world.gp_doctor,
        reads=[PatientRead(world.patient.pk, world.plan.pk, world.gp.pk)],
        action=AccessAction.VIEW_PLAN,
        reason="Intern note om noget helt andet",
    )

    (entry,) = _patient_log(world).entries

    assert entry.reason == ""


def test_staff_names_are_hidden_unless_the_setting_shows_them(world, portal_client, settings):
    _read(world.gp_doctor, world, AccessAction.VIEW_PLAN, organisation=world.gp)
    name = world.gp_doctor.get_full_name()
    assert name
    client = _english(portal_client(patient=world.patient))

    settings.PORTAL_SHOW_STAFF_NAMES = False
    hidden = client.get(_log_url(world.plan)).content.decode()
    settings.PORTAL_SHOW_STAFF_NAMES = True
    shown = client.get(_log_url(world.plan)).content.decode()

    assert name not in hidden
    assert "not their names" in hidden
    assert name in shown
    assert "not their names" not in shown


def test_relative_support_reads_and_the_patients_own_reads_are_left_out(world, portal_client):
    _read(world.coordinator, world, AccessAction.VIEW_RELATIVE_SUPPORT, organisation=world.municipality)
    _read(world.gp_doctor, world, AccessAction.VIEW_PLAN, organisation=world.gp)
    portal_read_log_write(
        reader=world.patient,
        patient_id=world.patient.pk,
        plan_id=world.plan.pk,
        action=AccessAction.PORTAL_PLAN,
        purpose=AccessPurpose.OWN_DATA,
    )
    client = _english(portal_client(patient=world.patient))
    client.get(_log_url(world.plan))  # her own reading of the log, logged too

    html = client.get(_log_url(world.plan)).content.decode()

    assert [entry.organisation for entry in _patient_log(world).entries] == ["Lægerne i Byen"]
    assert len(_entries(html)) == 1
    assert "Hjemmesygeplejen Roskilde" not in html
    assert "When you read your own plan here, it is not on the list." in html


def test_reads_older_than_two_years_are_left_out(world, settings):
    assert settings.PORTAL_ACCESS_LOG_YEARS == 2
    now = timezone.now()
    for organisation, days in ((world.hospital, 2 * 365 + 5), (world.gp, 2 * 365 - 5)):
        AccessLog.objects.create(
            at=now - timedelta(days=days),
            actor=world.hospital_doctor if organisation == world.hospital else world.gp_doctor,
            organisation=organisation,
            patient=world.patient,
            plan=world.plan,
            action=AccessAction.VIEW_PLAN,
            purpose=AccessPurpose.TREATMENT,
        )

    assert [entry.organisation for entry in _patient_log(world).entries] == ["Lægerne i Byen"]


def test_another_patients_reads_are_never_shown(world, portal_client):
    other = {"patient": world.other_patient, "plan": world.other_plan}
    _read(world.outsider, world, AccessAction.VIEW_PLAN, organisation=world.unrelated, **other)
    portal_read_log_write(
        reader=_relative(world, name="Ole Andersens Søn", plan=world.other_plan),
        patient_id=world.other_patient.pk,
        plan_id=world.other_plan.pk,
        action=AccessAction.PORTAL_PLAN,
        purpose=AccessPurpose.RELATIVE_CONSENT,
    )
    _read(world.gp_doctor, world, AccessAction.VIEW_PLAN, organisation=world.gp)

    html = portal_client(patient=world.patient).get(_log_url(world.plan)).content.decode()

    assert len(_entries(html)) == 1
    assert "Hjemmeplejen Holbæk" not in html
    assert "Ole Andersens Søn" not in html


def test_a_relative_gets_404_even_with_the_whole_plan_and_nothing_is_logged(world, portal_client):
    relative = _relative(world)
    client = portal_client(relatives=[relative])
    before = AccessLog.objects.count()

    response = client.get(_log_url(world.plan))

    assert response.status_code == 404
    assert AccessLog.objects.count() == before
    assert "Kirsten" not in response.content.decode()


def test_the_patient_gets_404_for_another_patients_log(world, portal_client):
    response = portal_client(patient=world.patient).get(_log_url(world.other_plan))

    assert response.status_code == 404


def test_a_patient_who_is_also_a_relative_of_her_plan_reads_her_log(world, portal_client):
    """A session with both readers: the patient's own reading wins."""
    relative = _relative(world)

    response = portal_client(patient=world.patient, relatives=[relative]).get(_log_url(world.plan))

    assert response.status_code == 200


def test_opening_the_log_writes_an_access_log_row_for_the_patient(world, portal_client):
    client = portal_client(patient=world.patient)

    client.get(_log_url(world.plan))

    row = AccessLog.objects.get(action=AccessAction.PORTAL_ACCESS_LOG)
    assert (row.patient_id, row.plan_id, row.actor_id) == (world.patient.pk, world.plan.pk, None)
    assert (row.reader, row.purpose) == (world.patient, AccessPurpose.OWN_DATA)


def test_a_head_request_for_the_log_writes_no_row(world, portal_client):
    client = portal_client(patient=world.patient)

    response = client.head(_log_url(world.plan))

    assert response.status_code == 200
    assert not AccessLog.objects.exists()


def test_a_relative_listed_on_the_chooser_shows_in_the_patients_log(world, portal_client):
    """The chooser names the patient to their relative: a read of the patient's data, in her log."""
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    daughter = _relative(world)
    other = _relative(world, plan=world.other_plan)
    portal_client(relatives=[daughter, other]).get(reverse("portal:home"))

    (entry,) = _patient_log(world).entries

    assert (entry.by_relative, entry.person) == (True, "Susanne Hansen")
    assert (entry.what, entry.why) == ("Saw you in a list", "You let them see your plan")


def test_without_a_portal_session_the_log_sends_to_sign_in(world, client):
    response = client.get(_log_url(world.plan))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:sign-in")


def test_the_log_is_paginated_with_plain_links(world, portal_client):
    AccessLog.objects.bulk_create(
        AccessLog(
            at=timezone.now() - timedelta(hours=index),
            actor=world.gp_doctor,
            organisation=world.gp,
            patient=world.patient,
            plan=world.plan,
            action=AccessAction.VIEW_PLAN,
            purpose=AccessPurpose.TREATMENT,
        )
        for index in range(selectors.ACCESS_LOG_PAGE_SIZE + 10)
    )
    client = _english(portal_client(patient=world.patient))

    first = client.get(_log_url(world.plan)).content.decode()
    second = client.get(_log_url(world.plan, page=2)).content.decode()
    beyond = client.get(_log_url(world.plan, page="nonsense"))

    assert len(_entries(first)) == selectors.ACCESS_LOG_PAGE_SIZE
    assert 'href="?page=2"' in first
    assert "Page 1 of 2" in first
    assert len(_entries(second)) == 10
    assert 'href="?page=1"' in second
    assert "?page=3" not in second
    assert beyond.status_code == 200


def _mixed_reads(world, count: int) -> None:
    """`count` staff reads: each sector's staff and an administrator, in turn."""
    readers = [
        (world.home_nurse, world.municipality, AccessPurpose.TREATMENT),
        (world.gp_doctor, world.gp, AccessPurpose.TREATMENT),
        (world.admin, None, AccessPurpose.ADMINISTRATION),
    ]
    for index in range(count):
        actor, organisation, purpose = readers[index % len(readers)]
        _read(actor, world, AccessAction.VIEW_PLAN, organisation=organisation, purpose=purpose)


def test_the_log_page_costs_the_same_number_of_queries_for_3_and_60_reads(
    world, portal_client, django_assert_max_num_queries
):
    relative = _relative(world)
    client = portal_client(patient=world.patient)
    client.get(_log_url(world.plan))  # the content types cached, as in a running server
    costs = []
    for more in (2, 56):  # 3 reads, then 60: on each page staff, an administrator and a relative
        _mixed_reads(world, more)
        _relative_reads(relative)
        with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as queries:
            response = client.get(_log_url(world.plan))
        assert response.status_code == 200
        costs.append((len(_entries(response.content.decode())), len(queries)))

    assert costs[0][0] == 3
    assert costs[1][0] == selectors.ACCESS_LOG_PAGE_SIZE
    assert costs[0][1] == costs[1][1], costs


def test_the_role_is_the_one_the_reader_had_then(world):
    then = timezone.now() - timedelta(days=30)
    AccessLog.objects.create(
        at=then,
        actor=world.home_nurse,
        organisation=world.municipality,
        patient=world.patient,
        plan=world.plan,
        action=AccessAction.VIEW_PLAN,
        purpose=AccessPurpose.TREATMENT,
    )
    membership = Membership.objects.get(user=world.home_nurse, organisation=world.municipality)
    Membership.objects.filter(pk=membership.pk).update(
        started_at=then - timedelta(days=100), ended_at=then + timedelta(days=1)
    )
    services.membership_add(
        user=world.home_nurse, organisation=world.municipality, role=MembershipRole.COORDINATOR
    )
    _read(world.home_nurse, world, AccessAction.VIEW_PLAN, organisation=world.municipality)

    roles = [entry.role for entry in _patient_log(world).entries]

    assert roles == ["Coordinator", "Doctor, nurse or therapist"]


def test_a_read_as_the_plans_coordinator_only_names_their_organisation(world):
    _read(world.coordinator, world, AccessAction.VIEW_PLAN, organisation=None)

    (entry,) = _patient_log(world).entries

    assert (entry.organisation, entry.role, entry.by_administrator) == (
        "Hjemmesygeplejen Roskilde",
        "Coordinator",
        False,
    )


def test_an_action_the_wording_table_does_not_know_is_shown_by_its_label(monkeypatch):
    monkeypatch.delitem(selectors.ACCESS_LOG_WHAT, AccessAction.VIEW_MESSAGES)

    with translation.override("en"):
        assert selectors._access_what(AccessAction.VIEW_MESSAGES) == "Read messages between sectors"
        assert selectors._access_what("print_plan") == "print_plan"
        assert selectors._access_why("a_new_purpose") == "a_new_purpose"


def test_every_action_a_patient_can_meet_has_patient_wording():
    left_out = set(selectors.ACCESS_LOG_LEFT_OUT_ACTIONS)
    assert set(AccessAction.values) - left_out <= set(selectors.ACCESS_LOG_WHAT)
    assert set(AccessPurpose.values) <= set(selectors.ACCESS_LOG_WHY)
    assert set(MembershipRole.values) <= set(selectors.ACCESS_LOG_ROLE)


# --- the demo: a week of reads, as a new user meets it --------------------------------------------------


def test_the_demo_reads_of_the_week_are_spread_over_the_past_days(db, settings):
    """`make run` seeds Kirsten's access log with the week's reads: each at its own moment of the past
    days, within the last seven and before now — not all at the moment of seeding."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    kirsten = Patient.objects.get(cpr=demo.KIRSTEN_CPR)
    readers = [username for username, *_rest in demo.DEMO_READS]
    week = list(
        AccessLog.objects.filter(patient=kirsten, at__gte=now - timedelta(days=7)).filter(
            Q(actor__username__in=readers) | Q(reader_id__isnull=False, actor__isnull=True)
        )
    )

    assert len(week) == len(demo.DEMO_READS) + 1  # and her daughter in the portal
    assert all(now - timedelta(days=7) < row.at < now for row in week)
    days = {timezone.localdate(row.at) for row in week}
    assert len(days) >= 4
    assert timezone.localdate(now) not in days  # each on a day before the seeding
    assert len({row.at for row in week}) == len(week)
