"""The printed plan in the portal (issue 15): the patient, and a relative within their consent, ask for the
plan as a PDF — normal or large letters — and get it when a worker has made it.

The PDFs here are rendered for real (pathways.documents.document_render, in this process) and read as a
reader would: `pdftotext` for the words, pypdf for the size of the letters, `pdffonts` for the fonts. The
content comes from the portal's read models: what matters, the goals, what happens next (day, what, who,
phone), whom to call, the version and the day it was printed; an appointments-only relative's holds the
appointments and whom to call only; no staff-only field reaches the paper (the markers of
test_no_staff_fields). Downloads are logged and show in the patient's own access log; the pages about
documents show nothing of the plan and write no log row; anything outside the reader's scope is 404.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from pypdf import PdfReader

from pathways import documents, extensions, services
from pathways.choices import (
    AccessAction,
    AccessPurpose,
    DocumentContent,
    DocumentKind,
    DocumentState,
    PlanStatus,
)
from pathways.models import AccessLog, PathwayPlan, PlanDocument
from portal import documents as portal_documents
from relatives.choices import ConsentScope
from tests.portal.test_no_staff_fields import MARKER, marked  # noqa: F401 (a fixture)
from tests.portal.test_plan import add_relative, build_rich_plan

WAITING_REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+); url=\?n=(\d+)">')


@pytest.fixture
def kirsten(world):
    return build_rich_plan(world)


@pytest.fixture(autouse=True)
def asked(monkeypatch):
    """The documents a worker was asked to render (nothing goes to Redis: the tests render themselves)."""
    calls: list[int] = []
    monkeypatch.setattr(documents, "ask_to_render", calls.append)
    return calls


def _documents_url(plan) -> str:
    return reverse("portal:documents", args=[plan.public_id])


def _request_url(plan) -> str:
    return reverse("portal:document-request", args=[plan.public_id])


def _document_url(document) -> str:
    return reverse("portal:document", args=[document.plan.public_id, document.public_id])


def _pdf_url(document) -> str:
    return reverse("portal:document-download", args=[document.plan.public_id, document.public_id])


def _ask(client: Client, plan, kind: str) -> PlanDocument:
    """Press a print button: the POST leads to the document's page."""
    response = client.post(_request_url(plan), {"kind": kind})
    assert response.status_code == 302, response.content.decode()[:500]
    document = PlanDocument.objects.get(public_id=response["Location"].rstrip("/").split("/")[-1])
    assert response["Location"] == _document_url(document)
    return document


def _render(document: PlanDocument) -> PlanDocument:
    assert documents.document_render(document.pk)
    document.refresh_from_db()
    assert document.state == DocumentState.DONE
    return document


def _made(plan, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN, requester=None):
    return _render(documents.document_request(plan=plan, kind=kind, content=content, requester=requester))


def _text(pdf: bytes) -> str:
    """The PDF's words as pdftotext reads them: one space for any run of white space, words hyphenated at
    a line's end joined again."""
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60
    )
    text = result.stdout.decode()
    return re.sub(r"\s+", " ", re.sub("\u2010\n", "", text))


def _downloaded(client: Client, document: PlanDocument) -> bytes:
    response = client.get(_pdf_url(document))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return response.content


def _day(day) -> str:
    with translation.override("da"):
        return date_format(day, "j. F Y")


# --- what is printed ------------------------------------------------------------------------------------


def test_the_patients_plan_prints_what_matters_goals_what_happens_next_whom_to_call_version_and_date(
    kirsten, portal_client
):
    world = kirsten
    client = portal_client(patient=world.patient)

    document = _render(_ask(client, world.plan, DocumentKind.PATIENT))
    text = _text(_downloaded(client, document))

    assert (document.kind, document.content) == (DocumentKind.PATIENT, DocumentContent.WHOLE_PLAN)
    assert "Kirsten Testesen" in text
    assert "At kunne blive boende hjemme." in text  # what matters to her
    assert "Kan gå på trapperne" in text  # her goal, and how she knows it worked
    assert "To etager uden pause" in text
    # What happens next: the hospital appointment, its day, who and their phone.
    appointment = text[text.index("Kontrol på sygehuset") - 80 :]
    assert _day(timezone.localdate() + timedelta(days=10)) in appointment
    assert "Medicinsk afdeling" in appointment
    assert "Hospital_Doctor" in appointment
    assert "47 32 21 00" in appointment
    assert "Hjemmebesøg" in text
    assert "Genoptræning" in text
    # Whom to call: the coordinator with the plan's number, the substitute, the places taking part, 112.
    assert "Coordinator" in text
    assert "46 31 00 00" in text
    assert "Vikar Hansen" in text
    assert "Lægerne i Byen" in text
    assert "46 35 01 02" in text
    assert "112" in text
    # The version and the day it was printed.
    stamp = re.sub(r"\s+", " ", documents.stamp_text(document))
    assert stamp in text
    assert "Version 1" in stamp
    assert _day(timezone.localdate()) in stamp
    # Nothing hidden from the patient, nothing done, nothing clinical.
    assert "Internt møde" not in text
    assert "Blodprøve" not in text
    assert "J44" not in text
    assert world.patient.cpr not in text


def test_an_appointments_only_relative_gets_the_appointments_and_whom_to_call_only(kirsten, portal_client):
    world = kirsten
    son = add_relative(world, scope=ConsentScope.APPOINTMENTS, name="Mads Testesen")
    client = portal_client(relatives=[son])

    document = _render(_ask(client, world.plan, DocumentKind.PATIENT))
    text = _text(_downloaded(client, document))

    assert document.content == DocumentContent.APPOINTMENTS
    assert "Kontrol på sygehuset" in text  # the appointments: the hospital's and the home visit
    assert "Hjemmebesøg" in text
    assert "47 32 21 00" in text
    assert "Coordinator" in text  # whom to call
    assert "46 31 00 00" in text
    assert "Vikar Hansen" in text
    assert "Kirsten Testesen" in text  # whose appointments
    assert "Genoptræning" not in text  # not an appointment
    assert "At kunne blive boende hjemme." not in text  # no what matters
    assert "Kan gå på trapperne" not in text  # no goals
    assert "To etager uden pause" not in text
    assert "Lægerne i Byen" not in text  # not who takes part


def test_the_printed_plan_holds_no_staff_only_field(marked):  # noqa: F811 (the fixture)
    world, _readers = marked
    printed = {
        content: _made(world.plan, content=content)
        for content in (DocumentContent.WHOLE_PLAN, DocumentContent.APPOINTMENTS)
    }

    for content, document in printed.items():
        text = _text(bytes(document.pdf))
        leaked = sorted(set(re.findall(rf"{MARKER}[\w-]*", text + document.html, flags=re.I)))
        assert not leaked, f"{content}: {leaked}"
        assert world.patient.cpr not in text + document.html
        assert world.patient.cpr[:6] not in text + document.html
    # The documents did show the plan (a marker test on empty paper proves nothing).
    whole = _text(bytes(printed[DocumentContent.WHOLE_PLAN].pdf))
    assert "Kan gå på trapperne" in whole
    assert "Kontrol på sygehuset" in whole
    assert "Vikar Hansen" in whole
    assert "Hospital_Doctor" in whole


def test_the_large_print_is_the_same_plan_in_the_patients_language(kirsten):
    normal = documents.document_builder(DocumentKind.PATIENT)(kirsten.plan, DocumentContent.WHOLE_PLAN)
    large = documents.document_builder(DocumentKind.LARGE_PRINT)(kirsten.plan, DocumentContent.WHOLE_PLAN)

    assert extensions.DOCUMENT_BUILDERS[DocumentKind.PATIENT] is portal_documents.patient_document
    assert large.replace('<html lang="da" class="ff-large">', '<html lang="da">') == normal
    assert documents.STAMP in normal


# --- how it is printed ----------------------------------------------------------------------------------


def _sizes(pdf: bytes, stamp: str) -> dict[str, float]:
    """Each run of text (but the version line and the page numbers) → the size it is drawn at, in points:
    the font size times the text matrix's and the page matrix's vertical scale."""
    found: dict[str, float] = {}
    skip = re.compile(rf"^({re.escape(stamp)}|\d+ / \d+)$")

    def visit(text, cm, tm, _font, size) -> None:
        text = text.strip()
        if text and not skip.match(text) and text != "\u2010":
            found[text] = min(found.get(text, 1000.0), round(abs(size * tm[3] * cm[3]), 2))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return found


def _body_size(sizes: dict[str, float]) -> float:
    """The size most of the letters are drawn at."""
    letters = Counter[float]()
    for text, size in sizes.items():
        letters[size] += len(text)
    return letters.most_common(1)[0][0]


def test_large_print_body_text_is_16_pt_or_more_and_the_normal_print_smaller(kirsten):
    normal = _made(kirsten.plan, kind=DocumentKind.PATIENT)
    large = _made(kirsten.plan, kind=DocumentKind.LARGE_PRINT)

    large_sizes = _sizes(bytes(large.pdf), documents.stamp_text(large))
    normal_sizes = _sizes(bytes(normal.pdf), documents.stamp_text(normal))

    def size_of(sizes: dict[str, float], words: str) -> float:
        return min(size for text, size in sizes.items() if words in text)

    # The body text — what matters, a goal's result, a task, a phone number — and everything else printed.
    for words in ("At kunne blive boende hjemme.", "To etager uden pause", "Genoptræning", "46 31 74 00"):
        assert size_of(large_sizes, words) >= 16, words
        assert size_of(normal_sizes, words) < 16, words
        assert size_of(normal_sizes, words) >= 11, words
    assert _body_size(large_sizes) >= 16
    assert min(large_sizes.values()) >= 16, sorted(large_sizes.items(), key=lambda item: item[1])[:5]
    assert _body_size(normal_sizes) < _body_size(large_sizes)
    assert large.pages > normal.pages


def test_the_fonts_are_ibm_plex_sans_embedded(kirsten):
    pdf = bytes(_made(kirsten.plan, kind=DocumentKind.LARGE_PRINT).pdf)

    result = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True, timeout=60)
    rows = result.stdout.decode().splitlines()[2:]

    assert rows
    for row in rows:
        columns = row.split()
        assert "IBMPlexSans" in columns[0].replace("-", ""), row
        assert columns[-5] == "yes", f"not embedded: {row}"  # name type encoding emb sub uni object ID


# --- asking, waiting, getting it ------------------------------------------------------------------------


def test_the_plan_page_has_the_print_buttons(kirsten, portal_client):
    html = (
        portal_client(patient=kirsten.patient)
        .get(reverse("portal:plan", args=[kirsten.plan.public_id]))
        .content.decode()
    )

    section = html[html.index('<section aria-labelledby="portal-print">') :]
    section = section[: section.index("</section>")]
    assert section.count(f'action="{_request_url(kirsten.plan)}"') == 2
    assert 'name="kind" value="patient"' in section
    assert 'name="kind" value="large_print"' in section
    assert f'href="{_documents_url(kirsten.plan)}"' in section


def test_asking_leads_to_a_page_that_reloads_while_it_is_made_then_offers_the_pdf(
    kirsten, portal_client, asked, django_capture_on_commit_callbacks
):
    client = portal_client(patient=kirsten.patient)

    with django_capture_on_commit_callbacks(execute=True):
        document = _ask(client, kirsten.plan, DocumentKind.LARGE_PRINT)
    waiting = client.get(_document_url(document)).content.decode()
    stopped = client.get(_document_url(document) + "?stop").content.decode()
    _render(document)
    ready = client.get(_document_url(document)).content.decode()

    assert asked == [document.pk]
    assert (document.kind, document.requester) == (DocumentKind.LARGE_PRINT, kirsten.patient)
    refresh = WAITING_REFRESH.search(waiting)
    assert refresh is not None
    assert refresh.groups() == (str(settings.DOCUMENT_POLL_SECONDS), "1")  # each reload counts itself
    assert '<progress id="portal-progress" max="100" value="0">' in waiting
    assert f'href="{_document_url(document)}"' in waiting  # a plain link to look again
    assert 'href="?stop"' in waiting  # and one that stops the reloading
    assert not WAITING_REFRESH.search(stopped)
    assert f'href="{_document_url(document)}"' in stopped
    assert not WAITING_REFRESH.search(ready)
    assert f'href="{_pdf_url(document)}"' in ready


def test_a_page_left_waiting_stops_reloading_after_a_while_and_says_to_look_again_later(
    kirsten, portal_client, asked, django_capture_on_commit_callbacks
):
    """No worker makes it: the page does not reload forever (which would also keep the portal session
    from ending while nobody is there)."""
    client = portal_client(patient=kirsten.patient)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        document = _ask(client, kirsten.plan, DocumentKind.PATIENT)
    almost = client.get(_document_url(document) + f"?n={settings.DOCUMENT_POLL_MAX - 1}").content.decode()
    given_up = client.get(_document_url(document) + f"?n={settings.DOCUMENT_POLL_MAX}").content.decode()
    nonsense = client.get(_document_url(document) + "?n=-7x").content.decode()

    refresh = WAITING_REFRESH.search(almost)
    assert refresh is not None
    assert refresh.group(2) == str(settings.DOCUMENT_POLL_MAX)
    assert not WAITING_REFRESH.search(given_up)
    assert "It takes longer than it should. Look again later, or call your coordinator." in given_up
    assert f'href="{_document_url(document)}"' in given_up  # looking again starts the count anew
    assert WAITING_REFRESH.search(nonsense) is not None  # a count it cannot read counts as none


def test_a_failed_document_says_so_and_can_be_tried_again(
    kirsten, portal_client, asked, django_capture_on_commit_callbacks
):
    client = portal_client(patient=kirsten.patient)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        document = _ask(client, kirsten.plan, DocumentKind.PATIENT)
    PlanDocument.objects.filter(pk=document.pk).update(state=DocumentState.FAILED, error="WeasyPrintError")

    failed = client.get(_document_url(document)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        again = _ask(client, kirsten.plan, DocumentKind.PATIENT)

    assert "We could not make the PDF" in failed
    assert "WeasyPrintError" not in failed
    assert not WAITING_REFRESH.search(failed)
    assert f'action="{_request_url(kirsten.plan)}"' in failed
    assert 'name="kind" value="patient"' in failed
    assert again.pk == document.pk
    assert PlanDocument.objects.get(pk=document.pk).state == DocumentState.QUEUED
    assert asked == [document.pk, document.pk]


def test_asking_again_for_an_unchanged_plan_gives_the_same_document_and_a_change_a_new_version(
    kirsten, portal_client
):
    client = portal_client(patient=kirsten.patient)

    first = _ask(client, kirsten.plan, DocumentKind.PATIENT)
    same = _ask(client, kirsten.plan, DocumentKind.PATIENT)
    PathwayPlan.objects.filter(pk=kirsten.plan.pk).update(what_matters="At kunne gå tur med hunden.")
    changed = _ask(client, kirsten.plan, DocumentKind.PATIENT)

    assert same.pk == first.pk
    assert (first.number, changed.number) == (1, 2)


def test_the_documents_page_lists_the_readers_versions_with_their_date(kirsten, portal_client):
    world = kirsten
    client = portal_client(patient=world.patient)
    first = _made(world.plan)
    PathwayPlan.objects.filter(pk=world.plan.pk).update(what_matters="At kunne gå tur med hunden.")
    second = documents.document_request(
        plan=world.plan, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN, requester=None
    )
    appointments = _made(world.plan, content=DocumentContent.APPOINTMENTS)

    response = client.get(_documents_url(world.plan))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{_pdf_url(first)}"' in html  # done: its PDF
    assert f'href="{_document_url(second)}"' in html  # being made: its page
    assert html.index(_document_url(second)) < html.index(_pdf_url(first))  # newest first
    assert timezone.localtime(first.created_at).strftime("%Y-%m-%dT%H:%M") in html
    assert _pdf_url(appointments) not in html  # the relatives' kind is not hers to list
    assert "Kirsten" not in html  # nothing of the plan on this page
    assert response["Cache-Control"].replace(" ", "") in ("private,no-store", "no-store,private")


def test_the_documents_page_costs_the_same_queries_for_1_and_8_documents(kirsten, portal_client):
    client = portal_client(patient=kirsten.patient)
    url = _documents_url(kirsten.plan)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    documents.document_request(
        plan=kirsten.plan, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN, requester=None
    )
    few = count()
    for number in range(7):
        PathwayPlan.objects.filter(pk=kirsten.plan.pk).update(what_matters=f"Ændret {number}")
        documents.document_request(
            plan=kirsten.plan,
            kind=DocumentKind.LARGE_PRINT if number % 2 else DocumentKind.PATIENT,
            content=DocumentContent.WHOLE_PLAN,
            requester=None,
        )
    many = count()

    assert PlanDocument.objects.filter(plan=kirsten.plan).count() == 8
    assert few == many
    assert many <= 8


@pytest.mark.parametrize("kind", ["staff", "letter", "", "patient\x00", "x" * 5000])
def test_a_kind_the_portal_does_not_offer_is_400_with_a_clear_message_and_nothing_written(
    kirsten, portal_client, kind
):
    client = portal_client(patient=kirsten.patient)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    documents_before, log_before = PlanDocument.objects.count(), AccessLog.objects.count()

    response = client.post(_request_url(kirsten.plan), {"kind": kind})

    assert response.status_code == 400
    assert "Choose normal letters or large letters." in response.content.decode()
    assert PlanDocument.objects.count() == documents_before
    assert AccessLog.objects.count() == log_before


def test_the_print_button_needs_its_csrf_token(kirsten, portal_client):
    client = portal_client(patient=kirsten.patient)
    client.handler.enforce_csrf_checks = True

    response = client.post(_request_url(kirsten.plan), {"kind": DocumentKind.PATIENT})

    assert response.status_code == 403
    assert not PlanDocument.objects.exists()


# --- who may have it, and the log -----------------------------------------------------------------------


def test_the_download_is_logged_and_shows_in_the_patients_access_log(kirsten, portal_client):
    world = kirsten
    daughter = add_relative(world, scope=ConsentScope.WHOLE_PLAN, name="Susanne Testesen")
    patient = portal_client(patient=world.patient)
    document = _made(world.plan)
    before = AccessLog.objects.count()

    _downloaded(patient, document)
    _downloaded(portal_client(relatives=[daughter]), document)
    patient.head(_pdf_url(document))  # sends nothing: no row
    patient.get(_document_url(document))  # the page about it shows nothing of the plan: no row
    patient.get(_documents_url(world.plan))

    rows = list(AccessLog.objects.order_by("pk")[before:])
    assert [(row.action, row.reader, row.purpose) for row in rows] == [
        (AccessAction.PORTAL_DOCUMENT, world.patient, AccessPurpose.OWN_DATA),
        (AccessAction.PORTAL_DOCUMENT, daughter, AccessPurpose.RELATIVE_CONSENT),
    ]
    assert {(row.patient_id, row.plan_id) for row in rows} == {(world.patient.pk, world.plan.pk)}
    patient.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    log = patient.get(reverse("portal:access-log", args=[world.plan.public_id])).content.decode()
    entries = re.findall(r'<article class="ff-portal-card[^"]*">.*?</article>', log, flags=re.S)
    got = [entry for entry in entries if "Got your plan as a PDF" in entry]
    assert len(got) == 2
    assert "<dd>You</dd>" in got[1]  # hers (the older of the two)
    assert "You read it yourself" in got[1]
    assert "Your relative Susanne Testesen" in got[0]


def test_an_appointments_only_relative_gets_404_for_the_whole_plan_document(kirsten, portal_client):
    world = kirsten
    son = portal_client(relatives=[add_relative(world, scope=ConsentScope.APPOINTMENTS, name="Mads T")])
    whole = _made(world.plan, content=DocumentContent.WHOLE_PLAN)
    large = _made(world.plan, kind=DocumentKind.LARGE_PRINT, content=DocumentContent.APPOINTMENTS)
    before = AccessLog.objects.count()

    assert son.get(_document_url(whole)).status_code == 404
    assert son.get(_pdf_url(whole)).status_code == 404
    assert son.get(_pdf_url(large)).status_code == 200
    assert "Kirsten" not in son.get(_pdf_url(whole)).content.decode()
    assert _pdf_url(whole) not in son.get(_documents_url(world.plan)).content.decode()
    assert AccessLog.objects.count() == before + 1  # the appointments' PDF only


def test_the_patient_may_open_the_appointments_document_too(kirsten, portal_client):
    appointments = _made(kirsten.plan, content=DocumentContent.APPOINTMENTS)

    assert _downloaded(portal_client(patient=kirsten.patient), appointments).startswith(b"%PDF")


def test_another_plans_documents_are_404(kirsten, portal_client):
    world = kirsten
    services.plan_transition(actor=world.outsider, plan=world.other_plan, to_status=PlanStatus.ACTIVE)
    others = _made(world.other_plan)
    client = portal_client(patient=world.patient)
    own_plan_other_document = reverse(
        "portal:document-download", args=[world.plan.public_id, others.public_id]
    )
    before = AccessLog.objects.count()

    for url in (
        _pdf_url(others),
        _document_url(others),
        own_plan_other_document,
        _documents_url(world.other_plan),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Ole" not in response.content.decode()
    assert client.post(_request_url(world.other_plan), {"kind": "patient"}).status_code == 404
    assert AccessLog.objects.count() == before
    assert PlanDocument.objects.filter(plan=world.other_plan).count() == 1


def test_the_staffs_complete_plan_and_letters_are_never_the_portals(kirsten, portal_client, monkeypatch):
    monkeypatch.setitem(
        extensions.DOCUMENT_BUILDERS,
        DocumentKind.STAFF,
        lambda _plan, _content: f'<html><body><p class="ff-stamp">{documents.STAMP}</p></body></html>',
    )
    staff = _made(kirsten.plan, kind=DocumentKind.STAFF)
    client = portal_client(patient=kirsten.patient)

    assert client.get(_pdf_url(staff)).status_code == 404
    assert client.get(_document_url(staff)).status_code == 404


def test_the_pdf_is_private_and_not_cached(kirsten, portal_client):
    document = _made(kirsten.plan, kind=DocumentKind.LARGE_PRINT)

    response = portal_client(patient=kirsten.patient).get(_pdf_url(document))

    assert {part.strip() for part in response["Cache-Control"].split(",")} >= {"private", "no-store"}
    assert response["Content-Disposition"] == 'inline; filename="plan-stor-skrift-1.pdf"'


def test_a_document_not_made_yet_has_no_pdf_to_open(kirsten, portal_client):
    document = documents.document_request(
        plan=kirsten.plan, kind=DocumentKind.PATIENT, content=DocumentContent.WHOLE_PLAN, requester=None
    )
    before = AccessLog.objects.count()

    assert portal_client(patient=kirsten.patient).get(_pdf_url(document)).status_code == 404
    assert AccessLog.objects.count() == before
