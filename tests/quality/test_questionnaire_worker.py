"""A questionnaire due now reaches the patient's mailbox through a real Celery worker and the local
e-mail sink (as `make run` delivers it)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification
from quality.services import questionnaires_schedule
from tests.quality.questionnaire_helpers import plan_start, shipped  # noqa: F401 (autouse)


def _wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_questionnaire_asked_by_the_schedule_reaches_kirstens_mailbox(world, mail_sink):
    world.patient.email = "kirsten@example.invalid"
    world.patient.save()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert questionnaires_schedule(today=plan_start(world.plan)) == 1  # commits, then asks the worker
        sent = Notification.objects.filter(kind=NotificationKind.QUESTIONNAIRE_SENT)
        assert _wait_for(lambda: sent.filter(state=NotificationState.SENT).exists())
    assert sent.get().channel == NotificationChannel.EMAIL
    messages = mail_sink.messages()
    assert [m["to"] for m in messages] == [["kirsten@example.invalid"]]
    reminders = Notification.objects.filter(kind=NotificationKind.QUESTIONNAIRE_REMINDER)
    assert set(reminders.values_list("state", flat=True)) == {NotificationState.PENDING}  # not due yet
