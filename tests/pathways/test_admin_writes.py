"""Admin saves go through the services: a task, goal or plan changed in the admin meets the same checks
as on the plan page, a refused save shows why and keeps nothing, and an unchanged save changes nothing."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from pathways import services
from pathways.choices import GoalStatus, TaskStatus
from pathways.models import AuditEvent, Goal, PlanParticipant, Task
from tests.conftest import sign_in


@pytest.fixture
def admin_client(client, world):
    sign_in(client, world.admin)
    return client


def _form_data(client, url) -> dict[str, object]:
    """What the browser would post back for the admin form as opened (inline formsets included)."""
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    data: dict[str, object] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        data[name] = value if not isinstance(value, bool) else ("on" if value else "")
        if isinstance(value, bool) and not value:
            del data[name]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(name, field.initial)
        for index, inline_form in enumerate(inline.formset.forms):
            for name in inline_form.fields:
                value = inline_form[name].value()
                data[f"{inline.formset.prefix}-{index}-{name}"] = "" if value is None else value
    return data


def _task_url(task: Task) -> str:
    return reverse("admin:pathways_task_change", args=[task.pk])


def _error_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def test_a_task_saved_unchanged_in_the_admin_changes_nothing(admin_client, world):
    task = world.plan.tasks.get()
    url = _task_url(task)
    events = AuditEvent.objects.count()
    response = admin_client.post(url, _form_data(admin_client, url))
    assert response.status_code == 302
    fresh = Task.objects.get(pk=task.pk)
    assert fresh.version == task.version
    assert AuditEvent.objects.count() == events


def test_a_task_changed_in_the_admin_is_saved_with_a_new_version(admin_client, world):
    task = world.plan.tasks.get()
    url = _task_url(task)
    data = _form_data(admin_client, url)
    data["title"] = "Hjemmebesøg efter udskrivelse"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    fresh = Task.objects.get(pk=task.pk)
    assert (fresh.title, fresh.version) == ("Hjemmebesøg efter udskrivelse", task.version + 1)


def test_the_admin_refuses_a_responsible_person_outside_the_organisation_like_the_page(admin_client, world):
    task = world.plan.tasks.get()
    url = _task_url(task)
    data = _form_data(admin_client, url)
    data["responsible_person"] = world.gp_doctor.pk  # works at the GP, the task is home nursing's
    data["title"] = "Ændret titel"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert _error_messages(response) == ["Personen arbejder ikke i den ansvarlige organisation."]
    fresh = Task.objects.get(pk=task.pk)
    assert (fresh.title, fresh.responsible_person_id, fresh.version) == (task.title, None, task.version)


def test_a_coordinators_change_made_while_the_admin_form_was_open_is_not_overwritten(admin_client, world):
    task = world.plan.tasks.get()
    url = _task_url(task)
    data = _form_data(admin_client, url)
    services.task_update(
        actor=world.coordinator,
        task=task,
        expected_version=task.version,
        title="Koordinatorens titel",
        kind=task.kind,
        responsible_organisation=task.responsible_organisation,
        responsible_person=None,
        window_start=task.window_start,
        due_date=task.due_date,
        description=task.description,
        goal=None,
        depends_on=None,
        visible_to_patient=task.visible_to_patient,
    )
    data["title"] = "Administratorens titel"
    response = admin_client.post(url, data)
    assert _error_messages(response) == [
        "En anden har ændret dette i mellemtiden. Her er det, der er gemt nu."
    ]
    assert Task.objects.get(pk=task.pk).title == "Koordinatorens titel"


def test_a_task_added_in_the_admin_brings_its_organisation_into_the_plan(admin_client, world):
    response = admin_client.post(
        reverse("admin:pathways_task_add"),
        {
            "plan": world.plan.pk,
            "title": "Medicingennemgang",
            "kind": "medication_review",
            "responsible_organisation": world.gp.pk,
            "description": "",
            "visible_to_patient": "on",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    task = Task.objects.get(title="Medicingennemgang")
    assert (task.status, task.created_by) == (TaskStatus.REQUESTED, world.admin)
    assert PlanParticipant.objects.filter(plan=world.plan, organisation=world.gp).exists()


def test_the_admin_refuses_a_goal_status_the_page_refuses(admin_client, world):
    goal = services.goal_create(actor=world.coordinator, plan=world.plan, description="Gå til bageren")
    goal = services.goal_update(
        actor=world.coordinator,
        goal=goal,
        expected_version=goal.version,
        description=goal.description,
        expected_result="",
        target_date=None,
        status=GoalStatus.CANCELLED,
    )
    url = reverse("admin:pathways_goal_change", args=[goal.pk])
    data = _form_data(admin_client, url)
    data["status"] = GoalStatus.COMPLETED  # a cancelled goal is taken up again before it is reached
    response = admin_client.post(url, data)
    assert _error_messages(response) == ["Et mål med status »Annulleret« kan ikke skifte til »Nået«."]
    assert Goal.objects.get(pk=goal.pk).status == GoalStatus.CANCELLED


def test_a_plan_renamed_in_the_admin_keeps_its_goals_and_coordinator(admin_client, world):
    services.goal_create(actor=world.coordinator, plan=world.plan, description="Gå til bageren")
    url = reverse("admin:pathways_pathwayplan_change", args=[world.plan.pk])
    data = _form_data(admin_client, url)
    data["title"] = "Nyt navn"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    world.plan.refresh_from_db()
    assert (world.plan.title, world.plan.coordinator) == ("Nyt navn", world.coordinator)
    assert list(world.plan.goals.values_list("description", flat=True)) == ["Gå til bageren"]
