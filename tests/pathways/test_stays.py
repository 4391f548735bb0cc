"""Hospital events on the plan (pathways.stays): what an admission, leave, discharge and death do to the
tasks, the plan and its reminders; transfers and acute ambulant care becoming an admission; corrections and
cancellations undoing exactly that; who may record; bad input refused with nothing written; the stays
section of the plan page (in a constant number of queries) and its forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from pathways import outbox, selectors, services, stays
from pathways import pathway_templates as templates
from pathways import tasks as tasks_module
from pathways.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    ResponsibleParty,
    Sector,
    StayClass,
    StayEnd,
    StayStatus,
    TaskKind,
    TaskStatus,
    TemplateTrigger,
    TransitionEffectKind,
    TransitionKind,
    TransitionSource,
    TransitionState,
)
from pathways.models import (
    HospitalStay,
    Notification,
    Organisation,
    PathwayTemplate,
    Patient,
    Task,
    TemplateTask,
    Transition,
    TransitionEffect,
    User,
)
from tests.conftest import make_user, sign_in

ADMISSION = TransitionKind.ADMISSION
ACUTE = TransitionKind.ADMISSION_ACUTE
LEAVE_START = TransitionKind.LEAVE_START
LEAVE_END = TransitionKind.LEAVE_END
DISCHARGE = TransitionKind.DISCHARGE
DEATH = TransitionKind.DEATH


def ago(*, days: float = 0, hours: float = 0) -> datetime:
    return timezone.now() - timedelta(days=days, hours=hours)


def day_of(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def record(world, kind, when, *, actor="hospital_doctor", hospital=None, **extra) -> Transition:
    return stays.transition_record(
        actor=getattr(world, actor) if actor else None,
        patient=world.patient,
        kind=kind,
        occurred_at=when,
        hospital=hospital or world.hospital,
        **extra,
    )


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def stay_of(transition: Transition) -> HospitalStay:
    return HospitalStay.objects.get(pk=transition.stay_id)


def make_task(world, title, organisation, due_in, *, status=TaskStatus.REQUESTED, start_in=None, **extra):
    today = timezone.localdate()
    task = services.task_create(
        actor=None,
        plan=world.plan,
        title=title,
        responsible_organisation=organisation,
        due_date=today + timedelta(days=due_in),
        window_start=today + timedelta(days=start_in) if start_in is not None else None,
        **extra,
    )
    if status != TaskStatus.REQUESTED:
        task = services.task_transition(actor=None, task=task, to_status=status)
    return task


@dataclass
class Tasks:
    visit: Task  # the municipality's, due in 3 days, accepted
    gp: Task  # the GP's, due in 5 days
    hospital: Task  # the hospital's own: never held
    later: Task  # the municipality's, due in 30 days: beyond the hold
    done: Task  # finished: left alone


@pytest.fixture
def tasks(world) -> Tasks:
    return Tasks(
        visit=make_task(
            world, "Hjemmebesøg efter plan", world.municipality, 3, status=TaskStatus.ACCEPTED,
            kind=TaskKind.HOME_VISIT,
        ),
        gp=make_task(world, "Kontrol hos egen læge", world.gp, 5, kind=TaskKind.APPOINTMENT),
        hospital=make_task(world, "Ambulant kontrol", world.hospital, 2, kind=TaskKind.APPOINTMENT),
        later=make_task(world, "Genoptræning", world.municipality, 30),
        done=make_task(world, "Blodprøver", world.gp, 2, status=TaskStatus.COMPLETED),
    )  # fmt: skip


@pytest.fixture
def discharge_rules(world) -> PathwayTemplate:
    """A template on the plan whose discharge rules make a home nursing visit the next day and a GP
    follow-up within a week."""
    template = PathwayTemplate.objects.create(code="t-stays", name="Test: udskrivelse")
    for order, (key, party, offset, kind) in enumerate(
        [
            ("hjemmesygeplejebesoeg", ResponsibleParty.HOME_NURSING, 1, TaskKind.HOME_VISIT),
            ("opfoelgning-egen-laege", ResponsibleParty.GENERAL_PRACTICE, 7, TaskKind.APPOINTMENT),
        ]
    ):
        TemplateTask.objects.create(
            template=template,
            key=key,
            title=f"Opfølgning: {key}",
            kind=kind,
            trigger=TemplateTrigger.DISCHARGE,
            responsible=party,
            offset_days=offset,
            after_acute_ambulant=True,
            sort_order=order,
        )
    templates.template_publish(actor=None, template=template)
    templates.plan_templates_apply(actor=world.coordinator, plan=world.plan, templates=[template])
    return template


def notices(world, kind) -> set[tuple[str, str]]:
    names = dict(User.objects.values_list("pk", "username"))
    rows = Notification.objects.filter(plan=world.plan, kind=kind)
    return {(names[row.recipient_id], row.channel) for row in rows}


def held(world) -> set[str]:
    return set(world.plan.tasks.filter(status=TaskStatus.ON_HOLD).values_list("title", flat=True))


# --- Admission ------------------------------------------------------------------------------------------


def test_an_admission_holds_the_municipalitys_and_the_gps_tasks_due_during_the_stay(world, tasks):
    admission = record(world, ADMISSION, ago(hours=1))

    stay = stay_of(admission)
    assert (stay.status, stay.stay_class, stay.hospital) == (
        StayStatus.IN_PROGRESS,
        StayClass.INPATIENT,
        world.hospital,
    )
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    visit = fresh(tasks.visit)
    assert "Medicinsk afdeling" in visit.hold_reason
    assert visit.hold_reason == stays._hold_reason(stay)
    assert visit.version == tasks.visit.version + 1
    effects = {
        (effect.task_id, effect.status_before)
        for effect in admission.effects.filter(kind=TransitionEffectKind.TASK_PAUSED)
    }
    assert effects == {(tasks.visit.pk, TaskStatus.ACCEPTED), (tasks.gp.pk, TaskStatus.REQUESTED)}
    # The hospital's own task, one beyond the hold, a finished one and one without a date go on.
    assert fresh(tasks.hospital).status == TaskStatus.REQUESTED
    assert fresh(tasks.later).status == TaskStatus.REQUESTED
    assert fresh(tasks.done).status == TaskStatus.COMPLETED


def test_an_admission_tells_every_participant_at_once_by_e_mail_without_health_data(world, tasks, mail_sink):
    for user in (world.home_nurse, world.gp_doctor, world.coordinator):
        user.email = f"{user.username}@example.invalid"
        user.save(update_fields=["email"])
    record(world, ADMISSION, ago(hours=1))

    # Everyone taking part but the one who recorded it, in the product and by e-mail, due now: a worker
    # is asked when the change commits (home nursing learns within a minute).
    assert notices(world, NotificationKind.PATIENT_ADMITTED) == {
        (user, channel)
        for user in ("home_nurse", "gp_doctor", "coordinator")
        for channel in (NotificationChannel.IN_APP, NotificationChannel.EMAIL)
    }
    rows = Notification.objects.filter(kind=NotificationKind.PATIENT_ADMITTED)
    assert all(row.due_at <= timezone.now() for row in rows)
    assert any(outbox._ask_a_worker in entry for entry in connection.run_on_commit)
    assert outbox.deliver_due() >= 6
    mails = [m for m in mail_sink.messages() if m["to"] == ["home_nurse@example.invalid"]]
    [mail] = mails
    text = mail["subject"] + mail["body"]
    assert world.plan.public_id.hex[:8] in text.replace("-", "")  # the link to the plan
    for secret in ("Kirsten", "Testesen", world.patient.cpr, "Medicinsk", "KOL", "admitted", "indlagt"):
        assert secret.lower() not in text.lower()


def test_the_same_admission_twice_is_recorded_once(world, tasks):
    when = ago(hours=1)
    first = record(world, ADMISSION, when)
    again = record(world, ADMISSION, when)

    assert again == first
    assert HospitalStay.objects.count() == 1
    assert TransitionEffect.objects.count() == 2
    assert Notification.objects.filter(kind=NotificationKind.PATIENT_ADMITTED, channel="in_app").count() == 3


def test_tasks_coming_due_while_the_patient_is_still_in_hospital_are_held_by_the_morning_job(world, tasks):
    admission = record(world, ADMISSION, ago(hours=1))
    assert fresh(tasks.later).status == TaskStatus.REQUESTED  # due in 30 days

    in_a_fortnight = timezone.localdate() + timedelta(days=17)
    assert stays.stays_hold_coming_due(today=in_a_fortnight) == 1
    assert fresh(tasks.later).status == TaskStatus.ON_HOLD
    assert admission.effects.filter(task=tasks.later, kind=TransitionEffectKind.TASK_PAUSED).exists()
    assert stays.stays_hold_coming_due(today=in_a_fortnight) == 0  # safe to run again
    assert (
        settings.CELERY_BEAT_SCHEDULE["stays-hold-coming-due"]["task"]
        == tasks_module.stays_hold_coming_due.name
    )
    assert tasks_module.stays_hold_coming_due() == 0  # the beat's task, today: nothing new

    # A task the nurse takes off hold during the stay stays off; a new one coming due is held.
    services.task_transition(actor=world.home_nurse, task=tasks.visit, to_status=TaskStatus.ACCEPTED)
    new = make_task(world, "Ekstra besøg", world.municipality, 2)
    assert stays.stays_hold_coming_due() == 1
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED
    assert fresh(new).status == TaskStatus.ON_HOLD


def test_the_morning_job_leaves_ended_stays_alone(world, tasks):
    record(world, ADMISSION, ago(hours=3))
    record(world, DISCHARGE, ago(hours=1))
    assert stays.stays_hold_coming_due(today=timezone.localdate() + timedelta(days=17)) == 0
    assert held(world) == set()


# --- Discharge -------------------------------------------------------------------------------------------


def test_a_discharge_resumes_what_was_held_re_dates_what_passed_and_makes_the_follow_ups(
    world, tasks, discharge_rules
):
    wound = make_task(world, "Sårpleje", world.municipality, -3, start_in=-5, status=TaskStatus.IN_PROGRESS)
    record(world, ADMISSION, ago(days=6))
    assert fresh(wound).status == TaskStatus.ON_HOLD
    discharge = record(world, DISCHARGE, ago(hours=1))

    home = day_of(discharge.occurred_at)
    stay = stay_of(discharge)
    assert (stay.status, stay.end_reason, stay.ended_at) == (
        StayStatus.FINISHED,
        StayEnd.DISCHARGED,
        discharge.occurred_at,
    )
    assert held(world) == set()
    # Back to what they were; the one whose date passed during the stay moves to the first working day
    # after the discharge, its window alike.
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED
    assert fresh(tasks.visit).hold_reason == ""
    assert fresh(tasks.gp).status == TaskStatus.REQUESTED
    assert fresh(tasks.visit).due_date == tasks.visit.due_date  # not passed
    moved = fresh(wound)
    new_due = stays._first_working_day_after(home)
    assert (moved.status, moved.due_date, moved.window_start) == (
        TaskStatus.IN_PROGRESS,
        new_due,
        new_due - timedelta(days=2),
    )
    redated = discharge.effects.get(kind=TransitionEffectKind.TASK_REDATED)
    assert (redated.task_id, redated.due_date_before, redated.window_start_before) == (
        wound.pk,
        wound.due_date,
        wound.window_start,
    )
    # The follow-ups of the plan's template, from the discharge day, for home nursing and the GP.
    followups = {t.template_key: t for t in Task.objects.filter(created_by_transition=discharge)}
    assert followups["hjemmesygeplejebesoeg"].responsible_organisation == world.municipality
    assert followups["hjemmesygeplejebesoeg"].due_date == home + timedelta(days=1)
    assert followups["opfoelgning-egen-laege"].responsible_organisation == world.gp
    assert followups["opfoelgning-egen-laege"].due_date == home + timedelta(days=7)
    created = set(
        discharge.effects.filter(kind=TransitionEffectKind.TASK_CREATED).values_list("task_id", flat=True)
    )
    assert created == {task.pk for task in followups.values()}
    assert ("home_nurse", NotificationChannel.IN_APP) in notices(world, NotificationKind.PATIENT_DISCHARGED)
    # The same discharge again (a double click, a repeated message) changes nothing.
    assert record(world, DISCHARGE, discharge.occurred_at) == discharge
    assert Task.objects.filter(created_by_transition__isnull=False).count() == len(followups)


def test_cancelling_a_discharge_holds_again_what_it_resumed_and_cancels_its_follow_ups(
    world, tasks, discharge_rules
):
    wound = make_task(world, "Sårpleje", world.municipality, -3, start_in=-5)
    record(world, ADMISSION, ago(days=6))
    discharge = record(world, DISCHARGE, ago(hours=1))

    cancelled = stays.transition_cancel(
        actor=world.hospital_doctor, transition=discharge, note="Forkert patient"
    )

    assert cancelled.state == TransitionState.CANCELLED
    assert cancelled.reversed_at is not None
    assert "Forkert patient" in cancelled.note
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge", "Sårpleje"}
    assert (fresh(wound).due_date, fresh(wound).window_start) == (wound.due_date, wound.window_start)
    assert set(Task.objects.filter(created_by_transition=discharge).values_list("status", flat=True)) == {
        TaskStatus.CANCELLED
    }
    stay = stay_of(discharge)
    assert (stay.status, stay.ended_at, stay.end_reason) == (StayStatus.IN_PROGRESS, None, "")
    assert not discharge.effects.filter(reversed_at__isnull=True).exists()
    assert ("home_nurse", NotificationChannel.IN_APP) in notices(world, NotificationKind.TRANSITION_REVERSED)
    # Repeated: nothing more.
    before = Notification.objects.count()
    assert stays.transition_cancel(actor=world.hospital_doctor, transition=discharge) == cancelled
    assert Notification.objects.count() == before
    # The stay can be discharged again.
    again = record(world, DISCHARGE, ago(hours=0.5))
    assert held(world) == set()
    assert Task.objects.filter(created_by_transition=again, status=TaskStatus.REQUESTED).count() == 2


def test_correcting_a_discharge_keeps_its_follow_ups_and_moves_those_not_started(
    world, tasks, discharge_rules
):
    record(world, ADMISSION, ago(days=6))
    discharge = record(world, DISCHARGE, ago(hours=1))
    made = {t.template_key: t for t in Task.objects.filter(created_by_transition=discharge)}
    # Home nursing has taken on its visit already; the GP's follow-up is not started.
    services.task_transition(actor=None, task=made["hjemmesygeplejebesoeg"], to_status=TaskStatus.ACCEPTED)
    right = ago(days=2)

    corrected = stays.transition_correct(actor=world.hospital_doctor, transition=discharge, occurred_at=right)

    discharge.refresh_from_db()
    assert (discharge.state, corrected.corrects, corrected.kind) == (
        TransitionState.CORRECTED,
        discharge,
        DISCHARGE,
    )
    kept = {t.template_key: t for t in Task.objects.filter(created_by_transition=corrected)}
    assert {key: task.pk for key, task in kept.items()} == {key: task.pk for key, task in made.items()}
    assert not Task.objects.filter(status=TaskStatus.CANCELLED).exists()
    visit, gp = kept["hjemmesygeplejebesoeg"], kept["opfoelgning-egen-laege"]
    assert (visit.status, visit.due_date) == (TaskStatus.ACCEPTED, made["hjemmesygeplejebesoeg"].due_date)
    assert (gp.status, gp.due_date) == (TaskStatus.REQUESTED, day_of(right) + timedelta(days=7))
    assert stay_of(corrected).ended_at == right
    assert held(world) == set()
    # The same time again changes nothing; the old event leads to its correction.
    assert (
        stays.transition_correct(actor=world.hospital_doctor, transition=discharge, occurred_at=right)
        == corrected
    )
    assert Transition.objects.filter(kind=DISCHARGE).count() == 2
    # Cancelling the corrected discharge cancels the follow-ups nobody has finished.
    stays.transition_cancel(actor=world.hospital_doctor, transition=corrected)
    assert Task.objects.get(pk=gp.pk).status == TaskStatus.CANCELLED


# --- Death ---------------------------------------------------------------------------------------------


@pytest.fixture
def reminders(world) -> dict[str, Notification]:
    """A hospital appointment in 6 days (not held) the patient is reminded of and its doctor told of,
    and a message about the plan to an organisation (as to a dispute's secretariat): neither staff nor
    the patient."""
    appointment = services.task_create(
        actor=None,
        plan=world.plan,
        title="Kontrol på sygehuset",
        responsible_organisation=world.hospital,
        responsible_person=world.hospital_doctor,
        kind=TaskKind.APPOINTMENT,
        due_date=timezone.localdate() + timedelta(days=6),
    )
    rows = Notification.objects.filter(task=appointment, state=NotificationState.PENDING)
    other_key = outbox.notify(
        recipient=world.gp,  # an organisation's own address, like a secretariat's
        kind=NotificationKind.APPOINTMENT_REMINDER,
        channel=NotificationChannel.SMS,
        plan=world.plan,
        due_at=timezone.now() + timedelta(days=3),
    )
    return {
        "patient": rows.get(kind=NotificationKind.APPOINTMENT_REMINDER),
        "staff": rows.get(kind=NotificationKind.TASK_DUE_SOON),
        "organisation": Notification.objects.get(dedupe_key=other_key),
    }


def state_of(row: Notification) -> str:
    return Notification.objects.values_list("state", flat=True).get(pk=row.pk)


def test_a_death_completes_the_plan_and_cancels_every_reminder_in_the_same_transaction(
    world, tasks, reminders
):
    record(world, ADMISSION, ago(days=1))
    patient = ContentType.objects.get_for_model(Patient)
    waiting = Notification.objects.filter(plan=world.plan, state=NotificationState.PENDING)
    to_patient = waiting.filter(recipient_type=patient).count()
    assert to_patient >= 1

    death = record(world, DEATH, ago(hours=1))

    world.plan.refresh_from_db()
    assert world.plan.status == PlanStatus.COMPLETED
    stay = stay_of(death)
    assert (stay.status, stay.end_reason) == (StayStatus.FINISHED, StayEnd.DIED)
    assert state_of(reminders["patient"]) == NotificationState.CANCELLED
    assert state_of(reminders["staff"]) == NotificationState.CANCELLED  # task reminders stop with the plan
    # What is owed to others about the plan (a secretariat's escalation) is not the patient's to cancel.
    assert state_of(reminders["organisation"]) == NotificationState.PENDING
    counted = death.effects.get(kind=TransitionEffectKind.REMINDERS_CANCELLED)
    assert counted.count == to_patient
    assert not waiting.filter(
        kind__in=[NotificationKind.TASK_DUE_SOON, NotificationKind.APPOINTMENT_REMINDER]
    ).exclude(pk=reminders["organisation"].pk)
    assert death.effects.get(kind=TransitionEffectKind.PLAN_COMPLETED).status_before == PlanStatus.ACTIVE
    assert notices(world, NotificationKind.PATIENT_DIED) >= {
        ("home_nurse", NotificationChannel.IN_APP),
        ("gp_doctor", NotificationChannel.IN_APP),
        ("coordinator", NotificationChannel.IN_APP),
    }


def test_cancelling_a_death_reopens_the_plan_and_makes_the_reminders_still_due_again(world, tasks, reminders):
    record(world, ADMISSION, ago(days=1))
    death = record(world, DEATH, ago(hours=1))

    stays.transition_cancel(actor=None, transition=death)  # AN_MORS

    world.plan.refresh_from_db()
    assert world.plan.status == PlanStatus.ACTIVE
    assert state_of(reminders["patient"]) == NotificationState.PENDING
    assert state_of(reminders["staff"]) == NotificationState.PENDING
    stay = stay_of(death)
    assert (stay.status, stay.ended_at, stay.end_reason) == (StayStatus.IN_PROGRESS, None, "")
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}  # still in hospital


def test_correcting_the_time_of_death_keeps_the_plan_completed(world, tasks, reminders):
    record(world, ADMISSION, ago(days=1))
    death = record(world, DEATH, ago(hours=1))

    corrected = stays.transition_correct(
        actor=world.hospital_doctor, transition=death, occurred_at=ago(hours=3)
    )

    world.plan.refresh_from_db()
    assert world.plan.status == PlanStatus.COMPLETED
    assert stay_of(corrected).ended_at == corrected.occurred_at
    assert state_of(reminders["patient"]) == NotificationState.CANCELLED
    assert corrected.effects.get(kind=TransitionEffectKind.PLAN_COMPLETED).status_before == PlanStatus.ACTIVE


# --- Transfers and acute ambulant care becoming an admission --------------------------------------------


@pytest.fixture
def other_hospital(db) -> Organisation:
    return Organisation.objects.create(name="Rigshospitalet", sector=Sector.HOSPITAL, sor_code="1002")


def test_a_transfer_ends_the_first_stay_and_the_new_hospitals_discharge_resumes_the_held_tasks(
    world, tasks, other_hospital
):
    first = record(world, ADMISSION, ago(days=2))
    # The receiving hospital's STIN, no SLHJ from the sending one.
    second = record(
        world, ADMISSION, ago(days=1), actor=None, hospital=other_hospital, source=TransitionSource.MEDCOM
    )

    old = stay_of(first)
    assert (old.status, old.end_reason, old.ended_at) == (
        StayStatus.FINISHED,
        StayEnd.TRANSFERRED,
        second.occurred_at,
    )
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    assert "Rigshospitalet" in fresh(tasks.visit).hold_reason
    kept = second.effects.get(task=tasks.visit, kind=TransitionEffectKind.TASK_PAUSED)
    assert kept.status_before == TaskStatus.ON_HOLD

    record(
        world, DISCHARGE, ago(hours=1), actor=None, hospital=other_hospital, source=TransitionSource.MEDCOM
    )

    assert held(world) == set()  # nothing left on hold
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED
    assert fresh(tasks.gp).status == TaskStatus.REQUESTED


def test_cancelling_a_transfer_hands_the_tasks_back_to_the_first_stay(world, tasks, other_hospital):
    first = record(world, ADMISSION, ago(days=2))
    second = record(
        world, ADMISSION, ago(days=1), actor=None, hospital=other_hospital, source=TransitionSource.MEDCOM
    )

    stays.transition_cancel(actor=None, transition=second)

    old = stay_of(first)
    assert (old.status, old.ended_at, old.end_reason) == (StayStatus.IN_PROGRESS, None, "")
    assert stay_of(second).status == StayStatus.CANCELLED
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    assert "Medicinsk afdeling" in fresh(tasks.visit).hold_reason
    record(world, DISCHARGE, ago(hours=1))
    assert held(world) == set()


def test_correcting_the_time_of_a_transfer_moves_the_end_of_the_first_stay(world, tasks, other_hospital):
    first = record(world, ADMISSION, ago(days=2))
    second = record(
        world, ADMISSION, ago(days=1), actor=None, hospital=other_hospital, source=TransitionSource.MEDCOM
    )

    corrected = stays.transition_correct(actor=None, transition=second, occurred_at=ago(hours=30))

    old = stay_of(first)
    assert (old.status, old.end_reason, old.ended_at) == (
        StayStatus.FINISHED,
        StayEnd.TRANSFERRED,
        corrected.occurred_at,
    )
    assert stay_of(corrected).started_at == corrected.occurred_at
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    assert "Rigshospitalet" in fresh(tasks.visit).hold_reason
    with pytest.raises(ValidationError, match="forrige hændelse"):
        stays.transition_correct(actor=None, transition=corrected, occurred_at=ago(days=3))


def test_acute_ambulant_care_becoming_an_admission_keeps_the_tasks_held_until_discharge(world, tasks):
    acute = record(world, ACUTE, ago(hours=6))
    assert stay_of(acute).stay_class == StayClass.ACUTE_AMBULANT
    assert "Medicinsk afdeling" in fresh(tasks.visit).hold_reason

    admitted = record(world, ADMISSION, ago(hours=4))

    assert (stay_of(acute).status, stay_of(acute).end_reason) == (StayStatus.FINISHED, StayEnd.CONVERTED)
    assert stay_of(admitted).stay_class == StayClass.INPATIENT
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    record(world, DISCHARGE, ago(hours=1))
    assert held(world) == set()
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED


# --- Leave -----------------------------------------------------------------------------------------------


def test_leave_does_not_restart_the_municipalitys_services_unless_the_plan_says_so(world, tasks):
    record(world, ADMISSION, ago(days=2))
    leave = record(world, LEAVE_START, ago(days=1))

    assert stay_of(leave).status == StayStatus.ON_LEAVE
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    assert ("home_nurse", NotificationChannel.IN_APP) in notices(world, NotificationKind.PATIENT_ON_LEAVE)
    back = record(world, LEAVE_END, ago(hours=5))
    assert stay_of(back).status == StayStatus.IN_PROGRESS
    record(world, DISCHARGE, ago(hours=1))
    assert held(world) == set()


def test_with_services_resumed_on_leave_the_tasks_resume_at_leave_and_are_held_again_after(world, tasks):
    world.plan.resume_services_on_leave = True
    world.plan.save(update_fields=["resume_services_on_leave"])
    record(world, ADMISSION, ago(days=2))
    leave = record(world, LEAVE_START, ago(days=1))

    assert held(world) == set()
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED
    assert leave.effects.filter(kind=TransitionEffectKind.TASK_RESUMED).count() == 2
    back = record(world, LEAVE_END, ago(hours=5))
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}
    # Cancelling the return from leave resumes them again; the discharge leaves nothing held.
    stays.transition_cancel(actor=world.hospital_doctor, transition=back)
    assert held(world) == set()
    assert stay_of(back).status == StayStatus.ON_LEAVE
    record(world, DISCHARGE, ago(hours=1))
    assert held(world) == set()
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED


def test_cancelling_leave_puts_the_patient_back_in_hospital(world, tasks):
    record(world, ADMISSION, ago(days=2))
    leave = record(world, LEAVE_START, ago(days=1))

    stays.transition_cancel(actor=world.hospital_doctor, transition=leave)

    assert stay_of(leave).status == StayStatus.IN_PROGRESS
    with pytest.raises(ValidationError, match="ikke på orlov"):
        record(world, LEAVE_END, ago(hours=1))


# --- Corrections and cancellations of admissions --------------------------------------------------------


def test_correcting_an_admissions_time_works_out_again_which_tasks_are_held(world, tasks):
    overdue = make_task(world, "Blodtryk", world.gp, -3)
    admission = record(world, ADMISSION, ago(hours=1))
    assert fresh(overdue).status == TaskStatus.REQUESTED  # due before the admission

    corrected = stays.transition_correct(
        actor=world.hospital_doctor, transition=admission, occurred_at=ago(days=5)
    )

    admission.refresh_from_db()
    assert admission.state == TransitionState.CORRECTED
    assert not admission.effects.filter(reversed_at__isnull=True).exists()
    assert fresh(overdue).status == TaskStatus.ON_HOLD
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge", "Blodtryk"}
    assert stay_of(corrected).started_at == corrected.occurred_at
    assert corrected.effects.filter(kind=TransitionEffectKind.TASK_PAUSED).count() == 3


def test_correcting_an_admission_after_its_discharge_only_moves_its_time(world, tasks):
    admission = record(world, ADMISSION, ago(days=3))
    discharge = record(world, DISCHARGE, ago(hours=1))

    corrected = stays.transition_correct(
        actor=world.hospital_doctor, transition=admission, occurred_at=ago(days=4)
    )

    assert held(world) == set()
    assert stay_of(discharge).started_at == corrected.occurred_at
    # What it did stands, now as the correction's: cancelling the stay still undoes it all.
    assert corrected.effects.filter(kind=TransitionEffectKind.TASK_PAUSED).count() == 2
    stays.transition_cancel(actor=world.hospital_doctor, transition=corrected)
    assert Transition.objects.get(pk=discharge.pk).state == TransitionState.CANCELLED
    assert held(world) == set()
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED


def test_cancelling_an_admission_cancels_its_stay_with_every_later_event(world, tasks):
    admission = record(world, ADMISSION, ago(days=2))
    leave = record(world, LEAVE_START, ago(days=1))

    stays.transition_cancel(actor=world.hospital_doctor, transition=admission)

    assert Transition.objects.get(pk=leave.pk).state == TransitionState.CANCELLED
    assert stay_of(admission).status == StayStatus.CANCELLED
    assert held(world) == set()
    assert fresh(tasks.visit).status == TaskStatus.ACCEPTED
    # A new admission is possible at once.
    record(world, ADMISSION, ago(hours=1))
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}


def test_an_event_with_later_events_in_its_stay_is_not_cancelled_on_its_own(world, tasks):
    record(world, ADMISSION, ago(days=2))
    leave = record(world, LEAVE_START, ago(days=1))
    record(world, LEAVE_END, ago(hours=5))

    with pytest.raises(ValidationError, match="senere hændelse"):
        stays.transition_cancel(actor=world.hospital_doctor, transition=leave)
    assert Transition.objects.get(pk=leave.pk).state == TransitionState.APPLIED


def test_a_discharge_is_not_cancelled_once_a_later_stay_began(world, tasks):
    record(world, ADMISSION, ago(days=3))
    discharge = record(world, DISCHARGE, ago(days=2))
    record(world, ADMISSION, ago(days=1))
    with pytest.raises(ValidationError, match="senere ophold"):
        stays.transition_cancel(actor=world.hospital_doctor, transition=discharge)


# --- Bad input and rights ---------------------------------------------------------------------------------


def nothing_written() -> bool:
    return not (
        HospitalStay.objects.exists() or Transition.objects.exists() or TransitionEffect.objects.exists()
    )


def test_a_time_far_ahead_is_refused_and_nothing_is_written(world, tasks):
    with pytest.raises(ValidationError, match="i fremtiden"):
        record(world, ADMISSION, timezone.now() + timedelta(days=2))
    assert nothing_written()
    assert held(world) == set()


def test_a_time_more_than_a_year_back_is_refused_and_nothing_is_written(world, tasks):
    with pytest.raises(ValidationError, match="mere end et år siden"):
        record(world, ADMISSION, ago(days=400))
    assert nothing_written()


def test_a_second_admission_by_hand_to_the_same_hospital_is_refused_not_taken_for_a_transfer(world, tasks):
    first = record(world, ADMISSION, ago(days=2))
    with pytest.raises(ValidationError, match="allerede indlagt"):
        record(world, ADMISSION, ago(hours=2))
    stay = stay_of(first)
    assert (stay.status, stay.end_reason) == (StayStatus.IN_PROGRESS, "")
    assert HospitalStay.objects.filter(patient=world.patient).count() == 1


def test_the_organisations_given_a_follow_up_are_told_of_it_at_discharge(world, tasks, discharge_rules):
    record(world, ADMISSION, ago(days=3))
    discharge = record(world, DISCHARGE, ago(hours=1))
    gp_follow_up = Task.objects.get(created_by_transition=discharge, responsible_organisation=world.gp)
    told = Notification.objects.filter(
        kind=NotificationKind.TASK_ASSIGNED,
        task=gp_follow_up,
        recipient_type=ContentType.objects.get_for_model(User),
        recipient_id=world.gp_doctor.pk,
    )
    assert set(told.values_list("channel", flat=True)) >= {NotificationChannel.IN_APP}


def test_leave_or_discharge_without_a_stay_is_refused(world, tasks):
    for kind in (LEAVE_START, LEAVE_END, DISCHARGE, DEATH):
        with pytest.raises(ValidationError, match="registrér indlæggelsen først"):
            record(world, kind, ago(hours=1))
    assert nothing_written()


def test_a_discharge_before_its_admission_is_refused(world, tasks):
    admission = record(world, ADMISSION, ago(hours=2))
    with pytest.raises(ValidationError, match="forrige hændelse"):
        record(world, DISCHARGE, ago(hours=5))
    assert stay_of(admission).status == StayStatus.IN_PROGRESS
    assert Transition.objects.count() == 1
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}


def test_an_admission_needs_a_current_plan_and_a_fitting_kind_of_stay(world):
    patient = services.patient_create(
        cpr="0303034321", given_name="Uden", family_name="Plan", home_municipality="265"
    )
    with pytest.raises(ValidationError, match="ingen aktuel forløbsplan"):
        stays.transition_record(
            actor=None, patient=patient, kind=ADMISSION, occurred_at=ago(hours=1), hospital=world.hospital
        )
    with pytest.raises(ValidationError, match="akut ambulant"):
        record(world, ADMISSION, ago(hours=1), stay_class=StayClass.ACUTE_AMBULANT)
    assert nothing_written()


@pytest.mark.parametrize("role", ["home_nurse", "gp_doctor", "coordinator", "outsider"])
def test_only_hospital_and_psychiatry_staff_taking_part_record_events(world, tasks, role):
    with pytest.raises(PermissionDenied):
        record(world, ADMISSION, ago(hours=1), actor=role)
    assert nothing_written()


def test_psychiatry_taking_part_records_events_too(world, tasks):
    psychiatry = Organisation.objects.create(
        name="Psykiatrisk afdeling", sector=Sector.PSYCHIATRY, sor_code="1003"
    )
    services.participant_add(actor=None, plan=world.plan, organisation=psychiatry)
    nurse = make_user("psychiatry_nurse", psychiatry)

    admission = stays.transition_record(
        actor=nurse, patient=world.patient, kind=ADMISSION, occurred_at=ago(hours=1), hospital=psychiatry
    )

    assert stay_of(admission).hospital == psychiatry
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}


def test_a_hospital_doctor_admits_only_to_their_own_hospital_and_undoes_only_what_was_entered_by_hand(
    world, tasks, other_hospital
):
    with pytest.raises(PermissionDenied):
        record(world, ADMISSION, ago(hours=2), hospital=other_hospital)
    received = record(world, ADMISSION, ago(hours=1), actor=None, source=TransitionSource.MEDCOM)
    with pytest.raises(PermissionDenied):
        stays.transition_cancel(actor=world.hospital_doctor, transition=received)
    with pytest.raises(PermissionDenied):
        stays.transition_correct(actor=world.home_nurse, transition=received, occurred_at=ago(hours=3))
    assert Transition.objects.get(pk=received.pk).state == TransitionState.APPLIED


# --- History ---------------------------------------------------------------------------------------------


def test_the_plans_history_names_each_event_and_what_it_changed(world, tasks):
    admission = record(world, ADMISSION, ago(hours=1))

    with translation.override("da"):
        entries = selectors.plan_history(plan=world.plan)
        when = date_format(timezone.localtime(admission.occurred_at), "j. F Y H:i")
        label = str(TransitionKind.ADMISSION.label)
        reason = fresh(tasks.visit).hold_reason
    events = [entry for entry in entries if entry.record == f"{label} · {when}"]
    assert len(events) == 1
    visit_changes = [
        change for entry in entries if entry.record == tasks.visit.title for change in entry.changes
    ]
    assert any(change.after == reason for change in visit_changes)


def test_the_history_page_lists_the_event_for_everyone_in_the_plan(client, world, tasks):
    record(world, ADMISSION, ago(hours=1))
    sign_in(client, world.gp_doctor)
    response = client.get(reverse("pathways:plan-history", args=[world.plan.public_id]))
    assert response.status_code == 200
    with translation.override("da"):
        assert str(Transition._meta.verbose_name).capitalize() in response.content.decode()


# --- The plan page ---------------------------------------------------------------------------------------


def plan_page(client, world, user):
    sign_in(client, user)
    return client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]))


def test_the_plan_page_shows_the_stays_what_each_event_changed_and_who_is_in_hospital(client, world, tasks):
    admission = record(world, ADMISSION, ago(hours=1))

    html = plan_page(client, world, world.home_nurse).content.decode()
    assert 'id="stays"' in html
    assert 'id="in-hospital"' in html
    assert f'id="stay-event-{admission.public_id}"' in html
    assert f'href="#task-{tasks.visit.public_id}"' in html  # the held task, linked
    assert 'data-effect="paused"' in html
    # The home nurse reads; recording is for the hospital.
    assert reverse("pathways:stay-event-record-partial", args=[world.plan.public_id]) not in html
    assert (
        reverse("pathways:stay-event-cancel-partial", args=[world.plan.public_id, admission.public_id])
        not in html
    )


def test_the_hospital_sees_the_buttons_on_events_entered_by_hand_only(client, world, tasks):
    manual = record(world, ADMISSION, ago(days=1))
    received = record(world, DISCHARGE, ago(hours=1), actor=None, source=TransitionSource.MEDCOM)

    html = plan_page(client, world, world.hospital_doctor).content.decode()
    assert reverse("pathways:stay-event-record-partial", args=[world.plan.public_id]) in html
    assert (
        reverse("pathways:stay-event-correct-partial", args=[world.plan.public_id, manual.public_id]) in html
    )
    for name in ("pathways:stay-event-correct-partial", "pathways:stay-event-cancel-partial"):
        assert reverse(name, args=[world.plan.public_id, received.public_id]) not in html
    assert 'id="in-hospital"' not in html  # discharged


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_stays_section_reads_in_the_same_number_of_queries_for_one_stay_and_for_ten(client, world, tasks):
    sign_in(client, world.home_nurse)
    url = reverse("pathways:plan-detail", args=[world.plan.public_id])

    def stay(days_ago: int) -> None:
        record(world, ADMISSION, ago(days=days_ago))
        record(world, DISCHARGE, ago(days=days_ago - 0.5))

    stay(30)
    one = count_queries(client, url)
    for days_ago in range(28, 10, -2):
        stay(days_ago)
    assert HospitalStay.objects.count() == 10
    ten = count_queries(client, url)
    assert ten == one


# --- The forms -------------------------------------------------------------------------------------------


def form_body(when: datetime, **extra) -> dict[str, str]:
    local = timezone.localtime(when)
    return {"day": local.date().isoformat(), "time": local.strftime("%H:%M")} | extra


def test_a_hospital_doctor_records_an_admission_on_the_plan_page(client, world, tasks):
    sign_in(client, world.hospital_doctor)
    url = reverse("pathways:stay-event-record-partial", args=[world.plan.public_id])
    assert client.get(url).status_code == 200
    body = form_body(
        ago(hours=1), event="admission", stay_class=StayClass.INPATIENT, hospital=world.hospital.public_id
    )

    response = client.post(url, body)

    assert response.status_code == 302
    assert response["Location"].endswith("#stays")
    [admission] = Transition.objects.all()
    assert (admission.kind, admission.source, admission.recorded_by) == (
        ADMISSION,
        TransitionSource.MANUAL,
        world.hospital_doctor,
    )
    assert held(world) == {"Hjemmebesøg efter plan", "Kontrol hos egen læge"}


def test_recording_with_htmx_reloads_the_plan_page(client, world, tasks):
    sign_in(client, world.hospital_doctor)
    url = reverse("pathways:stay-event-record-partial", args=[world.plan.public_id])
    body = form_body(
        ago(hours=1),
        event="admission",
        stay_class=StayClass.ACUTE_AMBULANT,
        hospital=world.hospital.public_id,
    )
    response = client.post(url, body, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert Transition.objects.get().kind == ACUTE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event": "admission", "hospital": "x"}, "stay_class"),  # no kind of stay, no such hospital
        ({"event": "discharge"}, "registrér indlæggelsen først"),  # no stay to discharge
        ({"event": "admission", "stay_class": "inpatient", "days_ahead": 3}, "i fremtiden"),
        ({"event": "lunch"}, "event"),
    ],
)
def test_bad_input_shows_the_form_again_and_writes_nothing(client, world, tasks, body, message):
    sign_in(client, world.hospital_doctor)
    url = reverse("pathways:stay-event-record-partial", args=[world.plan.public_id])
    when = timezone.now() + timedelta(days=body.pop("days_ahead", 0)) - timedelta(hours=1)
    data = form_body(when, hospital=world.hospital.public_id) | body

    response = client.post(url, data)

    assert response.status_code == 422
    assert message in str(response.context["form"].errors)
    assert nothing_written()
    assert held(world) == set()


@pytest.mark.parametrize(
    ("role", "status"), [("home_nurse", 403), ("gp_doctor", 403), ("coordinator", 403), ("outsider", 404)]
)
def test_others_cannot_record(client, world, tasks, role, status):
    sign_in(client, getattr(world, role))
    url = reverse("pathways:stay-event-record-partial", args=[world.plan.public_id])
    body = form_body(
        ago(hours=1), event="admission", stay_class="inpatient", hospital=world.hospital.public_id
    )
    assert client.get(url).status_code == status
    assert client.post(url, body).status_code == status
    assert nothing_written()


def test_the_hospital_corrects_and_cancels_an_event_on_the_plan_page(client, world, tasks):
    admission = record(world, ADMISSION, ago(hours=1))
    sign_in(client, world.hospital_doctor)
    correct = reverse("pathways:stay-event-correct-partial", args=[world.plan.public_id, admission.public_id])
    assert client.get(correct).status_code == 200

    response = client.post(correct, form_body(ago(days=1)))

    assert response.status_code == 302
    corrected = Transition.objects.get(corrects=admission)
    assert timezone.localtime(corrected.occurred_at).date() == day_of(ago(days=1))
    # The correction is cancelled: the stay is gone and what it held is resumed.
    cancel = reverse("pathways:stay-event-cancel-partial", args=[world.plan.public_id, corrected.public_id])
    assert client.post(cancel, {"note": "Forkert patient"}).status_code == 302
    assert Transition.objects.get(pk=corrected.pk).state == TransitionState.CANCELLED
    assert held(world) == set()
    # A cancelled event is cancelled no more and corrected never.
    again = client.post(correct, form_body(ago(days=2)))
    assert again.status_code == 422
    assert not Transition.objects.filter(corrects=corrected).exists()


def test_a_correction_out_of_place_is_shown_on_the_form(client, world, tasks):
    record(world, ADMISSION, ago(days=2))
    discharge = record(world, DISCHARGE, ago(hours=2))
    sign_in(client, world.hospital_doctor)
    url = reverse("pathways:stay-event-correct-partial", args=[world.plan.public_id, discharge.public_id])

    response = client.post(url, form_body(ago(days=3)))  # before the admission

    assert response.status_code == 422
    assert Transition.objects.get(pk=discharge.pk).state == TransitionState.APPLIED
    assert not Transition.objects.filter(corrects=discharge).exists()


def test_events_received_from_a_hospital_are_not_changed_by_hand(client, world, tasks):
    received = record(world, ADMISSION, ago(hours=1), actor=None, source=TransitionSource.MEDCOM)
    sign_in(client, world.hospital_doctor)
    for name in ("pathways:stay-event-correct-partial", "pathways:stay-event-cancel-partial"):
        url = reverse(name, args=[world.plan.public_id, received.public_id])
        assert client.get(url).status_code == 403
        assert client.post(url, form_body(ago(hours=3))).status_code == 403
    assert Transition.objects.get(pk=received.pk).state == TransitionState.APPLIED
