"""The outbox with the real parts: a Celery worker consuming from the test Redis, PostgreSQL, and the
broker down at the moment a change commits."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app
from pathways import outbox, services
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification
from tests.redis_server import RedisServer


def _wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _assign(world, task):
    return services.task_update(
        actor=world.coordinator,
        task=task,
        expected_version=task.version,
        title=task.title,
        kind=task.kind,
        responsible_organisation=task.responsible_organisation,
        responsible_person=world.home_nurse,
        window_start=task.window_start,
        due_date=task.due_date,
        description=task.description,
        goal=None,
        depends_on=None,
        visible_to_patient=task.visible_to_patient,
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_given_to_a_nurse_reaches_her_bell_and_mailbox_through_the_worker(world, mail_sink):
    world.home_nurse.email = "mette@example.invalid"
    world.home_nurse.save()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        _assign(world, world.plan.tasks.get())  # commits, then asks the worker through Redis
        rows = Notification.objects.filter(kind=NotificationKind.TASK_ASSIGNED)
        assert _wait_for(lambda: rows.filter(state=NotificationState.SENT).count() == 2)
    assert {r.channel for r in rows} == {NotificationChannel.IN_APP, NotificationChannel.EMAIL}
    assert [m["to"] for m in mail_sink.messages()] == [["mette@example.invalid"]]


@pytest.fixture
def own_broker(tmp_path):
    """The Celery app talks to a Redis of this test's own, which the test stops and starts."""
    server = RedisServer(tmp_path)
    server.start()
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = server.url  # type: ignore[misc]
    celery_app._after_fork()  # type: ignore[attr-defined]  # drop pooled connections (Celery's own reset)
    yield server
    server.stop()
    celery_app.conf.broker_url = original  # type: ignore[misc]
    celery_app._after_fork()  # type: ignore[attr-defined]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_the_change_is_saved_and_the_message_goes_out_when_redis_is_back(
    world, own_broker, mail_sink
):
    world.home_nurse.email = "mette@example.invalid"
    world.home_nurse.save()
    own_broker.stop()
    task = _assign(world, world.plan.tasks.get())  # commits; asking a worker fails and is logged
    assert task.responsible_person == world.home_nurse
    rows = Notification.objects.filter(kind=NotificationKind.TASK_ASSIGNED)
    assert set(rows.values_list("state", flat=True)) == {NotificationState.PENDING}
    own_broker.start()
    # Redis is back (empty: the request to deliver is gone). Beat's minute job finds the rows.
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        celery_app.send_task("pathways.tasks.notifications_sweep")
        assert _wait_for(lambda: rows.filter(state=NotificationState.SENT).count() == 2)
    assert [m["to"] for m in mail_sink.messages()] == [["mette@example.invalid"]]
    assert outbox.deliver_due() == 0  # nothing left, nothing sent twice
