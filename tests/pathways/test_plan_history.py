"""The plan's history: who changed what and when, in readable Danish, for the people on the plan."""

from __future__ import annotations

import datetime

import pghistory
import pytest
from django.urls import reverse
from django.utils import translation

from pathways import selectors, services
from pathways.choices import AccessAction, PlanStatus, TaskStatus
from pathways.models import AccessLog, PathwayPlan, Task
from tests.conftest import sign_in

HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(client, user):
    sign_in(client, user)
    return client


def history_url(plan: PathwayPlan) -> str:
    return reverse("pathways:plan-history", args=[plan.public_id])


@pytest.fixture
def danish():
    with translation.override("da"):
        yield


def test_history_shows_who_changed_what_newest_first_with_readable_before_and_after(world, danish):
    task = Task.objects.get(plan=world.plan)
    with pghistory.context(user=world.home_nurse.pk):
        services.task_transition(actor=world.home_nurse, task=task, to_status=TaskStatus.IN_PROGRESS)
    with pghistory.context(user=world.coordinator.pk):
        services.plan_update_what_matters(actor=world.coordinator, plan=world.plan, what_matters="At gå tur")

    newest, second = selectors.plan_history(plan=world.plan)[:2]

    assert (newest.actor, newest.kind_label, newest.record_type, newest.record) == (
        world.coordinator,
        "Ændret",
        "Forløbsplan",
        "KOL og diabetes",
    )
    [change] = newest.changes
    assert (change.label, change.before, change.after) == (
        "Hvad er vigtigt for dig?",
        "At kunne blive boende hjemme.",
        "At gå tur",
    )
    assert (second.actor, second.record_type, second.record) == (world.home_nurse, "Opgave", "Hjemmebesøg")
    assert [(c.label, c.before, c.after) for c in second.changes] == [("Status", "Planlagt", "I gang")]
    assert newest.at > second.at


def test_history_names_related_objects_and_formats_dates_in_danish(world, danish):
    goal = services.goal_create(actor=None, plan=world.plan, description="Klare trapperne selv")
    services.task_create(
        actor=None,
        plan=world.plan,
        title="Genoptræning",
        responsible_organisation=world.municipality,
        responsible_person=world.home_nurse,
        goal=goal,
        due_date=datetime.date(2027, 3, 5),
        visible_to_patient=False,
    )

    created = selectors.plan_history(plan=world.plan)[0]

    assert (created.kind_label, created.record, created.actor, created.actor_name) == (
        "Oprettet",
        "Genoptræning",
        None,
        "",
    )
    shown = {c.label: c.after for c in created.changes}
    assert shown["Mål"] == "Klare trapperne selv"
    assert shown["Ansvarlig organisation"] == "Hjemmesygeplejen Roskilde"
    assert shown["Ansvarlig person"] == "Home_Nurse"
    assert shown["Frist"] == "5. marts 2027"
    assert shown["Synlig for patienten"] == "Nej"
    assert all(c.before == "" for c in created.changes)


def test_history_covers_conditions_participants_goals_and_tasks_but_not_other_plans(world):
    with translation.override("en"):
        kinds = {(e.record_type, e.kind) for e in selectors.plan_history(plan=world.plan)}
    assert kinds == {
        ("Pathway plan", "insert"),
        ("Pathway plan", "update"),
        ("Condition", "insert"),
        ("Participant", "insert"),
        ("Task", "insert"),
    }
    records = {e.record for e in selectors.plan_history(plan=world.plan)}
    assert "Hjertesvigt" not in records  # the other patient's plan


def test_a_deleted_task_keeps_its_name_in_the_history(world, danish):
    task = Task.objects.get(plan=world.plan)
    task.delete()
    deleted = selectors.plan_history(plan=world.plan)[0]
    assert (deleted.kind_label, deleted.record_type, deleted.record, deleted.changes) == (
        "Slettet",
        "Opgave",
        "Hjemmebesøg",
        [],
    )


def test_saves_that_change_only_bookkeeping_are_left_out(world):
    before = len(selectors.plan_history(plan=world.plan))
    PathwayPlan.objects.filter(pk=world.plan.pk).update(version=99)
    assert len(selectors.plan_history(plan=world.plan)) == before
    services.plan_transition(actor=None, plan=world.plan, to_status=PlanStatus.ON_HOLD)
    assert len(selectors.plan_history(plan=world.plan)) == before + 1


def test_the_plan_page_links_to_its_history(client, world):
    signed_in(client, world.gp_doctor)
    body = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    assert f'href="{history_url(world.plan)}"' in body


def test_the_history_page_shows_the_changes_in_danish_and_is_logged_and_not_cached(client, world):
    task = Task.objects.get(plan=world.plan)
    signed_in(client, world.home_nurse)
    status_url = reverse("pathways:task-status-partial", args=[world.plan.public_id, task.public_id])
    client.post(status_url, {"status": "completed", "version": task.version}, **HTMX)
    signed_in(client, world.gp_doctor)

    response = client.get(history_url(world.plan))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Historik for forløbsplanen" in body
    assert "Home_Nurse" in body
    assert "Planlagt" in body
    assert "Udført" in body
    assert "no-store" in response["Cache-Control"]
    row = AccessLog.objects.get(actor=world.gp_doctor)
    assert (row.action, row.patient, row.plan) == (AccessAction.VIEW_HISTORY, world.patient, world.plan)


def test_the_history_page_is_404_for_staff_outside_the_plan_and_not_logged(client, world):
    signed_in(client, world.outsider)
    response = client.get(history_url(world.plan))
    assert response.status_code == 404
    assert "Kirsten" not in response.content.decode()
    assert not AccessLog.objects.filter(actor=world.outsider).exists()
