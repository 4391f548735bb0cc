"""Coordinator assignment and handover: only a user with the coordinator role in an organisation taking
part can be coordinator or substitute; a handover records both people and a note; the new coordinator
and the patient are told (the patient by their channel: name and phone only); stale versions and bad
input write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from coordination import services
from coordination.models import CoordinatorHandover
from pathways import access, outbox
from pathways import services as hub_services
from pathways.choices import ContactChannel, MembershipRole, NotificationChannel, NotificationKind
from pathways.models import Notification, PathwayPlan, Patient
from pathways.services import VersionConflict
from relatives.choices import ConsentAction, ConsentMethod, ConsentScope, Relation
from relatives.models import Relative, RelativeConsent
from tests.conftest import make_user, sign_in

HTMX = {"HX-Request": "true"}


@pytest.fixture
def successor(world):
    """A coordinator in the hospital, which takes part in the plan."""
    return make_user(
        "hospital_coordinator",
        world.hospital,
        MembershipRole.COORDINATOR,
        last_name="Nielsen",
        email="hc@example.invalid",
        phone="46 31 30 10",
    )


def hand_over(world: Any, **changes: Any) -> PathwayPlan:
    values: dict[str, Any] = {
        "actor": world.coordinator,
        "plan": world.plan,
        "coordinator": world.coordinator,
        "organisation": world.municipality,
        "substitute": None,
        "phone": "",
        "note": "",
        "expected_version": None,
    }
    return services.coordinator_handover(**(values | changes))


def coordinator_notices() -> Any:
    return Notification.objects.filter(kind=NotificationKind.COORDINATOR_ASSIGNED)


def snapshot(plan: PathwayPlan) -> tuple[Any, ...]:
    plan.refresh_from_db()
    return (
        plan.coordinator_id,
        plan.coordinator_substitute_id,
        plan.coordinator_phone,
        plan.version,
        CoordinatorHandover.objects.count(),
        coordinator_notices().count(),
    )


# --- The rule: the coordinator role in an organisation taking part --------------------------------------


def test_a_user_without_the_coordinator_role_cannot_be_coordinator(world):
    before = snapshot(world.plan)
    with pytest.raises(ValidationError) as refused:
        hand_over(world, coordinator=world.home_nurse)
    assert "koordinatorrollen" in " ".join(refused.value.messages)
    assert snapshot(world.plan) == before


def test_a_coordinator_outside_the_plans_organisations_cannot_be_coordinator(world):
    stranger = make_user("holbaek_coordinator", world.unrelated, MembershipRole.COORDINATOR)
    before = snapshot(world.plan)
    with pytest.raises(ValidationError) as refused:
        hand_over(world, coordinator=stranger, organisation=world.unrelated)
    assert "skal deltage i planen" in " ".join(refused.value.messages)
    with pytest.raises(ValidationError):  # named for an organisation that takes part, but not theirs
        hand_over(world, coordinator=stranger, organisation=world.municipality)
    assert snapshot(world.plan) == before


def test_the_substitute_needs_the_coordinator_role_in_an_organisation_taking_part(world, successor):
    before = snapshot(world.plan)
    with pytest.raises(ValidationError) as refused:
        hand_over(world, substitute=world.gp_doctor)
    assert "stedfortræder" in " ".join(refused.value.messages)
    with pytest.raises(ValidationError):
        hand_over(world, substitute=world.coordinator)  # not the coordinator themselves
    assert snapshot(world.plan) == before
    plan = hand_over(world, substitute=successor)  # the hospital's coordinator: any organisation taking part
    assert plan.coordinator_substitute == successor


def test_someone_without_the_right_to_change_the_plan_is_refused_before_anything(world, successor):
    before = snapshot(world.plan)
    with pytest.raises(PermissionDenied):
        hand_over(world, actor=world.hospital_doctor, coordinator=successor, organisation=world.hospital)
    assert snapshot(world.plan) == before


# --- The handover ----------------------------------------------------------------------------------------


def test_a_handover_records_both_people_and_the_note_and_tells_the_new_coordinator(world, successor):
    plan = hand_over(
        world,
        coordinator=successor,
        organisation=world.hospital,
        substitute=world.coordinator,
        note="Kirsten er indlagt; afdelingen tager over, til hun er hjemme.",
    )
    assert plan.coordinator == successor
    assert plan.coordinator_phone == "46 31 30 10"  # the coordinator's own number when none is given
    handover = CoordinatorHandover.objects.get()
    assert (handover.from_coordinator, handover.to_coordinator) == (world.coordinator, successor)
    assert (handover.from_substitute, handover.to_substitute) == (None, world.coordinator)
    assert handover.handed_over_by == world.coordinator
    assert handover.note.startswith("Kirsten er indlagt")
    staff = {(n.recipient, n.channel) for n in coordinator_notices().exclude(recipient_id=world.patient.pk)}
    # The new coordinator (in-app and e-mail); the old one, now substitute, handed it over themselves.
    assert staff == {(successor, NotificationChannel.IN_APP), (successor, NotificationChannel.EMAIL)}
    # The old coordinator's plans drop it at once; the new one's take it.
    assert not access.plans_visible_to(world.outsider).filter(pk=plan.pk).exists()
    assert PathwayPlan.objects.filter(access.coordinated_by(successor)).filter(pk=plan.pk).exists()


def test_the_patient_is_told_by_their_channel_the_new_coordinators_name_and_phone_only(world, successor):
    Patient.objects.filter(pk=world.patient.pk).update(
        preferred_contact=ContactChannel.PHONE, phone="22 41 63 18"
    )
    hand_over(world, coordinator=successor, organisation=world.hospital, phone="47 32 21 00")
    notice = coordinator_notices().get(recipient_id=world.patient.pk, recipient_type__model="patient")
    assert notice.channel == NotificationChannel.SMS
    message = outbox._message(notice)
    assert message.body == (
        "Din forløbskoordinator er nu Hospital_Coordinator Nielsen. "
        "Du kan ringe til din forløbskoordinator på 47 32 21 00."
    )
    assert message.address == "22 41 63 18"


def test_a_patient_who_gets_letters_reads_the_name_and_phone_only(world, successor):
    Patient.objects.filter(pk=world.patient.pk).update(preferred_contact=ContactChannel.LETTER)
    hand_over(world, coordinator=successor, organisation=world.hospital)
    notice = coordinator_notices().get(recipient_id=world.patient.pk, recipient_type__model="patient")
    assert notice.channel == NotificationChannel.LETTER
    assert outbox.letter_paragraphs(notice) == [
        "Din forløbskoordinator er nu Hospital_Coordinator Nielsen.",
        "Du kan ringe til din forløbskoordinator på 46 31 30 10.",
    ]


def test_relatives_hear_of_a_new_coordinator_only_when_they_may_see_the_whole_plan(world, successor):
    def relative(name: str, scope: ConsentScope, **fields: Any) -> Relative:
        made = Relative.objects.create(
            plan=world.plan, name=name, relation=Relation.CHILD, phone="22 33 44 55", **fields
        )
        RelativeConsent.objects.create(
            plan=world.plan,
            relative=made,
            action=ConsentAction.GIVEN,
            scope=scope,
            method=ConsentMethod.SPOKEN,
            coercion_checked=scope != ConsentScope.NONE,
        )
        return made

    whole = relative("Susanne Poulsen", ConsentScope.WHOLE_PLAN)
    relative("Peter Poulsen", ConsentScope.APPOINTMENTS)
    relative("Ole Hansen", ConsentScope.CONTACT_ONLY)
    relative("Lille Poulsen", ConsentScope.WHOLE_PLAN, is_child=True, child_age=12)
    hand_over(world, coordinator=successor, organisation=world.hospital, phone="47 32 21 00")
    told = coordinator_notices().filter(recipient_type__model="relative")
    assert [(n.recipient, n.channel) for n in told] == [(whole, NotificationChannel.SMS)]


def test_a_new_substitute_is_told_but_not_the_patient_nor_who_handed_it_to_themselves(world, successor):
    hand_over(world, substitute=successor)
    notices = coordinator_notices()
    assert {n.recipient for n in notices} == {successor}
    assert CoordinatorHandover.objects.get().to_substitute == successor


def test_a_handover_that_changes_nothing_writes_nothing(world):
    before = snapshot(world.plan)
    hand_over(world, phone="46 31 00 00", note="Ingen ændring.")
    assert snapshot(world.plan) == before


def test_a_stale_version_is_a_conflict_and_writes_nothing(world, successor):
    stale = world.plan.version
    hand_over(world, substitute=successor)
    before = snapshot(world.plan)
    with pytest.raises(VersionConflict):
        hand_over(world, coordinator=successor, organisation=world.hospital, expected_version=stale)
    assert snapshot(world.plan) == before


# --- The page --------------------------------------------------------------------------------------------


def url(plan: PathwayPlan) -> str:
    return reverse("coordination:coordinator-handover", args=[plan.public_id])


def form_data(world: Any, successor: Any, **changes: Any) -> dict[str, Any]:
    world.plan.refresh_from_db()
    data = {
        "coordinator": str(successor.public_id),
        "organisation": str(world.hospital.public_id),
        "substitute": str(world.coordinator.public_id),
        "phone": "",
        "note": "Afdelingen tager over.",
        "version": str(world.plan.version),
    }
    return data | changes


def test_the_form_offers_only_coordinators_of_the_organisations_taking_part(
    client, world, successor, django_assert_max_num_queries
):
    make_user("holbaek_coordinator", world.unrelated, MembershipRole.COORDINATOR)
    sign_in(client, world.coordinator)
    with django_assert_max_num_queries(20):
        response = client.get(url(world.plan))
    assert response.status_code == 200
    html = response.content.decode()
    assert str(successor.public_id) in html
    assert str(world.coordinator.public_id) in html
    assert str(world.home_nurse.public_id) not in html  # a clinician
    assert "Holbaek_Coordinator" not in html  # a coordinator elsewhere


def test_a_plain_post_hands_over_and_goes_back_to_the_plan(client, world, successor):
    sign_in(client, world.coordinator)
    response = client.post(url(world.plan), form_data(world, successor))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/plans/{world.plan.public_id}/#coordination")
    handover = CoordinatorHandover.objects.get()
    assert handover.to_coordinator == successor
    assert handover.note == "Afdelingen tager over."


def test_an_htmx_post_answers_with_the_section(client, world, successor):
    sign_in(client, world.coordinator)
    response = client.post(url(world.plan), form_data(world, successor), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="coordination"' in html
    assert "Afdelingen tager over." in html


def test_a_stale_form_is_shown_again_with_a_conflict_message(client, world, successor):
    sign_in(client, world.coordinator)
    data = form_data(world, successor)
    hand_over(world, substitute=successor)
    before = snapshot(world.plan)
    response = client.post(url(world.plan), data)
    assert response.status_code == 409
    assert "En anden har ændret forløbskoordinatoren, mens du rettede." in response.content.decode()
    assert snapshot(world.plan) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"coordinator": "", "organisation": "", "version": ""},  # empty
        {"note": "x" * 2001},  # too long
        {"phone": "ring til mig"},
        {"coordinator": "not-an-id"},
        {"substitute": "hospital_coordinator"},  # a name, not an id
    ],
)
def test_bad_input_is_shown_with_errors_and_writes_nothing(client, world, successor, changes):
    sign_in(client, world.coordinator)
    before = snapshot(world.plan)
    response = client.post(url(world.plan), form_data(world, successor, **changes))
    assert response.status_code == 422
    assert "form-error-message" in response.content.decode()
    assert snapshot(world.plan) == before


@pytest.mark.parametrize("who", ["home_nurse", "outsider", "clinician_in_plan_org"])
def test_a_person_without_the_coordinator_role_is_refused_on_the_page(client, world, successor, who):
    person = (
        make_user("hospital_nurse", world.hospital) if who == "clinician_in_plan_org" else getattr(world, who)
    )
    sign_in(client, world.coordinator)
    before = snapshot(world.plan)
    response = client.post(url(world.plan), form_data(world, successor, coordinator=str(person.public_id)))
    assert response.status_code == 422
    assert response.context["form"].has_error("coordinator", "invalid_choice")
    assert snapshot(world.plan) == before


def test_the_services_refusal_is_shown_by_the_field(client, world, successor):
    """A coordinator named for an organisation that is not theirs: the hub's rule, shown on the form."""
    sign_in(client, world.coordinator)
    before = snapshot(world.plan)
    response = client.post(url(world.plan), form_data(world, successor, organisation=str(world.gp.public_id)))
    assert response.status_code == 422
    assert "Kun en bruger med koordinatorrollen i Lægerne i Byen" in response.content.decode()
    assert snapshot(world.plan) == before


def test_a_participant_who_is_not_the_coordinator_is_refused(client, world, successor):
    sign_in(client, world.hospital_doctor)
    before = snapshot(world.plan)
    assert client.get(url(world.plan)).status_code == 403
    assert client.post(url(world.plan), form_data(world, successor)).status_code == 403
    assert snapshot(world.plan) == before


def test_someone_outside_the_plan_gets_404(client, world, successor):
    sign_in(client, world.outsider)
    before = snapshot(world.plan)
    assert client.get(url(world.plan)).status_code == 404
    assert client.post(url(world.plan), form_data(world, successor)).status_code == 404
    assert snapshot(world.plan) == before


def test_the_participants_of_a_plan_without_a_coordinator_assign_the_first(client, world):
    coordinator = make_user("unrelated_coordinator", world.unrelated, MembershipRole.COORDINATOR)
    sign_in(client, world.outsider)
    response = client.post(
        url(world.other_plan),
        {
            "coordinator": str(coordinator.public_id),
            "organisation": str(world.unrelated.public_id),
            "version": str(world.other_plan.version),
        },
    )
    assert response.status_code == 302
    handover = CoordinatorHandover.objects.get(plan=world.other_plan)
    assert (handover.from_coordinator, handover.to_coordinator) == (None, coordinator)
    assert hub_services  # the hub's coordinator_assign did the assignment
