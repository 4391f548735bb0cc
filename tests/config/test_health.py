"""/healthz against real services: the test Redis, a real Celery worker, and a Redis we stop ourselves."""

import shutil
import socket
import subprocess
import time
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of the test's own, so the test can stop it."""
    port = _free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield proc, f"redis://127.0.0.1:{port}/0"
    proc.kill()
    proc.wait(timeout=5)


@pytest.mark.worker
# Celery's Django fix-up closes the caller's database connections when the worker starts; outside a
# test transaction Django simply reconnects.
@pytest.mark.django_db(transaction=True)
def test_healthz_reports_all_three_services_up_with_a_running_worker(client):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        body: dict[str, Any] = {}
        for _ in range(20):  # the worker needs a moment before it answers pings
            response = client.get("/healthz")
            body = response.json()
            if response.status_code == 200:
                break
            time.sleep(0.5)
    assert response.status_code == 200, body
    assert body["checks"] == {"database": "up", "redis": "up", "celery_worker": "up"}
    assert body["celery_workers"] >= 1


@pytest.mark.django_db
def test_healthz_without_a_worker_is_503(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["celery_worker"] == "down"
    assert response.json()["checks"]["redis"] == "up"


@pytest.mark.django_db
def test_healthz_with_redis_stopped_is_503(client, settings, own_redis):
    proc, url = own_redis
    settings.REDIS_URL = url
    assert client.get("/healthz").json()["checks"]["redis"] == "up"
    proc.terminate()
    proc.wait(timeout=5)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == "down"
    assert body["checks"]["database"] == "up"


@pytest.mark.django_db
def test_healthz_needs_no_login_and_shows_no_patient_data(client, world):
    body = client.get("/healthz").content.decode()
    assert "Kirsten" not in body


@pytest.mark.django_db
def test_healthz_counts_waiting_and_failed_messages_in_the_outbox(client, world):
    from django.utils import timezone

    from pathways import outbox
    from pathways.choices import NotificationChannel, NotificationKind, NotificationState
    from pathways.models import Notification

    Notification.objects.all().delete()
    for index in range(3):
        outbox.notify(
            recipient=world.coordinator,
            kind=NotificationKind.TASK_ASSIGNED,
            channel=NotificationChannel.IN_APP,
            plan=world.plan,
            due_at=timezone.now(),
            event=str(index),
        )
    first = Notification.objects.order_by("pk").first()
    assert first is not None
    Notification.objects.filter(pk=first.pk).update(state=NotificationState.FAILED)
    assert client.get("/healthz").json()["outbox"] == {"pending": 2, "failed": 1}
