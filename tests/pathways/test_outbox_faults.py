"""Fault tests for the outbox with real processes: a Celery worker killed with SIGKILL in the middle of a
batch, and PostgreSQL restarted while a sweep runs. Afterwards every message has reached the mail sink
exactly once (the sink, like a real gateway, recognises a resend by its idempotency key, and at most the
one message in flight when a process died is resent)."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config.celery import app as celery_app
from pathways import outbox
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _emails(world, count: int) -> None:
    Notification.objects.all().delete()  # the world's own messages (its plan was activated)
    world.coordinator.email = "lars@example.invalid"
    world.coordinator.save()
    with transaction.atomic():
        for index in range(count):
            outbox.notify(
                recipient=world.coordinator,
                kind=NotificationKind.TASK_ASSIGNED,
                channel=NotificationChannel.EMAIL,
                plan=world.plan,
                due_at=timezone.now(),
                event=f"fault-{index}",
            )


def _sent() -> int:
    return Notification.objects.filter(state=NotificationState.SENT).count()


def _worker(mail_sink) -> subprocess.Popen[bytes]:
    """`celery worker` as `make run` starts it, against the test database, Redis and the mail sink."""
    env = os.environ | {
        "PGDATABASE": connection.settings_dict["NAME"],
        "FF_SMTP_HOST": "127.0.0.1",
        "FF_SMTP_PORT": str(mail_sink.port),
        "FF_NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
               "--without-gossip", "--without-mingle", "-n", f"fault-{uuid.uuid4().hex[:8]}@%h"]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _assert_each_message_once(mail_sink, count: int) -> None:
    """Every row reached the mail server, under its own id; at most the one message in flight when a
    process died arrived a second time (and was recognised by its id); every row is recorded as sent."""
    domain = "@faelles-forloeb.invalid>"
    expected = {
        f"<{public_id}{domain}" for public_id in Notification.objects.values_list("public_id", flat=True)
    }
    received = {message["message_id"] for message in mail_sink.messages()}
    assert len(expected) == count
    assert received == expected
    assert mail_sink.duplicates() <= 1
    assert _sent() == count


def test_kill_9_of_the_worker_mid_batch_leaves_each_of_200_messages_delivered_exactly_once(world, mail_sink):
    mail_sink.slow_down(0.02)  # 200 messages take about 4 s: long enough to be killed half-way
    _emails(world, 200)
    worker = _worker(mail_sink)
    try:
        celery_app.send_task(outbox.DELIVER_TASK)
        assert _wait_for(lambda: len(mail_sink.messages()) >= 50, 60), "the worker never started sending"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        _stop(worker)
    assert 0 < _sent() < 200, "the worker was not killed in the middle of the batch"
    stuck = Notification.objects.filter(state=NotificationState.SENDING).count()
    assert stuck > 0  # claimed by the dead worker, waiting for their lease to run out
    time.sleep(LEASE_SECONDS + 0.5)
    mail_sink.slow_down(0)
    successor = _worker(mail_sink)
    try:
        celery_app.send_task("pathways.tasks.notifications_sweep")  # what beat sends every minute
        assert _wait_for(lambda: _sent() == 200, 90)
    finally:
        _stop(successor)
    _assert_each_message_once(mail_sink, 200)


def _data_directory() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        return str(cursor.fetchone()[0])


def _restart_postgresql(data_directory: str) -> None:
    pg_ctl = shutil.which("pg_ctl") or "/usr/lib/postgresql/15/bin/pg_ctl"
    # Restarted with the options it was started with (pg_ctl keeps them); its log goes to a file, so
    # the new server holds no pipe of ours open.
    log = str(Path(data_directory) / "restart-by-test.log")
    command = [pg_ctl, "-D", data_directory, "-l", log, "restart", "-m", "fast", "-w", "-t", "60"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90)


def test_postgresql_restarted_during_a_sweep_loses_nothing_and_doubles_nothing(world, mail_sink, monkeypatch):
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=LEASE_SECONDS))  # the in-process sweep's lease
    mail_sink.slow_down(0.02)
    _emails(world, 200)
    data_directory = _data_directory()
    failures: list[BaseException] = []

    def sweeper() -> None:
        # A sweep in this process (the worker's code) that loses its database half-way.
        try:
            outbox.deliver_due(batch=50)
        except Exception as error:  # the expected OperationalError when the server goes away
            failures.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=sweeper)
    thread.start()
    assert _wait_for(lambda: len(mail_sink.messages()) >= 50, 60)
    _restart_postgresql(data_directory)
    thread.join(timeout=60)
    connection.close()  # this test's own connection died with the server too
    assert failures, "the sweep finished before the restart: nothing was tested"
    assert 0 < _sent() < 200
    time.sleep(LEASE_SECONDS + 0.5)
    mail_sink.slow_down(0)
    # After the restart: a worker and the next minute's sweep (its lease is the test's 3 s).
    successor = _worker(mail_sink)
    try:
        celery_app.send_task("pathways.tasks.notifications_sweep")
        assert _wait_for(lambda: _sent() == 200, 90)
    finally:
        _stop(successor)
    _assert_each_message_once(mail_sink, 200)
