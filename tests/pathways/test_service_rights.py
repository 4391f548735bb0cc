"""The services check the actor's rights themselves, so a write from the admin, the API, a worker or a
future app meets the same rule as the plan page: the coordinator changes the plan, a responsible
organisation changes its own tasks, nobody else changes anything — and a refused change writes nothing."""

import pytest
from django.core.exceptions import PermissionDenied

from pathways import services
from pathways.choices import GoalStatus, MembershipRole, PlanStatus, TaskStatus
from pathways.models import Goal, PathwayPlan, Task
from tests.conftest import make_user


def _snapshot(plan: PathwayPlan) -> tuple[object, ...]:
    plan.refresh_from_db()
    tasks = tuple(Task.objects.filter(plan=plan).order_by("pk").values_list("status", "title", "version"))
    goals = tuple(Goal.objects.filter(plan=plan).order_by("pk").values_list("status", "description"))
    return (plan.status, plan.what_matters, plan.coordinator_id, plan.version, tasks, goals)


def _plan_change(world, actor):
    return services.plan_update_what_matters(actor=actor, plan=world.plan, what_matters="Noget andet")


def _plan_hold(world, actor):
    return services.plan_transition(actor=actor, plan=world.plan, to_status=PlanStatus.ON_HOLD)


def _coordinator_take_over(world, actor):
    # Only a user with the coordinator role can take over (see tests/coordination/test_handover.py).
    successor = make_user("successor", world.municipality, MembershipRole.COORDINATOR)
    return services.coordinator_assign(
        actor=actor, plan=world.plan, coordinator=successor, organisation=world.municipality
    )


def _goal_add(world, actor):
    return services.goal_create(actor=actor, plan=world.plan, description="Et nyt mål")


def _task_complete(world, actor):
    task = world.plan.tasks.get()
    return services.task_transition(actor=actor, task=task, to_status=TaskStatus.COMPLETED)


def _task_add_for_municipality(world, actor):
    return services.task_create(
        actor=actor, plan=world.plan, title="Ny opgave", responsible_organisation=world.municipality
    )


PLAN_CHANGES = [_plan_change, _plan_hold, _coordinator_take_over, _goal_add]
TASK_CHANGES = [_task_complete, _task_add_for_municipality]


@pytest.mark.parametrize("change", PLAN_CHANGES + TASK_CHANGES)
@pytest.mark.parametrize("who", ["hospital_doctor", "gp_doctor", "outsider"])
def test_a_change_outside_the_users_rights_is_refused_and_writes_nothing(world, change, who):
    before = _snapshot(world.plan)
    with pytest.raises(PermissionDenied):
        change(world, getattr(world, who))
    assert _snapshot(world.plan) == before


@pytest.mark.parametrize("change", PLAN_CHANGES + TASK_CHANGES)
def test_the_coordinator_may_make_every_change(world, change):
    before = _snapshot(world.plan)
    change(world, world.coordinator)
    assert _snapshot(world.plan) != before


@pytest.mark.parametrize("change", TASK_CHANGES)
def test_the_responsible_organisation_changes_its_own_tasks(world, change):
    before = _snapshot(world.plan)
    change(world, world.home_nurse)
    assert _snapshot(world.plan) != before


@pytest.mark.parametrize("change", PLAN_CHANGES)
def test_the_responsible_organisation_does_not_change_the_plan_itself(world, change):
    with pytest.raises(PermissionDenied):
        change(world, world.home_nurse)


def test_an_administrator_in_the_admin_may_change_and_meets_the_same_transition_rules(world):
    plan = _plan_hold(world, world.admin)
    assert plan.status == PlanStatus.ON_HOLD
    goal = services.goal_create(actor=world.admin, plan=plan, description="Mål")
    goal = services.goal_update(
        actor=world.admin,
        goal=goal,
        expected_version=goal.version,
        description="Mål",
        expected_result="",
        target_date=None,
        status=GoalStatus.CANCELLED,
    )
    with pytest.raises(services.TransitionNotAllowed):
        services.goal_update(
            actor=world.admin,
            goal=goal,
            expected_version=goal.version,
            description="Mål",
            expected_result="",
            target_date=None,
            status=GoalStatus.COMPLETED,  # a cancelled goal is reopened first
        )


def test_a_plan_without_a_coordinator_is_set_up_by_its_participants_not_by_others(world):
    plan = world.other_plan  # the outsider's organisation takes part; no coordinator yet
    with pytest.raises(PermissionDenied):
        services.plan_transition(actor=world.home_nurse, plan=plan, to_status=PlanStatus.ACTIVE)
    coordinator = make_user("unrelated_coordinator", world.unrelated, MembershipRole.COORDINATOR)
    plan = services.coordinator_assign(
        actor=world.outsider, plan=plan, coordinator=coordinator, organisation=world.unrelated
    )
    assert plan.coordinator == coordinator
    # Once named, the coordinator decides: the setting-up rule no longer applies to others.
    services.participant_add(actor=world.outsider, plan=plan, organisation=world.municipality)
    with pytest.raises(PermissionDenied):
        services.plan_transition(actor=world.home_nurse, plan=plan, to_status=PlanStatus.ACTIVE)


def test_a_stale_copy_of_the_plan_does_not_keep_setting_up_rights(world):
    stale = PathwayPlan.objects.get(pk=world.other_plan.pk)
    coordinator = make_user("unrelated_coordinator", world.unrelated, MembershipRole.COORDINATOR)
    services.coordinator_assign(
        actor=world.outsider, plan=world.other_plan, coordinator=coordinator, organisation=world.unrelated
    )
    services.participant_add(actor=world.outsider, plan=stale, organisation=world.municipality)
    assert stale.coordinator_id is None
    with pytest.raises(PermissionDenied):
        services.goal_create(actor=world.home_nurse, plan=stale, description="Mål")
    with pytest.raises(PermissionDenied):
        services.task_create(
            actor=world.home_nurse, plan=stale, title="Opgave", responsible_organisation=world.unrelated
        )
