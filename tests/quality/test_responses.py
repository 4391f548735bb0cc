"""Answers: entered by staff with the source recorded, or given in the portal by the patient or a relative;
bad answers refused per question with nothing written; the open request closed and its reminders cancelled
in the same transaction; a flagged response tells the coordinator once, who marks it seen; a response
entered in error is marked, never deleted."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification, PathwayPlan
from pathways.services import VersionConflict
from quality import services
from quality.choices import RequestState, ResponseSource, ResponseStatus
from quality.models import QuestionnaireRequest, QuestionnaireResponse
from tests.quality.questionnaire_helpers import (  # noqa: F401 (shipped: autouse)
    answers,
    csi,
    csi_yes,
    messages_of,
    plan_start,
    relative_add,
    shipped,
    who5,
    who5_raw,
)

pytestmark = pytest.mark.django_db


def ask_kirsten(world) -> QuestionnaireRequest:
    services.questionnaires_schedule(today=plan_start(world.plan))
    return QuestionnaireRequest.objects.get(plan=world.plan, relative=None)


def states(request):
    return {row.kind: row.state for row in messages_of(request)}


def record_by_phone(world, given, *, actor=None, **extra):
    return services.response_record(
        questionnaire=extra.pop("questionnaire", who5()),
        plan=world.plan,
        answers=given,
        source=ResponseSource.STAFF_PHONE,
        actor=actor or world.coordinator,
        **extra,
    )


# --- staff ---


def test_a_coordinator_enters_answers_given_by_phone_with_source_author_and_score(world):
    response = record_by_phone(world, who5_raw(16))
    assert (response.raw_score, response.score, response.max_score) == (16, 64, 100)
    assert response.source == ResponseSource.STAFF_PHONE
    assert response.entered_by == world.coordinator
    assert response.entered_by_organisation == world.municipality
    assert response.band_tone == "good"
    assert not response.flagged
    assert response.answered_on == timezone.localdate()


def test_a_participant_from_another_sector_may_enter_answers_given_at_a_visit(world):
    response = services.response_record(
        questionnaire=who5(),
        plan=world.plan,
        answers=who5_raw(20),
        source=ResponseSource.STAFF_VISIT,
        actor=world.gp_doctor,
    )
    assert response.entered_by_organisation == world.gp


def test_someone_outside_the_plan_may_not_enter_answers(world):
    with pytest.raises(PermissionDenied):
        record_by_phone(world, who5_raw(20), actor=world.outsider)
    assert not QuestionnaireResponse.objects.exists()


def test_staff_entry_for_an_open_questionnaire_closes_it_and_cancels_its_reminders(world):
    request = ask_kirsten(world)
    response = record_by_phone(world, who5_raw(20))
    request.refresh_from_db()
    assert response.request == request
    assert request.state == RequestState.ANSWERED
    assert request.closed_at is not None
    assert set(states(request).values()) == {NotificationState.CANCELLED}


def test_a_date_in_the_future_or_before_the_plan_is_refused(world):
    with pytest.raises(ValidationError) as future:
        record_by_phone(world, who5_raw(20), answered_on=timezone.localdate() + timedelta(days=1))
    assert "answered_on" in future.value.message_dict
    with pytest.raises(ValidationError) as before:
        record_by_phone(world, who5_raw(20), answered_on=plan_start(world.plan) - timedelta(days=1))
    assert "answered_on" in before.value.message_dict
    assert not QuestionnaireResponse.objects.exists()


def test_a_staff_source_is_needed_for_staff_and_a_portal_source_cannot_name_staff(world):
    with pytest.raises(ValidationError):
        services.response_record(
            questionnaire=who5(),
            plan=world.plan,
            answers=who5_raw(20),
            source="gossip",
            actor=world.coordinator,
        )
    with pytest.raises(ValidationError):
        services.response_record(
            questionnaire=who5(),
            plan=world.plan,
            answers=who5_raw(20),
            source=ResponseSource.PORTAL,
            actor=world.coordinator,
        )
    assert not QuestionnaireResponse.objects.exists()


# --- bad answers ---


@pytest.mark.parametrize("bad", [None, "", 6, -1, "x", True, 2.5])
def test_an_answer_off_the_scale_or_missing_is_refused_for_that_question_and_nothing_is_written(world, bad):
    request = ask_kirsten(world)
    given = answers(who5(), [3, 3, 3, 3, 3])
    second = list(given)[1]
    given[second] = bad
    with pytest.raises(ValidationError) as refused:
        record_by_phone(world, given)
    assert list(refused.value.message_dict) == [second]
    assert not QuestionnaireResponse.objects.exists()
    request.refresh_from_db()
    assert request.state == RequestState.OPEN
    assert states(request)[NotificationKind.QUESTIONNAIRE_REMINDER] == NotificationState.PENDING


def test_every_unanswered_question_gets_its_own_message(world):
    with pytest.raises(ValidationError) as refused:
        record_by_phone(world, {})
    assert len(refused.value.message_dict) == 5


def test_answers_to_questions_the_questionnaire_does_not_have_are_refused(world):
    with pytest.raises(ValidationError):
        record_by_phone(world, {**who5_raw(20), "extra": 3})
    assert not QuestionnaireResponse.objects.exists()


def test_a_failure_after_the_answer_leaves_the_request_open_and_its_reminders_waiting(world):
    """One transaction: the response, the request's closing and the cancelled reminders go together."""
    request = ask_kirsten(world)
    failing = mock.patch("quality.services.outbox.notify_staff", side_effect=RuntimeError("broker"))
    with failing, pytest.raises(RuntimeError):
        record_by_phone(world, who5_raw(5))  # flagged: the notice fails
    request.refresh_from_db()
    assert request.state == RequestState.OPEN
    assert not QuestionnaireResponse.objects.exists()
    assert states(request)[NotificationKind.QUESTIONNAIRE_REMINDER] == NotificationState.PENDING


# --- the portal ---


def test_kirsten_answers_in_the_portal_and_her_reminders_stop(world):
    request = ask_kirsten(world)
    response = services.response_submit_portal(request=request, reader=world.patient, answers=who5_raw(13))
    assert response.source == ResponseSource.PORTAL
    assert response.entered_by is None
    assert response.score == 52
    request.refresh_from_db()
    assert request.state == RequestState.ANSWERED
    assert set(states(request).values()) == {NotificationState.CANCELLED}


def test_a_questionnaire_answered_once_cannot_be_answered_again(world):
    request = ask_kirsten(world)
    services.response_submit_portal(request=request, reader=world.patient, answers=who5_raw(13))
    with pytest.raises(ValidationError):
        services.response_submit_portal(request=request, reader=world.patient, answers=who5_raw(20))
    assert QuestionnaireResponse.objects.count() == 1


def test_a_questionnaire_past_its_day_cannot_be_answered(world):
    request = ask_kirsten(world)
    QuestionnaireRequest.objects.filter(pk=request.pk).update(
        opens_on=timezone.localdate() - timedelta(days=14),
        expires_on=timezone.localdate() - timedelta(days=1),
    )
    with pytest.raises(ValidationError):
        services.response_submit_portal(request=request, reader=world.patient, answers=who5_raw(13))
    assert not QuestionnaireResponse.objects.exists()


def test_someone_else_cannot_answer_kirstens_questionnaire(world):
    request = ask_kirsten(world)
    relative = relative_add(world.plan)
    for reader in (world.other_patient, relative):
        with pytest.raises(PermissionDenied):
            services.response_submit_portal(request=request, reader=reader, answers=who5_raw(13))
    assert not QuestionnaireResponse.objects.exists()


def test_a_relative_answers_their_own_strain_questionnaire_in_the_portal(world):
    relative = relative_add(world.plan)
    request = services.request_send(
        actor=world.coordinator, plan=world.plan, questionnaire=csi(), relative=relative
    )
    with pytest.raises(PermissionDenied):
        services.response_submit_portal(request=request, reader=world.patient, answers=csi_yes(7))
    response = services.response_submit_portal(request=request, reader=relative, answers=csi_yes(7))
    assert response.relative == relative
    assert response.flagged
    assert response.score == 7


# --- asking at once ---


def test_asking_again_while_the_questionnaire_is_open_returns_the_same_request(world):
    first = services.request_send(actor=world.coordinator, plan=world.plan, questionnaire=who5())
    again = services.request_send(actor=world.coordinator, plan=world.plan, questionnaire=who5())
    assert first == again
    assert Notification.objects.filter(kind=NotificationKind.QUESTIONNAIRE_SENT).count() == 1
    with pytest.raises(PermissionDenied):
        services.request_send(actor=world.outsider, plan=world.plan, questionnaire=who5())


def test_a_relative_without_consent_cannot_be_asked(world):
    relative = relative_add(world.plan, scope=None)
    with pytest.raises(ValidationError):
        services.request_send(
            actor=world.coordinator, plan=world.plan, questionnaire=csi(), relative=relative
        )
    assert not QuestionnaireRequest.objects.exists()


# --- flags ---


def flag_notices():
    return Notification.objects.filter(kind=NotificationKind.QUESTIONNAIRE_FLAGGED)


def test_a_flagged_response_tells_the_coordinator_once(world):
    world.coordinator.email = "koordinator@example.invalid"
    world.coordinator.save()
    response = record_by_phone(world, who5_raw(12), actor=world.home_nurse)
    assert response.flagged
    assert response.score == 48
    notices = flag_notices()
    assert {(row.recipient, row.channel) for row in notices} == {
        (world.coordinator, NotificationChannel.IN_APP),
        (world.coordinator, NotificationChannel.EMAIL),
    }
    assert all(row.dedupe_key.endswith(f"|response:{response.public_id}") for row in notices)


def test_without_a_named_coordinator_only_those_who_may_read_a_relatives_answer_hear_of_it(world):
    """No coordinator on the plan: the patient's flagged WHO-5 goes to the coordinators of the organisations
    taking part; a relative's flagged strain answer only to those who may read the relative's support record
    (coordinators of an organisation holding an open referral of theirs) — here none."""
    PathwayPlan.objects.filter(pk=world.plan.pk).update(coordinator=None, coordinator_substitute=None)
    world.plan.refresh_from_db()
    relative = relative_add(world.plan)
    services.response_record(
        questionnaire=csi(),
        plan=world.plan,
        answers=csi_yes(8),
        source=ResponseSource.STAFF_PHONE,
        actor=world.home_nurse,
        relative=relative,
    )
    assert not flag_notices().exists()
    record_by_phone(world, who5_raw(5), actor=world.home_nurse)
    assert {row.recipient for row in flag_notices()} == {world.coordinator}


def test_a_response_not_flagged_tells_no_one(world):
    record_by_phone(world, who5_raw(13))
    assert not flag_notices().exists()


def test_the_coordinator_marks_a_flag_seen_once(world):
    response = record_by_phone(world, who5_raw(5), actor=world.home_nurse)
    with pytest.raises(PermissionDenied):
        services.flag_mark_seen(actor=world.home_nurse, response=response)
    seen = services.flag_mark_seen(actor=world.coordinator, response=response)
    assert seen.flag_seen_by == world.coordinator
    assert seen.flag_seen_at is not None
    again = services.flag_mark_seen(actor=world.coordinator, response=response)
    assert again.flag_seen_at == seen.flag_seen_at


def test_a_response_that_is_not_flagged_cannot_be_marked_seen(world):
    response = record_by_phone(world, who5_raw(20))
    with pytest.raises(ValidationError):
        services.flag_mark_seen(actor=world.coordinator, response=response)


# --- entered in error ---


def test_the_staff_member_who_entered_a_response_marks_it_entered_in_error_and_it_stays(world):
    response = record_by_phone(world, who5_raw(5), actor=world.home_nurse)
    with pytest.raises(PermissionDenied):
        services.response_mark_error(
            actor=world.gp_doctor, response=response, expected_version=response.version
        )
    marked = services.response_mark_error(
        actor=world.home_nurse, response=response, expected_version=response.version
    )
    assert marked.status == ResponseStatus.ENTERED_IN_ERROR
    assert QuestionnaireResponse.objects.filter(pk=response.pk).exists()
    assert (
        services.response_mark_error(actor=world.coordinator, response=marked, expected_version=1).version
        == marked.version
    )


def test_marking_a_response_changed_since_it_was_opened_is_a_conflict(world):
    response = record_by_phone(world, who5_raw(5))
    services.flag_mark_seen(actor=world.coordinator, response=response)
    with pytest.raises(VersionConflict):
        services.response_mark_error(
            actor=world.coordinator, response=response, expected_version=response.version
        )


def test_a_relatives_response_is_entered_for_a_relative_of_that_plan_only(world):
    relative = relative_add(world.plan)
    response = record_by_phone(world, csi_yes(3), questionnaire=csi(), relative=relative)
    assert response.relative == relative
    with pytest.raises(ValidationError):
        record_by_phone(world, csi_yes(3), questionnaire=csi())  # the strain index is for relatives
