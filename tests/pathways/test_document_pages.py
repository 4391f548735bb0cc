"""Printable plans on the staff pages (issue 15): asking for a PDF of a plan, following its progress,
opening it (a logged read) and asking again for a failed one; the versions kept with their dates; the
letters' PDFs on the print queue. Who may: those who take part in the plan, and for a letter those whose
print queue holds it; everyone else gets the same 404 as for a document that does not exist."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from pathways import documents, extensions, outbox, services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    ContactChannel,
    DocumentKind,
    DocumentState,
    NotificationChannel,
    TaskKind,
)
from pathways.models import AccessLog, Notification, PlanDocument
from pathways.selectors import STAFF_DOCUMENT_KINDS
from tests.conftest import sign_in

PDF_BYTES = b"%PDF-1.7\n% a made-up PDF for the pages that only pass it on\n%%EOF\n"


@pytest.fixture(autouse=True)
def registry():
    """The apps' own builders (portal: the patient's plan and its large print; coordination: the complete
    plan for staff), as they were after each test."""
    assert set(STAFF_DOCUMENT_KINDS) <= set(extensions.DOCUMENT_BUILDERS)
    saved = dict(extensions.DOCUMENT_BUILDERS)
    yield
    extensions.DOCUMENT_BUILDERS.clear()
    extensions.DOCUMENT_BUILDERS.update(saved)


@pytest.fixture
def asked(monkeypatch) -> list[int]:
    """The documents a worker was asked to render (after commit), in order."""
    calls: list[int] = []
    monkeypatch.setattr(documents, "ask_to_render", calls.append)
    return calls


def _request(client, plan, kind: str = DocumentKind.LARGE_PRINT):
    return client.post(reverse("pathways:plan-document-request", args=[plan.public_id]), {"kind": kind})


def _document_of(response) -> PlanDocument:
    match = re.fullmatch(r"/documents/([0-9a-f-]{36})/", response["Location"])
    assert match, response["Location"]
    return PlanDocument.objects.get(public_id=match.group(1))


def _finish(document: PlanDocument, pdf: bytes = PDF_BYTES) -> None:
    """As the worker leaves a document it has made (without rendering: these pages only pass the PDF on)."""
    PlanDocument.objects.filter(pk=document.pk).update(
        state=DocumentState.DONE, pdf=pdf, pages=1, size=len(pdf), progress=100, finished_at=timezone.now()
    )


def _change_what_matters(world, text: str) -> None:
    plan = world.plan
    plan.refresh_from_db()
    services.plan_update_what_matters(actor=world.coordinator, plan=plan, what_matters=text)


# --- asking ---


def test_asking_for_a_pdf_writes_a_waiting_document_and_asks_a_worker_once_it_is_saved(
    client, world, asked, django_capture_on_commit_callbacks
):
    sign_in(client, world.coordinator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _request(client, world.plan)
        document = _document_of(response)
        assert asked == []  # not while the request's transaction could still be rolled back
    assert response.status_code == 302
    assert document.state == DocumentState.QUEUED
    assert (document.plan, document.kind, document.number) == (world.plan, DocumentKind.LARGE_PRINT, 1)
    assert document.requested_by == world.coordinator
    assert len(callbacks) == 1
    callbacks[0]()
    assert asked == [document.pk]


def test_asking_twice_for_an_unchanged_plan_gives_the_same_document(
    client, world, asked, django_capture_on_commit_callbacks
):
    sign_in(client, world.home_nurse)
    with django_capture_on_commit_callbacks(execute=True):
        first = _document_of(_request(client, world.plan))
    sign_in(client, world.gp_doctor)
    with django_capture_on_commit_callbacks(execute=True):
        again = _document_of(_request(client, world.plan))
    assert again == first
    assert PlanDocument.objects.filter(plan=world.plan).count() == 1
    assert asked == [first.pk]  # rendered once


def test_a_changed_plan_gives_version_2_and_version_1_stays_listed_and_can_be_opened_with_its_date(
    client, world, asked
):
    sign_in(client, world.coordinator)
    first = _document_of(_request(client, world.plan))
    _finish(first, b"%PDF-1.7 version 1")
    PlanDocument.objects.filter(pk=first.pk).update(created_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC))
    _change_what_matters(world, "At kunne gå tur med hunden hver dag.")
    second = _document_of(_request(client, world.plan))
    assert (first.number, second.number) == (1, 2)
    assert second.state == DocumentState.QUEUED

    page = client.get(reverse("pathways:plan-documents", args=[world.plan.public_id]))
    assert page.status_code == 200
    shelf = _shelf(page.content.decode(), DocumentKind.LARGE_PRINT)
    assert shelf.index(reverse("pathways:document-detail", args=[second.public_id])) < shelf.index(
        reverse("pathways:document-detail", args=[first.public_id])
    )  # newest first
    assert 'datetime="2025-03-14T11:00:00+01:00"' in shelf
    assert reverse("pathways:document-download", args=[first.public_id]) in shelf
    assert reverse("pathways:document-download", args=[second.public_id]) not in shelf  # not made yet
    assert "Coordinator" in shelf  # who asked

    opened = client.get(reverse("pathways:document-download", args=[first.public_id]))
    assert opened.status_code == 200
    assert opened.content == b"%PDF-1.7 version 1"


def _shelf(html: str, kind: str) -> str:
    """One kind's section of the printed plans page."""
    start = html.index(f'id="documents-{kind}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_a_pdf_the_patient_asked_for_in_the_portal_is_listed_with_her_name(client, world, asked):
    document = documents.document_request(plan=world.plan, kind=DocumentKind.PATIENT, requester=world.patient)
    sign_in(client, world.home_nurse)
    page = client.get(reverse("pathways:plan-documents", args=[world.plan.public_id])).content.decode()
    versions = _shelf(page, DocumentKind.PATIENT).split("<tbody>")[1]
    assert "Kirsten Testesen" in versions
    detail = client.get(reverse("pathways:document-detail", args=[document.public_id])).content.decode()
    assert detail.count("Kirsten Testesen") >= 2  # whose plan, and who asked


@pytest.mark.parametrize("kind", ["", "letter", "nonsense", "patient\x00", "x" * 5000])
def test_a_kind_that_cannot_be_asked_for_is_a_bad_request_and_writes_nothing(client, world, asked, kind):
    sign_in(client, world.coordinator)
    before = AccessLog.objects.count()
    response = _request(client, world.plan, kind)
    assert response.status_code == 400
    assert PlanDocument.objects.count() == 0
    assert AccessLog.objects.count() == before
    assert asked == []


def test_a_kind_without_a_builder_is_a_bad_request(client, world, asked):
    extensions.DOCUMENT_BUILDERS.pop(DocumentKind.STAFF)
    sign_in(client, world.coordinator)
    assert _request(client, world.plan, DocumentKind.STAFF).status_code == 400
    assert PlanDocument.objects.count() == 0


# --- following it and opening it ---


def test_the_document_page_shows_progress_and_asks_again_until_the_pdf_is_ready(client, world, asked):
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan))
    PlanDocument.objects.filter(pk=document.pk).update(
        state=DocumentState.RENDERING, progress=45, lease_until=timezone.now(), attempts=1
    )
    status_url = reverse("pathways:document-status-partial", args=[document.public_id])
    page = client.get(reverse("pathways:document-detail", args=[document.public_id])).content.decode()
    assert '<progress class="ff-document-progress" max="100" value="45"' in page
    assert f'hx-get="{status_url}?n=1&amp;detail=1"' in page
    assert f'hx-trigger="every {settings.DOCUMENT_POLL_SECONDS}s"' in page
    # Without JavaScript: a plain link to the same page.
    assert f'<noscript><p><a href="{reverse("pathways:document-detail", args=[document.public_id])}">' in page
    assert "Kirsten Testesen" in page

    _finish(document)
    answer = client.get(status_url + "?detail=1")
    fragment = answer.content.decode()
    assert answer.status_code == 200
    assert "hx-trigger" not in fragment  # ready: the page stops asking
    assert reverse("pathways:document-download", args=[document.public_id]) in fragment
    assert "Kirsten" not in fragment  # the poll shows nothing of the patient (and is not logged)


def test_polling_stops_after_a_while_and_says_to_look_again_later(client, world, asked):
    """No worker makes it: the page does not ask forever."""
    sign_in(client, world.coordinator)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    document = _document_of(_request(client, world.plan))
    status_url = reverse("pathways:document-status-partial", args=[document.public_id])
    almost = client.get(f"{status_url}?n={settings.DOCUMENT_POLL_MAX - 1}").content.decode()
    given_up = client.get(f"{status_url}?n={settings.DOCUMENT_POLL_MAX}").content.decode()
    assert f'hx-get="{status_url}?n={settings.DOCUMENT_POLL_MAX}"' in almost
    assert "hx-get" not in given_up
    assert "It takes longer than usual" in given_up
    assert client.get(f"{status_url}?n=abc").status_code == 200  # a count it cannot read counts as none


def test_polling_the_progress_is_not_logged_but_opening_the_page_is(client, world, asked):
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan))
    reads = AccessLog.objects.filter(actor=world.coordinator, plan=world.plan)
    before = reads.count()
    client.get(reverse("pathways:document-status-partial", args=[document.public_id]))
    assert reads.count() == before
    client.get(reverse("pathways:document-detail", args=[document.public_id]))
    assert reads.filter(action=AccessAction.VIEW_PLAN).count() == before + 1


def test_the_pdf_is_not_there_until_it_is_made(client, world, asked):
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan))
    response = client.get(reverse("pathways:document-download", args=[document.public_id]))
    assert response.status_code == 404
    assert not AccessLog.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT).exists()


def test_opening_the_pdf_is_logged_and_shows_on_who_has_opened_the_plan(client, world, asked):
    sign_in(client, world.hospital_doctor)
    document = _document_of(_request(client, world.plan, DocumentKind.STAFF))
    _finish(document)
    response = client.get(reverse("pathways:document-download", args=[document.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == PDF_BYTES
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline; ")
    assert re.search(r'filename="[^"]*Kirsten Testesen[^"]*\b1\.pdf"', disposition), disposition

    row = AccessLog.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT)
    assert (row.actor, row.patient, row.plan, row.organisation) == (
        world.hospital_doctor,
        world.patient,
        world.plan,
        world.hospital,
    )
    assert row.purpose == AccessPurpose.TREATMENT

    sign_in(client, world.coordinator)
    log = client.get(reverse("pathways:plan-access-log", args=[world.plan.public_id])).content.decode()
    with translation.override("da"):
        label = str(AccessAction.DOWNLOAD_DOCUMENT.label)
    entry = next(row for row in log.split("<tr") if escape(label) in row)
    assert "Hospital_Doctor" in entry
    assert world.hospital.name in entry


def test_asking_only_for_the_headers_of_the_pdf_is_not_logged(client, world, asked):
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan))
    _finish(document)
    response = client.head(reverse("pathways:document-download", args=[document.public_id]))
    assert response.status_code == 200
    assert not AccessLog.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT).exists()


def test_the_file_name_keeps_danish_letters_and_has_a_plain_one_beside_it(client, world, asked):
    patient = world.patient
    patient.given_name, patient.family_name = "Søren", "Ærø-Åby"
    patient.save()
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan))
    _finish(document)
    disposition = client.get(reverse("pathways:document-download", args=[document.public_id]))[
        "Content-Disposition"
    ]
    assert 'filename="' in disposition
    assert "Soeren Aeroe-Aaby" in disposition
    assert "filename*=utf-8''" in disposition
    assert "S%C3%B8ren%20%C3%86r%C3%B8-%C3%85by" in disposition


# --- failing and trying again ---


def test_a_failed_pdf_says_so_and_trying_again_makes_it(
    client, world, monkeypatch, django_capture_on_commit_callbacks
):
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan, DocumentKind.PATIENT))

    def broken(*args, **kwargs):
        raise MemoryError

    with monkeypatch.context() as patched:
        patched.setattr(documents, "html_to_pdf", broken)
        assert documents.document_render(document.pk) is False
    document.refresh_from_db()
    assert document.state == DocumentState.FAILED

    page = client.get(reverse("pathways:document-detail", args=[document.public_id])).content.decode()
    assert 'class="alert alert-warning mt-0 ff-document-failed" role="alert"' in page
    assert "MemoryError" in page
    retry = reverse("pathways:document-retry", args=[document.public_id])
    assert f'action="{retry}"' in page
    assert "hx-trigger" not in page  # a failed one is not polled

    asked: list[int] = []
    monkeypatch.setattr(documents, "ask_to_render", asked.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry)
    assert response.status_code == 302
    assert response["Location"] == reverse("pathways:document-detail", args=[document.public_id])
    document.refresh_from_db()
    assert (document.state, document.error) == (DocumentState.QUEUED, "")
    assert asked == [document.pk]

    assert documents.document_render(document.pk) is True  # the worker, for real
    pdf = client.get(reverse("pathways:document-download", args=[document.public_id])).content
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    assert "Kirsten Testesen" in text.decode()


def test_trying_again_a_pdf_that_did_not_fail_changes_nothing(
    client, world, asked, django_capture_on_commit_callbacks
):
    sign_in(client, world.coordinator)
    document = _document_of(_request(client, world.plan))
    _finish(document)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("pathways:document-retry", args=[document.public_id]))
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.state == DocumentState.DONE
    assert callbacks == []
    assert asked == []


# --- who may ---


def _urls(world, document) -> list[tuple[str, str]]:
    plan = world.plan.public_id
    return [
        ("GET", reverse("pathways:plan-documents", args=[plan])),
        ("POST", reverse("pathways:plan-document-request", args=[plan])),
        ("GET", reverse("pathways:document-detail", args=[document.public_id])),
        ("GET", reverse("pathways:document-status-partial", args=[document.public_id])),
        ("GET", reverse("pathways:document-download", args=[document.public_id])),
        ("POST", reverse("pathways:document-retry", args=[document.public_id])),
    ]


def _finished_document(world) -> PlanDocument:
    """A finished document of the plan, its PDF there to be taken."""
    document = documents.document_request(plan=world.plan, kind=DocumentKind.STAFF, requester=None)
    _finish(document)
    return document


def test_someone_outside_the_plan_gets_404_everywhere_and_nothing_is_written(client, world, asked):
    document = _finished_document(world)
    sign_in(client, world.outsider)
    for method, url in _urls(world, document):
        response = client.generic(method, url, "kind=staff", "application/x-www-form-urlencoded")
        assert response.status_code == 404, url
        assert "Kirsten" not in response.content.decode()
    assert PlanDocument.objects.count() == 1
    assert not AccessLog.objects.filter(actor=world.outsider).exists()


def test_a_document_that_does_not_exist_is_the_same_404(client, world):
    sign_in(client, world.coordinator)
    for name in ("document-detail", "document-status-partial", "document-download"):
        assert client.get(reverse(f"pathways:{name}", args=[uuid4()])).status_code == 404
    assert client.post(reverse("pathways:document-retry", args=[uuid4()])).status_code == 404
    assert client.get(reverse("pathways:plan-documents", args=[uuid4()])).status_code == 404


def test_an_emergency_reader_sees_the_plan_but_prints_nothing(client, world, asked):
    document = _finished_document(world)
    services.emergency_access_grant(
        actor=world.outsider,
        organisation=world.unrelated,
        plan=world.plan,
        reason="Indlagt akut i nat, skal kende planen.",
    )
    sign_in(client, world.outsider)
    page = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    assert "Kirsten" in page
    assert reverse("pathways:plan-document-request", args=[world.plan.public_id]) not in page
    for method, url in _urls(world, document):
        response = client.generic(method, url, "kind=staff", "application/x-www-form-urlencoded")
        assert response.status_code == 404, url


def test_the_plan_page_has_the_three_print_buttons(client, world):
    sign_in(client, world.gp_doctor)
    page = client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    action = reverse("pathways:plan-document-request", args=[world.plan.public_id])
    section = page[page.index('aria-labelledby="print-heading"') :]
    section = section[: section.index("</section>")]
    assert f'action="{action}"' in section
    assert re.findall(r'name="kind" value="(\w+)"', section) == ["patient", "large_print", "staff"]
    assert reverse("pathways:plan-documents", args=[world.plan.public_id]) in section


# --- the printed plans page: a constant number of queries ---


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_printed_plans_page_runs_as_many_queries_for_10_documents_as_for_1(client, world, asked):
    sign_in(client, world.coordinator)
    url = reverse("pathways:plan-documents", args=[world.plan.public_id])
    _finish(_document_of(_request(client, world.plan, DocumentKind.PATIENT)))
    client.get(url)  # warm: the bell's and the session's first reads
    one = _count_queries(client, url)
    for n in range(9):
        _change_what_matters(world, f"Mål nummer {n}")
        made = _document_of(_request(client, world.plan, STAFF_DOCUMENT_KINDS[n % 3]))
        if n % 2:
            _finish(made)
    assert PlanDocument.objects.filter(plan=world.plan).count() == 10
    assert _count_queries(client, url) == one


# --- letters on the print queue ---


def _letter_with_pdf(world) -> tuple[Notification, PlanDocument]:
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
        window_start=timezone.localdate() + timedelta(days=30),
        due_date=timezone.localdate() + timedelta(days=30),
    )
    letter = Notification.objects.get(task=task, channel=NotificationChannel.LETTER)
    outbox.deliver_due(now=letter.due_at)
    assert documents.letters_prepare() == 1
    return letter, PlanDocument.objects.get(notification=letter)


def test_each_letter_on_the_print_queue_shows_its_pdf_and_a_link_to_open_it(client, world, asked):
    letter, document = _letter_with_pdf(world)
    sign_in(client, world.home_nurse)  # the coordinator's organisation prints
    status = reverse("pathways:document-status-partial", args=[document.public_id])
    queue = client.get(reverse("pathways:letters")).content.decode()
    assert f'hx-get="{status}?n=1"' in queue  # being made: the row asks for its state again
    page = client.get(reverse("pathways:letter", args=[letter.public_id])).content.decode()
    assert f'hx-get="{status}?n=1"' in page

    _finish(document)
    download = reverse("pathways:document-download", args=[document.public_id])
    queue = client.get(reverse("pathways:letters")).content.decode()
    row = next(row for row in queue.split("<tr") if "Møllehusvej 14" in row)
    assert download in row
    assert download in client.get(reverse("pathways:letter", args=[letter.public_id])).content.decode()
    assert client.get(download).content == PDF_BYTES
    assert AccessLog.objects.filter(actor=world.home_nurse, action=AccessAction.DOWNLOAD_DOCUMENT).exists()


def test_a_letters_pdf_is_for_the_print_queue_it_is_in_only(client, world, asked):
    """The hospital doctor takes part in the plan but prints none of its letters."""
    _letter, document = _letter_with_pdf(world)
    _finish(document)
    sign_in(client, world.hospital_doctor)
    assert client.get(reverse("pathways:document-download", args=[document.public_id])).status_code == 404
    assert client.get(reverse("pathways:document-detail", args=[document.public_id])).status_code == 404
    page = client.get(reverse("pathways:plan-documents", args=[world.plan.public_id])).content.decode()
    assert str(document.public_id) not in page


def test_the_print_queue_runs_as_many_queries_for_3_letters_with_pdfs_as_for_1(client, world, asked):
    _letter, document = _letter_with_pdf(world)
    _finish(document)
    sign_in(client, world.home_nurse)
    url = reverse("pathways:letters")
    client.get(url)
    one = _count_queries(client, url)
    for n in range(2):
        _letter_with_pdf_again(world, n)
    assert PlanDocument.objects.filter(kind=DocumentKind.LETTER).count() == 3
    assert _count_queries(client, url) == one


def _letter_with_pdf_again(world, n: int) -> None:
    task = services.task_create(
        actor=world.coordinator,
        plan=world.plan,
        title=f"Kontrol {n}",
        responsible_organisation=world.hospital,
        kind=TaskKind.APPOINTMENT,
        window_start=timezone.localdate() + timedelta(days=40 + n),
        due_date=timezone.localdate() + timedelta(days=40 + n),
    )
    letter = Notification.objects.get(task=task, channel=NotificationChannel.LETTER)
    outbox.deliver_due(now=letter.due_at)
    assert documents.letters_prepare() == 1


# --- the admin ---


def test_the_admin_lists_documents_read_only_and_opening_a_pdf_there_is_a_logged_read(client, world, asked):
    document = _finished_document(world)
    sign_in(client, world.admin)
    changelist = reverse("admin:pathways_plandocument_changelist")
    assert client.get(changelist).status_code == 200
    change = client.get(reverse("admin:pathways_plandocument_change", args=[document.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()  # read-only
    response = client.post(changelist, {"action": "download", ACTION_CHECKBOX_NAME: [document.pk]})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == PDF_BYTES
    row = AccessLog.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT)
    assert (row.actor, row.plan, row.purpose) == (world.admin, world.plan, AccessPurpose.ADMINISTRATION)
