import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from pathways import services
from pathways.choices import PlanStatus, TaskStatus
from pathways.models import PathwayPlan, Task


def test_a_patient_cannot_have_two_current_plans(world):
    with pytest.raises(ValidationError), transaction.atomic():
        services.plan_create(actor=world.coordinator, patient=world.patient, title="Second plan")
    with pytest.raises(IntegrityError), transaction.atomic():
        PathwayPlan.objects.create(patient=world.patient, title="Around the service", status=PlanStatus.DRAFT)
    assert PathwayPlan.objects.filter(patient=world.patient).count() == 1


def test_a_new_plan_is_allowed_once_the_old_one_is_completed(world):
    services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.COMPLETED)
    new_plan = services.plan_create(actor=world.coordinator, patient=world.patient, title="Next year")
    assert new_plan.status == PlanStatus.DRAFT
    assert PathwayPlan.objects.filter(patient=world.patient).count() == 2


@pytest.mark.parametrize(
    ("path", "final"),
    [
        ([PlanStatus.ACTIVE, PlanStatus.ON_HOLD, PlanStatus.ACTIVE], PlanStatus.ACTIVE),
        ([PlanStatus.ACTIVE, PlanStatus.COMPLETED], PlanStatus.COMPLETED),
        ([PlanStatus.REVOKED], PlanStatus.REVOKED),
    ],
)
def test_allowed_plan_transitions_change_status_and_bump_version(world, path, final):
    plan = world.other_plan  # starts as a draft
    start_version = plan.version
    for status in path:
        plan = services.plan_transition(actor=world.outsider, plan=plan, to_status=status)
    assert plan.status == final
    assert plan.version == start_version + len(path)


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        ([], PlanStatus.ON_HOLD),  # draft → on hold
        ([], PlanStatus.COMPLETED),  # draft → completed
        ([PlanStatus.ACTIVE, PlanStatus.COMPLETED], PlanStatus.ACTIVE),  # completed is final
        ([PlanStatus.REVOKED], PlanStatus.ACTIVE),  # revoked is final
    ],
)
def test_forbidden_plan_transitions_are_refused_and_change_nothing(world, path, forbidden):
    plan = world.other_plan
    for status in path:
        plan = services.plan_transition(actor=world.outsider, plan=plan, to_status=status)
    before = (plan.status, plan.version)
    with pytest.raises(services.TransitionNotAllowed):
        services.plan_transition(actor=world.outsider, plan=plan, to_status=forbidden)
    plan.refresh_from_db()
    assert (plan.status, plan.version) == before


def test_repeating_a_transition_is_a_no_op(world):
    version = world.plan.version
    plan = services.plan_transition(actor=world.coordinator, plan=world.plan, to_status=PlanStatus.ACTIVE)
    assert plan.version == version


def test_stale_version_raises_conflict_and_keeps_the_other_users_change(world):
    stale_version = world.plan.version
    services.plan_update_what_matters(
        actor=world.coordinator,
        plan=world.plan,
        what_matters="Kirsten's words",
        expected_version=stale_version,
    )
    with pytest.raises(services.VersionConflict) as excinfo:
        services.plan_update_what_matters(
            actor=world.home_nurse, plan=world.plan, what_matters="Overwrite", expected_version=stale_version
        )
    assert excinfo.value.current.what_matters == "Kirsten's words"
    world.plan.refresh_from_db()
    assert world.plan.what_matters == "Kirsten's words"


def test_a_completed_task_cannot_be_cancelled_but_can_be_reopened(world):
    task = Task.objects.get(plan=world.plan)
    task = services.task_transition(actor=world.home_nurse, task=task, to_status=TaskStatus.COMPLETED)
    assert task.completed_at is not None
    with pytest.raises(services.TransitionNotAllowed):
        services.task_transition(actor=world.home_nurse, task=task, to_status=TaskStatus.CANCELLED)
    task = services.task_transition(actor=world.home_nurse, task=task, to_status=TaskStatus.IN_PROGRESS)
    assert task.status == TaskStatus.IN_PROGRESS
    assert task.completed_at is None


def test_a_task_window_must_end_after_it_starts(world):
    with pytest.raises(ValidationError), transaction.atomic():
        services.task_create(
            actor=world.home_nurse,
            plan=world.plan,
            title="Backwards",
            responsible_organisation=world.municipality,
            window_start=datetime.date(2026, 5, 2),
            due_date=datetime.date(2026, 5, 1),
        )


def test_a_task_cannot_depend_on_a_task_in_another_plan(world):
    foreign = services.task_create(
        actor=world.outsider, plan=world.other_plan, title="Foreign", responsible_organisation=world.unrelated
    )
    with pytest.raises(ValidationError), transaction.atomic():
        services.task_create(
            actor=world.home_nurse,
            plan=world.plan,
            title="Depends across plans",
            responsible_organisation=world.municipality,
            depends_on=foreign,
        )


def test_a_task_adds_its_responsible_organisation_as_participant(world):
    services.task_create(
        actor=world.coordinator, plan=world.plan, title="Ask Holbæk", responsible_organisation=world.unrelated
    )
    assert world.plan.participants.filter(organisation=world.unrelated).exists()


def test_patient_language_is_shown_by_name_and_unknown_codes_do_not_break(world):
    world.patient.language = "tr"
    assert world.patient.language_display.lower() in {"tyrkisk", "turkish"}
    world.patient.language = "xx"
    assert world.patient.language_display == "xx"
