"""Printable plans (issue 15): documents made from a plan, rendered to PDF by a worker, nothing lost,
nothing made twice.

Asking. `document_request` builds the document's HTML from the plan as it is now (the app that owns the
content registers a builder for each kind in pathways.extensions: the portal the patient's plan and its
large print, coordination the complete plan for staff; the hub makes the letters), takes its fingerprint
and either finds the document already made from the same content or writes a new row, numbered per plan
and kind, in the asker's transaction. Two askers at once: the plan row is locked (FOR NO KEY UPDATE) before
the second look and the numbering, so they get one row, or 3 and 4 for different content, never 3 twice
and never a gap. Once the row commits a worker is asked to render it; if the broker is down the request is
lost, the row is not: the sweeper asks again.

Rendering. `document_render` claims the row with a conditional UPDATE (queued → rendering, with a lease),
renders the stored HTML with WeasyPrint in the worker, reports its progress (and renews the lease) as
WeasyPrint goes through its steps, and stores the PDF and "done" in one UPDATE that only succeeds while the
claim is still its own: a worker the sweeper gave up on stores nothing. An error fails the document with
the kind of error (never its text, which may quote patient data); it can be retried. A document loads
files under static/ only (the fonts and print stylesheets): no network, no other file, whatever its HTML
says.

Sweeping. `documents_sweep` (beat, every minute) takes back rows whose worker died (lease over: queued
again, or failed after DOCUMENT_MAX_ATTEMPTS), gives letters the outbox delivered to the print queue their
PDF, and asks again for rows left waiting longer than DOCUMENT_REQUEUE_SECONDS — each at most once per
that time, however many sweepers run.

Letters. When the outbox delivers letters to the print queue it asks a worker for `letters_prepare` (and
the sweeper catches what that request lost): each letter gets one PDF. A letter to a patient who asked for
paper carries the patient's printable plan, when the plan changed since the last letter that carried it;
the attached plan is the patient document of the same content (made if need be), so its version and date
are the ones the portal shows.

The printed date and the version are not part of the fingerprint: builders write `STAMP` where they go and
the row's own stamp replaces it, so the same plan asked for twice is the same document.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from celery import current_app
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Max, Model, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _

from pathways import extensions, outbox
from pathways.choices import (
    ContactChannel,
    DocumentContent,
    DocumentKind,
    DocumentState,
    NotificationChannel,
    NotificationState,
)
from pathways.models import Notification, PathwayPlan, Patient, PlanDocument, User

logger = logging.getLogger(__name__)

RENDER_TASK = "pathways.tasks.document_render"

# Where a builder puts the version and the printed date (replaced per row; left out of the fingerprint).
STAMP = "\u2063ff-document-stamp\u2063"

# The only files a document may load: the vendored fonts and the print stylesheets (no network, no other
# file on the server, whatever the HTML says).
ASSETS = Path(settings.BASE_DIR) / "static"

# How many waiting documents one sweep asks a worker for (the rest: the next minute's).
SWEEP_ASK_LIMIT = 500


def _lease() -> timedelta:
    """Longer than the slowest render (the task's time limit); read per call, so a test may shorten it."""
    return timedelta(seconds=settings.DOCUMENT_LEASE_SECONDS)


def _language(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else "da"


# --- Builders -----------------------------------------------------------------------------------------


def document_builder(kind: str) -> extensions.DocumentBuilder:
    """The builder an app registered for `kind` in its ready() (pathways.extensions)."""
    try:
        return extensions.DOCUMENT_BUILDERS[kind]
    except KeyError:
        raise LookupError(f"no builder registered for documents of kind {kind!r}") from None


def polls_made(value: str) -> int:
    """How many times a page has asked for a document's progress (its `?n=`, counted by the page itself;
    anything else counts as none), at most DOCUMENT_POLL_MAX: there the asking stops."""
    return min(int(value), settings.DOCUMENT_POLL_MAX) if value.isdigit() and len(value) < 6 else 0


def fingerprint(html: str) -> str:
    return hashlib.sha256(html.encode()).hexdigest()


def document_language(plan: PathwayPlan, kind: str) -> str:
    """The patient's documents in the patient's language (where the product has it), staff's in the one
    that is active."""
    if kind in (DocumentKind.PATIENT, DocumentKind.LARGE_PRINT):
        return _language(plan.patient.language)
    return get_language() or settings.LANGUAGE_CODE


def stamp_text(document: PlanDocument) -> str:
    """ "Version 3 · printed 30. november 2026 at 15.42" in the document's language."""
    with override(document.language):
        moment = timezone.localtime(document.created_at)
        return _("Version %(number)s · printed %(day)s at %(time)s") % {
            "number": document.number,
            "day": date_format(moment, "j. F Y"),
            "time": date_format(moment, "H.i"),
        }


# --- Asking -------------------------------------------------------------------------------------------


def _requester_fields(requester: Model | None) -> dict[str, Any]:
    if requester is None:
        return {}
    if isinstance(requester, User):
        return {"requested_by": requester}
    return {"requester_type": ContentType.objects.get_for_model(requester), "requester_id": requester.pk}


def _plan_lock(plan: PathwayPlan) -> None:
    """Serialise the askers of one plan's documents (numbering, "made already?") until the caller's
    transaction ends. NO KEY: rows that merely point at the plan (tasks, access-log rows) are not held up."""
    PathwayPlan.objects.select_for_update(no_key=True).filter(pk=plan.pk).values_list("pk", flat=True).get()


@transaction.atomic
def document_request(
    *,
    plan: PathwayPlan,
    kind: DocumentKind,
    content: DocumentContent = DocumentContent.WHOLE_PLAN,
    requester: Model | None,
) -> PlanDocument:
    """The document of `kind` made from the plan as it is now: the one already made (or being made) from
    the same content, else a new version, queued for a worker. A failed one is queued again. The caller
    has checked that the requester may have it (the access policy); nothing here reads for them."""
    if kind == DocumentKind.LETTER:
        raise ValueError("letters are made by the outbox (letters_prepare)")
    language = document_language(plan, kind)
    with override(language):
        html = document_builder(kind)(plan, content)
    return _document_for(
        plan=plan, kind=kind, content=content, language=language, html=html, requester=requester
    )


def _document_for(
    *, plan: PathwayPlan, kind: str, content: str, language: str, html: str, requester: Model | None
) -> PlanDocument:
    """The row for this content (inside the caller's transaction): found, retried if it failed, or new."""
    print_id = fingerprint(html)
    same = PlanDocument.objects.listed().filter(
        plan=plan, kind=kind, content=content, fingerprint=print_id, notification__isnull=True
    )
    existing = same.first()
    if existing is None:
        _plan_lock(plan)
        existing = same.first()  # a second look under the lock: another asker may have just made it
    if existing is not None:
        if existing.state == DocumentState.FAILED:
            return document_retry(document=existing)
        return existing
    document = PlanDocument(
        plan=plan,
        kind=kind,
        content=content,
        number=_next_number(plan, kind, content),
        language=language,
        fingerprint=print_id,
        **_requester_fields(requester),
    )
    document.html = html.replace(STAMP, escape(stamp_text(document)))
    document.save()
    _render_after_commit(document.pk)
    return document


def _next_number(plan: PathwayPlan, kind: str, content: str) -> int:
    """The next version of the plan's documents of `kind` and `content` (the caller holds the plan's lock):
    a relative's appointments count on their own, so their numbers do not tell how often the whole plan
    was made."""
    highest = PlanDocument.objects.filter(plan=plan, kind=kind, content=content).aggregate(n=Max("number"))[
        "n"
    ]
    return (highest or 0) + 1


@transaction.atomic
def document_retry(*, document: PlanDocument) -> PlanDocument:
    """A failed document is queued again (a repeated retry, or one of a document not failed, is a no-op)."""
    updated = PlanDocument.objects.filter(pk=document.pk, state=DocumentState.FAILED).update(
        # `attempts` keeps counting: a worker still holding an earlier claim never matches a new one.
        state=DocumentState.QUEUED,
        progress=0,
        error="",
        enqueued_at=timezone.now(),
        lease_until=None,
    )
    if updated:
        _render_after_commit(document.pk)
    return PlanDocument.objects.listed().get(pk=document.pk)


def _render_after_commit(document_id: int) -> None:
    transaction.on_commit(lambda: ask_to_render(document_id), robust=True)


def ask_to_render(document_id: int) -> bool:
    """Ask a worker to render. If Redis is down the request is lost (False); the row is not: the sweeper
    asks again."""
    try:
        current_app.send_task(RENDER_TASK, args=[document_id], retry=False, ignore_result=True)
    except Exception:
        logger.warning("documents: could not ask a worker to render; the sweeper will", exc_info=True)
        return False
    return True


# --- Letters ------------------------------------------------------------------------------------------


def _letter_html(row: Notification, addressee: outbox.Addressee, language: str, *, attached: bool) -> str:
    plan = row.plan
    with override(language):
        return render_to_string(
            "pathways/documents/letter.html",
            {
                "letter": row,
                "to": addressee,
                "paragraphs": outbox.letter_paragraphs(row),
                "plan": plan,
                "coordinator": plan.coordinator,
                "organisation": plan.coordinator_organisation,
                "attached": attached,
                "language": language,
            },
        )


def _patient_asked_for_paper(row: Notification) -> bool:
    """A letter to the patient (not to a relative) who wants news on paper."""
    return (
        row.recipient_type_id == ContentType.objects.get_for_model(Patient).pk
        and row.plan.patient.preferred_contact == ContactChannel.LETTER
    )


def _last_attached(plan: PathwayPlan) -> str:
    """The fingerprint of the plan the last letter that carried one carried ("" if none did)."""
    return (
        PlanDocument.objects.filter(plan=plan, kind=DocumentKind.LETTER)
        .exclude(attachment_fingerprint="")
        .order_by("-number")
        .values_list("attachment_fingerprint", flat=True)
        .first()
        or ""
    )


def letter_document_create(row: Notification) -> PlanDocument | None:
    """The PDF of a letter delivered to the print queue, queued for a worker; where the patient asked for
    paper, with the printable plan attached when it changed since the last letter that carried it. Once per
    letter: None if it has one already (two sweepers at once make one)."""
    plan = row.plan
    addressee = outbox.letter_addressee(row)
    language = _language(addressee.language)
    plan_html = plan_language = ""
    if _patient_asked_for_paper(row) and DocumentKind.PATIENT in extensions.DOCUMENT_BUILDERS:
        # Built before the lock (the slow part); whether it goes with this letter is decided under it.
        plan_language = document_language(plan, DocumentKind.PATIENT)
        with override(plan_language):
            plan_html = document_builder(DocumentKind.PATIENT)(plan, DocumentContent.WHOLE_PLAN)
    with transaction.atomic():
        _plan_lock(plan)
        if PlanDocument.objects.filter(notification=row).exists():
            return None
        attached: PlanDocument | None = None
        if plan_html and _last_attached(plan) != fingerprint(plan_html):
            attached = _document_for(
                plan=plan,
                kind=DocumentKind.PATIENT,
                content=DocumentContent.WHOLE_PLAN,
                language=plan_language,
                html=plan_html,
                requester=None,
            )
        html = _letter_html(row, addressee, language, attached=attached is not None)
        document = PlanDocument(
            plan=plan,
            kind=DocumentKind.LETTER,
            number=_next_number(plan, DocumentKind.LETTER, DocumentContent.WHOLE_PLAN),
            language=language,
            fingerprint=fingerprint(html),
            notification=row,
        )
        document.html = html.replace(STAMP, escape(stamp_text(document)))
        if attached is not None:
            document.attachment_fingerprint = attached.fingerprint
            document.attachment_html = plan_html.replace(STAMP, escape(stamp_text(attached)))
        document.save()
        _render_after_commit(document.pk)
    return document


def letters_prepare(*, limit: int = 200) -> int:
    """Letters delivered to the print queue and not yet printed that have no PDF get one (the oldest
    first). Returns how many it made. Safe to run twice or in parallel."""
    rows = list(
        Notification.objects.filter(
            channel=NotificationChannel.LETTER,
            state=NotificationState.SENT,
            read_at__isnull=True,
            document__isnull=True,
        )
        .select_related(
            "plan__patient", "plan__coordinator", "plan__coordinator_organisation", "task", "recipient_type"
        )
        .order_by("sent_at", "pk")[:limit]
    )
    made = 0
    for row in rows:
        try:
            made += letter_document_create(row) is not None
        except Exception as error:
            # One letter that cannot be made (a builder's error) holds up none of the others; it is tried
            # again at the next sweep. The kind of error only: its text may quote patient data.
            logger.error("documents: %s making the PDF of letter %s", type(error).__name__, row.public_id)
    return made


# --- Rendering ----------------------------------------------------------------------------------------

_CLAIM_SQL = """
UPDATE pathways_plandocument
   SET state = 'rendering', attempts = attempts + 1, lease_until = %(lease_until)s,
       started_at = %(now)s, progress = 5, error = ''
 WHERE id = %(id)s AND state = 'queued'
RETURNING attempts
"""


def document_claim(document_id: int, *, now: datetime | None = None) -> int | None:
    """Claim a queued document for this worker: the attempt it claimed, or None if it is not queued (done,
    failed, or another worker has it)."""
    moment = now or timezone.now()
    # Durable: the claim is committed at once, never a savepoint a caller's rollback could undo.
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"id": document_id, "now": moment, "lease_until": moment + _lease()})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _still_ours(document_id: int, attempt: int) -> QuerySet[PlanDocument]:
    return PlanDocument.objects.filter(pk=document_id, state=DocumentState.RENDERING, attempts=attempt)


# WeasyPrint logs its steps on its progress logger; the percentage a document shows as it reaches each one.
_STEP_PROGRESS = {
    "Step 1": 10,  # parsing the HTML
    "Step 2": 20,  # fetching and parsing the CSS
    "Step 3": 30,  # applying the CSS
    "Step 4": 45,  # the formatting structure
    "Step 5": 60,  # layout, page by page (the long step of a long plan)
    "Step 6": 85,  # writing the PDF
    "Step 7": 95,  # its metadata
}


@dataclass
class _Reporter:
    """The progress of one render, in the thread that renders it: only ever up."""

    report: Callable[[int], None]
    reached: int = 0

    def step(self, message: str) -> None:
        for step, percent in _STEP_PROGRESS.items():
            if message.startswith(step) and percent > self.reached:
                self.reached = percent
                self.report(percent)
                return


_rendering = threading.local()


class _ProgressHandler(logging.Handler):
    """Hands WeasyPrint's step messages to the render running in the thread that logged them, so two
    renders in one process (threads) never report each other's progress."""

    def emit(self, record: logging.LogRecord) -> None:
        reporter = getattr(_rendering, "reporter", None)
        if reporter is not None:
            reporter.step(str(record.msg))


@cache
def _progress_handler() -> _ProgressHandler:
    """Installed once per process. The steps are not propagated to the application's log: they say
    nothing an operator needs and would be lines per page."""
    from weasyprint import PROGRESS_LOGGER

    handler = _ProgressHandler(level=logging.INFO)
    PROGRESS_LOGGER.addHandler(handler)
    PROGRESS_LOGGER.setLevel(logging.INFO)
    PROGRESS_LOGGER.propagate = False
    return handler


@cache
def _url_fetcher_class() -> type:
    from weasyprint.urls import URLFetcher

    root = ASSETS.resolve()

    class StaticOnly(URLFetcher):
        """Files under static/ and data: URLs; nothing else (no network, no other file)."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme != "file" or parts.netloc not in ("", "localhost"):
                raise ValueError("documents load files under static/ only")
            path = Path(url2pathname(parts.path)).resolve()  # symbolic links and ".." resolved first
            if not path.is_relative_to(root) or not path.is_file():
                raise ValueError("documents load files under static/ only")
            return super().fetch(path.as_uri(), headers)

    return StaticOnly


def _url_fetcher() -> Any:
    return _url_fetcher_class()(allowed_protocols={"file", "data"}, fail_on_errors=False)


# PDF/UA-1: tagged for screen readers, with the document's language and title.
PDF_OPTIONS: dict[str, Any] = {"pdf_variant": "pdf/ua-1"}


def html_to_pdf(
    html: str, *, attachment_html: str = "", report: Callable[[int], None] | None = None
) -> tuple[bytes, int]:
    """The PDF and its page count (a letter's attachment follows the letter's pages). `report` is called
    with a rising percentage as WeasyPrint reaches each of its steps."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    _progress_handler()
    fonts = FontConfiguration()
    base = ASSETS.as_uri() + "/"
    outer = getattr(_rendering, "reporter", None)
    _rendering.reporter = None if report is None else _Reporter(report)
    try:
        rendered = HTML(string=html, base_url=base, url_fetcher=_url_fetcher()).render(
            font_config=fonts, **PDF_OPTIONS
        )
        if attachment_html:
            attached = HTML(string=attachment_html, base_url=base, url_fetcher=_url_fetcher()).render(
                font_config=fonts, **PDF_OPTIONS
            )
            rendered = rendered.copy([*rendered.pages, *attached.pages])
        pdf = rendered.write_pdf(**PDF_OPTIONS)
    finally:
        _rendering.reporter = outer
    return pdf, len(rendered.pages)


def document_render(document_id: int) -> bool:
    """Claim, render and store one document; True if this call made it. Safe to call twice or in
    parallel: only the claim's owner renders, and only while the claim is still its own does it store."""
    attempt = document_claim(document_id)
    if attempt is None:
        return False
    row = PlanDocument.objects.filter(pk=document_id).values("html", "attachment_html").get()

    def report(percent: int) -> None:
        # Each step renews the lease: a long render that is still going is not taken for a dead one.
        _still_ours(document_id, attempt).update(progress=percent, lease_until=timezone.now() + _lease())

    try:
        pdf, pages = html_to_pdf(row["html"], attachment_html=row["attachment_html"], report=report)
    except Exception as error:
        # The kind of error only: its text may quote the document, which is patient data.
        logger.error("documents: %s rendering document %s", type(error).__name__, document_id)
        _still_ours(document_id, attempt).update(
            state=DocumentState.FAILED, lease_until=None, error=type(error).__name__[:200]
        )
        return False
    stored = _still_ours(document_id, attempt).update(
        state=DocumentState.DONE,
        pdf=pdf,
        pages=pages,
        size=len(pdf),
        progress=100,
        lease_until=None,
        finished_at=timezone.now(),
    )
    return bool(stored)


# --- Sweeping -----------------------------------------------------------------------------------------


def documents_sweep(*, now: datetime | None = None) -> int:
    """Take back documents whose worker died, make the letters' PDFs, ask again for those left waiting.
    Returns how many documents it asked a worker for."""
    moment = now or timezone.now()
    requeue = timedelta(seconds=settings.DOCUMENT_REQUEUE_SECONDS)
    stale = PlanDocument.objects.filter(state=DocumentState.RENDERING, lease_until__lt=moment)
    stale.filter(attempts__gte=settings.DOCUMENT_MAX_ATTEMPTS).update(
        state=DocumentState.FAILED, lease_until=None, error="WorkerLost"
    )
    # Taken back as if asked for long ago: the pass below asks for them at once.
    stale.filter(attempts__lt=settings.DOCUMENT_MAX_ATTEMPTS).update(
        state=DocumentState.QUEUED, lease_until=None, progress=0, enqueued_at=moment - requeue * 2
    )
    letters_prepare()
    with transaction.atomic():
        # Rows another sweeper holds are skipped; once it commits they were asked for just now.
        ids = list(
            PlanDocument.objects.filter(state=DocumentState.QUEUED, enqueued_at__lte=moment - requeue)
            .order_by("enqueued_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:SWEEP_ASK_LIMIT]
        )
        PlanDocument.objects.filter(pk__in=ids).update(enqueued_at=moment)
    asked = 0
    for document_id in ids:
        if not ask_to_render(document_id):
            break  # the broker is down: the rest wait for the next time
        asked += 1
    return asked
