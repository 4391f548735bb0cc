"""Editing a task's details and the plan's goals: full page without JavaScript, fragments with htmx,
permissions by organisation, and no lost updates."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from pathways import services
from pathways.choices import GoalStatus, MembershipRole, TaskKind
from pathways.models import Goal, Task
from tests.conftest import make_user, sign_in

HTMX = {"HX-Request": "true"}


@pytest.fixture
def home_visit(world):
    return world.plan.tasks.get(title="Hjemmebesøg")


def edit_url(world, task):
    return reverse("pathways:task-edit-partial", args=[world.plan.public_id, task.public_id])


def form_data(task, world, **changes):
    data = {
        "title": task.title,
        "kind": task.kind,
        "responsible_organisation": str(world.municipality.public_id),
        "responsible_person": "",
        "window_start": "",
        "due_date": "",
        "description": task.description,
        "goal": "",
        "depends_on": "",
        "visible_to_patient": "on",
        "version": task.version,
    }
    return data | changes


def test_nurse_edits_her_task_in_the_row_with_htmx(client, world, home_visit):
    sign_in(client, world.home_nurse)
    form = client.get(edit_url(world, home_visit), headers=HTMX)
    assert form.status_code == 200
    assert f'id="task-{home_visit.public_id}"' in form.content.decode()
    response = client.post(
        edit_url(world, home_visit),
        form_data(
            home_visit,
            world,
            title="Hjemmebesøg efter udskrivelse",
            due_date="2026-12-01",
            responsible_person=str(world.home_nurse.public_id),
        ),
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hjemmebesøg efter udskrivelse" in body
    assert '<form class="ff-form' not in body  # the row, not the form
    assert response["HX-Trigger"] == "plan-changed"
    home_visit.refresh_from_db()
    assert home_visit.title == "Hjemmebesøg efter udskrivelse"
    assert home_visit.due_date == date(2026, 12, 1)
    assert home_visit.responsible_person == world.home_nurse
    assert home_visit.version == 2


def test_editing_works_without_javascript(client, world, home_visit):
    sign_in(client, world.home_nurse)
    page = client.get(edit_url(world, home_visit))
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    response = client.post(edit_url(world, home_visit), form_data(home_visit, world, title="Besøg"))
    assert response.status_code == 302
    assert response["Location"].endswith(f"#task-{home_visit.public_id}")


def test_gp_cannot_edit_the_municipalitys_task(client, world, home_visit):
    sign_in(client, world.gp_doctor)
    response = client.post(edit_url(world, home_visit), form_data(home_visit, world, title="Overtaget"))
    assert response.status_code == 403
    home_visit.refresh_from_db()
    assert home_visit.title == "Hjemmebesøg"


def test_nurse_cannot_hand_her_task_to_the_hospital_but_the_coordinator_can(client, world, home_visit):
    sign_in(client, world.home_nurse)
    to_hospital = form_data(home_visit, world, responsible_organisation=str(world.hospital.public_id))
    refused = client.post(edit_url(world, home_visit), to_hospital)
    assert refused.status_code == 422
    home_visit.refresh_from_db()
    assert home_visit.responsible_organisation == world.municipality

    sign_in(client, world.coordinator)
    assert client.post(edit_url(world, home_visit), to_hospital).status_code == 302
    home_visit.refresh_from_db()
    assert home_visit.responsible_organisation == world.hospital


def test_second_editor_gets_a_conflict_with_the_current_values(client, world, home_visit):
    sign_in(client, world.home_nurse)
    stale = form_data(home_visit, world, title="Min ændring")
    services.task_update(
        actor=world.coordinator,
        task=home_visit,
        expected_version=home_visit.version,
        title="Koordinatorens ændring",
        kind=TaskKind.HOME_VISIT,
        responsible_organisation=world.municipality,
        responsible_person=None,
        window_start=None,
        due_date=None,
        description="",
        goal=None,
        depends_on=None,
        visible_to_patient=True,
    )
    response = client.post(edit_url(world, home_visit), stale, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Koordinatorens ændring" in body  # the form shows what is saved now
    home_visit.refresh_from_db()
    assert home_visit.title == "Koordinatorens ændring"
    without_js = client.post(edit_url(world, home_visit), stale)
    assert without_js.status_code == 409


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"window_start": "2026-12-10", "due_date": "2026-12-01"}, "window_start"),
        ({"due_date": "31-02-2026"}, "due_date"),
        ({"version": "x"}, "version"),
        ({"title": "x" * 10_000}, "title"),
        ({"description": "Langt-ord-uden-mellemrum" * 500}, "description"),
    ],
)
def test_bad_task_edits_change_nothing(client, world, home_visit, changes, field):
    sign_in(client, world.home_nurse)
    response = client.post(edit_url(world, home_visit), form_data(home_visit, world, **changes))
    assert response.status_code == 422
    assert field in response.context["form"].errors
    home_visit.refresh_from_db()
    assert home_visit.version == 1


def test_a_task_cannot_wait_for_itself_through_another(client, world, home_visit):
    other = services.task_create(
        actor=world.home_nurse,
        plan=world.plan,
        title="Genoptræning",
        responsible_organisation=world.municipality,
        depends_on=home_visit,
    )
    sign_in(client, world.home_nurse)
    response = client.post(
        edit_url(world, home_visit), form_data(home_visit, world, depends_on=str(other.public_id))
    )
    assert response.status_code == 422
    home_visit.refresh_from_db()
    assert home_visit.depends_on is None


def test_responsible_person_must_work_in_the_responsible_organisation(client, world, home_visit):
    sign_in(client, world.home_nurse)
    response = client.post(
        edit_url(world, home_visit),
        form_data(home_visit, world, responsible_person=str(world.gp_doctor.public_id)),
    )
    assert response.status_code == 422
    home_visit.refresh_from_db()
    assert home_visit.responsible_person is None


# --- Goals ---------------------------------------------------------------------------------------------


def test_coordinator_adds_a_goal_and_the_goals_region_comes_back(client, world):
    sign_in(client, world.coordinator)
    url = reverse("pathways:goal-create-partial", args=[world.plan.public_id])
    assert client.get(url, headers=HTMX).status_code == 200
    response = client.post(
        url,
        {"description": "Gå til Netto selv", "expected_result": "Uden rollator", "target_date": ""},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert 'id="goals"' in response.content.decode()
    assert "Gå til Netto selv" in response.content.decode()
    assert Goal.objects.filter(plan=world.plan, description="Gå til Netto selv").exists()


def test_goal_with_errors_comes_back_as_the_form_in_place(client, world):
    sign_in(client, world.coordinator)
    url = reverse("pathways:goal-create-partial", args=[world.plan.public_id])
    response = client.post(url, {"description": ""}, headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#goal-form-new"
    assert not Goal.objects.filter(plan=world.plan).exists()
    assert client.post(url, {"description": ""}).status_code == 422


def test_coordinator_cancels_a_goal_and_it_stays_on_record(client, world):
    goal = services.goal_create(actor=world.coordinator, plan=world.plan, description="Tabe 5 kg")
    sign_in(client, world.coordinator)
    url = reverse("pathways:goal-edit-partial", args=[world.plan.public_id, goal.public_id])
    response = client.post(
        url,
        {"description": goal.description, "expected_result": "", "target_date": "", "status": "cancelled",
         "version": goal.version},
        headers=HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    assert "Annulleret" in response.content.decode() or "Cancelled" in response.content.decode()
    goal.refresh_from_db()
    assert goal.status == GoalStatus.CANCELLED
    assert goal.version == 2


def test_goal_conflict_keeps_the_other_change(client, world):
    goal = services.goal_create(actor=world.coordinator, plan=world.plan, description="Tabe 5 kg")
    sign_in(client, world.coordinator)
    services.goal_update(
        actor=world.coordinator,
        goal=goal,
        expected_version=1,
        description="Tabe 3 kg",
        expected_result="",
        target_date=None,
        status=GoalStatus.ACTIVE,
    )
    url = reverse("pathways:goal-edit-partial", args=[world.plan.public_id, goal.public_id])
    stale = {
        "description": "Tabe 10 kg",
        "expected_result": "",
        "target_date": "",
        "status": "active",
        "version": 1,
    }
    response = client.post(url, stale)
    assert response.status_code == 409
    assert "Tabe 3 kg" in response.content.decode()
    goal.refresh_from_db()
    assert goal.description == "Tabe 3 kg"


def test_only_the_coordinator_changes_goals(client, world):
    goal = services.goal_create(actor=world.coordinator, plan=world.plan, description="Tabe 5 kg")
    sign_in(client, world.home_nurse)
    url = reverse("pathways:goal-edit-partial", args=[world.plan.public_id, goal.public_id])
    data = {"description": "X", "expected_result": "", "target_date": "", "status": "cancelled", "version": 1}
    assert client.post(url, data).status_code == 403
    goal.refresh_from_db()
    assert goal.status == GoalStatus.ACTIVE


def test_substitute_coordinator_may_edit_goals_too(client, world):
    substitute = make_user("vikar", world.municipality, MembershipRole.COORDINATOR)
    world.plan.coordinator_substitute = substitute
    world.plan.save(update_fields=["coordinator_substitute"])
    sign_in(client, substitute)
    url = reverse("pathways:goal-create-partial", args=[world.plan.public_id])
    assert client.post(url, {"description": "Sove igennem"}).status_code == 302
    assert Task.objects.filter(plan=world.plan).count() == 1
    assert world.plan.goals.filter(description="Sove igennem").exists()


def test_a_title_too_long_gets_a_message_saying_how_long_it_may_be(client, world, home_visit):
    sign_in(client, world.home_nurse)
    response = client.post(edit_url(world, home_visit), form_data(home_visit, world, title="x" * 10_000))
    assert response.status_code == 422
    assert "må højst have 200 tegn (den har 10000)" in response.content.decode()


def test_admin_refuses_a_goal_longer_than_the_form_allows(client, world):
    admin = make_user("chef", None, is_staff=True, is_superuser=True)
    sign_in(client, admin)
    goal = services.goal_create(actor=None, plan=world.plan, description="Gå tur")
    url = reverse("admin:pathways_goal_change", args=[goal.pk])
    response = client.post(url, {"plan": world.plan.pk, "description": "x" * 5000, "status": "active"})
    assert response.status_code == 200  # the form again, with its message
    assert "må højst have 1000 tegn" in response.content.decode()
    goal.refresh_from_db()
    assert goal.description == "Gå tur"


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        (GoalStatus.ACTIVE, GoalStatus.COMPLETED, True),
        (GoalStatus.COMPLETED, GoalStatus.ACTIVE, True),
        (GoalStatus.CANCELLED, GoalStatus.ACTIVE, True),
        (GoalStatus.ACTIVE, GoalStatus.PROPOSED, False),
        (GoalStatus.COMPLETED, GoalStatus.CANCELLED, False),
        (GoalStatus.PROPOSED, GoalStatus.COMPLETED, False),
    ],
)
def test_goal_status_follows_its_transition_table(world, start, to, allowed):
    goal = services.goal_create(actor=None, plan=world.plan, description="Gå tur hver dag")
    Goal.objects.filter(pk=goal.pk).update(status=start)
    goal.refresh_from_db()
    change = {"description": goal.description, "expected_result": "", "target_date": None, "status": to}
    if allowed:
        updated = services.goal_update(actor=None, goal=goal, expected_version=goal.version, **change)
        assert updated.status == to
    else:
        with pytest.raises(services.TransitionNotAllowed):
            services.goal_update(actor=None, goal=goal, expected_version=goal.version, **change)
        goal.refresh_from_db()
        assert goal.status == start


def test_goal_form_offers_only_the_statuses_the_goal_can_take(client, world):
    sign_in(client, world.coordinator)
    goal = services.goal_create(actor=None, plan=world.plan, description="Gå tur hver dag")
    Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.COMPLETED)
    url = reverse("pathways:goal-edit-partial", args=[world.plan.public_id, goal.public_id])
    form = client.get(url).context["form"]
    assert [value for value, _label in form.fields["status"].choices] == ["active", "completed"]
    response = client.post(url, {"description": "Gå tur", "status": "proposed", "version": goal.version})
    assert response.status_code == 422
    goal.refresh_from_db()
    assert goal.status == GoalStatus.COMPLETED
