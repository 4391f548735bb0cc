"""The questionnaire schedule (the hourly beat job) with a fixed clock moved forward: at the plan's start,
30 days after a discharge home, every 6 months; asked once however often it runs, never backfilled, only
for plans of a schedule's template, relatives only with consent and a channel, nothing for an ended plan
or after a death; expiry and cancellation; a constant number of queries however many plans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pathways import outbox, services, stays
from pathways import pathway_templates as templates
from pathways.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    StayClass,
    TransitionKind,
)
from pathways.models import HospitalStay, Notification, PathwayTemplate
from quality.choices import Milestone, RequestState, Respondent
from quality.models import QuestionnaireRequest, QuestionnaireSchedule
from quality.services import add_months, questionnaires_schedule, requests_expire
from relatives import services as relatives_services
from relatives.choices import ConsentScope, RelativeChannel
from tests.quality.questionnaire_helpers import (  # noqa: F401 (shipped: autouse)
    QUESTIONNAIRE_MESSAGES,
    at,
    csi,
    discharge,
    messages_of,
    plan_start,
    relative_add,
    shipped,
    who5,
)

pytestmark = pytest.mark.django_db


def requests_of(plan):
    return QuestionnaireRequest.objects.filter(plan=plan).order_by("id")


def test_at_the_plans_start_the_patient_is_asked_who5_with_the_message_now_and_two_reminders(world):
    start = plan_start(world.plan)
    assert questionnaires_schedule(today=start) == 1
    request = requests_of(world.plan).get()
    assert (request.questionnaire, request.relative, request.occurrence) == (who5(), None, "start")
    assert (request.opens_on, request.expires_on, request.state) == (
        start,
        start + timedelta(days=13),
        "open",
    )
    rows = messages_of(request)
    assert {(r.kind, r.due_at) for r in rows if r.kind == NotificationKind.QUESTIONNAIRE_REMINDER} == {
        (NotificationKind.QUESTIONNAIRE_REMINDER, outbox.local_moment(start + timedelta(days=3))),
        (NotificationKind.QUESTIONNAIRE_REMINDER, outbox.local_moment(start + timedelta(days=7))),
    }
    sent = rows.get(kind=NotificationKind.QUESTIONNAIRE_SENT)
    assert sent.state == NotificationState.PENDING
    assert sent.recipient == world.patient
    assert sent.channel == outbox.patient_channel(world.patient)
    assert len(request.reminder_keys) == 3


def test_running_the_job_twice_asks_once_and_writes_no_message_twice(world):
    start = plan_start(world.plan)
    questionnaires_schedule(today=start)
    messages = Notification.objects.count()
    assert questionnaires_schedule(today=start) == 0
    assert questionnaires_schedule(today=start + timedelta(days=1)) == 0
    assert requests_of(world.plan).count() == 1
    assert Notification.objects.count() == messages


def test_a_milestone_whose_window_has_passed_is_not_asked_later(world):
    start = plan_start(world.plan)
    assert questionnaires_schedule(today=start + timedelta(days=14)) == 0
    assert questionnaires_schedule(today=start + timedelta(days=13)) == 1


def test_a_patient_who_prefers_letters_gets_the_questionnaire_as_a_letter(world):
    world.patient.preferred_contact = "letter"
    world.patient.save()
    questionnaires_schedule(today=plan_start(world.plan))
    sent = Notification.objects.get(kind=NotificationKind.QUESTIONNAIRE_SENT)
    assert sent.channel == NotificationChannel.LETTER
    paragraphs = " ".join(outbox.letter_paragraphs(sent))
    assert "/portal/" in paragraphs
    assert "46 31 00 00" in paragraphs


def test_30_days_after_a_discharge_home_the_patient_is_asked_again(world):
    discharge(world, days_ago=1)
    stay = HospitalStay.objects.get(plan=world.plan)
    discharged_on = timezone.localtime(stay.ended_at).date()
    assert questionnaires_schedule(today=discharged_on + timedelta(days=29)) == 0
    assert questionnaires_schedule(today=discharged_on + timedelta(days=30)) == 1
    request = requests_of(world.plan).get()
    assert request.occurrence == f"discharge:{stay.public_id}"


def test_every_6_months_the_patient_and_each_consenting_relative_are_asked(world):
    who_follows = relative_add(world.plan, name="Lars", scope=ConsentScope.WHOLE_PLAN)
    relative_add(world.plan, name="Kun kontakt", scope=ConsentScope.CONTACT_ONLY, phone="22 41 63 19")
    relative_add(world.plan, name="Ingen kanal", channel=RelativeChannel.NONE, phone="22 41 63 20")
    relative_add(world.plan, name="Barn", scope=None, is_child=True, phone="")
    relative_add(world.plan, name="Uden samtykke", scope=None, phone="22 41 63 21")
    in_6_months = add_months(plan_start(world.plan), 6)
    assert questionnaires_schedule(today=in_6_months - timedelta(days=1)) == 0
    assert questionnaires_schedule(today=in_6_months) == 3
    asked = {(r.questionnaire.key, r.relative, r.occurrence) for r in requests_of(world.plan)}
    assert asked == {
        ("who5", None, "every:1"),
        ("who5", who_follows, "every:1"),
        ("csi", who_follows, "every:1"),
    }
    to_relative = Notification.objects.filter(kind=NotificationKind.QUESTIONNAIRE_SENT).exclude(
        recipient_id=world.patient.pk, recipient_type__model="patient"
    )
    assert {row.recipient for row in to_relative} == {who_follows}
    in_12_months = add_months(plan_start(world.plan), 12)
    assert questionnaires_schedule(today=in_12_months) == 0  # still open from last time
    requests_expire(today=in_12_months)
    assert questionnaires_schedule(today=in_12_months) == 3  # every:2


def test_a_relative_who_follows_only_the_appointments_is_asked_too(world):
    relative = relative_add(world.plan, scope=ConsentScope.APPOINTMENTS)
    questionnaires_schedule(today=add_months(plan_start(world.plan), 6))
    assert QuestionnaireRequest.objects.filter(relative=relative).count() == 2


def test_a_template_schedule_asks_only_plans_of_that_template(world):
    template = PathwayTemplate.objects.create(code="hjerte", name="Hjertesvigt")
    templates.template_publish(actor=None, template=template)
    QuestionnaireSchedule.objects.create(
        questionnaire=csi(),
        template=template,
        respondent=Respondent.RELATIVE,
        milestone=Milestone.PLAN_START,
        window_days=14,
    )
    relative = relative_add(world.plan)
    start = plan_start(world.plan)
    questionnaires_schedule(today=start)
    assert not QuestionnaireRequest.objects.filter(questionnaire=csi()).exists()
    templates.plan_templates_apply(
        actor=world.coordinator, plan=world.plan, templates=[template], start=start - timedelta(days=2)
    )
    # The template counts from two days before: the plan's start moved, still inside the window.
    assert questionnaires_schedule(today=start) == 1
    assert QuestionnaireRequest.objects.get(questionnaire=csi()).relative == relative


def test_no_questionnaire_for_a_completed_plan_a_draft_or_a_retired_questionnaire(world):
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.COMPLETED)
    assert questionnaires_schedule(today=plan_start(world.plan)) == 0
    assert questionnaires_schedule(today=plan_start(world.other_plan)) == 0  # other_plan is a draft
    assert not QuestionnaireRequest.objects.exists()


def test_a_paused_plan_is_still_asked(world):
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.ON_HOLD)
    assert questionnaires_schedule(today=plan_start(world.plan)) == 1


def test_a_person_asked_shortly_before_a_milestone_is_not_asked_twice(world):
    """At the start and 30 days after a discharge the day after: one questionnaire, not two."""
    start = plan_start(world.plan)
    QuestionnaireSchedule.objects.filter(milestone=Milestone.AFTER_DISCHARGE).update(offset_days=5)
    discharge(world, days_ago=1)
    assert questionnaires_schedule(today=start) == 1
    assert questionnaires_schedule(today=start + timedelta(days=4)) == 0
    assert requests_of(world.plan).count() == 1


# --- expiry and cancellation ---


def test_an_unanswered_questionnaire_expires_after_its_window_and_its_reminders_are_cancelled(world):
    start = plan_start(world.plan)
    questionnaires_schedule(today=start)
    request = requests_of(world.plan).get()
    assert requests_expire(today=start + timedelta(days=13)) == 0
    assert requests_expire(today=start + timedelta(days=14)) == 1
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    assert request.closed_at is not None
    assert set(
        messages_of(request)
        .filter(kind=NotificationKind.QUESTIONNAIRE_REMINDER)
        .values_list("state", flat=True)
    ) == {NotificationState.CANCELLED}
    assert requests_expire(today=start + timedelta(days=15)) == 0


def test_a_relative_removed_from_the_plan_has_their_questionnaires_cancelled(world):
    relative = relative_add(world.plan)
    questionnaires_schedule(today=add_months(plan_start(world.plan), 6))
    relatives_services.relative_remove(
        actor=world.coordinator, relative=relative, expected_version=relative.version
    )
    assert requests_expire(today=add_months(plan_start(world.plan), 6)) == 2
    states = QuestionnaireRequest.objects.filter(relative=relative).values_list("state", flat=True)
    assert set(states) == {RequestState.CANCELLED}
    patient_request = QuestionnaireRequest.objects.get(relative=None)
    assert patient_request.state == RequestState.OPEN


def test_a_relative_whose_consent_is_withdrawn_has_their_questionnaires_cancelled(world):
    relative = relative_add(world.plan)
    in_6_months = add_months(plan_start(world.plan), 6)
    questionnaires_schedule(today=in_6_months)
    relatives_services.relative_consent_revoke(actor=world.coordinator, relative=relative, method="spoken")
    requests_expire(today=in_6_months)
    assert set(QuestionnaireRequest.objects.filter(relative=relative).values_list("state", flat=True)) == {
        RequestState.CANCELLED
    }
    request = QuestionnaireRequest.objects.filter(relative=relative).first()
    assert request is not None
    assert messages_of(request).filter(state=NotificationState.PENDING).count() == 0


def test_never_after_death_reminders_stop_the_request_is_cancelled_and_nothing_new_is_asked(world):
    relative = relative_add(world.plan)
    start = plan_start(world.plan)
    questionnaires_schedule(today=start)
    request = requests_of(world.plan).get()
    today = timezone.localdate()
    stays.transition_record(
        actor=world.hospital_doctor,
        patient=world.patient,
        kind=TransitionKind.ADMISSION,
        occurred_at=timezone.now() - timedelta(hours=5),
        hospital=world.hospital,
        stay_class=StayClass.INPATIENT,
    )
    stays.transition_record(
        actor=world.hospital_doctor,
        patient=world.patient,
        kind=TransitionKind.DEATH,
        occurred_at=timezone.now() - timedelta(hours=1),
        hospital=world.hospital,
    )
    waiting = messages_of(request).filter(state__in=[NotificationState.PENDING, NotificationState.SENDING])
    assert not waiting.exists()
    assert requests_expire(today=today) == 1
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    for later in (start + timedelta(days=1), add_months(start, 6), add_months(start, 12)):
        assert questionnaires_schedule(today=later) == 0
    assert requests_of(world.plan).count() == 1
    assert not Notification.objects.filter(
        kind__in=QUESTIONNAIRE_MESSAGES, state=NotificationState.PENDING
    ).exists()
    assert not QuestionnaireRequest.objects.filter(relative=relative).exists()


# --- queries ---


def make_active_plans(world, count):
    plans = []
    for number in range(count):
        patient = services.patient_create(
            cpr=f"01018{number:04d}"[:10].ljust(10, "0"),
            given_name=f"Patient{number}",
            family_name="Testesen",
            home_municipality="265",
        )
        plan = services.plan_create(
            actor=world.coordinator, patient=patient, title="Plan", participants=[world.municipality]
        )
        plan = services.coordinator_assign(
            actor=world.coordinator, plan=plan, coordinator=world.coordinator, organisation=world.municipality
        )
        plan = services.plan_transition(actor=world.coordinator, plan=plan, to_status=PlanStatus.ACTIVE)
        relative_add(plan, name=f"Pårørende {number}")
        plans.append(plan)
    return plans


def queries_for_schedule(today):
    with CaptureQueriesContext(connection) as queries:
        questionnaires_schedule(today=today)
    return len(queries)


def test_the_schedule_job_takes_the_same_number_of_queries_for_few_and_many_plans(world):
    relative_add(world.plan)
    in_6_months = add_months(plan_start(world.plan), 6)
    few = queries_for_schedule(in_6_months)
    written = QuestionnaireRequest.objects.count()
    QuestionnaireRequest.objects.all().delete()
    Notification.objects.filter(kind__in=QUESTIONNAIRE_MESSAGES).delete()
    make_active_plans(world, 5)
    many = queries_for_schedule(in_6_months)
    assert QuestionnaireRequest.objects.count() == 6 * written
    assert many == few
    # Nothing due: fewer still, and the same for any number of plans.
    assert queries_for_schedule(in_6_months + timedelta(days=30)) < many


def test_a_plan_completed_by_staff_stops_its_questionnaires_waiting_messages_at_once(world):
    """Not only a death: a plan the coordinator completes sends no reminder in the hour before the expiry
    job closes the questionnaire (the hub cancels the waiting messages in the same transaction)."""
    start = plan_start(world.plan)
    questionnaires_schedule(today=start)
    request = requests_of(world.plan).get()
    assert messages_of(request).filter(state=NotificationState.PENDING).count() == 3
    services.plan_transition(
        actor=world.coordinator, plan=world.plan, to_status=PlanStatus.COMPLETED, expected_version=None
    )
    assert set(messages_of(request).values_list("state", flat=True)) == {NotificationState.CANCELLED}
    assert requests_expire(today=start) == 1
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
