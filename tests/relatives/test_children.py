"""Children as relatives: the checklist made when a child is recorded, flagged on the plan page and worked
through step by step (the rules, and nothing written on bad input), the coordinator's worklist line for
open steps, and a child never getting access or messages of their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination import selectors as coordination_selectors
from coordination.choices import WorkItemKind
from pathways import services as hub_services
from pathways.choices import NotificationKind, Sector, TaskKind
from pathways.models import Notification, Organisation, User
from pathways.services import VersionConflict
from relatives import access, services
from relatives.choices import (
    ChecklistStatus,
    ChildCareStep,
    ConsentAction,
    ConsentMethod,
    ConsentScope,
    Relation,
    RelativeChannel,
)
from relatives.models import ChildChecklistItem, Relative, RelativeConsent
from tests.conftest import make_user, sign_in

HTMX = {"HTTP_HX_REQUEST": "true"}


def checklist_events() -> Any:
    """The audit trail of the checklist (its pghistory event model)."""
    return apps.get_model("relatives", "ChildChecklistItemEvent")


SCHOOL_NEEDS_CONSENT = (
    "Skole eller dagtilbud må kun orienteres med samtykke fra patienten og forælderen med forældremyndighed."
)


def add_child(world, name: str = "Emma", age: int = 12, plan=None) -> Relative:
    return services.relative_add(
        actor=world.coordinator if plan is None else None,
        plan=plan or world.plan,
        name=name,
        relation=Relation.GRANDCHILD,
        is_child=True,
        child_age=age,
    )


@pytest.fixture
def child(world) -> Relative:
    return add_child(world)


def step(relative: Relative, which: ChildCareStep) -> ChildChecklistItem:
    return ChildChecklistItem.objects.get(relative=relative, step=which)


def update(item: ChildChecklistItem, actor: User | None, **changes: Any):
    fresh = ChildChecklistItem.objects.get(pk=item.pk)
    values: dict[str, Any] = {
        "status": fresh.status,
        "contact_name": fresh.contact_name,
        "consent_confirmed": fresh.consent_confirmed,
        "note": fresh.note,
        "expected_version": fresh.version,
    } | changes
    return services.checklist_item_update(actor=actor, item=fresh, **values)


def saved(item: ChildChecklistItem) -> dict[str, Any]:
    return dict(ChildChecklistItem.objects.filter(pk=item.pk).values().get())


def item_url(plan, item) -> str:
    return reverse("relatives:checklist-item-update-partial", args=[plan.public_id, item.public_id])


def plan_page(client, plan) -> str:
    response = client.get(reverse("pathways:plan-detail", args=[plan.public_id]))
    assert response.status_code == 200
    return response.content.decode()


# --- The checklist is made for a child ---------------------------------------------------------------------


def test_recording_a_child_relative_makes_the_four_steps_open(child):
    items = ChildChecklistItem.objects.filter(relative=child)
    assert sorted(items.values_list("step", flat=True)) == sorted(ChildCareStep.values)
    assert set(items.values_list("status", flat=True)) == {ChecklistStatus.OPEN}
    assert set(items.values_list("plan_id", flat=True)) == {child.plan_id}


def test_an_adult_relative_gets_no_checklist(world):
    adult = services.relative_add(
        actor=world.coordinator, plan=world.plan, name="Susanne", relation=Relation.CHILD, phone="20304050"
    )
    assert not ChildChecklistItem.objects.filter(relative=adult).exists()


def test_the_plan_flags_a_child_relative_with_the_checklist_in_order(client, world, child):
    sign_in(client, world.home_nurse)
    page = plan_page(client, world.plan)
    assert "Barn som pårørende" in page
    assert "Emma er et barn (12 år)" in page
    labels = [str(label) for label in ChildCareStep.labels]
    positions = [page.index(label) for label in labels]
    assert positions == sorted(positions)  # in the order staff work through them
    assert page.count('data-status="open"') == 4
    assert item_url(world.plan, step(child, ChildCareStep.SCHOOL)) in page  # she may change it


def test_the_plan_shows_no_checklist_box_without_a_child(client, world):
    services.relative_add(
        actor=world.coordinator, plan=world.plan, name="Susanne", relation=Relation.CHILD, phone="20304050"
    )
    sign_in(client, world.coordinator)
    assert "Barn som pårørende" not in plan_page(client, world.plan)


def test_a_reader_through_an_emergency_access_sees_the_checklist_but_no_form(client, world, child):
    emergency = Organisation.objects.create(name="Akutmodtagelsen", sector=Sector.HOSPITAL, sor_code="1009")
    doctor = make_user("akutlaege", emergency)
    hub_services.emergency_access_grant(
        actor=doctor, organisation=emergency, plan=world.plan, reason="Indlagt akut om natten."
    )
    sign_in(client, doctor)
    page = plan_page(client, world.plan)
    assert "Barn som pårørende" in page
    assert "relatives/checklist/" not in page


def test_the_plan_page_reads_the_same_queries_for_one_and_five_children(client, world, child):
    sign_in(client, world.coordinator)
    url = reverse("pathways:plan-detail", args=[world.plan.public_id])
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for number in range(4):
        add_child(world, name=f"Barn {number}", age=5 + number)
    with CaptureQueriesContext(connection) as five:
        page = client.get(url).content.decode()
    assert page.count("Barn som pårørende") == 5
    assert len(five.captured_queries) == len(one.captured_queries)


# --- Working through the steps (the service) ---------------------------------------------------------------


def test_marking_a_step_done_records_who_and_when_and_reopening_clears_it(world, child):
    conversation = step(child, ChildCareStep.CONVERSATION)
    done = update(conversation, world.home_nurse, status=ChecklistStatus.DONE, note="Tilbudt ved besøget.")
    assert done.status == ChecklistStatus.DONE
    assert done.done_by == world.home_nurse
    assert timezone.now() - done.done_at < timedelta(minutes=1)
    assert done.version == 2
    reopened = update(conversation, world.gp_doctor, status=ChecklistStatus.OPEN)
    assert (reopened.status, reopened.done_by, reopened.done_at) == (ChecklistStatus.OPEN, None, None)
    assert reopened.note == "Tilbudt ved besøget."


def test_a_step_not_relevant_is_closed_without_being_done(world, child):
    other_parent = update(step(child, ChildCareStep.OTHER_PARENT), world.coordinator, status="not_relevant")
    assert other_parent.status == ChecklistStatus.NOT_RELEVANT
    assert other_parent.done_at is None


def test_school_is_told_only_with_consent(world, child):
    school = step(child, ChildCareStep.SCHOOL)
    before = saved(school)
    with pytest.raises(ValidationError) as refused:
        update(school, world.coordinator, status=ChecklistStatus.DONE, consent_confirmed=False)
    assert refused.value.message_dict == {"consent_confirmed": [SCHOOL_NEEDS_CONSENT]}
    assert saved(school) == before
    done = update(school, world.coordinator, status=ChecklistStatus.DONE, consent_confirmed=True)
    assert (done.status, done.consent_confirmed) == (ChecklistStatus.DONE, True)
    with pytest.raises(ValidationError):  # withdrawing the consent of a step done
        update(school, world.coordinator, consent_confirmed=False)


def test_the_named_contact_is_done_only_with_a_name(world, child):
    contact = step(child, ChildCareStep.NAMED_CONTACT)
    before = saved(contact)
    with pytest.raises(ValidationError) as refused:
        update(contact, world.coordinator, status=ChecklistStatus.DONE, contact_name="   ")
    assert list(refused.value.message_dict) == ["contact_name"]
    assert saved(contact) == before
    done = update(contact, world.coordinator, status=ChecklistStatus.DONE, contact_name=" Lærer Jonna Holm ")
    assert done.contact_name == "Lærer Jonna Holm"


def test_a_step_keeps_only_the_detail_it_asks_for(world, child):
    conversation = update(
        step(child, ChildCareStep.CONVERSATION),
        world.coordinator,
        status=ChecklistStatus.DONE,
        contact_name="Nogen",
        consent_confirmed=True,
    )
    assert (conversation.contact_name, conversation.consent_confirmed) == ("", False)


def test_saving_the_same_change_again_writes_nothing(world, child):
    conversation = step(child, ChildCareStep.CONVERSATION)
    first = update(conversation, world.coordinator, status=ChecklistStatus.DONE)
    events = checklist_events().objects.count()
    again = services.checklist_item_update(
        actor=world.home_nurse,
        item=conversation,
        expected_version=1,  # the form of the second click still had the old version
        status=ChecklistStatus.DONE,
        contact_name="",
        consent_confirmed=False,
        note="",
    )
    assert (again.version, again.done_by, again.done_at) == (2, world.coordinator, first.done_at)
    assert checklist_events().objects.count() == events


def test_a_change_on_a_stale_version_is_a_conflict_and_writes_nothing(world, child):
    conversation = step(child, ChildCareStep.CONVERSATION)
    update(conversation, world.coordinator, note="Mor vil tale med Emma først.")
    before = saved(conversation)
    with pytest.raises(VersionConflict) as conflict:
        update(conversation, world.home_nurse, status=ChecklistStatus.DONE, expected_version=1)
    assert conflict.value.current.note == "Mor vil tale med Emma først."
    assert saved(conversation) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"status": ""}, "status"),
        ({"note": "x" * 1001}, "note"),
        ({"note": "Nul\x00tegn"}, "note"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_writes_nothing(world, child, changes, field):
    conversation = step(child, ChildCareStep.CONVERSATION)
    before = saved(conversation)
    with pytest.raises(ValidationError) as refused:
        update(conversation, world.coordinator, **changes)
    assert field in refused.value.message_dict
    assert saved(conversation) == before


def test_only_those_who_manage_the_relatives_work_the_checklist(world, child):
    conversation = step(child, ChildCareStep.CONVERSATION)
    with pytest.raises(PermissionDenied):
        update(conversation, world.outsider, status=ChecklistStatus.DONE)
    assert saved(conversation)["status"] == ChecklistStatus.OPEN
    # Staff of every organisation taking part may, not only the coordinator.
    done = update(conversation, world.hospital_doctor, status=ChecklistStatus.DONE)
    assert done.done_by == world.hospital_doctor


def test_the_checklist_of_a_child_removed_from_the_plan_is_closed(world, child):
    services.relative_remove(actor=world.coordinator, relative=child, expected_version=child.version)
    conversation = step(child, ChildCareStep.CONVERSATION)
    with pytest.raises(ValidationError):
        update(conversation, world.coordinator, status=ChecklistStatus.DONE)
    assert saved(conversation)["status"] == ChecklistStatus.OPEN


# --- Working through the steps (the pages) -----------------------------------------------------------------


def test_a_step_changed_with_htmx_answers_with_the_step_as_saved(client, world, child):
    sign_in(client, world.home_nurse)
    contact = step(child, ChildCareStep.NAMED_CONTACT)
    response = client.post(
        item_url(world.plan, contact),
        {"status": "done", "contact_name": "Sundhedsplejerske Bo Dahl", "note": "", "version": 1},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "plan-changed"
    body = response.content.decode()
    assert body.lstrip().startswith(f'<li id="checklist-item-{contact.public_id}"')
    assert 'data-status="done"' in body
    assert "Sundhedsplejerske Bo Dahl" in body
    assert saved(contact)["status"] == ChecklistStatus.DONE


def test_a_step_changed_without_javascript_goes_back_to_the_plans_relatives(client, world, child):
    sign_in(client, world.coordinator)
    conversation = step(child, ChildCareStep.CONVERSATION)
    response = client.post(item_url(world.plan, conversation), {"status": "not_relevant", "version": 1})
    assert response.status_code == 302
    assert response["Location"].endswith("#relatives")
    assert saved(conversation)["status"] == ChecklistStatus.NOT_RELEVANT
    page = plan_page(client, world.plan)
    assert page.count('data-status="not_relevant"') == 1


def test_school_without_consent_is_shown_by_the_step_and_nothing_is_written(client, world, child):
    sign_in(client, world.coordinator)
    school = step(child, ChildCareStep.SCHOOL)
    before = saved(school)
    body = {"status": "done", "note": "Klasselærer", "version": 1}
    plain = client.post(item_url(world.plan, school), body)
    assert plain.status_code == 422
    assert SCHOOL_NEEDS_CONSENT in plain.content.decode()
    assert "Klasselærer" in plain.content.decode()  # what was typed is kept
    htmx = client.post(item_url(world.plan, school), body, **HTMX)
    assert htmx.status_code == 200
    assert SCHOOL_NEEDS_CONSENT in htmx.content.decode()
    assert '<details class="ff-checklist-change" open>' in htmx.content.decode()
    assert saved(school) == before


def test_a_stale_form_shows_the_step_as_saved_now(client, world, child):
    sign_in(client, world.coordinator)
    conversation = step(child, ChildCareStep.CONVERSATION)
    update(conversation, world.home_nurse, status=ChecklistStatus.DONE)
    response = client.post(item_url(world.plan, conversation), {"status": "not_relevant", "version": 1})
    assert response.status_code == 409
    assert "En anden har ændret punktet" in response.content.decode()
    assert saved(conversation)["status"] == ChecklistStatus.DONE


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "done"}, {"status": "nope", "version": 1}, {"status": "open", "version": "x"}],
)
def test_a_bad_post_is_shown_again_and_writes_nothing(client, world, child, body):
    sign_in(client, world.coordinator)
    conversation = step(child, ChildCareStep.CONVERSATION)
    before = saved(conversation)
    response = client.post(item_url(world.plan, conversation), body)
    assert response.status_code == 422
    assert saved(conversation) == before


def test_a_step_of_another_plan_is_not_found(client, world, child):
    other_child = add_child(world, name="Oles barnebarn", plan=world.other_plan)
    foreign = step(other_child, ChildCareStep.CONVERSATION)
    sign_in(client, world.coordinator)
    for url in (
        reverse("relatives:checklist-item-update-partial", args=[world.plan.public_id, foreign.public_id]),
        reverse("relatives:checklist-item-update-partial", args=[world.plan.public_id, uuid4()]),
    ):
        assert client.post(url, {"status": "done", "version": 1}).status_code == 404
    assert saved(foreign)["status"] == ChecklistStatus.OPEN


# --- The coordinator's worklist ----------------------------------------------------------------------------


def checklist_lines(actor):
    worklist = coordination_selectors.worklist_for_coordinator(actor)
    sections = [s for s in worklist.sections if s.kind == WorkItemKind.CHILD_CHECKLIST]
    return sections[0].items if sections else None


def test_the_worklist_shows_a_child_with_open_steps_until_all_are_closed(client, world, child):
    [line] = checklist_lines(world.coordinator)
    assert line.title == "Emma: 4 åbne punkter"
    assert line.detail == f"Næste: {ChildCareStep.CONVERSATION.label}"
    assert line.href.endswith(f"#relative-{child.public_id}")
    update(step(child, ChildCareStep.CONVERSATION), world.coordinator, status=ChecklistStatus.DONE)
    update(step(child, ChildCareStep.OTHER_PARENT), world.coordinator, status=ChecklistStatus.NOT_RELEVANT)
    update(step(child, ChildCareStep.SCHOOL), world.coordinator, status="done", consent_confirmed=True)
    [line] = checklist_lines(world.coordinator)
    assert line.title == "Emma: 1 åbent punkt"
    assert line.detail == f"Næste: {ChildCareStep.NAMED_CONTACT.label}"
    sign_in(client, world.coordinator)
    page = client.get(reverse("coordination:worklist")).content.decode()
    assert "Børn som pårørende: åbne punkter på tjeklisten" in page
    assert "Emma: 1 åbent punkt" in page
    update(step(child, ChildCareStep.NAMED_CONTACT), world.coordinator, status="not_relevant")
    assert checklist_lines(world.coordinator) == []


def test_the_worklist_leaves_out_a_child_removed_from_the_plan(world, child):
    services.relative_remove(actor=world.coordinator, relative=child, expected_version=child.version)
    assert checklist_lines(world.coordinator) == []


def test_only_the_coordinators_worklist_has_the_line(world, child):
    assert checklist_lines(world.home_nurse) is None  # she coordinates no plan
    other_child = add_child(world, name="Oles barnebarn", plan=world.other_plan)
    assert [line.title for line in checklist_lines(world.coordinator)] == ["Emma: 4 åbne punkter"]
    assert other_child.plan_id != world.plan.pk


def test_the_worklist_reads_the_same_queries_for_one_and_four_children(client, world, child):
    sign_in(client, world.coordinator)
    url = reverse("coordination:worklist")
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for number in range(3):
        add_child(world, name=f"Barn {number}", age=3 + number)
    with CaptureQueriesContext(connection) as four:
        page = client.get(url).content.decode()
    assert page.count("4 åbne punkter") == 4
    assert len(four.captured_queries) == len(one.captured_queries)


# --- A child gets no access and no messages of their own ---------------------------------------------------


@pytest.fixture
def child_with_whole_plan_consent(world, child) -> Relative:
    """A child whose whole-plan consent was recorded (before the service refused it for a child): the rows
    as they could stand in the database, with the contact details an adult would be reached at."""
    Relative.objects.filter(pk=child.pk).update(
        phone="20304050", email="emma@example.invalid", preferred_channel=RelativeChannel.SMS
    )
    RelativeConsent.objects.create(
        plan=world.plan,
        relative=child,
        action=ConsentAction.GIVEN,
        scope=ConsentScope.WHOLE_PLAN,
        method=ConsentMethod.SPOKEN,
        coercion_checked=True,
        recorded_by=world.coordinator,
        recorded_by_organisation=world.municipality,
    )
    return Relative.objects.get(pk=child.pk)


def test_a_child_with_a_whole_plan_consent_may_see_nothing(child_with_whole_plan_consent):
    assert access.relative_scope(child_with_whole_plan_consent) == ConsentScope.NONE
    assert child_with_whole_plan_consent.notification_address("sms") == ""


def test_a_child_gets_no_appointment_reminder(world, child_with_whole_plan_consent):
    adult = services.relative_add(
        actor=world.coordinator,
        plan=world.plan,
        name="Susanne",
        relation=Relation.CHILD,
        phone="20304050",
        consent={"scope": ConsentScope.WHOLE_PLAN, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )
    hub_services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Kontrol i lungeambulatoriet",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        due_date=timezone.localdate() + timedelta(days=10),
    )
    reminders = Notification.objects.filter(kind=NotificationKind.APPOINTMENT_REMINDER)
    assert reminders.addressed_to(adult).exists()  # the adult with the same consent does get one
    assert not reminders.addressed_to(child_with_whole_plan_consent).exists()


def test_a_child_is_not_told_of_a_withdrawn_consent(world, child_with_whole_plan_consent):
    services.relative_consent_revoke(
        actor=world.coordinator, relative=child_with_whole_plan_consent, method=ConsentMethod.SPOKEN
    )
    revoked = Notification.objects.filter(kind=NotificationKind.CONSENT_REVOKED)
    assert revoked.addressed_to(world.patient).exists()  # the patient is told
    assert not revoked.addressed_to(child_with_whole_plan_consent).exists()
    assert access.relative_scope(child_with_whole_plan_consent) == ConsentScope.NONE


def test_an_adult_made_a_child_loses_access_and_gets_the_checklist(world):
    adult = services.relative_add(
        actor=world.coordinator,
        plan=world.plan,
        name="Mads",
        relation=Relation.GRANDCHILD,
        phone="20304050",
        consent={"scope": ConsentScope.WHOLE_PLAN, "method": ConsentMethod.SPOKEN, "coercion_checked": True},
    )
    assert access.relative_scope(adult) == ConsentScope.WHOLE_PLAN
    child = services.relative_update(
        actor=world.coordinator, relative=adult, expected_version=adult.version, is_child=True, child_age=16
    )
    assert access.relative_scope(child) == ConsentScope.NONE
    assert ChildChecklistItem.objects.filter(relative=child).count() == 4
