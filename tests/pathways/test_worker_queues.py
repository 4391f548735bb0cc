"""Work that cannot starve other work (issue 18 item 6): every task has a queue of its kind, the workers of
`make run` (Procfile) and of docker-compose cover every queue, notices and PDFs never share a worker, and a
notice goes out while fifty renders wait in their own queue."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import redis
import yaml
from celery import current_app
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from config.celery import app as celery_app
from pathways.choices import NotificationKind, NotificationState
from pathways.documents import RENDER_TASK
from pathways.models import Notification
from tests.pathways.workers import assign_to_nurse, wait_for

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {queue.name for queue in settings.CELERY_TASK_QUEUES}


def _own_tasks() -> list[str]:
    celery_app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    apps = {"pathways", "coordination", "quality"}
    return sorted(name for name in celery_app.tasks if name.split(".")[0] in apps)


def _queue_of(task_name: str) -> str:
    route = celery_app.amqp.router.route({}, task_name)
    return str(route["queue"].name)


def _worker_queues(command: list[str]) -> set[str]:
    """The queues a `celery worker` command consumes (all of them without -Q)."""
    if "-Q" not in command:
        return set(QUEUES)
    return set(command[command.index("-Q") + 1].split(","))


def _procfile_workers() -> dict[str, set[str]]:
    workers = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _colon, command = line.partition(":")
        words = shlex.split(command)
        if "worker" in words and any(word.endswith("celery") for word in words):
            workers[name] = _worker_queues(words)
    return workers


def _compose_workers() -> dict[str, set[str]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {
        name: _worker_queues(list(service["command"]))
        for name, service in services.items()
        if isinstance(service.get("command"), list) and "worker" in service["command"]
    }


def test_every_task_has_a_queue_of_its_kind():
    own = _own_tasks()
    assert len(own) >= 15
    queues = {name: _queue_of(name) for name in own}
    assert set(queues.values()) <= QUEUES
    assert queues["pathways.tasks.notifications_deliver_due"] == "notifications"
    assert queues["pathways.tasks.document_render"] == "documents"
    assert queues["pathways.tasks.medcom_release_held"] == "ingest"
    assert queues["quality.tasks.summaries_refresh"] == "quality"


@pytest.mark.parametrize("workers", [_procfile_workers, _compose_workers], ids=["Procfile", "docker-compose"])
def test_the_workers_cover_every_queue_and_notices_never_wait_behind_pdfs(workers):
    found = workers()
    assert len(found) >= 2, found
    assert set().union(*found.values()) == QUEUES
    for queues in found.values():
        assert not ({"notifications", "ingest"} & queues and {"documents", "quality"} & queues), queues


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_notice_goes_out_while_fifty_renders_wait_in_their_own_queue(world, mail_sink):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("documents")
    for number in range(50):
        current_app.send_task(RENDER_TASK, args=[10**9 + number], retry=False, ignore_result=True)
    assert broker.llen("documents") == 50
    world.home_nurse.email = "mette@example.invalid"
    world.home_nurse.save()
    notices_worker = ["notifications", "ingest", "celery"]  # the Procfile's `worker`
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=notices_worker
        ):
            assign_to_nurse(world, world.plan.tasks.get())
            rows = Notification.objects.filter(kind=NotificationKind.TASK_ASSIGNED)
            assert wait_for(lambda: rows.filter(state=NotificationState.SENT).count() == 2, seconds=30.0)
        assert [m["to"] for m in mail_sink.messages()] == [["mette@example.invalid"]]
        assert broker.llen("documents") == 50  # untouched: the notice did not wait behind them
    finally:
        broker.delete("documents")
