"""Printable plans (issue 15), the staff side: a plan's printed documents and asking for one; a document's
page, which shows its progress while a worker makes the PDF; the PDF itself (a logged read of everything
printed in it); a failed one asked for again. Those who take part in a plan may do all of it (an emergency
access reads the plan page only); a letter's PDF is for those whose print queue holds the letter."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from pathways import access, documents, extensions, selectors
from pathways.choices import AccessAction, DocumentKind
from pathways.models import PlanDocument
from pathways.views.base import staff, staff_view


def _requestable(kind: str) -> bool:
    return kind in selectors.STAFF_DOCUMENT_KINDS and kind in extensions.DOCUMENT_BUILDERS


def _status_context(**context: Any) -> dict[str, Any]:
    return {"poll_seconds": settings.DOCUMENT_POLL_SECONDS, "poll_max": settings.DOCUMENT_POLL_MAX, **context}


@staff_view("GET", "HEAD")
def plan_documents(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The plan's printed documents by kind, every version with its date and who asked; a button per kind
    makes a PDF of the plan as it is now."""
    granted = access.access_plan_documents(staff(request), public_id, action=AccessAction.VIEW_PLAN)
    shelves = selectors.plan_documents(granted.plan)
    context = _status_context(
        plan=granted.plan,
        shelves=shelves,
        requestable=[shelf.kind for shelf in shelves if _requestable(shelf.kind)],
    )
    return render(request, "pathways/documents/plan_documents.html", context)


@staff_view("POST")
def plan_document_request(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Ask for a PDF of the plan as it is now (the one already made from the same plan, if there is one) and
    go to its page, which shows its progress."""
    actor = staff(request)
    granted = access.access_plan_documents(actor, public_id, action=None)
    kind = request.POST.get("kind", "")
    if not _requestable(kind):
        return HttpResponseBadRequest(
            gettext("Choose one of the printed plans on the page."), content_type="text/plain; charset=utf-8"
        )
    document = documents.document_request(plan=granted.plan, kind=DocumentKind(kind), requester=actor)
    return redirect("pathways:document-detail", document.public_id)


@staff_view("GET", "HEAD")
def document_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """One printed document: its progress while it is made (the page asks for it again every few seconds),
    then the link to the PDF, or what went wrong and a button to try again."""
    actor = staff(request)
    document = access.access_document(actor, public_id)
    access.access_log_plans(actor, [document.plan], action=AccessAction.VIEW_PLAN)
    return render(
        request, "pathways/documents/document_detail.html", _status_context(document=document, detail=True)
    )


@staff_view("GET", "HEAD")
def document_status_partial(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The document's state and progress (htmx polls it while the PDF is being made). It shows nothing of
    the patient, so a page left open does not fill the patient's access log every few seconds."""
    document = access.access_document(staff(request), public_id)
    polls = documents.polls_made(request.GET.get("n", ""))
    context = _status_context(document=document, detail=request.GET.get("detail") == "1", polls=polls)
    return render(request, "pathways/documents/_partials/document_status.html", context)


@staff_view("GET", "HEAD")
def document_download(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The PDF, to open and print (404 until it is made). Opening it is a read of everything printed in it:
    logged, and shown on the plan's "who has opened the plan" page."""
    actor = staff(request)
    document = access.access_document(actor, public_id)
    pdf = selectors.document_pdf(document)
    if pdf is None:
        raise Http404
    if request.method == "GET":
        access.access_log_plans(actor, [document.plan], action=AccessAction.DOWNLOAD_DOCUMENT)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = _inline_disposition(_filename(document))
    response["Cache-Control"] = "private, no-store"
    return response


@staff_view("POST")
def document_retry(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """A failed document is made again (one that did not fail is left as it is); back to its page."""
    document = access.access_document(staff(request), public_id)
    documents.document_retry(document=document)
    return redirect("pathways:document-detail", document.public_id)


# --- the PDF's file name ---

_DANISH_LETTERS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def _filename(document: PlanDocument) -> str:
    """ "Plan for patienten, Kirsten Testesen, version 2.pdf" in the reader's language."""
    name = gettext("%(kind)s, %(patient)s, version %(number)s") % {
        "kind": DocumentKind(document.kind).label,
        "patient": document.plan.patient.full_name,
        "number": document.number,
    }
    return _NOT_IN_FILE_NAMES.sub(" ", name).strip() + ".pdf"


def _inline_disposition(filename: str) -> str:
    """Opened in the browser, saved under the Danish name (RFC 6266 filename*), with a plain ASCII name for
    programs that read only that one (æ → ae, ø → oe, å → aa)."""
    plain = unicodedata.normalize("NFKD", filename.translate(_DANISH_LETTERS))
    plain = plain.encode("ascii", "ignore").decode().replace('"', "")
    if plain == filename:
        return f'inline; filename="{plain}"'
    return f"inline; filename=\"{plain}\"; filename*=utf-8''{quote(filename, safe='')}"
