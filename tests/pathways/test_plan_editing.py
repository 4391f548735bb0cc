"""Live editing of the shared plan: who may change what, htmx fragments, plain posts, and conflicts."""

import pytest
from django.urls import reverse

from pathways.choices import AccessAction, TaskStatus
from pathways.models import AccessLog, PlanParticipant, Task
from tests.conftest import sign_in

HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(client, user):
    sign_in(client, user)
    return client


def home_visit(world) -> Task:
    return Task.objects.get(plan=world.plan, title="Hjemmebesøg")


def status_url(world, task):
    return reverse("pathways:task-status-partial", args=[world.plan.public_id, task.public_id])


def test_nurse_marks_her_own_home_visit_done_and_gets_the_updated_row(client, world):
    task = home_visit(world)
    signed_in(client, world.home_nurse)
    response = client.post(status_url(world, task), {"status": "completed", "version": task.version}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="task-{task.public_id}"')
    assert "Udført" in body
    assert response["HX-Trigger"] == "plan-changed"
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert AccessLog.objects.filter(actor=world.home_nurse, action=AccessAction.EDIT_PLAN).count() == 1


def test_plain_form_post_without_javascript_redirects_back_to_the_plan(client, world):
    task = home_visit(world)
    signed_in(client, world.home_nurse)
    response = client.post(status_url(world, task), {"status": "in_progress", "version": task.version})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#task-{task.public_id}")
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS


@pytest.mark.parametrize("who", ["gp_doctor", "hospital_doctor"])
def test_other_sectors_cannot_change_the_municipalitys_task(client, world, who):
    task = home_visit(world)
    signed_in(client, getattr(world, who))
    response = client.post(status_url(world, task), {"status": "completed", "version": task.version}, **HTMX)
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == TaskStatus.REQUESTED


def test_the_coordinator_may_change_any_task(client, world):
    task = home_visit(world)
    signed_in(client, world.coordinator)
    client.post(status_url(world, task), {"status": "accepted", "version": task.version}, **HTMX)
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED


def test_a_user_outside_the_plan_gets_404_and_nothing_changes(client, world):
    task = home_visit(world)
    signed_in(client, world.outsider)
    response = client.post(status_url(world, task), {"status": "completed", "version": task.version})
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.REQUESTED


def test_second_editor_with_a_stale_version_gets_a_conflict_with_current_values(client, world):
    task = home_visit(world)
    seen_version = task.version
    signed_in(client, world.coordinator)
    client.post(status_url(world, task), {"status": "in_progress", "version": seen_version}, **HTMX)
    signed_in(client, world.home_nurse)
    response = client.post(status_url(world, task), {"status": "cancelled", "version": seen_version}, **HTMX)
    body = response.content.decode()
    assert "ændret" in body  # "Someone else changed this task…"
    assert "I gang" in body  # the current value is shown
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS


def test_a_status_the_task_cannot_move_to_is_refused_clearly(client, world):
    task = home_visit(world)
    signed_in(client, world.home_nurse)
    client.post(status_url(world, task), {"status": "completed", "version": task.version}, **HTMX)
    task.refresh_from_db()
    response = client.post(status_url(world, task), {"status": "cancelled", "version": task.version}, **HTMX)
    assert "Vælg en af de viste statusser." in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED


@pytest.mark.parametrize(
    "payload", [{}, {"status": "completed"}, {"status": "bogus", "version": 1}, {"version": "x"}]
)
def test_malformed_status_posts_change_nothing(client, world, payload):
    task = home_visit(world)
    signed_in(client, world.home_nurse)
    response = client.post(status_url(world, task), payload, **HTMX)
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.REQUESTED


def test_coordinator_edits_what_matters_in_place(client, world):
    url = reverse("pathways:what-matters-partial", args=[world.plan.public_id])
    signed_in(client, world.coordinator)
    form = client.get(url, **HTMX)
    assert "<textarea" in form.content.decode()
    response = client.post(
        url, {"what_matters": "At se mine børnebørn.", "version": world.plan.version}, **HTMX
    )
    assert "At se mine børnebørn." in response.content.decode()
    world.plan.refresh_from_db()
    assert world.plan.what_matters == "At se mine børnebørn."


def test_what_matters_conflict_keeps_both_texts_visible(client, world):
    url = reverse("pathways:what-matters-partial", args=[world.plan.public_id])
    stale = world.plan.version
    signed_in(client, world.coordinator)
    client.post(url, {"what_matters": "Først gemt", "version": stale}, **HTMX)
    response = client.post(url, {"what_matters": "Min tekst", "version": stale}, **HTMX)
    body = response.content.decode()
    assert "Først gemt" in body
    assert "Min tekst" in body
    world.plan.refresh_from_db()
    assert world.plan.what_matters == "Først gemt"


def test_only_the_coordinator_edits_what_matters(client, world):
    url = reverse("pathways:what-matters-partial", args=[world.plan.public_id])
    signed_in(client, world.hospital_doctor)
    assert client.post(url, {"what_matters": "x", "version": world.plan.version}).status_code == 403
    world.plan.refresh_from_db()
    assert world.plan.what_matters == "At kunne blive boende hjemme."


def test_a_participant_accepts_its_own_commitments_only(client, world):
    gp_participant = PlanParticipant.objects.get(plan=world.plan, organisation=world.gp)
    hospital_participant = PlanParticipant.objects.get(plan=world.plan, organisation=world.hospital)
    signed_in(client, world.gp_doctor)
    own = reverse(
        "pathways:participant-accept-partial", args=[world.plan.public_id, gp_participant.public_id]
    )
    other = reverse(
        "pathways:participant-accept-partial", args=[world.plan.public_id, hospital_participant.public_id]
    )
    response = client.post(own, **HTMX)
    assert response.status_code == 200
    assert "Accepteret" in response.content.decode()
    assert client.post(other, **HTMX).status_code == 403
    gp_participant.refresh_from_db()
    hospital_participant.refresh_from_db()
    assert gp_participant.accepted_by == world.gp_doctor
    assert hospital_participant.accepted_at is None


def test_nurse_adds_a_task_for_her_own_organisation(client, world):
    url = reverse("pathways:task-create", args=[world.plan.public_id])
    signed_in(client, world.home_nurse)
    page = client.get(url).content.decode()
    assert "Hjemmesygeplejen Roskilde" in page
    assert "Medicinsk afdeling" not in page  # only organisations she acts for
    response = client.post(
        url,
        {
            "title": "Sårpleje",
            "kind": "home_visit",
            "responsible_organisation": world.municipality.public_id,
            "due_date": "2026-12-01",
            "visible_to_patient": "on",
        },
    )
    assert response.status_code == 302
    task = Task.objects.get(title="Sårpleje")
    assert task.responsible_organisation == world.municipality
    assert task.created_by == world.home_nurse


def test_adding_a_task_for_another_organisation_is_refused(client, world):
    url = reverse("pathways:task-create", args=[world.plan.public_id])
    signed_in(client, world.home_nurse)
    response = client.post(
        url, {"title": "Snyd", "kind": "other", "responsible_organisation": world.hospital.public_id}
    )
    assert response.status_code == 422
    assert not Task.objects.filter(title="Snyd").exists()


def test_a_task_window_that_ends_before_it_starts_is_refused_with_a_message(client, world):
    url = reverse("pathways:task-create", args=[world.plan.public_id])
    signed_in(client, world.coordinator)
    response = client.post(
        url,
        {
            "title": "Baglæns",
            "kind": "other",
            "responsible_organisation": world.municipality.public_id,
            "window_start": "2026-12-10",
            "due_date": "2026-12-01",
        },
    )
    assert response.status_code == 422
    assert "Startdatoen må ikke ligge efter fristen." in response.content.decode()
    assert not Task.objects.filter(title="Baglæns").exists()


def test_plan_page_offers_status_change_only_on_editable_tasks(client, world):
    signed_in(client, world.gp_doctor)
    body = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    assert "ff-status-form" not in body
    signed_in(client, world.home_nurse)
    body = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    assert "ff-status-form" in body


def test_timeline_view_shows_the_same_tasks(client, world):
    signed_in(client, world.gp_doctor)
    body = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id]) + "?view=timeline")
    assert "Hjemmebesøg" in body.content.decode()
