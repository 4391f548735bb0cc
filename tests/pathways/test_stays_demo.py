"""The demo's hospital stays (pathways.demo._seed_stays): Kirsten's earlier admission and discharge, entered
by the hospital, with the follow-ups her templates' discharge rules made. Seeded once for the module and
rolled back afterwards, as tests/pathways/test_seed_demo.py does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from pathways.choices import (
    NotificationKind,
    NotificationState,
    StayEnd,
    TaskStatus,
    TransitionKind,
    TransitionSource,
)
from pathways.models import HospitalStay, Notification, Task, Transition

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module", autouse=True)
def demo_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=FAST_HASHER), django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


def earlier_stay() -> HospitalStay:
    return HospitalStay.objects.get(patient__given_name="Kirsten", end_reason=StayEnd.DISCHARGED)


@pytest.mark.django_db
def test_kirsten_was_admitted_20_days_ago_and_discharged_15_days_ago_by_the_hospital():
    stay = earlier_stay()
    today = timezone.localdate()
    assert stay.hospital.name == "Medicinsk afdeling"
    assert timezone.localtime(stay.started_at).date() == today - timedelta(days=20)
    assert timezone.localtime(stay.ended_at).date() == today - timedelta(days=15)
    events = list(
        stay.transitions.order_by("occurred_at").values_list("kind", "source", "recorded_by__username")
    )
    assert events == [
        (TransitionKind.ADMISSION, TransitionSource.MANUAL, "sygehus"),
        (TransitionKind.DISCHARGE, TransitionSource.MANUAL, "sygehus"),
    ]


@pytest.mark.django_db
def test_the_discharge_made_the_templates_follow_ups_and_those_due_by_now_are_done():
    discharge = earlier_stay().transitions.get(kind=TransitionKind.DISCHARGE)
    home = timezone.localtime(discharge.occurred_at).date()
    followups = list(Task.objects.filter(created_by_transition=discharge))
    assert {task.template_key for task in followups} >= {"hjemmesygeplejebesoeg", "opfoelgning-egen-laege"}
    visit = next(task for task in followups if task.template_key == "hjemmesygeplejebesoeg")
    assert visit.responsible_organisation.name == "Hjemmesygeplejen Roskilde"
    assert visit.due_date == home + timedelta(days=1)
    today = timezone.localdate()
    past = [task for task in followups if task.due_date is not None and task.due_date < today]
    assert past
    assert {task.status for task in past} == {TaskStatus.COMPLETED}
    assert discharge.effects.filter(kind="task_created").count() == len(followups)


@pytest.mark.django_db
def test_the_earlier_stays_notices_are_not_sent_today_and_a_second_run_adds_nothing():
    stay = earlier_stay()
    events = list(stay.transitions.values_list("pk", flat=True))
    told = Notification.objects.filter(
        kind__in=[NotificationKind.PATIENT_ADMITTED, NotificationKind.PATIENT_DISCHARGED],
        dedupe_key__regex=r"\|transition:(" + "|".join(str(pk) for pk in events) + r")$",
    )
    assert told.exists()
    assert set(told.values_list("state", flat=True)) == {NotificationState.CANCELLED}
    counts = (HospitalStay.objects.count(), Transition.objects.count(), Task.objects.count())
    with override_settings(PASSWORD_HASHERS=FAST_HASHER):
        call_command("seed_demo", stdout=StringIO())
    assert (HospitalStay.objects.count(), Transition.objects.count(), Task.objects.count()) == counts
