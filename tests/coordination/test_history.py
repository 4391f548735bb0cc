"""Coordination's records are under the hub's audit trail: every insert, update and delete is recorded
with who and where, the event rows refuse change, and the plan's history shows them."""

from __future__ import annotations

from datetime import timedelta

import pghistory
import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from coordination import services
from coordination.choices import DisputeQuestion, MessagePriority, NeedCriterion, NeedOutcome
from coordination.models import CoordinatorHandover, Dispute, Message, MessageThread, NeedAssessment
from pathways import services as hub
from pathways.choices import MembershipRole
from pathways.models import AUDITED_MODELS, AuditEvent, event_model_label
from pathways.selectors import plan_history
from tests.conftest import make_user, sign_in

MODELS: list[type[Model]] = [CoordinatorHandover, Dispute, Message, MessageThread, NeedAssessment]
COORDINATION_MODELS = set(MODELS)


def events_of(model, pk) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.across(event_model_label(model)).filter(pgh_obj_id=str(pk)).order_by("pgh_id")
    )


@pytest.fixture
def recorded(world):
    """One of each coordination record in Kirsten's plan, made by the coordinator in a request's context."""
    today = timezone.localdate()
    successor = make_user("efterfolger", world.municipality, MembershipRole.COORDINATOR)
    with pghistory.context(user=world.coordinator.pk, url="/test/coordination/"):
        assessment = services.need_assessment_record(
            actor=world.coordinator,
            plan=world.plan,
            organisation=world.municipality,
            assessed_on=today,
            patient_present=True,
            criteria=[NeedCriterion.MULTIMORBIDITY, NeedCriterion.PATIENT_WISH],
            unplanned_admissions_12m=3,
            outcome=NeedOutcome.NEEDS_COORDINATOR,
            note="",
            review_date=today + timedelta(days=180),
        )
        task = hub.task_create(
            actor=world.coordinator,
            plan=world.plan,
            title="Nålefri måler",
            responsible_organisation=world.hospital,
        )
        dispute = services.dispute_raise(
            actor=world.coordinator,
            task=task,
            organisation=world.municipality,
            parties=[world.hospital, world.municipality],
            question=DisputeQuestion.WHO_PAYS,
            reason="Hjælpemiddel eller behandlingsredskab?",
            interim_organisation=world.municipality,
        )
        dispute = services.dispute_resolve(
            actor=world.coordinator,
            dispute=dispute,
            decision="Kommunen betaler.",
            responsible_organisation=world.municipality,
            expected_version=dispute.version,
        )
        thread = services.thread_start(
            actor=world.coordinator,
            plan=world.plan,
            sender_organisation=world.municipality,
            recipients=[world.gp],
            subject="Medicinliste",
            body="Kan I sende den opdaterede liste?",
            priority=MessagePriority.ROUTINE,
        )
        services.coordinator_handover(
            actor=world.coordinator,
            plan=world.plan,
            coordinator=successor,
            organisation=world.municipality,
            substitute=world.coordinator,
            note="Lars går på orlov.",
        )
    return {
        NeedAssessment: assessment,
        Dispute: dispute,
        MessageThread: thread,
        Message: thread.messages.get(),
        CoordinatorHandover: CoordinatorHandover.objects.get(plan=world.plan),
    }


def test_every_coordination_record_is_tracked():
    assert {m for m in AUDITED_MODELS if m._meta.app_label == "coordination"} == COORDINATION_MODELS


@pytest.mark.parametrize("model", MODELS)
def test_coordination_records_are_recorded_with_who_and_where(world, recorded, model):
    [insert, *later] = events_of(model, recorded[model].pk)
    assert insert.pgh_label == "insert"
    assert (insert.user_id, insert.url) == (world.coordinator.pk, "/test/coordination/")
    if model is Dispute:
        [update] = [e for e in later if "decision" in (e.pgh_diff or {})]
        assert update.pgh_diff["decision"] == ["", "Kommunen betaler."]


@pytest.mark.parametrize("model", MODELS)
def test_coordination_event_rows_cannot_be_changed(world, recorded, model):
    table = f"coordination_{model.__name__.lower()}event"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(pgh_id) FROM {table}")  # noqa: S608 - table names from the models
        (pgh_id,) = cursor.fetchone()
    for sql in (
        f"UPDATE {table} SET pgh_label = 'forged' WHERE pgh_id = %s",  # noqa: S608
        f"DELETE FROM {table} WHERE pgh_id = %s",  # noqa: S608
    ):
        with (
            pytest.raises(DatabaseError, match="pgtrigger"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [pgh_id])


def test_the_plans_history_shows_coordination_records(world, recorded):
    types = {entry.record_type for entry in plan_history(plan=world.plan)}
    assert {str(model._meta.verbose_name).capitalize() for model in COORDINATION_MODELS} <= {
        t.capitalize() for t in types
    }


def test_the_history_page_names_coordination_records_without_failing(client, world, recorded):
    sign_in(client, world.home_nurse)
    response = client.get(reverse("pathways:plan-history", args=[world.plan.public_id]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Kommunen betaler." in text  # the decision, as before → after
    assert "Medicinliste" in text  # the thread, by its subject
    # What a message says is read on its own page (a logged read), not in the history.
    assert "Kan I sende den opdaterede liste?" not in text


def test_a_sent_message_cannot_be_edited(world, recorded):
    with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic():
        Message.objects.filter(pk=recorded[Message].pk).update(body="Rettet i smug")
