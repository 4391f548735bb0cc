"""The audit trail: database triggers record every insert, update and delete of the tracked models with
who, when, before and after; the event tables and the access log refuse UPDATE and DELETE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pghistory
import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from pathways import services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    GoalStatus,
    MembershipRole,
    StayClass,
    TaskStatus,
    TransitionKind,
    TransitionSource,
)
from pathways.models import (
    AUDITED_MODELS,
    AccessLog,
    AuditEvent,
    Goal,
    HospitalStay,
    Membership,
    PathwayPlan,
    PathwayTemplate,
    PathwayTemplateVersion,
    Patient,
    PlanCondition,
    PlanParticipant,
    PlanTemplate,
    Task,
    Transition,
    event_model_label,
)
from tests.conftest import sign_in
from tests.database import refused

HTMX = {"HTTP_HX_REQUEST": "true"}


def events_of(model, pk) -> list[AuditEvent]:
    """The object's events, oldest first."""
    return list(
        AuditEvent.objects.across(event_model_label(model)).filter(pgh_obj_id=str(pk)).order_by("pgh_id")
    )


def signed_in(client, user):
    sign_in(client, user)
    return client


# The hub's own tracked models (the apps above test theirs: tests/coordination/test_history.py).
HUB_AUDITED_MODELS = [model for model in AUDITED_MODELS if model._meta.app_label == "pathways"]


def test_the_issues_models_are_all_tracked():
    assert set(HUB_AUDITED_MODELS) == {
        Patient,
        PathwayPlan,
        PlanCondition,
        PlanParticipant,
        Goal,
        Task,
        Membership,
        PlanTemplate,
        Transition,
    }


@dataclass
class Lifecycle:
    """Primary keys of one object of each tracked model that was created, changed once and deleted."""

    pks: dict[type[Model], int]
    changed: dict[type[Model], tuple[str, object, object]]  # model → (column, before, after)


@pytest.fixture
def lifecycle(world) -> Lifecycle:
    """Every tracked model created, changed and deleted by the coordinator in a signed-in request (the
    context HistoryMiddleware sets up; the staff-page tests below go through the real middleware)."""
    actor = world.coordinator
    with pghistory.context(user=actor.pk, url="/test/lifecycle/"):
        patient = services.patient_create(
            cpr="2408901234", given_name="Bente", family_name="Livsforløb", home_municipality="265"
        )
        plan = services.plan_create(
            actor=actor, patient=patient, title="Faldforebyggelse", conditions=[("Osteoporose", "")]
        )
        condition = plan.conditions.get()
        participant = services.participant_add(actor=actor, plan=plan, organisation=world.hospital)
        goal = services.goal_create(actor=actor, plan=plan, description="Gå til bageren selv")
        task = services.task_create(
            actor=actor, plan=plan, title="Træning", responsible_organisation=world.municipality
        )
        membership = services.membership_add(
            user=world.outsider, organisation=world.gp, role=MembershipRole.ADMINISTRATIVE
        )
        template = PathwayTemplate.objects.create(code="kol-test", name="KOL")
        versions = [
            PathwayTemplateVersion.objects.create(template=template, number=n, content={}) for n in (1, 2)
        ]
        plan_template = PlanTemplate.objects.create(plan=plan, template=template, version=versions[0])
        stay = HospitalStay.objects.create(
            patient=patient,
            plan=plan,
            hospital=world.hospital,
            stay_class=StayClass.INPATIENT,
            started_at=timezone.now(),
        )
        transition = Transition.objects.create(
            stay=stay,
            plan=plan,
            kind=TransitionKind.ADMISSION,
            occurred_at=stay.started_at,
            source=TransitionSource.MANUAL,
        )
        pks = {
            Patient: patient.pk,
            PathwayPlan: plan.pk,
            PlanCondition: condition.pk,
            PlanParticipant: participant.pk,
            Goal: goal.pk,
            Task: task.pk,
            Membership: membership.pk,
            PlanTemplate: plan_template.pk,
            Transition: transition.pk,
        }

        patient.phone = "12 34 56 78"
        patient.save()
        services.plan_update_what_matters(actor=actor, plan=plan, what_matters="At gå selv")
        condition.icd10_code = "M81"
        condition.save()
        services.participant_accept(actor=world.hospital_doctor, participant=participant)
        goal.status = GoalStatus.COMPLETED
        goal.save()
        services.task_transition(actor=actor, task=task, to_status=TaskStatus.ACCEPTED)
        membership.role = MembershipRole.CLINICIAN
        membership.save()
        plan_template.version = versions[1]
        plan_template.save()
        transition.note = "Rettet"
        transition.save()

        for obj in (task, goal, condition, participant, membership, plan_template, transition, stay):
            obj.delete()
        PathwayPlan.objects.filter(pk=plan.pk).delete()
        Patient.objects.filter(pk=patient.pk).delete()
    return Lifecycle(
        pks=pks,
        changed={
            Patient: ("phone", "", "12 34 56 78"),
            PathwayPlan: ("what_matters", "", "At gå selv"),
            PlanCondition: ("icd10_code", "", "M81"),
            PlanParticipant: ("accepted_by_id", None, world.hospital_doctor.pk),
            Goal: ("status", GoalStatus.ACTIVE, GoalStatus.COMPLETED),
            Task: ("status", TaskStatus.REQUESTED, TaskStatus.ACCEPTED),
            Membership: ("role", MembershipRole.ADMINISTRATIVE, MembershipRole.CLINICIAN),
            PlanTemplate: ("version_id", versions[0].pk, versions[1].pk),
            Transition: ("note", "", "Rettet"),
        },
    )


@pytest.mark.parametrize("model", HUB_AUDITED_MODELS)
def test_insert_update_and_delete_are_recorded_with_the_user_and_before_and_after(world, lifecycle, model):
    events = events_of(model, lifecycle.pks[model])
    assert [e.pgh_label for e in events] == ["insert", "update", "delete"]
    assert {e.user_id for e in events} == {world.coordinator.pk}
    assert {e.url for e in events} == {"/test/lifecycle/"}
    column, before, after = lifecycle.changed[model]
    assert events[1].pgh_diff[column] == [before, after]
    assert events[0].pgh_data[column] == before
    assert events[2].pgh_data[column] == after  # a delete keeps the last state of the row


def test_a_change_through_a_staff_page_records_the_signed_in_user_and_the_url(client, world):
    task = Task.objects.get(plan=world.plan)
    url = reverse("pathways:task-status-partial", args=[world.plan.public_id, task.public_id])
    signed_in(client, world.home_nurse)
    response = client.post(url, {"status": "in_progress", "version": task.version}, **HTMX)
    assert response.status_code == 200
    update = events_of(Task, task.pk)[-1]
    assert update.pgh_label == "update"
    assert (update.user_id, update.url) == (world.home_nurse.pk, url)
    assert update.pgh_diff["status"] == ["requested", "in_progress"]


def test_what_matters_written_on_the_plan_page_is_recorded_with_the_coordinator(client, world):
    url = reverse("pathways:what-matters-partial", args=[world.plan.public_id])
    signed_in(client, world.coordinator)
    response = client.post(url, {"what_matters": "At se barnebarnet", "version": world.plan.version}, **HTMX)
    assert response.status_code == 200
    update = events_of(PathwayPlan, world.plan.pk)[-1]
    assert update.user_id == world.coordinator.pk
    assert update.pgh_diff["what_matters"] == ["At kunne blive boende hjemme.", "At se barnebarnet"]


def test_accepting_commitments_on_the_plan_page_is_recorded_with_the_user(client, world):
    participant = PlanParticipant.objects.get(plan=world.plan, organisation=world.gp)
    url = reverse("pathways:participant-accept-partial", args=[world.plan.public_id, participant.public_id])
    signed_in(client, world.gp_doctor)
    assert client.post(url, **HTMX).status_code == 200
    update = events_of(PlanParticipant, participant.pk)[-1]
    assert update.user_id == world.gp_doctor.pk
    assert update.pgh_diff["accepted_by_id"] == [None, world.gp_doctor.pk]


def test_a_task_created_on_the_staff_pages_is_recorded_as_an_insert_by_the_user(client, world):
    signed_in(client, world.home_nurse)
    url = reverse("pathways:task-create", args=[world.plan.public_id])
    form = {"title": "Medicingennemgang", "kind": "medication_review", "visible_to_patient": "on"}
    response = client.post(url, form | {"responsible_organisation": world.municipality.public_id})
    assert response.status_code == 302
    task = Task.objects.get(title="Medicingennemgang")
    [insert] = events_of(Task, task.pk)
    assert (insert.pgh_label, insert.user_id) == ("insert", world.home_nurse.pk)


def test_a_change_without_a_request_is_recorded_without_a_user(world):
    # A management command or a background job: no HistoryMiddleware, so no context.
    task = services.task_transition(
        actor=None, task=Task.objects.get(plan=world.plan), to_status=TaskStatus.CANCELLED
    )
    update = events_of(Task, task.pk)[-1]
    assert update.pgh_diff["status"] == ["requested", "cancelled"]
    assert (update.pgh_context, update.user_id, update.url) == (None, None, None)


def test_a_bulk_update_is_recorded_for_every_row(world):
    for title in ("Blodprøver", "Spirometri"):
        services.task_create(
            actor=None, plan=world.plan, title=title, responsible_organisation=world.hospital
        )
    tasks = Task.objects.filter(plan=world.plan)
    assert tasks.count() == 3
    tasks.update(due_date="2027-01-15")
    for task in tasks:
        update = events_of(Task, task.pk)[-1]
        assert update.pgh_label == "update"
        assert update.pgh_diff["due_date"] == [None, "2027-01-15"]


def test_raw_sql_is_recorded_too(world):
    task = Task.objects.get(plan=world.plan)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE pathways_task SET title = 'Ændret udenom' WHERE id = %s", [task.pk])
    assert events_of(Task, task.pk)[-1].pgh_diff["title"] == ["Hjemmebesøg", "Ændret udenom"]


def one_row(sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@pytest.mark.parametrize("model", HUB_AUDITED_MODELS)
def test_event_rows_cannot_be_updated_or_deleted(lifecycle, model):
    # lifecycle: one object of every tracked model made, changed and deleted, so each table has events.
    table = f"{model._meta.app_label}_{model.__name__.lower()}event"
    (pgh_id,) = one_row(f"SELECT min(pgh_id) FROM {table}")  # noqa: S608 - table names from the models
    assert pgh_id is not None
    assert refused(f"UPDATE {table} SET pgh_label = 'forged' WHERE pgh_id = %s", [pgh_id])  # noqa: S608
    assert refused(f"DELETE FROM {table} WHERE pgh_id = %s", [pgh_id])  # noqa: S608
    assert one_row(f"SELECT pgh_label FROM {table} WHERE pgh_id = %s", [pgh_id]) == ("insert",)  # noqa: S608


def test_access_log_rows_cannot_be_updated_or_deleted(world):
    entry = AccessLog.objects.create(
        actor=world.home_nurse,
        patient=world.patient,
        plan=world.plan,
        action=AccessAction.VIEW_PLAN,
        purpose=AccessPurpose.TREATMENT,
    )
    assert refused("UPDATE pathways_accesslog SET reason = 'forged' WHERE id = %s", [entry.pk])
    assert refused("DELETE FROM pathways_accesslog WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).update(reason="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.reason == ""


def test_history_contexts_cannot_be_deleted_but_pghistory_may_complete_them(client, world):
    signed_in(client, world.home_nurse)
    task = Task.objects.get(plan=world.plan)
    url = reverse("pathways:task-status-partial", args=[world.plan.public_id, task.public_id])
    client.post(url, {"status": "accepted", "version": task.version}, **HTMX)
    context_id = events_of(Task, task.pk)[-1].pgh_context_id
    assert context_id is not None
    assert refused("DELETE FROM pghistory_context WHERE id = %s", [context_id])
    assert not refused("UPDATE pghistory_context SET updated_at = now() WHERE id = %s", [context_id])


def test_truncate_still_works_for_the_test_runners_flush(world):
    sid = transaction.savepoint()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE pathways_taskevent, pathways_accesslog, pghistory_context")
    assert one_row("SELECT count(*) FROM pathways_taskevent") == (0,)
    transaction.savepoint_rollback(sid)
    assert events_of(Task, Task.objects.get(plan=world.plan).pk)
