"""The outbox with the real parts: a Celery worker consuming from the test Redis, PostgreSQL, and the
broker down at the moment a change commits."""

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app
from pathways import outbox
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification
from tests.pathways.workers import assign_to_nurse, wait_for
from tests.redis_server import RedisServer


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_given_to_a_nurse_reaches_her_bell_and_mailbox_through_the_worker(world, mail_sink):
    world.home_nurse.email = "mette@example.invalid"
    world.home_nurse.save()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assign_to_nurse(world, world.plan.tasks.get())  # commits, then asks the worker through Redis
        rows = Notification.objects.filter(kind=NotificationKind.TASK_ASSIGNED)
        assert wait_for(lambda: rows.filter(state=NotificationState.SENT).count() == 2)
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
    task = assign_to_nurse(world, world.plan.tasks.get())  # commits; asking a worker fails and is logged
    assert task.responsible_person == world.home_nurse
    rows = Notification.objects.filter(kind=NotificationKind.TASK_ASSIGNED)
    assert set(rows.values_list("state", flat=True)) == {NotificationState.PENDING}
    own_broker.start()
    # Redis is back (empty: the request to deliver is gone). Beat's minute job finds the rows.
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        celery_app.send_task("pathways.tasks.notifications_sweep")
        assert wait_for(lambda: rows.filter(state=NotificationState.SENT).count() == 2)
    assert [m["to"] for m in mail_sink.messages()] == [["mette@example.invalid"]]
    assert outbox.deliver_due() == 0  # nothing left, nothing sent twice
