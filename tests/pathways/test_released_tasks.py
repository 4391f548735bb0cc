"""A task that waited for another is released when that one is done: its responsible person (else the
responsible organisation's coordinators) is told, and the plan shows it as ready, not waiting."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pathways import services
from pathways.choices import NotificationChannel, NotificationKind, TaskKind, TaskStatus
from pathways.models import Notification
from tests.conftest import sign_in


@pytest.fixture
def chain(world):
    """The home nurse's discharge visit, and the GP's follow-up that waits for it."""
    today = timezone.localdate()
    visit = services.task_create(
        actor=world.home_nurse,
        plan=world.plan,
        title="Besøg efter udskrivelse",
        responsible_organisation=world.municipality,
        responsible_person=world.home_nurse,
        kind=TaskKind.HOME_VISIT,
        due_date=today + timedelta(days=1),
    )
    follow_up = services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Opfølgning hos egen læge",
        responsible_organisation=world.gp,
        responsible_person=world.gp_doctor,
        kind=TaskKind.APPOINTMENT,
        due_date=today + timedelta(days=5),
        depends_on=visit,
    )
    return visit, follow_up


def released_to(user):
    return Notification.objects.addressed_to(user).filter(kind=NotificationKind.TASK_RELEASED)


def test_completing_a_task_tells_the_person_responsible_for_the_task_waiting_for_it(world, chain):
    visit, follow_up = chain
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)
    told = released_to(world.gp_doctor)
    assert {n.channel for n in told} == {NotificationChannel.IN_APP}
    assert told.get().task == follow_up
    assert not released_to(world.home_nurse).exists()  # who finished it knows


def test_without_a_responsible_person_the_organisations_coordinators_are_told(world, chain):
    visit, follow_up = chain
    follow_up.responsible_person = None
    follow_up.responsible_organisation = world.municipality
    follow_up.save()
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)
    assert released_to(world.coordinator).filter(task=follow_up).exists()


def test_tasks_on_hold_or_closed_are_not_released(world, chain):
    visit, follow_up = chain
    services.task_transition(actor=world.gp_doctor, task=follow_up, to_status=TaskStatus.ON_HOLD)
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)
    assert not released_to(world.gp_doctor).exists()


def test_other_status_changes_release_nothing(world, chain):
    visit, _follow_up = chain
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.IN_PROGRESS)
    assert not released_to(world.gp_doctor).exists()


def test_reopened_and_done_again_releases_again_once(world, chain):
    visit, _follow_up = chain
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)  # no-op
    assert released_to(world.gp_doctor).count() == 1
    visit.refresh_from_db()
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.IN_PROGRESS)
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)
    assert released_to(world.gp_doctor).count() == 2


def test_the_plan_shows_the_released_task_as_ready_not_waiting(client, world, chain):
    visit, follow_up = chain
    sign_in(client, world.gp_doctor)
    url = reverse("pathways:plan-detail", args=[world.plan.public_id])

    def follow_up_row(response):
        [row] = [r for r in response.context["page"].rows if r.task == follow_up]
        return row

    before = client.get(url)
    assert follow_up_row(before).is_blocked
    assert not follow_up_row(before).is_ready
    services.task_transition(actor=world.home_nurse, task=visit, to_status=TaskStatus.COMPLETED)
    after = client.get(url)
    assert follow_up_row(after).is_ready
    assert not follow_up_row(after).is_blocked
    assert "Klar: opgaven, den ventede på, er udført" in after.content.decode()


def test_the_status_change_answers_with_the_released_rows_out_of_band(client, world, chain):
    visit, follow_up = chain
    sign_in(client, world.home_nurse)
    url = reverse("pathways:task-status-partial", args=[world.plan.public_id, visit.public_id])
    response = client.post(url, {"status": "completed", "version": visit.version}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert f'<tr id="task-{visit.public_id}" class=' in body  # the row itself, swapped in place
    # The follower, out of band (a <template> keeps the lone row intact), now ready.
    oob = body[body.index("<template>") :]
    assert f'id="task-{follow_up.public_id}" hx-swap-oob="true"' in oob
    assert "Klar: opgaven, den ventede på, er udført" in oob
