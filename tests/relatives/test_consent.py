"""Relatives on a plan and the patient's consent: adding relatives (children get their checklist), the
consent lifecycle (give, narrow, withdraw: at once, in one transaction), the patient who cannot consent,
reminders only within the consent's scope, and the words the patient and the relative are sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.text import capfirst

from pathways import outbox
from pathways import services as hub
from pathways.choices import NotificationChannel, NotificationKind, NotificationState, PlanStatus, TaskKind
from pathways.models import Notification
from pathways.selectors import plan_history
from pathways.services import VersionConflict
from relatives import access, services
from relatives.choices import (
    CapacityLoss,
    ChildCareStep,
    ConsentAction,
    ConsentDecider,
    ConsentMethod,
    ConsentScope,
    Relation,
    RelativeChannel,
    RepresentativeBasis,
)
from relatives.models import ChildChecklistItem, Relative, RelativeConsent

WAITING = (NotificationState.PENDING, NotificationState.SENDING)


def add(world, **fields) -> Relative:
    values = {
        "name": "Mette Testesen",
        "relation": Relation.CHILD,
        "phone": "22 41 63 18",
        "email": "mette@example.dk",
        "preferred_channel": RelativeChannel.SMS,
    } | fields
    return services.relative_add(actor=world.coordinator, plan=world.plan, **values)


def decide(world, relative, scope=ConsentScope.WHOLE_PLAN, **fields) -> RelativeConsent:
    values = {"method": ConsentMethod.SPOKEN, "coercion_checked": scope != ConsentScope.NONE} | fields
    return services.relative_consent_record(actor=world.coordinator, relative=relative, scope=scope, **values)


def to_relative(relative, **filters):
    return Notification.objects.addressed_to(relative).filter(**filters)


@pytest.fixture
def relative(world) -> Relative:
    return add(world)


@pytest.fixture
def appointment(world):
    """An appointment the patient sees, ten days ahead: reminders go out two days before."""
    return hub.task_create(
        actor=world.home_nurse,
        plan=world.plan,
        title="Kontrol af lungefunktion",
        responsible_organisation=world.municipality,
        kind=TaskKind.APPOINTMENT,
        due_date=timezone.localdate() + timedelta(days=10),
    )


def appointment_reminders(relative, **filters):
    return to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER, **filters)


# --- Relatives on the plan ----------------------------------------------------------------------------------


def test_a_relative_is_added_by_staff_for_their_organisation(world, relative):
    assert relative.plan == world.plan
    assert relative.added_by == world.coordinator
    assert relative.added_by_organisation == world.municipality  # the coordinator's organisation
    assert relative.phone == "22 41 63 18"
    assert access.relative_scope(relative) == ConsentScope.NONE  # not involved until the patient decides


def test_a_participating_clinician_adds_a_relative_for_their_own_organisation(world):
    relative = services.relative_add(
        actor=world.hospital_doctor, plan=world.plan, name="Jens", relation=Relation.SPOUSE, phone="22334455"
    )
    assert relative.added_by_organisation == world.hospital


def test_staff_outside_the_plan_may_not_add_relatives(world):
    with pytest.raises(PermissionDenied):
        services.relative_add(actor=world.outsider, plan=world.plan, name="Jens", relation=Relation.SPOUSE)
    assert not Relative.objects.exists()


def test_an_organisation_the_user_does_not_work_for_is_refused(world):
    with pytest.raises(ValidationError) as refused:
        services.relative_add(
            actor=world.gp_doctor,
            plan=world.plan,
            organisation=world.hospital,
            name="Jens",
            relation=Relation.SPOUSE,
            phone="22334455",
        )
    assert "organisation" in refused.value.message_dict
    assert not Relative.objects.exists()


def test_a_child_relative_gets_the_checklist_at_once_and_no_channel_of_their_own(world):
    child = add(world, name="Alma", relation=Relation.GRANDCHILD, is_child=True, child_age=9, phone="")
    steps = set(ChildChecklistItem.objects.filter(relative=child).values_list("step", flat=True))
    assert steps == set(ChildCareStep.values)
    assert child.preferred_channel == RelativeChannel.NONE
    assert child.notification_address(NotificationChannel.SMS) == ""


def test_a_relative_made_a_child_gets_the_checklist_and_their_waiting_messages_stop(world, relative):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    outbox.notify(
        recipient=relative,
        kind=NotificationKind.PLAN_STATUS_CHANGED,
        channel=NotificationChannel.SMS,
        plan=world.plan,
        due_at=timezone.now() + timedelta(days=1),
    )
    changed = services.relative_update(
        actor=world.coordinator,
        relative=relative,
        expected_version=relative.version,
        is_child=True,
        child_age=15,
    )
    assert ChildChecklistItem.objects.filter(relative=changed).count() == len(ChildCareStep)
    assert not to_relative(relative, state__in=WAITING).exists()
    assert access.relative_scope(changed) == ConsentScope.NONE  # a child never sees the plan


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"relation": "boss"}, "relation"),
        ({"phone": "ring mig"}, "phone"),
        ({"email": "mette@"}, "email"),
        ({"preferred_channel": RelativeChannel.EMAIL, "email": ""}, "preferred_channel"),
        ({"preferred_channel": RelativeChannel.SMS, "phone": ""}, "preferred_channel"),
        ({"preferred_channel": RelativeChannel.LETTER}, "preferred_channel"),
        ({"language": "Danish"}, "language"),
        ({"child_age": 12}, "child_age"),
        ({"is_child": True, "child_age": 18}, "child_age"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_bad_details_are_refused_field_by_field_and_nothing_is_written(world, fields, field):
    with pytest.raises(ValidationError) as refused:
        add(world, **fields)
    assert field in refused.value.message_dict
    assert refused.value.message_dict[field][0]  # a message a user can read
    assert not Relative.objects.exists()


def test_a_second_closest_relative_is_a_clear_error_not_an_integrity_error(world, relative):
    services.relative_update(
        actor=world.coordinator, relative=relative, expected_version=relative.version, is_closest=True
    )
    with pytest.raises(ValidationError) as refused:
        add(world, name="Jens", relation=Relation.SPOUSE, is_closest=True)
    assert (
        "Mette Testesen er allerede patientens nærmeste pårørende"
        in refused.value.message_dict["is_closest"][0]
    )
    second = add(world, name="Jens", relation=Relation.SPOUSE)
    with pytest.raises(ValidationError) as refused_again:
        services.relative_update(
            actor=world.coordinator, relative=second, expected_version=second.version, is_closest=True
        )
    assert "is_closest" in refused_again.value.message_dict


def test_an_unchanged_save_writes_nothing_and_a_stale_version_is_a_conflict(world, relative):
    same = services.relative_update(
        actor=world.coordinator, relative=relative, expected_version=relative.version, name=relative.name
    )
    assert same.version == relative.version
    changed = services.relative_update(
        actor=world.coordinator, relative=relative, expected_version=relative.version, name="Mette T."
    )
    assert changed.version == relative.version + 1
    with pytest.raises(VersionConflict):
        services.relative_update(
            actor=world.coordinator, relative=relative, expected_version=relative.version, name="Mette"
        )
    assert Relative.objects.get(pk=relative.pk).name == "Mette T."


def test_a_removed_relative_loses_access_at_once_and_gets_no_decision(world, relative, appointment):
    decide(world, relative, ConsentScope.APPOINTMENTS)
    assert appointment_reminders(relative, state=NotificationState.PENDING).exists()
    removed = services.relative_remove(
        actor=world.coordinator, relative=relative, expected_version=relative.version
    )
    assert removed.ended_at is not None
    assert removed.sessions_ended_at is not None
    assert access.relative_scope(relative) == ConsentScope.NONE
    assert not to_relative(relative, state__in=WAITING).exists()
    with pytest.raises(ValidationError, match="fjernet fra planen"):
        decide(world, relative, ConsentScope.WHOLE_PLAN)
    again = services.relative_remove(actor=world.coordinator, relative=relative, expected_version=1)
    assert again.ended_at == removed.ended_at  # removing twice changes nothing


# --- The consent lifecycle ----------------------------------------------------------------------------------


def test_consent_is_given_narrowed_and_withdrawn_at_once(world, relative, appointment):
    given = decide(world, relative, ConsentScope.WHOLE_PLAN, coercion_note="Talt med Kirsten alene.")
    assert given.action == ConsentAction.GIVEN
    assert given.recorded_by == world.coordinator
    assert given.recorded_by_organisation == world.municipality
    assert access.relative_scope(relative) == ConsentScope.WHOLE_PLAN
    assert appointment_reminders(relative, state=NotificationState.PENDING).count() == 1

    narrowed = decide(world, relative, ConsentScope.APPOINTMENTS)
    assert narrowed.action == ConsentAction.CHANGED
    assert access.relative_scope(relative) == ConsentScope.APPOINTMENTS
    assert appointment_reminders(relative, state=NotificationState.PENDING).count() == 1

    # A message of another kind waiting for the relative, and one a worker holds right now.
    later = outbox.notify(
        recipient=relative,
        kind=NotificationKind.PLAN_STATUS_CHANGED,
        channel=NotificationChannel.SMS,
        plan=world.plan,
        due_at=timezone.now() + timedelta(hours=3),
    )
    Notification.objects.filter(dedupe_key=later).update(
        state=NotificationState.SENDING, lease_until=timezone.now() + timedelta(minutes=5)
    )
    revoked = services.relative_consent_revoke(
        actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN, note="Ønsker det ikke mere."
    )

    assert revoked.action == ConsentAction.REVOKED
    assert revoked.scope == ConsentScope.NONE
    assert access.relative_scope(relative) == ConsentScope.NONE  # at once, read fresh
    assert not appointment_reminders(relative, state__in=WAITING).exists()
    assert Notification.objects.get(dedupe_key=later).state == NotificationState.CANCELLED
    assert Relative.objects.get(pk=relative.pk).sessions_ended_at is not None
    # The patient and the relative are told; the relative's notice survives the cancelling.
    patient_told = Notification.objects.addressed_to(world.patient).get(kind=NotificationKind.CONSENT_REVOKED)
    relative_told = to_relative(relative, kind=NotificationKind.CONSENT_REVOKED).get()
    assert patient_told.state == relative_told.state == NotificationState.PENDING
    assert relative_told.channel == NotificationChannel.SMS
    # The history is kept: every decision, none changed, and the database refuses to change one.
    history = list(RelativeConsent.objects.filter(relative=relative).order_by("recorded_at", "id"))
    assert [c.action for c in history] == [ConsentAction.GIVEN, ConsentAction.CHANGED, ConsentAction.REVOKED]
    assert [c.scope for c in history] == [
        ConsentScope.WHOLE_PLAN,
        ConsentScope.APPOINTMENTS,
        ConsentScope.NONE,
    ]
    assert history[0].coercion_note == "Talt med Kirsten alene."
    with pytest.raises(DatabaseError), transaction.atomic():
        RelativeConsent.objects.filter(pk=given.pk).update(scope=ConsentScope.NONE)
    assert RelativeConsent.objects.get(pk=given.pk).scope == ConsentScope.WHOLE_PLAN


def test_a_first_decision_not_to_involve_is_a_refusal_and_a_later_one_gives_consent(world, relative):
    assert decide(world, relative, ConsentScope.NONE).action == ConsentAction.REFUSED
    assert decide(world, relative, ConsentScope.CONTACT_ONLY).action == ConsentAction.GIVEN
    assert decide(world, relative, ConsentScope.NONE).action == ConsentAction.REVOKED


def test_withdrawing_what_involves_no_one_is_refused_clearly(world, relative):
    with pytest.raises(ValidationError, match="intet samtykke, der kan tilbagekaldes"):
        services.relative_consent_revoke(
            actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN
        )
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)
    with pytest.raises(ValidationError, match="intet samtykke, der kan tilbagekaldes"):
        services.relative_consent_revoke(
            actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN
        )
    assert RelativeConsent.objects.filter(relative=relative).count() == 2


def test_staff_outside_the_plan_may_not_record_or_withdraw(world, relative):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    with pytest.raises(PermissionDenied):
        services.relative_consent_record(
            actor=world.outsider,
            relative=relative,
            scope=ConsentScope.NONE,
            method=ConsentMethod.SPOKEN,
        )
    with pytest.raises(PermissionDenied):
        services.relative_consent_revoke(actor=world.outsider, relative=relative, method=ConsentMethod.SPOKEN)
    assert RelativeConsent.objects.filter(relative=relative).count() == 1


def test_involving_a_relative_needs_the_check_for_pressure(world, relative):
    with pytest.raises(ValidationError) as refused:
        decide(world, relative, ConsentScope.APPOINTMENTS, coercion_checked=False)
    assert refused.value.message_dict["coercion_checked"] == [
        "Bekræft, at du har tjekket, at patienten ikke er under pres."
    ]
    assert not RelativeConsent.objects.exists()


def test_a_child_is_never_given_access_of_their_own(world):
    child = add(world, name="Alma", is_child=True, child_age=9)
    with pytest.raises(ValidationError) as refused:
        decide(world, child, ConsentScope.WHOLE_PLAN)
    assert "scope" in refused.value.message_dict
    decide(world, child, ConsentScope.CONTACT_ONLY)
    assert access.relative_scope(child) == ConsentScope.NONE


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scope": "everything"}, "scope"),
        ({"method": "telepathy"}, "method"),
        ({"decided_by": "neighbour"}, "decided_by"),
        ({"note": "x" * 2001}, "note"),
        ({"coercion_note": "x" * 1001}, "coercion_note"),
        (
            {"valid_from": timezone.localdate(), "valid_until": timezone.localdate() - timedelta(days=1)},
            "valid_until",
        ),
    ],
)
def test_a_bad_decision_is_refused_field_by_field_and_nothing_is_written(world, relative, fields, field):
    values = {"scope": ConsentScope.WHOLE_PLAN} | fields
    with pytest.raises(ValidationError) as refused:
        decide(world, relative, **values)
    assert field in refused.value.message_dict
    assert not RelativeConsent.objects.exists()


# --- A patient who cannot consent ---------------------------------------------------------------------------


def test_a_representative_decision_names_who_on_what_basis_and_why(world, relative):
    with pytest.raises(ValidationError) as refused:
        decide(world, relative, ConsentScope.WHOLE_PLAN, decided_by=ConsentDecider.REPRESENTATIVE)
    assert set(refused.value.message_dict) >= {
        "representative_name",
        "representative_basis",
        "capacity_loss",
        "capacity_note",
    }
    assert not RelativeConsent.objects.exists()
    consent = decide(
        world,
        relative,
        ConsentScope.WHOLE_PLAN,
        decided_by=ConsentDecider.REPRESENTATIVE,
        representative_name="Søren Testesen",
        representative_basis=RepresentativeBasis.LASTING_POWER,
        capacity_loss=CapacityLoss.LASTING,
        capacity_note="Svær demens; kan ikke overskue planen.",
    )
    assert consent.decided_by == ConsentDecider.REPRESENTATIVE
    assert consent.representative_name == "Søren Testesen"
    assert access.relative_scope(relative) == ConsentScope.WHOLE_PLAN


def test_a_temporary_loss_of_capacity_needs_an_end_date(world, relative):
    representative = {
        "decided_by": ConsentDecider.REPRESENTATIVE,
        "representative_name": "Søren Testesen",
        "representative_basis": RepresentativeBasis.NEAREST_RELATIVE,
        "capacity_loss": CapacityLoss.TEMPORARY,
        "capacity_note": "Delir under indlæggelsen.",
    }
    with pytest.raises(ValidationError) as refused:
        decide(world, relative, ConsentScope.APPOINTMENTS, **representative)
    assert "valid_until" in refused.value.message_dict
    until = timezone.localdate() + timedelta(days=14)
    consent = decide(world, relative, ConsentScope.APPOINTMENTS, valid_until=until, **representative)
    assert consent.valid_until == until
    assert access.relative_scope(relative, today=until) == ConsentScope.APPOINTMENTS
    assert access.relative_scope(relative, today=until + timedelta(days=1)) == ConsentScope.NONE


def test_what_a_representative_gave_they_withdraw(world, relative):
    decide(
        world,
        relative,
        ConsentScope.WHOLE_PLAN,
        decided_by=ConsentDecider.REPRESENTATIVE,
        representative_name="Søren Testesen",
        representative_basis=RepresentativeBasis.GUARDIAN,
        capacity_loss=CapacityLoss.TEMPORARY,
        capacity_note="Bevidstløs efter operation.",
        valid_until=timezone.localdate() + timedelta(days=7),
    )
    revoked = services.relative_consent_revoke(
        actor=world.coordinator, relative=relative, method=ConsentMethod.WRITTEN
    )
    assert revoked.action == ConsentAction.REVOKED
    assert revoked.decided_by == ConsentDecider.REPRESENTATIVE
    assert revoked.representative_name == "Søren Testesen"


def test_the_patients_own_decision_keeps_nothing_of_a_representative(world, relative):
    consent = decide(world, relative, ConsentScope.WHOLE_PLAN, representative_name="Typed by mistake")
    assert consent.decided_by == ConsentDecider.PATIENT
    assert consent.representative_name == ""


# --- The plan's history -------------------------------------------------------------------------------------


def test_a_withdrawn_consent_shows_in_the_plans_history(world, relative):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)
    entries = plan_history(plan=world.plan)
    consents = [e for e in entries if e.record_type == capfirst(RelativeConsent._meta.verbose_name)]
    assert len(consents) == 2
    newest = consents[0]
    assert newest.kind == "insert"
    shown = " ".join(f"{c.label} {c.after}" for c in newest.changes) + " " + newest.record
    assert str(ConsentAction.REVOKED.label) in shown


# --- Reminders within the consent's scope -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "reminded"),
    [
        (ConsentScope.WHOLE_PLAN, True),
        (ConsentScope.APPOINTMENTS, True),
        (ConsentScope.CONTACT_ONLY, False),
        ("revoked", False),
    ],
)
def test_appointment_reminders_go_only_to_relatives_whose_consent_covers_them(
    world, relative, appointment, scope, reminded
):
    if scope == "revoked":
        decide(world, relative, ConsentScope.APPOINTMENTS)
        services.relative_consent_revoke(
            actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN
        )
    else:
        decide(world, relative, scope)
    # Whatever syncs the reminders later (the task moved, the plan resumed) keeps to the scope.
    outbox.task_reminders_sync(task=appointment)
    waiting = appointment_reminders(relative, state=NotificationState.PENDING)
    assert waiting.exists() is reminded
    if reminded:
        row = waiting.get()
        assert row.channel == NotificationChannel.SMS
        assert row.task == appointment


def test_narrowing_to_contact_only_cancels_the_relatives_appointment_reminders(world, relative, appointment):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    reminder = appointment_reminders(relative).get()
    decide(world, relative, ConsentScope.CONTACT_ONLY)
    reminder.refresh_from_db()
    assert reminder.state == NotificationState.CANCELLED
    # The patient's own reminder is untouched.
    assert (
        Notification.objects.addressed_to(world.patient)
        .filter(kind=NotificationKind.APPOINTMENT_REMINDER, state=NotificationState.PENDING)
        .exists()
    )


def test_a_child_never_gets_a_reminder(world, appointment):
    child = add(world, name="Alma", is_child=True, child_age=12)
    decide(world, child, ConsentScope.CONTACT_ONLY)
    outbox.task_reminders_sync(task=appointment)
    assert not to_relative(child).exists()


def test_a_relative_without_an_address_for_their_channel_gets_no_reminder(world, appointment):
    relative = add(world, preferred_channel=RelativeChannel.NONE, phone="", email="")
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    assert not to_relative(relative).exists()
    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)
    assert not to_relative(relative).exists()  # not told either: there is nowhere to tell them
    assert (
        Notification.objects.addressed_to(world.patient)
        .filter(kind=NotificationKind.CONSENT_REVOKED)
        .exists()
    )


def test_on_a_closed_plan_a_withdrawal_still_ends_access_but_no_one_is_told(world, relative):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    hub.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.COMPLETED)
    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)
    assert access.relative_scope(relative) == ConsentScope.NONE
    assert not Notification.objects.filter(kind=NotificationKind.CONSENT_REVOKED).exists()
    with pytest.raises(ValidationError, match="Planen er lukket"):
        decide(world, relative, ConsentScope.WHOLE_PLAN)


# --- The words sent -----------------------------------------------------------------------------------------


def test_the_relatives_reminder_names_the_patient_by_first_name_and_nothing_of_their_health(
    world, relative, appointment
):
    decide(world, relative, ConsentScope.APPOINTMENTS)
    row = appointment_reminders(relative).get()
    subject, body = relative.notification_text(row)
    assert "Kirsten has an appointment in 2 days" in body or "Kirsten har en aftale" in body
    assert "/portal/" in body
    for secret in ("Testesen", "lungefunktion", "KOL", world.patient.cpr):
        assert secret not in subject + body


def test_the_relative_and_the_patient_are_told_in_plain_words(world, relative, settings):
    settings.LANGUAGE_CODE = "en"
    relative.language = "en"
    relative.save(update_fields=["language"])
    world.patient.language = "en"
    world.patient.save(update_fields=["language"])
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)
    relative_row = to_relative(relative, kind=NotificationKind.CONSENT_REVOKED).get()
    _subject, body = Relative.objects.get(pk=relative.pk).notification_text(relative_row)
    assert body.startswith("Hello. You no longer have access to the plan for Kirsten in Fælles forløb.")
    patient_row = Notification.objects.addressed_to(world.patient).get(kind=NotificationKind.CONSENT_REVOKED)
    message = outbox._message(patient_row)
    assert "Your relative Mette Testesen no longer has access to your plan." in message.body
    assert "46 31 00 00" in message.body
    letter = outbox.letter_paragraphs(patient_row)
    assert letter[0] == "Your relative Mette Testesen no longer has access to your plan."


def test_a_relatives_letter_names_the_day_of_the_appointment(world, appointment):
    relative = add(
        world, preferred_channel=RelativeChannel.LETTER, address="Algade 1, 4600 Køge", language="en"
    )
    decide(world, relative, ConsentScope.APPOINTMENTS)
    row = appointment_reminders(relative).get()
    assert row.channel == NotificationChannel.LETTER
    paragraphs = outbox.letter_paragraphs(row)
    assert paragraphs[0].startswith("Kirsten has an appointment on ")
    assert "lungefunktion" not in " ".join(paragraphs)
