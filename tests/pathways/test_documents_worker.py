"""Printable plans with the real parts: `celery worker` processes as `make run` starts them, a Redis of the
test's own (stopped and started by the test), PostgreSQL, WeasyPrint and the builders the apps register.

- asked for on a page, rendered by a worker: DONE, with the patient's name in the PDF;
- a letter the outbox delivers to the print queue gets its PDF, the plan attached, through the worker;
- a worker killed with SIGKILL in the middle of a long render: the sweeper gives the document to a second
  worker, and there is one document, done once;
- Redis down when a document is asked for: the request commits, the document waits, and the sweeper gets
  it rendered once Redis is back.
Every wait is bounded; every worker is stopped whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.translation import get_language

from config.celery import app as celery_app
from pathways import documents, extensions, services
from pathways.choices import (
    ContactChannel,
    DocumentKind,
    DocumentState,
    NotificationChannel,
    NotificationState,
    TaskKind,
)
from pathways.models import Notification, PlanDocument
from tests.pathways.test_documents import pdf_text, stored_pdf
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def broker(tmp_path):
    """The Celery app of this process and the workers talk to a Redis of this test's own."""
    server = RedisServer(tmp_path)
    server.start()
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = server.url  # type: ignore[misc]
    celery_app._after_fork()  # type: ignore[attr-defined]  # drop pooled connections (Celery's own reset)
    yield server
    server.stop()
    celery_app.conf.broker_url = original  # type: ignore[misc]
    celery_app._after_fork()  # type: ignore[attr-defined]


class Workers:
    """`celery worker` processes against the test database and Redis; all stopped at the end."""

    def __init__(self, broker: RedisServer) -> None:
        self.broker = broker
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        environment = os.environ | {
            "PGDATABASE": connection.settings_dict["NAME"],
            "REDIS_URL": self.broker.url,
            **env,
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
                   "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"documents-{uuid.uuid4().hex[:8]}@%h"]  # fmt: skip
        worker = subprocess.Popen(command, cwd=ROOT, env=environment, start_new_session=True)
        self.started.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=10)


@pytest.fixture
def workers(broker):
    started = Workers(broker)
    yield started
    started.stop_all()


def _document(pk: int) -> PlanDocument:
    return PlanDocument.objects.get(pk=pk)


def _done(pk: int) -> bool:
    return _document(pk).state == DocumentState.DONE


def test_a_document_asked_for_is_rendered_by_a_worker(world, workers):
    workers.start()
    document = documents.document_request(
        plan=world.plan, kind=DocumentKind.LARGE_PRINT, requester=world.coordinator
    )  # commits, then asks a worker through Redis
    assert _wait_for(lambda: _done(document.pk), 90), f"not rendered: {_document(document.pk).state}"
    done = _document(document.pk)
    assert (done.progress, done.attempts, done.error) == (100, 1, "")
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.started_at <= done.finished_at
    text = pdf_text(stored_pdf(done.pk))
    assert "Kirsten" in text
    assert world.patient.cpr not in text
    assert world.patient.cpr[:6] not in text
    assert done.pages
    assert done.size == len(stored_pdf(done.pk))


def test_a_letter_delivered_to_the_print_queue_gets_its_pdf_with_the_plan_through_the_worker(world, workers):
    world.patient.preferred_contact = ContactChannel.LETTER
    world.patient.address, world.patient.postal_code, world.patient.city = (
        "Møllehusvej 14",
        "4000",
        "Roskilde",
    )
    world.patient.save()
    task = services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title="Kontrol i lungeambulatoriet",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        window_start=date(2027, 5, 10),
        due_date=date(2027, 5, 10),
    )
    letter = Notification.objects.get(task=task, channel=NotificationChannel.LETTER)
    Notification.objects.filter(pk=letter.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    workers.start()
    # What the outbox's minute job does: deliver what is due; the letter goes to the print queue and the
    # outbox asks for its PDF, which the worker makes and renders.
    celery_app.send_task("pathways.tasks.notifications_deliver_due")
    made = PlanDocument.objects.filter(notification=letter)
    assert _wait_for(lambda: made.filter(state=DocumentState.DONE).exists(), 90)
    assert Notification.objects.get(pk=letter.pk).state == NotificationState.SENT
    pdf = made.get()
    text = pdf_text(stored_pdf(pdf.pk))
    assert "Kirsten Testesen" in text
    assert "Møllehusvej 14" in text
    assert "4000 Roskilde" in text
    assert "46 31 00 00" in text  # the coordinator's phone
    # The plan for the patient (the portal's builder) follows the letter.
    assert pdf.attachment_fingerprint
    assert pdf.pages is not None
    assert pdf.pages >= 2
    assert "At kunne blive boende hjemme." in text  # what matters to her, from the attached plan
    assert made.count() == 1


def _long_plan(plan, content: str) -> str:
    """A plan long enough that a worker can be killed while it renders (a table of 400 rows)."""
    rows = "".join(
        f"<tr><td>{n}</td><td>Hjemmebesøg og opfølgning på medicin</td><td>Hjemmesygeplejen Roskilde</td>"
        f"<td>{n % 28 + 1}. december 2026</td></tr>"
        for n in range(400)
    )
    return (
        f'<!doctype html><html lang="{get_language()}"><head><meta charset="utf-8"><title>Plan</title>'
        '<link rel="stylesheet" href="css/print.css"></head><body>'
        f'<p class="ff-stamp">{documents.STAMP}</p><h1>{plan.patient.full_name}</h1><table>{rows}</table>'
        "</body></html>"
    )


def test_a_worker_killed_mid_render_leaves_one_document_made_once_by_another_worker(
    world, workers, monkeypatch
):
    monkeypatch.setitem(extensions.DOCUMENT_BUILDERS, DocumentKind.STAFF, _long_plan)
    first = workers.start()
    document = documents.document_request(
        plan=world.plan, kind=DocumentKind.STAFF, requester=world.coordinator
    )
    rendering = PlanDocument.objects.filter(pk=document.pk, state=DocumentState.RENDERING, progress__gte=30)
    assert _wait_for(rendering.exists, 60), "the worker never started rendering"
    workers.kill(first)
    killed = _document(document.pk)
    assert killed.lease_until is not None
    assert (killed.state, killed.attempts, killed.pdf) == (DocumentState.RENDERING, 1, None), (
        "the worker was not killed in the middle of the render"
    )
    workers.start()
    # Before the lease is over the document is left alone (its worker might be alive) ...
    assert documents.documents_sweep(now=killed.lease_until - timedelta(seconds=1)) == 0
    assert _document(document.pk).state == DocumentState.RENDERING
    # ... and after it (beat's minute job, with the clock moved on) it goes to the second worker.
    assert documents.documents_sweep(now=killed.lease_until + timedelta(seconds=1)) == 1
    assert _wait_for(lambda: _done(document.pk), 120), f"not rendered: {_document(document.pk).state}"
    done = _document(document.pk)
    assert (done.attempts, done.progress, done.error) == (2, 100, "")
    assert PlanDocument.objects.count() == 1
    text = pdf_text(stored_pdf(done.pk))
    assert "Kirsten Testesen" in text
    assert "399" in text  # the last row
    assert done.pages == text.count("\f")


def test_with_redis_down_the_document_waits_and_is_rendered_once_redis_is_back(world, broker, workers):
    broker.stop()
    document = documents.document_request(
        plan=world.plan, kind=DocumentKind.PATIENT, requester=world.coordinator
    )  # commits; asking a worker fails and is logged
    waiting = _document(document.pk)
    assert (waiting.state, waiting.attempts) == (DocumentState.QUEUED, 0)
    broker.start()  # back, and empty: the request to render is gone
    # A worker whose sweep asks again for what waited any time at all (the default: a minute).
    workers.start(FF_DOCUMENT_REQUEUE_SECONDS="0")
    celery_app.send_task("pathways.tasks.documents_sweep")  # what beat sends every minute
    assert _wait_for(lambda: _done(document.pk), 90), f"not rendered: {_document(document.pk).state}"
    done = _document(document.pk)
    assert done.attempts == 1
    assert "Kirsten" in pdf_text(stored_pdf(done.pk))
    assert PlanDocument.objects.count() == 1
