"""The render machinery of printable plans (pathways.documents), in-process: one row and one render per
content, numbering without gaps under concurrent askers, versions kept, failures reported and retried, the
sweeper's take-backs, a fetcher that loads nothing outside static/, progress, and the letters' PDFs.

The documents' content belongs to the apps that register builders (portal, coordination); here a small
builder of the test's own stands in for them (the fixture puts the registry back afterwards)."""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
from datetime import datetime, timedelta
from html import escape

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import get_language

from pathways import documents, extensions, outbox, services
from pathways.choices import (
    ContactChannel,
    DocumentContent,
    DocumentKind,
    DocumentState,
    NotificationChannel,
    NotificationKind,
)
from pathways.models import Notification, PathwayPlan, PlanDocument

# A marker a thread puts in the plans it builds (two askers with different content).
_building = threading.local()


def _plan_html(plan: PathwayPlan, content: str) -> str:
    """A small document as a builder makes one: the stamp's place, the patient, what matters, the tasks."""
    tasks = "".join(f"<li>{escape(t.title)}</li>" for t in plan.tasks.order_by("pk"))
    marker = getattr(_building, "marker", "")
    return (
        f'<!doctype html><html lang="{get_language()}"><head><meta charset="utf-8"><title>Plan</title>'
        '<link rel="stylesheet" href="css/print.css"></head><body>'
        f'<p class="ff-stamp">{documents.STAMP}</p><h1>{escape(plan.patient.full_name)}</h1>'
        f"<p>{escape(plan.what_matters)}</p><ul>{tasks}</ul><p>{content} {marker}</p></body></html>"
    )


@pytest.fixture
def builders(monkeypatch):
    """The test's builder for every kind a plan is printed as (the registry is restored afterwards)."""
    for kind in (DocumentKind.PATIENT, DocumentKind.LARGE_PRINT, DocumentKind.STAFF):
        monkeypatch.setitem(extensions.DOCUMENT_BUILDERS, kind, _plan_html)


@pytest.fixture
def asked(monkeypatch):
    """The documents a worker was asked to render, in order (nothing goes to Redis)."""
    calls: list[int] = []

    def record(document_id: int) -> bool:
        calls.append(document_id)
        return True

    monkeypatch.setattr(documents, "ask_to_render", record)
    return calls


@pytest.fixture
def renders(monkeypatch):
    """Counts WeasyPrint renders (each one still real)."""
    real = documents.html_to_pdf
    calls: list[str] = []

    def counted(html: str, **kwargs):
        calls.append(html)
        return real(html, **kwargs)

    monkeypatch.setattr(documents, "html_to_pdf", counted)
    return calls


def stored_pdf(document_id: int) -> bytes:
    pdf = PlanDocument.objects.values_list("pdf", flat=True).get(pk=document_id)
    assert pdf is not None
    return bytes(pdf)


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30
    )
    return result.stdout.decode()


def _ask(world, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN) -> PlanDocument:
    return documents.document_request(
        plan=world.plan, kind=kind, content=content, requester=world.coordinator
    )


def _lease_end(document_id: int) -> datetime:
    lease_until = PlanDocument.objects.values_list("lease_until", flat=True).get(pk=document_id)
    assert lease_until is not None
    return lease_until


def _what_matters(plan: PathwayPlan, text: str) -> None:
    PathwayPlan.objects.filter(pk=plan.pk).update(what_matters=text)
    plan.refresh_from_db()


# --- asking ---


def test_the_same_content_asked_twice_is_one_row_rendered_once(
    world, builders, renders, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as first_asks:
        first = _ask(world)
    with django_capture_on_commit_callbacks() as second_asks:
        second = _ask(world)
    assert second.pk == first.pk
    assert (len(first_asks), len(second_asks)) == (1, 0)  # a worker is asked once
    assert documents.document_render(first.pk) is True
    assert documents.document_render(first.pk) is False  # asked again (the sweeper, a duplicate): nothing
    assert len(renders) == 1
    assert PlanDocument.objects.filter(plan=world.plan).count() == 1
    done = PlanDocument.objects.get(pk=first.pk)
    assert (done.state, done.number, done.progress) == (DocumentState.DONE, 1, 100)
    assert done.pages == 1
    assert done.size == len(stored_pdf(done.pk))
    assert "Kirsten Testesen" in pdf_text(stored_pdf(done.pk))


def test_the_stamp_holds_version_and_date_but_is_left_out_of_the_fingerprint(world, builders):
    document = _ask(world)
    stored = PlanDocument.objects.get(pk=document.pk)
    assert documents.STAMP not in stored.html
    assert escape(documents.stamp_text(stored)) in stored.html
    assert stored.fingerprint == documents.fingerprint(_plan_html(world.plan, DocumentContent.WHOLE_PLAN))


def test_each_kind_and_each_content_is_its_own_document_numbered_on_its_own(world, builders):
    patient = _ask(world)
    appointments = _ask(world, content=DocumentContent.APPOINTMENTS)
    staff = _ask(world, kind=DocumentKind.STAFF)
    assert len({patient.pk, appointments.pk, staff.pk}) == 3
    # Versions count per kind and content: a relative's appointments start at 1, and the numbers the
    # patient sees have no gaps that tell how often the other content was made.
    assert (patient.number, appointments.number, staff.number) == (1, 1, 1)


def test_a_changed_plan_is_version_2_and_version_1_is_kept(world, builders):
    first = _ask(world)
    _what_matters(world.plan, "At kunne gå i haven igen.")
    second = _ask(world)
    assert (first.number, second.number) == (1, 2)
    kept = PlanDocument.objects.get(pk=first.pk)
    assert "At kunne blive boende hjemme." in kept.html
    assert "At kunne gå i haven igen." in PlanDocument.objects.get(pk=second.pk).html
    assert _ask(world).pk == second.pk  # asked again unchanged: version 2 again


def test_letters_are_not_asked_for_like_plans(world, builders):
    with pytest.raises(ValueError, match="letters are made by the outbox"):
        _ask(world, kind=DocumentKind.LETTER)
    assert not PlanDocument.objects.exists()


def _backend_waiting_for_a_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def _wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_two_askers_at_once_get_one_row(world, builders, asked):
    """The first asker's row is written but not committed while the second asks: the second waits for the
    plan's lock and then finds that row (no second row, no unique-key error)."""
    made = threading.Event()
    commit = threading.Event()
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = _ask(world).pk
                made.set()
                commit.wait(timeout=30)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def second() -> None:
        try:
            made.wait(timeout=30)
            results["second"] = _ask(world).pk
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    try:
        assert made.wait(timeout=30)
        assert _wait_for(_backend_waiting_for_a_lock), "the second asker never waited for the first"
    finally:
        commit.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors
    assert results["first"] == results["second"]
    assert PlanDocument.objects.count() == 1
    assert asked == [results["first"]]  # one request to render


@pytest.mark.django_db(transaction=True)
def test_askers_at_once_for_different_content_are_numbered_without_gaps_or_duplicates(world, builders, asked):
    count = 6
    start = threading.Barrier(count)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def ask(marker: str) -> None:
        try:
            _building.marker = marker
            start.wait(timeout=30)
            numbers.append(_ask(world).number)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(f"asker-{n}",)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(numbers) == list(range(1, count + 1))
    assert sorted(PlanDocument.objects.values_list("number", flat=True)) == list(range(1, count + 1))
    assert len(asked) == count


# --- rendering ---


def test_a_failed_render_is_failed_with_the_kind_of_error_and_no_pdf_and_a_retry_queues_it_again(
    world, builders, monkeypatch, django_capture_on_commit_callbacks
):
    document = _ask(world)

    def broken(html: str, **kwargs):
        raise RuntimeError("Kirsten Testesen 0707614285")  # a message that quotes patient data

    monkeypatch.setattr(documents, "html_to_pdf", broken)
    assert documents.document_render(document.pk) is False
    failed = PlanDocument.objects.get(pk=document.pk)
    assert (failed.state, failed.error, failed.pdf, failed.lease_until) == (
        DocumentState.FAILED,
        "RuntimeError",
        None,
        None,
    )
    with django_capture_on_commit_callbacks() as asks:
        retried = documents.document_retry(document=failed)
        documents.document_retry(document=failed)  # twice: still one request
    # The attempts keep counting: a worker still holding the first claim cannot mistake a later one for it.
    assert (retried.state, retried.attempts, retried.error) == (DocumentState.QUEUED, 1, "")
    assert len(asks) == 1
    monkeypatch.undo()
    assert documents.document_render(document.pk) is True
    assert PlanDocument.objects.get(pk=document.pk).state == DocumentState.DONE


def test_asking_again_for_a_failed_document_queues_it_again(world, builders, monkeypatch):
    document = _ask(world)
    monkeypatch.setattr(documents, "html_to_pdf", lambda _html, **_kwargs: 1 / 0)
    documents.document_render(document.pk)
    assert PlanDocument.objects.get(pk=document.pk).error == "ZeroDivisionError"
    again = _ask(world)
    assert (again.pk, again.state) == (document.pk, DocumentState.QUEUED)


def test_html_weasyprint_cannot_lay_out_fails_the_document(world, builders, monkeypatch):
    """A real WeasyPrint error, not a stand-in: the row says which kind of error, and holds no PDF."""
    document = _ask(world)
    PlanDocument.objects.filter(pk=document.pk).update(html=UNRENDERABLE)
    assert documents.document_render(document.pk) is False
    failed = PlanDocument.objects.get(pk=document.pk)
    assert (failed.state, failed.error, failed.pdf) == (DocumentState.FAILED, "RecursionError", None)


# Nested deeper than WeasyPrint's layout can recurse.
UNRENDERABLE = "<html><body>" + "<span>" * 500 + "x" + "</span>" * 500 + "</body></html>"


def test_the_claim_is_atomic_a_second_render_of_a_claimed_document_does_nothing(world, builders, renders):
    document = _ask(world)
    assert documents.document_claim(document.pk) == 1
    assert documents.document_render(document.pk) is False  # another worker has it
    assert documents.document_claim(document.pk) is None
    assert renders == []
    claimed = PlanDocument.objects.get(pk=document.pk)
    assert (claimed.state, claimed.attempts) == (DocumentState.RENDERING, 1)


def test_a_worker_the_sweeper_gave_up_on_stores_nothing(world, builders, monkeypatch):
    """A slow worker whose lease ran out: the sweeper queued the document again and another worker took
    it. The slow one's PDF is thrown away, the other's stored: one DONE."""
    document = _ask(world)
    real = documents.html_to_pdf
    taken_over: list[bool] = []

    def slow(html: str, **kwargs):
        # While this worker renders, its lease runs out and a second worker claims the document.
        documents.documents_sweep(now=_lease_end(document.pk) + timedelta(seconds=1))
        taken_over.append(documents.document_claim(document.pk) == 2)
        return real(html, **kwargs)

    monkeypatch.setattr(documents, "ask_to_render", lambda _document_id: True)
    monkeypatch.setattr(documents, "html_to_pdf", slow)
    assert documents.document_render(document.pk) is False
    assert taken_over == [True]
    assert PlanDocument.objects.get(pk=document.pk).state == DocumentState.RENDERING  # the second's
    assert PlanDocument.objects.get(pk=document.pk).pdf is None


def test_progress_goes_up_through_weasyprints_steps(world, builders, monkeypatch):
    document = _ask(world)
    real = documents.html_to_pdf
    seen: list[int] = []

    def watched(html: str, *, report, **kwargs):
        def watching(percent: int) -> None:
            report(percent)
            seen.append(PlanDocument.objects.get(pk=document.pk).progress)

        return real(html, report=watching, **kwargs)

    monkeypatch.setattr(documents, "html_to_pdf", watched)
    assert documents.document_render(document.pk) is True
    assert seen == sorted(set(seen))  # only ever up
    assert len(seen) == 7  # every step, each once
    assert (seen[0], seen[-1]) == (10, 95)
    assert PlanDocument.objects.get(pk=document.pk).progress == 100


def test_progress_of_two_renders_in_two_threads_stays_with_each():
    """Each render hears only its own steps, in its own thread (two renders in one process)."""
    reports: dict[str, list[tuple[str, int]]] = {"a": [], "b": []}
    html = '<html><head><link rel="stylesheet" href="css/print.css"></head><body>' + "<p>x</p>" * 300

    def render(name: str) -> None:
        def report(percent: int) -> None:
            reports[name].append((threading.current_thread().name, percent))

        documents.html_to_pdf(html + "</body></html>", report=report)

    threads = [threading.Thread(target=render, args=(name,), name=name) for name in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for name, heard in reports.items():
        assert heard == [(name, percent) for percent in (10, 20, 30, 45, 60, 85, 95)]


class _Server(http.server.ThreadingHTTPServer):
    requests: list[str]


@pytest.fixture
def web_server():
    """A web server that records every request (none should come)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.server.requests.append(self.path)  # type: ignore[attr-defined]
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_document_loads_nothing_from_the_network_or_outside_static(web_server, monkeypatch):
    from weasyprint.urls import URLFetcher

    fetched: list[str] = []
    real_fetch = URLFetcher.fetch

    def recorded(self, url, headers=None):
        fetched.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(URLFetcher, "fetch", recorded)
    web = f"http://127.0.0.1:{web_server.server_address[1]}"
    html = (
        '<html><head><link rel="stylesheet" href="css/print.css">'
        f'<link rel="stylesheet" href="{web}/style.css"><link rel="stylesheet" href="file:///etc/passwd">'
        f"<style>@import url({web}/imported.css); body {{ background: url(../../etc/hostname) }}</style>"
        '</head><body><p>Kirsten</p><img src="file:///etc/passwd"><img src="../pyproject.toml">'
        f'<img src="{web}/tracker.png"><img src="file://localhost/etc/passwd"></body></html>'
    )
    pdf, pages = documents.html_to_pdf(html)
    assert pages == 1
    assert "Kirsten" in pdf_text(pdf)
    assert web_server.requests == []
    static = documents.ASSETS.resolve().as_uri() + "/"
    assert fetched  # the stylesheet and its fonts ...
    assert all(url.startswith(static) for url in fetched)  # ... and nothing else


def test_the_fetcher_refuses_what_is_not_a_file_under_static():
    fetcher = documents._url_fetcher()
    for url in (
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://example.invalid/work/static/css/print.css",
        documents.ASSETS.as_uri() + "/../pyproject.toml",
        documents.ASSETS.as_uri() + "/css/../../pyproject.toml",
        "http://127.0.0.1:9/x.png",
        "https://example.invalid/x.png",
        "ftp://example.invalid/x",
    ):
        with pytest.raises(ValueError, match="documents load files under static/ only"):
            fetcher.fetch(url)
    assert b"@page" in fetcher.fetch(documents.ASSETS.as_uri() + "/css/print.css").read()
    assert fetcher.fetch("data:text/plain,hej").read() == b"hej"


# --- sweeping ---


def test_a_render_claimed_by_a_dead_worker_is_queued_again_and_failed_after_the_last_attempt(
    world, builders, asked, settings
):
    settings.DOCUMENT_MAX_ATTEMPTS = 3
    document = _ask(world)
    for attempt in (1, 2, 3):
        assert documents.document_claim(document.pk) == attempt  # ... and the worker dies
        lease_end = _lease_end(document.pk)
        assert documents.documents_sweep(now=lease_end - timedelta(seconds=1)) == 0  # still alive
        asked.clear()
        documents.documents_sweep(now=lease_end + timedelta(seconds=1))
        swept = PlanDocument.objects.get(pk=document.pk)
        if attempt < 3:
            assert (swept.state, swept.progress, swept.lease_until) == (DocumentState.QUEUED, 0, None)
            assert asked == [document.pk]  # asked again at once
        else:
            assert (swept.state, swept.error, swept.pdf) == (DocumentState.FAILED, "WorkerLost", None)
            assert asked == []


def test_a_queued_document_whose_request_was_lost_is_asked_again_once_per_requeue_time(
    world, builders, asked, settings
):
    settings.DOCUMENT_REQUEUE_SECONDS = 60
    document = _ask(world)  # in a test, the request after commit is never sent: it is "lost"
    asked_at = PlanDocument.objects.get(pk=document.pk).enqueued_at
    for seconds, expected in [(59, 0), (60, 1), (61, 0), (119, 0), (120, 1), (120, 0), (200, 1)]:
        asked.clear()
        assert documents.documents_sweep(now=asked_at + timedelta(seconds=seconds)) == expected
        assert asked == [document.pk] * expected


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_ask_for_a_waiting_document_once(world, builders, asked, settings):
    settings.DOCUMENT_REQUEUE_SECONDS = 60
    document = _ask(world)
    later = PlanDocument.objects.get(pk=document.pk).enqueued_at + timedelta(minutes=5)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait(timeout=30)
            documents.documents_sweep(now=later)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert asked == [document.pk, document.pk]  # once when asked for, once by the four sweepers


def test_a_sweep_with_the_broker_down_stops_asking_and_asks_again_next_time(world, builders, monkeypatch):
    for text in ("a", "b", "c"):
        _what_matters(world.plan, text)
        _ask(world)
    tries: list[int] = []

    def down(document_id: int) -> bool:
        tries.append(document_id)
        return False

    monkeypatch.setattr(documents, "ask_to_render", down)
    later = timezone.now() + timedelta(minutes=5)
    assert documents.documents_sweep(now=later) == 0
    assert len(tries) == 1  # not three failures in a row
    monkeypatch.setattr(documents, "ask_to_render", lambda _document_id: True)
    assert documents.documents_sweep(now=later + timedelta(minutes=5)) == 3


# --- letters ---


def _paper_patient(world) -> None:
    world.patient.preferred_contact = ContactChannel.LETTER
    world.patient.address, world.patient.postal_code, world.patient.city = (
        "Møllehusvej 14",
        "4000",
        "Roskilde",
    )
    world.patient.save()


def _letter_to(world, recipient, event: str) -> Notification:
    key = outbox.notify(
        recipient=recipient,
        kind=NotificationKind.COORDINATOR_ASSIGNED,
        channel=NotificationChannel.LETTER,
        plan=world.plan,
        due_at=timezone.now() - timedelta(minutes=1),
        event=event,
    )
    outbox.deliver_due()
    return Notification.objects.get(dedupe_key=key)


def _letters(world) -> list[PlanDocument]:
    return list(PlanDocument.objects.filter(plan=world.plan, kind=DocumentKind.LETTER).order_by("number"))


def test_each_delivered_letter_gets_one_pdf_however_often_letters_are_prepared(world, builders, asked):
    _paper_patient(world)
    first = _letter_to(world, world.patient, "one")
    second = _letter_to(world, world.patient, "two")
    assert documents.letters_prepare() == 2
    assert documents.letters_prepare() == 0
    documents.documents_sweep(now=timezone.now())
    assert [d.notification_id for d in _letters(world)] == [first.pk, second.pk]
    assert documents.letter_document_create(first) is None  # a sweeper that found it a moment late


def test_a_letter_not_yet_delivered_or_already_printed_gets_no_pdf(world, builders):
    _paper_patient(world)
    waiting = outbox.notify(
        recipient=world.patient,
        kind=NotificationKind.COORDINATOR_ASSIGNED,
        channel=NotificationChannel.LETTER,
        plan=world.plan,
        due_at=timezone.now() + timedelta(days=3),
        event="later",
    )
    printed = _letter_to(world, world.patient, "printed")
    services.letter_mark_printed(actor=world.coordinator, public_id=printed.public_id)
    assert Notification.objects.get(dedupe_key=waiting).state != "sent"
    assert documents.letters_prepare() == 0


def test_the_outbox_asks_for_the_letters_pdfs_when_it_delivers_letters(
    world, django_capture_on_commit_callbacks
):
    _paper_patient(world)
    outbox.notify(
        recipient=world.patient,
        kind=NotificationKind.COORDINATOR_ASSIGNED,
        channel=NotificationChannel.LETTER,
        plan=world.plan,
        due_at=timezone.now() - timedelta(minutes=1),
        event="hook",
    )
    with django_capture_on_commit_callbacks() as asks:
        outbox.deliver_due()
    assert asks == [outbox._ask_for_letter_documents]
    with django_capture_on_commit_callbacks() as asks:
        outbox.deliver_due()  # nothing delivered: nothing asked
    assert asks == []


def test_a_patient_who_asked_for_paper_gets_the_plan_with_the_first_letter_and_again_only_when_it_changed(
    world, builders, asked
):
    _paper_patient(world)
    _letter_to(world, world.patient, "one")
    _letter_to(world, world.patient, "two")
    documents.letters_prepare()
    _what_matters(world.plan, "At kunne gå i haven igen.")
    _letter_to(world, world.patient, "three")
    documents.letters_prepare()
    first, second, third = _letters(world)
    assert [bool(d.attachment_html) for d in (first, second, third)] == [True, False, True]
    # The attached plan is the patient's own document of that content, with its version and date.
    plans = list(PlanDocument.objects.filter(plan=world.plan, kind=DocumentKind.PATIENT).order_by("number"))
    assert [p.fingerprint for p in plans] == [first.attachment_fingerprint, third.attachment_fingerprint]
    assert escape(documents.stamp_text(plans[1])) in third.attachment_html
    assert "At kunne gå i haven igen." in third.attachment_html
    for letter in (first, third):
        assert documents.document_render(letter.pk) is True
    with_plan = pdf_text(stored_pdf(first.pk))
    assert "Møllehusvej 14" in with_plan
    assert "4000 Roskilde" in with_plan
    assert "46 31 00 00" in with_plan  # the coordinator's phone
    assert "At kunne blive boende hjemme." in with_plan  # the plan, on the pages after the letter
    assert PlanDocument.objects.get(pk=first.pk).pages == 2
    assert world.patient.cpr not in with_plan


def test_a_letter_without_the_plan_is_one_page_with_the_coordinators_contact(world, builders):
    _paper_patient(world)
    _letter_to(world, world.patient, "one")
    _letter_to(world, world.patient, "two")
    documents.letters_prepare()
    second = _letters(world)[1]
    assert documents.document_render(second.pk) is True
    done = PlanDocument.objects.get(pk=second.pk)
    text = pdf_text(stored_pdf(done.pk))
    assert done.pages == 1
    window, greeting = text.split("Møllehusvej 14")
    assert "Kirsten Testesen" in window  # the address ...
    assert "Kirsten" in greeting  # ... then "Dear Kirsten"
    assert "Coordinator" in text  # the coordinator's name ...
    assert "46 31 00 00" in text  # ... and phone
    assert "At kunne blive boende hjemme." not in text


def test_a_patient_who_did_not_ask_for_paper_gets_letters_without_the_plan(world, builders):
    world.patient.address = "Møllehusvej 14"
    world.patient.save()
    _letter_to(world, world.patient, "one")  # a letter the outbox was told to write, all the same
    documents.letters_prepare()
    assert [d.attachment_html for d in _letters(world)] == [""]


def test_a_relatives_letter_never_carries_the_plan(world, builders):
    from relatives import services as relatives_services
    from relatives.choices import Relation, RelativeChannel

    _paper_patient(world)
    relative = relatives_services.relative_add(
        actor=world.coordinator,
        plan=world.plan,
        name="Mette Testesen",
        relation=Relation.CHILD,
        address="Skovvej 3, 4000 Roskilde",
        preferred_channel=RelativeChannel.LETTER,
    )
    _letter_to(world, relative, "one")
    documents.letters_prepare()
    _letter_to(world, relative, "two")
    _what_matters(world.plan, "At kunne gå i haven igen.")
    documents.letters_prepare()
    letters = _letters(world)
    assert len(letters) == 2
    assert all(letter.attachment_html == "" and letter.attachment_fingerprint == "" for letter in letters)
    assert "Mette Testesen" in letters[0].html
    assert "Skovvej 3" in letters[0].html
    assert not PlanDocument.objects.filter(kind=DocumentKind.PATIENT).exists()


def test_a_letter_is_written_in_its_addressees_language(world, builders):
    _paper_patient(world)
    world.patient.language = "en"
    world.patient.save()
    _letter_to(world, world.patient, "one")
    documents.letters_prepare()
    letter = _letters(world)[0]
    assert letter.language == "en"
    assert '<html lang="en"' in letter.html
    assert "Dear Kirsten," in letter.html


def test_a_letter_whose_plan_cannot_be_built_holds_up_no_other_letter(world, builders, monkeypatch):
    _paper_patient(world)
    world.other_patient.preferred_contact = ContactChannel.LETTER
    world.other_patient.save()

    def broken_for_kirsten(plan: PathwayPlan, content: str) -> str:
        if plan.pk == world.plan.pk:
            raise RuntimeError("a builder's error")
        return _plan_html(plan, content)

    monkeypatch.setitem(extensions.DOCUMENT_BUILDERS, DocumentKind.PATIENT, broken_for_kirsten)
    kirsten = _letter_to(world, world.patient, "one")
    key = outbox.notify(
        recipient=world.other_patient,
        kind=NotificationKind.COORDINATOR_ASSIGNED,
        channel=NotificationChannel.LETTER,
        plan=world.other_plan,
        due_at=timezone.now() - timedelta(minutes=1),
        event="one",
    )
    outbox.deliver_due()
    assert documents.letters_prepare() == 1
    assert PlanDocument.objects.filter(notification__dedupe_key=key).exists()
    assert not PlanDocument.objects.filter(notification=kirsten).exists()  # tried again next time
