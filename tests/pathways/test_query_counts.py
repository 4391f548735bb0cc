"""Pages run a constant number of SQL queries whatever the number of patients or tasks behind them.

Every staff page counts the user's unread messages for the bell in its header: one query of each bound."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pathways.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    TaskKind,
)
from pathways.models import Notification, PathwayPlan, Patient, PlanCondition, PlanParticipant, Task
from tests.conftest import sign_in


def add_patients(world, n: int) -> None:
    """n more patients with active plans in the home nurse's organisation (bulk, for speed)."""
    start = Patient.objects.count()
    patients = Patient.objects.bulk_create(
        Patient(
            cpr=f"0101{(start + i) % 100:02d}{1000 + start + i:04d}"[:10],
            birth_date=timezone.localdate().replace(year=1950),
            given_name=f"Bulk{start + i}",
            family_name="Patient",
            home_municipality="265",
        )
        for i in range(n)
    )
    plans = PathwayPlan.objects.bulk_create(
        PathwayPlan(patient=p, title="Plan", status=PlanStatus.ACTIVE, coordinator=world.coordinator,
                    coordinator_organisation=world.municipality)
        for p in patients
    )  # fmt: skip
    PlanParticipant.objects.bulk_create(
        PlanParticipant(plan=p, organisation=world.municipality) for p in plans
    )
    PlanCondition.objects.bulk_create(PlanCondition(plan=p, display="KOL") for p in plans)
    add_tasks_to(plans, world, per_plan=2)


def add_tasks_to(plans, world, per_plan: int) -> None:
    today = timezone.localdate()
    Task.objects.bulk_create(
        Task(
            plan=plan,
            title=f"Task {i}",
            kind=TaskKind.HOME_VISIT,
            responsible_organisation=[world.hospital, world.municipality, world.gp][i % 3],
            responsible_person=world.home_nurse,
            due_date=today + timedelta(days=i - per_plan // 2),
        )
        for plan in plans
        for i in range(per_plan)
    )


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def nurse_client(client, world):
    sign_in(client, world.home_nurse)
    return client


def test_caseload_queries_do_not_grow_with_patients(nurse_client, world):
    url = reverse("pathways:caseload")
    add_patients(world, 9)
    small = count_queries(nurse_client, url)
    add_patients(world, 490)
    large = count_queries(nurse_client, url)
    assert large == small
    assert small >= 3
    # At most 11, and one more for the link to "admissions without a plan" (pathways.selectors, ingest).
    assert 3 <= small <= 12


def test_plan_page_queries_do_not_grow_with_tasks(nurse_client, world):
    url = reverse("pathways:plan-detail", args=[world.plan.public_id])
    add_tasks_to([world.plan], world, per_plan=4)  # 5 tasks with the fixture's own
    small = count_queries(nurse_client, url)
    add_tasks_to([world.plan], world, per_plan=195)  # 200 tasks
    large = count_queries(nurse_client, url)
    assert large == small
    # The hub's page reads in at most 16 (13, the plan's templates in 1 and its hospital stays in 2); the
    # sections the apps above add (pathways.extensions) read in a fixed number more: coordination's need
    # assessment, handovers, disputes with their task markers and messages, at most 7; quality's wellbeing:
    # the questionnaire and its bands, the patient's trend, unseen flags, open questionnaires, at most 5.
    assert 3 <= small <= 16 + 7 + 5


def test_api_plan_list_queries_do_not_grow_with_plans(nurse_client, world):
    url = reverse("api:plan-list")
    add_patients(world, 5)
    small = count_queries(nurse_client, url)
    add_patients(world, 40)
    large = count_queries(nurse_client, url)
    assert large == small
    assert small >= 3


def test_plan_history_queries_do_not_grow_with_events(nurse_client, world):
    url = reverse("pathways:plan-history", args=[world.plan.public_id])
    add_tasks_to([world.plan], world, per_plan=2)
    small = count_queries(nurse_client, url)
    add_tasks_to([world.plan], world, per_plan=150)
    Task.objects.filter(plan=world.plan).update(status="accepted")  # and an update event for each
    with CaptureQueriesContext(connection) as ctx:
        response = nurse_client.get(url)
    assert response.content.decode().count("Accepteret") >= 150
    large = len(ctx.captured_queries)
    assert large == small
    assert 3 <= small <= 13


def add_notifications(world, n: int) -> None:
    """n more patients with plans, each with an arrived in-app message to the home nurse (bulk)."""
    add_patients(world, n)
    plans = PathwayPlan.objects.filter(patient__given_name__startswith="Bulk").order_by("-id")[:n]
    recipient_type = ContentType.objects.get_for_model(world.home_nurse)
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            dedupe_key=f"query-count:{plan.pk}",
            kind=NotificationKind.TASK_ASSIGNED,
            channel=NotificationChannel.IN_APP,
            recipient_type=recipient_type,
            recipient_id=world.home_nurse.pk,
            plan=plan,
            task=plan.tasks.first(),
            due_at=now,
            state=NotificationState.SENT,
            sent_at=now,
        )
        for plan in plans
    )


def test_notification_list_queries_do_not_grow_with_messages(nurse_client, world):
    url = reverse("pathways:notifications")
    add_notifications(world, 5)
    small = count_queries(nurse_client, url)
    add_notifications(world, 45)  # 50: a full page, from 50 plans
    large = count_queries(nurse_client, url)
    assert nurse_client.get(url).content.decode().count('<li id="notification-') == 50
    assert large == small
    assert 3 <= small <= 10
