"""Responsibility disputes: raising one (the rules, and nothing written on bad input), resolving it (the
task moves with the decision, all or nothing; a second decision is refused), the escalation ladder run by
the beat job with a fixed clock, and what the plan page shows (with query-count guards)."""

from __future__ import annotations

from datetime import date, time, timedelta
from uuid import uuid4

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from coordination import selectors, services
from coordination.choices import DisputeQuestion, DisputeStatus, EscalationTarget
from coordination.models import Dispute, DisputeEscalation, EscalationContact, EscalationStep, Secretariat
from coordination.tasks import disputes_escalate as disputes_escalate_task
from pathways import access, outbox
from pathways import services as hub_services
from pathways.choices import (
    MembershipRole,
    NotificationChannel,
    NotificationKind,
    Sector,
    TaskKind,
    TaskStatus,
)
from pathways.models import AccessLog, Membership, Notification, Organisation, PathwayPlan, Task
from tests.conftest import make_user, sign_in

HTMX = {"HTTP_HX_REQUEST": "true"}


def local(day: date, hour: int = 9):
    return outbox.local_moment(day, time(hour, 0))


@pytest.fixture
def ladder(db):
    """The default ladder (the data migration's; a test that flushes the database removes it)."""
    EscalationStep.objects.get_or_create(
        step=1, defaults={"after_working_days": 5, "target": EscalationTarget.ORGANISATION_CONTACTS}
    )
    EscalationStep.objects.get_or_create(
        step=2, defaults={"after_working_days": 10, "target": EscalationTarget.SECRETARIAT}
    )
    return list(EscalationStep.objects.order_by("step"))


@pytest.fixture
def secretariat(db):
    return Secretariat.objects.create(name="Sekretariatet (fiktivt)", email="sekretariat@example.invalid")


@pytest.fixture
def meter(world) -> Task:
    """A task the hospital and the municipality disagree about."""
    return hub_services.task_create(
        actor=None,
        plan=world.plan,
        title="Nålefri blodsukkermåler",
        responsible_organisation=world.hospital,
        kind=TaskKind.ASSISTIVE_DEVICE,
    )


def raise_dispute(world, task, **changes):
    values = {
        "actor": world.home_nurse,
        "task": task,
        "organisation": world.municipality,
        "parties": [world.hospital, world.municipality],
        "question": DisputeQuestion.WHO_PAYS,
        "reason": "Regionen mener, det er et hjælpemiddel; kommunen et behandlingsredskab.",
        "interim_organisation": world.municipality,
        "interim_note": "Hjemmesygeplejen hjælper med målinger.",
    }
    return services.dispute_raise(**(values | changes))


def kinds_to(user, kind):
    return Notification.objects.addressed_to(user).filter(kind=kind)


# --- Raising -------------------------------------------------------------------------------------------


def test_a_participant_marks_a_task_disputed_and_the_coordinators_are_told(world, meter):
    hospital_coordinator = make_user("hospital_coordinator", world.hospital, MembershipRole.COORDINATOR)
    dispute = raise_dispute(world, meter)
    assert dispute.status == DisputeStatus.OPEN
    assert set(dispute.parties.all()) == {world.hospital, world.municipality}
    assert dispute.interim_organisation == world.municipality
    assert dispute.raised_by == world.home_nurse
    assert dispute.raised_by_organisation == world.municipality
    for person in (world.coordinator, hospital_coordinator):
        told = kinds_to(person, NotificationKind.DISPUTE_RAISED)
        assert list(told.values_list("channel", flat=True)) == [NotificationChannel.IN_APP]
    assert not kinds_to(world.home_nurse, NotificationKind.DISPUTE_RAISED).exists()  # she raised it


def test_the_plans_coordinator_may_raise_a_dispute_for_any_organisation_taking_part(world, meter):
    dispute = raise_dispute(world, meter, actor=world.coordinator, organisation=world.gp)
    assert dispute.raised_by_organisation == world.gp


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (lambda w: {"parties": [w.hospital]}, "parties"),
        (lambda w: {"parties": [w.hospital, w.hospital]}, "parties"),
        (lambda w: {"parties": [w.hospital, w.unrelated]}, "parties"),
        (lambda w: {"interim_organisation": w.unrelated}, "interim_organisation"),
        (lambda _: {"reason": "   "}, "reason"),
        (lambda _: {"reason": "x" * 2001}, "reason"),
        (lambda _: {"interim_note": "x" * 1001}, "interim_note"),
        (lambda _: {"question": "who_knows"}, "question"),
    ],
    ids=["one party", "the same party twice", "a party outside", "interim outside", "no reason",
         "reason too long", "note too long", "no such question"],
)  # fmt: skip
def test_a_dispute_that_breaks_a_rule_is_refused_and_nothing_is_written(world, meter, changes, field):
    notifications = Notification.objects.count()
    with pytest.raises(ValidationError) as refused:
        raise_dispute(world, meter, **changes(world))
    assert field in refused.value.message_dict
    assert not Dispute.objects.exists()
    assert Notification.objects.count() == notifications


def test_only_those_acting_for_the_organisation_raise_a_dispute_for_it(world, meter):
    with pytest.raises(PermissionDenied):
        raise_dispute(world, meter, organisation=world.hospital)  # the home nurse is not the hospital's
    with pytest.raises(PermissionDenied):
        raise_dispute(world, meter, actor=world.outsider, organisation=world.unrelated)
    assert not Dispute.objects.exists()


def test_a_closed_task_cannot_be_disputed(world, meter):
    hub_services.task_transition(actor=None, task=meter, to_status=TaskStatus.CANCELLED)
    with pytest.raises(ValidationError, match="lukket opgave"):
        raise_dispute(world, meter)
    assert not Dispute.objects.exists()


def test_a_second_open_dispute_on_the_same_task_is_refused_with_a_clear_message(world, meter):
    raise_dispute(world, meter)
    with pytest.raises(ValidationError, match="Der er allerede meldt uenighed om ansvaret for opgaven"):
        raise_dispute(world, meter, actor=world.hospital_doctor, organisation=world.hospital)
    assert Dispute.objects.count() == 1


# --- Resolving -----------------------------------------------------------------------------------------


def test_the_coordinator_resolves_and_the_task_moves_with_the_decision(world, meter):
    hospital_coordinator = make_user("hospital_coordinator", world.hospital, MembershipRole.COORDINATOR)
    dispute = raise_dispute(world, meter)
    resolved = services.dispute_resolve(
        actor=world.coordinator,
        dispute=dispute,
        decision="Kommunen bevilger måleren efter serviceloven.",
        responsible_organisation=world.municipality,
        expected_version=dispute.version,
    )
    assert resolved.status == DisputeStatus.RESOLVED
    assert resolved.resolved_by == world.coordinator
    assert resolved.resolved_at is not None
    assert resolved.decided_organisation == world.municipality
    assert resolved.version == dispute.version + 1
    meter.refresh_from_db()
    assert meter.responsible_organisation == world.municipality
    assert kinds_to(hospital_coordinator, NotificationKind.DISPUTE_RESOLVED).exists()
    assert kinds_to(world.home_nurse, NotificationKind.DISPUTE_RESOLVED).count() == 0  # not a coordinator


def test_a_failure_moving_the_task_leaves_the_dispute_open(world, meter, monkeypatch):
    dispute = raise_dispute(world, meter)

    def broken(**kwargs):
        raise RuntimeError("the task could not be moved")

    monkeypatch.setattr(hub_services, "task_responsibility_move", broken)
    with pytest.raises(RuntimeError):
        services.dispute_resolve(
            actor=world.coordinator,
            dispute=dispute,
            decision="Kommunen betaler.",
            responsible_organisation=world.municipality,
            expected_version=dispute.version,
        )
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert dispute.decision == ""
    assert dispute.version == 1
    assert not Notification.objects.filter(kind=NotificationKind.DISPUTE_RESOLVED).exists()


def test_a_second_resolution_is_refused_and_says_who_decided(world, meter):
    dispute = raise_dispute(world, meter)
    first = services.dispute_resolve(
        actor=world.coordinator,
        dispute=dispute,
        decision="Kommunen betaler.",
        responsible_organisation=world.municipality,
        expected_version=1,
    )
    # Even with the version the first decision left: the second decider learns someone decided.
    with pytest.raises(services.DisputeAlreadyResolved, match="Coordinator afgjorde uenigheden"):
        services.dispute_resolve(
            actor=world.coordinator,
            dispute=dispute,
            decision="Regionen betaler.",
            responsible_organisation=world.hospital,
            expected_version=first.version,
        )
    dispute.refresh_from_db()
    assert dispute.decision == "Kommunen betaler."
    assert dispute.decided_organisation == world.municipality
    meter.refresh_from_db()
    assert meter.responsible_organisation == world.municipality


def test_a_stale_version_is_refused(world, meter):
    dispute = raise_dispute(world, meter)
    with pytest.raises(hub_services.VersionConflict):
        services.dispute_resolve(
            actor=world.coordinator,
            dispute=dispute,
            decision="Kommunen betaler.",
            responsible_organisation=world.municipality,
            expected_version=7,
        )
    assert Dispute.objects.get().status == DisputeStatus.OPEN


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (lambda _: {"decision": ""}, ValidationError),
        (lambda _: {"decision": "x" * 2001}, ValidationError),
        (lambda w: {"responsible_organisation": w.unrelated}, ValidationError),
        (lambda w: {"actor": w.home_nurse}, PermissionDenied),
        (lambda w: {"actor": w.hospital_doctor}, PermissionDenied),
    ],
    ids=["no decision", "decision too long", "organisation outside", "a nurse", "a doctor"],
)
def test_a_resolution_that_breaks_a_rule_writes_nothing(world, meter, changes, error):
    dispute = raise_dispute(world, meter)
    values = {
        "actor": world.coordinator,
        "dispute": dispute,
        "decision": "Kommunen betaler.",
        "responsible_organisation": world.municipality,
        "expected_version": 1,
    }
    with pytest.raises(error):
        services.dispute_resolve(**(values | changes(world)))
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert dispute.version == 1
    meter.refresh_from_db()
    assert meter.responsible_organisation == world.hospital


# --- Escalation ------------------------------------------------------------------------------------------


def raised_on(dispute, day: date):
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=local(day))


def test_escalation_waits_five_working_days_then_tells_the_contacts_then_the_secretariat(
    world, meter, ladder, secretariat
):
    contact = make_user("kommunens_kontakt", world.municipality, email="kontakt@example.invalid")
    EscalationContact.objects.create(organisation=world.municipality, person=contact)
    hospital_coordinator = make_user(
        "hospital_coordinator", world.hospital, MembershipRole.COORDINATOR, email="hk@example.invalid"
    )
    dispute = raise_dispute(world, meter)
    raised_on(dispute, date(2026, 3, 2))  # a Monday

    assert services.disputes_escalate(now=local(date(2026, 3, 6), 23)) == 0  # Friday: 4 working days
    assert services.disputes_escalate(now=local(date(2026, 3, 8), 23)) == 0  # the weekend does not count
    assert not DisputeEscalation.objects.exists()

    assert services.disputes_escalate(now=local(date(2026, 3, 9))) == 1  # Monday: 5 working days
    dispute.refresh_from_db()
    assert dispute.escalation_step == 1
    assert dispute.escalated_at == local(date(2026, 3, 9))
    # The municipality's named contact; the hospital has none, so its coordinators; both in-app and e-mail.
    for person in (contact, hospital_coordinator):
        told = kinds_to(person, NotificationKind.DISPUTE_ESCALATED)
        assert set(told.values_list("channel", flat=True)) == {
            NotificationChannel.IN_APP,
            NotificationChannel.EMAIL,
        }
    assert not kinds_to(world.coordinator, NotificationKind.DISPUTE_ESCALATED).exists()
    assert not kinds_to(secretariat, NotificationKind.DISPUTE_ESCALATED).exists()

    assert services.disputes_escalate(now=local(date(2026, 3, 13))) == 0  # 9 working days
    assert services.disputes_escalate(now=local(date(2026, 3, 16))) == 1  # 10: the secretariat
    to_secretariat = kinds_to(secretariat, NotificationKind.DISPUTE_ESCALATED).get()
    assert to_secretariat.channel == NotificationChannel.EMAIL
    assert (
        to_secretariat.recipient.notification_address(NotificationChannel.EMAIL)
        == "sekretariat@example.invalid"
    )
    dispute.refresh_from_db()
    assert dispute.escalation_step == 2
    assert list(dispute.escalations.values_list("step", "target")) == [
        (1, EscalationTarget.ORGANISATION_CONTACTS),
        (2, EscalationTarget.SECRETARIAT),
    ]


def test_running_the_job_twice_escalates_once(world, meter, ladder, secretariat):
    dispute = raise_dispute(world, meter)
    raised_on(dispute, date(2026, 3, 2))
    later = local(date(2026, 3, 20))
    assert services.disputes_escalate(now=later) == 2  # a job that was down takes both steps at once
    notifications = Notification.objects.count()
    assert services.disputes_escalate(now=later) == 0
    assert services.disputes_escalate(now=later + timedelta(days=30)) == 0
    assert DisputeEscalation.objects.count() == 2
    assert Notification.objects.count() == notifications


def test_holidays_do_not_count_as_working_days(world, meter, ladder):
    dispute = raise_dispute(world, meter)
    raised_on(dispute, date(2026, 3, 30))  # the Monday before Easter: Thursday, Friday and Monday are off
    assert services.disputes_escalate(now=local(date(2026, 4, 8))) == 0  # 4 working days
    assert services.disputes_escalate(now=local(date(2026, 4, 9))) == 1


def test_an_organisation_without_contact_or_coordinators_escalates_to_its_parents_contact(
    world, meter, ladder
):
    region = Organisation.objects.create(name="Region (fiktiv)", sector=Sector.HOSPITAL, sor_code="1000")
    Organisation.objects.filter(pk=world.hospital.pk).update(parent=region)
    director = make_user("direktion", region)
    EscalationContact.objects.create(organisation=region, person=director)
    dispute = raise_dispute(world, meter)
    raised_on(dispute, date(2026, 3, 2))
    services.disputes_escalate(now=local(date(2026, 3, 9)))
    assert kinds_to(director, NotificationKind.DISPUTE_ESCALATED).exists()
    # The municipality has no contact: its coordinator (the plan's) is told.
    assert kinds_to(world.coordinator, NotificationKind.DISPUTE_ESCALATED).exists()


def test_a_resolved_dispute_is_not_escalated_and_without_a_secretariat_the_last_step_waits(
    world, meter, ladder
):
    open_one = raise_dispute(world, meter)
    other = hub_services.task_create(
        actor=None, plan=world.plan, title="Kørsel", responsible_organisation=world.hospital
    )
    resolved = raise_dispute(world, other)
    services.dispute_resolve(
        actor=world.coordinator,
        dispute=resolved,
        decision="Regionen kører.",
        responsible_organisation=world.hospital,
        expected_version=1,
    )
    Dispute.objects.update(raised_at=local(date(2026, 3, 2)))
    assert services.disputes_escalate(now=local(date(2026, 3, 20))) == 1  # step 1 of the open one only
    assert list(DisputeEscalation.objects.values_list("dispute", "step")) == [(open_one.pk, 1)]
    Secretariat.objects.create(name="Sekretariatet", email="s@example.invalid")
    assert services.disputes_escalate(now=local(date(2026, 3, 20))) == 1


def test_the_celery_task_runs_the_ladder(world, meter, ladder):
    dispute = raise_dispute(world, meter)
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=timezone.now() - timedelta(days=30))
    assert disputes_escalate_task.run() == 1  # step 1; no secretariat is set, so step 2 waits


# --- What the plan page shows ------------------------------------------------------------------------------


def plan_access(world, user):
    return access.PlanAccess(plan=world.plan, rights=access.rights_for(user, world.plan))


def test_the_section_shows_the_dispute_its_age_and_who_acts_in_the_meantime(world, meter, ladder):
    dispute = raise_dispute(world, meter)
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=timezone.now() - timedelta(days=21))
    services.disputes_escalate(now=timezone.now() - timedelta(days=7))
    section = selectors.disputes_section_for(world.plan, access.rights_for(world.home_nurse, world.plan))
    [row] = section.open
    assert row.age_days == 21
    assert row.age_label == "21 dage"
    assert "trin 1" in row.escalation_label
    assert [o.name for o in row.parties] == sorted([world.hospital.name, world.municipality.name])
    assert section.can_raise
    assert not section.can_resolve
    assert selectors.disputes_section_for(
        world.plan, access.rights_for(world.coordinator, world.plan)
    ).can_resolve
    outsider = selectors.disputes_section_for(world.plan, access.READ_ONLY)
    assert not outsider.can_raise
    assert not outsider.can_resolve


def test_the_task_markers_show_the_age_and_link_to_the_dispute(world, meter, django_assert_num_queries):
    dispute = raise_dispute(world, meter)
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=timezone.now() - timedelta(days=21))
    tasks = list(world.plan.tasks.all())
    with django_assert_num_queries(1):
        markers = selectors.dispute_task_markers(world.home_nurse, world.plan, tasks)
    [marker] = markers[meter.pk]
    assert marker.label == "Uenighed om ansvar · 21 dage"
    assert marker.href == f"#dispute-{dispute.public_id}"
    assert marker.tone == "warning"
    assert set(markers) == {meter.pk}


def make_disputes(world, count):
    for number in range(count):
        task = hub_services.task_create(
            actor=None, plan=world.plan, title=f"Opgave {number}", responsible_organisation=world.hospital
        )
        raise_dispute(world, task)
        if number % 2:
            dispute = Dispute.objects.get(task=task)
            services.dispute_resolve(
                actor=world.coordinator,
                dispute=dispute,
                decision="Afgjort.",
                responsible_organisation=world.municipality,
                expected_version=1,
            )
    Dispute.objects.update(escalation_step=1)


@pytest.mark.parametrize("count", [1, 12])
def test_the_section_and_markers_read_in_constant_queries(
    world, ladder, count, django_assert_max_num_queries
):
    make_disputes(world, count)
    rights = access.rights_for(world.home_nurse, world.plan)
    tasks = list(world.plan.tasks.all())
    with django_assert_max_num_queries(5):
        section = selectors.disputes_section_for(world.plan, rights)
        [row.parties for row in section.open + section.resolved]
    with django_assert_max_num_queries(1):
        selectors.dispute_task_markers(world.home_nurse, world.plan, tasks)


def test_the_plans_dispute_count_and_oldest_dispute_annotate_a_plan_queryset(world, meter):
    first = raise_dispute(world, meter)
    second_task = hub_services.task_create(
        actor=None, plan=world.plan, title="Kørsel", responsible_organisation=world.hospital
    )
    raise_dispute(world, second_task)
    Dispute.objects.filter(pk=first.pk).update(raised_at=local(date(2026, 3, 2)))
    plans = PathwayPlan.objects.annotate(
        open_disputes=selectors.open_dispute_count_subquery(),
        oldest_dispute=selectors.oldest_open_dispute_subquery(),
    )
    own = plans.values("open_disputes", "oldest_dispute").get(pk=world.plan.pk)
    assert own["open_disputes"] == 2
    assert own["oldest_dispute"] == local(date(2026, 3, 2))
    other = plans.values("open_disputes", "oldest_dispute").get(pk=world.other_plan.pk)
    assert other["open_disputes"] == 0
    assert other["oldest_dispute"] is None


# --- The pages ---------------------------------------------------------------------------------------------


def create_url(world):
    return reverse("coordination:dispute-create", args=[world.plan.public_id])


def form_body(world, disputed, **changes):
    body = {
        "task": disputed.public_id,
        "organisation": world.municipality.public_id,
        "parties": [world.hospital.public_id, world.municipality.public_id],
        "question": DisputeQuestion.WHO_PAYS,
        "reason": "Uenige om betalingen.",
        "interim_organisation": world.municipality.public_id,
        "interim_note": "Hjemmesygeplejen måler.",
    }
    return body | changes


def test_the_form_offers_the_plans_open_tasks_and_preselects_the_one_asked_for(client, world, meter):
    sign_in(client, world.home_nurse)
    response = client.get(create_url(world), {"task": meter.public_id})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.fields["task"].queryset) == set(world.plan.tasks.all())
    assert str(form["task"].value()) == str(meter.public_id)
    assert list(form.fields["organisation"].queryset) == [world.municipality]
    assert set(form.fields["parties"].queryset) == {world.hospital, world.municipality, world.gp}


def test_a_plain_post_raises_the_dispute_and_returns_to_the_plan(client, world, meter):
    sign_in(client, world.home_nurse)
    response = client.post(create_url(world), form_body(world, meter))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/plans/{world.plan.public_id}/#disputes")
    assert Dispute.objects.get().task == meter


def test_an_htmx_post_answers_with_the_section(client, world, meter):
    sign_in(client, world.home_nurse)
    response = client.post(create_url(world), form_body(world, meter), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "plan-changed"
    body = response.content.decode()
    assert 'id="disputes"' in body
    assert meter.title in body
    assert "Uenighed siden i dag" in body  # raised today: no "0 days"


@pytest.mark.parametrize(
    "changes",
    [
        lambda w, t: dict.fromkeys(form_body(w, t), ""),
        lambda _w, _t: {"reason": "x" * 2001},
        lambda _w, _t: {"interim_note": "x" * 1001},
        lambda w, _t: {"parties": [w.hospital.public_id]},
        lambda w, _t: {"parties": [w.hospital.public_id, w.unrelated.public_id]},
        lambda w, _t: {"interim_organisation": w.unrelated.public_id},
        lambda w, _t: {"organisation": w.hospital.public_id},
        lambda _w, _t: {"task": uuid4()},
        lambda w, _t: {"task": w.other_plan.tasks.first().public_id if w.other_plan.tasks.exists() else "x"},
        lambda _w, _t: {"task": "not-a-uuid"},
        lambda _w, _t: {"question": "who_knows"},
    ],
    ids=["empty", "reason too long", "note too long", "one party", "party outside", "interim outside",
         "not her organisation", "no such task", "another plan's task", "no id", "no such question"],
)  # fmt: skip
def test_bad_input_on_the_form_is_shown_and_nothing_is_written(client, world, meter, changes):
    sign_in(client, world.home_nurse)
    notifications = Notification.objects.count()
    response = client.post(create_url(world), form_body(world, meter, **changes(world, meter)))
    assert response.status_code == 422
    assert response.context["form"].errors
    assert not Dispute.objects.exists()
    assert Notification.objects.count() == notifications


def test_a_second_dispute_on_the_task_is_shown_as_an_error(client, world, meter):
    raise_dispute(world, meter)
    sign_in(client, world.hospital_doctor)
    body = form_body(world, meter, organisation=world.hospital.public_id)
    response = client.post(create_url(world), body, **HTMX)
    assert response.status_code == 200  # htmx swaps 2xx only: the form is shown again, with its error
    assert response["HX-Retarget"] == "#dispute-form"
    assert "task" in response.context["form"].errors  # the task is no longer offered
    assert Dispute.objects.count() == 1


def resolve_url(world, dispute):
    return reverse("coordination:dispute-resolve", args=[world.plan.public_id, dispute.public_id])


def test_the_coordinator_resolves_on_the_page_and_a_second_decision_is_told_who_decided(client, world, meter):
    dispute = raise_dispute(world, meter)
    sign_in(client, world.coordinator)
    assert client.get(resolve_url(world, dispute)).status_code == 200
    body = {
        "decision": "Kommunen betaler.",
        "responsible_organisation": world.municipality.public_id,
        "version": 1,
    }
    response = client.post(resolve_url(world, dispute), body)
    assert response.status_code == 302
    assert Dispute.objects.get().status == DisputeStatus.RESOLVED
    again = client.post(resolve_url(world, dispute), body | {"version": 2})
    assert again.status_code == 409
    assert "afgjorde uenigheden" in again.content.decode()


def test_a_stale_version_on_the_page_is_shown_and_nothing_is_written(client, world, meter):
    dispute = raise_dispute(world, meter)
    Dispute.objects.filter(pk=dispute.pk).update(version=2)
    sign_in(client, world.coordinator)
    body = {
        "decision": "Kommunen betaler.",
        "responsible_organisation": world.municipality.public_id,
        "version": 1,
    }
    response = client.post(resolve_url(world, dispute), body)
    assert response.status_code == 409
    assert "En anden har ændret uenigheden, mens du traf din afgørelse." in response.content.decode()
    assert Dispute.objects.get().status == DisputeStatus.OPEN


@pytest.mark.parametrize(
    "changes",
    [
        lambda _: {"decision": "", "responsible_organisation": "", "version": ""},
        lambda _: {"decision": "x" * 2001},
        lambda w: {"responsible_organisation": w.unrelated.public_id},
        lambda _: {"responsible_organisation": uuid4()},
        lambda _: {"version": "abc"},
    ],
    ids=["empty", "too long", "organisation outside", "no such organisation", "no version"],
)
def test_bad_input_on_the_resolve_form_writes_nothing(client, world, meter, changes):
    dispute = raise_dispute(world, meter)
    sign_in(client, world.coordinator)
    body = {
        "decision": "Kommunen betaler.",
        "responsible_organisation": world.municipality.public_id,
        "version": 1,
    }
    response = client.post(resolve_url(world, dispute), body | changes(world))
    assert response.status_code == 422
    assert Dispute.objects.get().status == DisputeStatus.OPEN


def test_a_dispute_of_another_plan_is_not_found(client, world, meter):
    dispute = raise_dispute(world, meter)
    sign_in(client, world.coordinator)
    url = reverse("coordination:dispute-resolve", args=[world.plan.public_id, uuid4()])
    assert client.get(url).status_code == 404
    url = reverse("coordination:dispute-resolve", args=[world.other_plan.public_id, dispute.public_id])
    assert client.get(url).status_code == 404


def test_the_partial_shows_a_resolution_and_reads_in_constant_queries(
    client, world, ladder, django_assert_max_num_queries
):
    make_disputes(world, 6)
    sign_in(client, world.home_nurse)
    url = reverse("coordination:plan-disputes-partial", args=[world.plan.public_id])
    client.get(url)  # the session and the user's organisations are read once
    # The section, and its disputes' task rows out of band (one read for the rows, one for their markers).
    with django_assert_max_num_queries(16):
        response = client.get(url, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Afgjort for nylig" in body
    assert "Afgjort." in body
    assert 'hx-trigger="every 30s, disputes-changed from:body"' in body


def test_a_poll_of_an_unchanged_list_answers_204_reads_nothing_and_logs_nothing(client, world, meter):
    dispute = raise_dispute(world, meter)
    sign_in(client, world.home_nurse)
    url = reverse("coordination:plan-disputes-partial", args=[world.plan.public_id])
    fingerprint = client.get(url, **HTMX).context["disputes_section"].fingerprint
    logged = AccessLog.objects.filter(patient=world.patient).count()
    quiet = client.get(url, {"since": fingerprint}, **HTMX)
    assert quiet.status_code == 204
    assert quiet.content == b""
    assert AccessLog.objects.filter(patient=world.patient).count() == logged
    # Once the coordinator has decided, the same poll gets the list again, and that read is logged.
    services.dispute_resolve(
        actor=world.coordinator,
        dispute=dispute,
        decision="Kommunen bevilger måleren.",
        responsible_organisation=world.municipality,
        expected_version=dispute.version,
    )
    changed = client.get(url, {"since": fingerprint}, **HTMX)
    assert changed.status_code == 200
    assert "Kommunen bevilger måleren." in changed.content.decode()
    assert AccessLog.objects.filter(patient=world.patient).count() == logged + 1


def test_a_poll_from_outside_the_plan_is_404_whatever_it_sends(client, world, meter):
    raise_dispute(world, meter)
    sign_in(client, world.outsider)
    url = reverse("coordination:plan-disputes-partial", args=[world.plan.public_id])
    guessed = selectors.disputes_fingerprint(world.plan.pk)
    assert client.get(url, {"since": guessed}, **HTMX).status_code == 404


def test_the_secretariats_email_says_what_is_disputed_and_whom_to_call_without_patient_data(
    world, meter, ladder, secretariat
):
    dispute = raise_dispute(world, meter)
    raised_on(dispute, date(2026, 3, 2))
    services.disputes_escalate(now=local(date(2026, 3, 16)))
    row = kinds_to(secretariat, NotificationKind.DISPUTE_ESCALATED).get()
    message = outbox._message(row)
    assert message.address == "sekretariat@example.invalid"
    assert "Hjemmesygeplejen Roskilde, Medicinsk afdeling" in message.body  # between whom
    assert "Hvem der betaler" in message.body
    assert "46 31 00 00" in message.body  # the plan's coordinator's phone
    assert str(dispute.public_id) in message.body
    for patient_data in (world.patient.given_name, world.patient.cpr, meter.title, "KOL"):
        assert patient_data not in message.body
        assert patient_data not in message.subject


def test_a_step_with_nobody_to_tell_goes_to_the_plans_coordinator(world, meter, ladder):
    dispute = raise_dispute(world, meter)
    raised_on(dispute, date(2026, 3, 2))
    # Neither party has a contact or coordinators of its own, and none above it.
    Membership.objects.filter(user=world.coordinator).update(organisation=world.gp)
    assert services.disputes_escalate(now=local(date(2026, 3, 9))) == 1
    assert kinds_to(world.coordinator, NotificationKind.DISPUTE_ESCALATED).exists()


def test_a_step_with_nobody_at_all_to_tell_waits(world, ladder):
    plan = world.other_plan  # no coordinator
    second = Organisation.objects.create(name="Anden kommune", sector=Sector.MUNICIPALITY, sor_code="2999")
    hub_services.participant_add(actor=None, plan=plan, organisation=second)
    task = hub_services.task_create(
        actor=None, plan=plan, title="Hjælpemiddel", responsible_organisation=world.unrelated
    )
    dispute = services.dispute_raise(
        actor=world.outsider,
        task=task,
        organisation=world.unrelated,
        parties=[world.unrelated, second],
        question=DisputeQuestion.WHO_PAYS,
        reason="Uenige om betalingen.",
        interim_organisation=world.unrelated,
    )
    raised_on(dispute, date(2026, 3, 2))
    assert services.disputes_escalate(now=local(date(2026, 3, 9))) == 0
    assert not DisputeEscalation.objects.exists()


def test_the_organisation_acting_in_the_meantime_and_the_one_decided_on_are_told(world, meter):
    gp_coordinator = make_user("gp_koordinator", world.gp, MembershipRole.COORDINATOR)
    dispute = raise_dispute(world, meter, interim_organisation=world.gp)
    assert kinds_to(gp_coordinator, NotificationKind.DISPUTE_RAISED).exists()
    services.dispute_resolve(
        actor=world.coordinator,
        dispute=dispute,
        decision="Lægen sørger for måleren.",
        responsible_organisation=world.gp,
        expected_version=dispute.version,
    )
    assert kinds_to(gp_coordinator, NotificationKind.DISPUTE_RESOLVED).exists()


def test_on_a_plan_without_a_coordinator_a_participant_raises_only_for_its_own_organisation(world):
    plan = world.other_plan
    second = Organisation.objects.create(name="Anden kommune", sector=Sector.MUNICIPALITY, sor_code="2998")
    hub_services.participant_add(actor=None, plan=plan, organisation=second)
    task = hub_services.task_create(
        actor=None, plan=plan, title="Hjælpemiddel", responsible_organisation=world.unrelated
    )
    with pytest.raises(PermissionDenied):
        services.dispute_raise(
            actor=world.outsider,
            task=task,
            organisation=second,  # not the outsider's
            parties=[world.unrelated, second],
            question=DisputeQuestion.WHO_PAYS,
            reason="Uenige om betalingen.",
            interim_organisation=world.unrelated,
        )
    assert not Dispute.objects.exists()


def test_on_a_plan_without_a_coordinator_the_participants_resolve(client, world):
    plan = world.other_plan
    second = Organisation.objects.create(name="Anden kommune", sector=Sector.MUNICIPALITY, sor_code="2997")
    hub_services.participant_add(actor=None, plan=plan, organisation=second)
    task = hub_services.task_create(
        actor=None, plan=plan, title="Hjælpemiddel", responsible_organisation=world.unrelated
    )
    dispute = services.dispute_raise(
        actor=world.outsider,
        task=task,
        organisation=world.unrelated,
        parties=[world.unrelated, second],
        question=DisputeQuestion.WHO_PAYS,
        reason="Uenige om betalingen.",
        interim_organisation=world.unrelated,
    )
    sign_in(client, world.outsider)
    url = reverse("coordination:dispute-resolve", args=[plan.public_id, dispute.public_id])
    response = client.post(
        url,
        {
            "decision": "Vi betaler.",
            "responsible_organisation": world.unrelated.public_id,
            "version": dispute.version,
        },
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "resolved"
