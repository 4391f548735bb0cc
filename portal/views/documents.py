"""Print your plan (issue 15): the patient, and a relative within their consent, get the plan as a PDF — in
normal or large letters — made by a worker (pathways.documents), never in the request.

- "Print your plan" (`documents`): the two buttons and the versions printed before, each with its date.
- Asking (`document-request`, POST, the one form here): the reader's own kind of document — the whole
  plan, or the appointments for a relative with appointments only (portal.access.portal_document_content)
  — the one already made from the same plan, else a new version; on to its page.
- The document's page (`document`): while it is made, its progress, the page reloading itself every few
  seconds (a <meta http-equiv="refresh">: the portal runs no JavaScript) until it is ready, with a link to
  stop that and a plain link to look again; when ready, the link to the PDF; when it failed, a clear
  message and a button to try again.
- The PDF (`document-download`): a read of everything printed in it, logged for the patient as
  AccessAction.PORTAL_DOCUMENT (it shows in her access log).

The pages about documents show nothing of the plan itself — not even the patient's name — and write no
access-log row; the PDF does. A document of another plan, kind or content than the reader may open is the
portal's 404, as a plan is.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from pathways import documents
from pathways.choices import DOCUMENT_PATIENT_KINDS, AccessAction, DocumentKind
from pathways.documents import document_request
from portal import access, selectors
from portal.views.base import PortalRequest, portal_render, portal_view

# The document page's query parameter that stops it reloading itself (WCAG 2.2.1: a time limit the
# reader can turn off).
STOP_REFRESH = "stop"
BAD_REQUEST = 400


def _reader(request: HttpRequest, public_id: UUID) -> access.PortalReader:
    session = cast(PortalRequest, request).portal_session
    return access.access_portal_plan(
        session, public_id=public_id, action=AccessAction.PORTAL_DOCUMENT, log=False
    )


@portal_view()
def portal_documents(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Print your plan: normal or large letters, and the earlier versions."""
    page = selectors.portal_documents_page(reader=_reader(request, public_id))
    return portal_render(request, "portal/documents.html", {"page": page})


@portal_view(methods=("POST",))
def portal_document_request(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Ask for the plan as a PDF (`kind`: the plan or its large print). A kind the portal does not offer
    is 400, with the page and what to do, and nothing written."""
    reader = _reader(request, public_id)
    kind = request.POST.get("kind", "")
    if kind not in DOCUMENT_PATIENT_KINDS:
        error = str(selectors.DOCUMENT_REQUEST_ERROR)
        page = selectors.portal_documents_page(reader=reader, error=error)
        return portal_render(request, "portal/documents.html", {"page": page}, status=BAD_REQUEST)
    document = document_request(
        plan=reader.plan,
        kind=DocumentKind(kind),
        content=access.portal_document_content(reader),
        requester=reader.reader,
    )
    return redirect("portal:document", public_id=public_id, document_id=document.public_id)


@portal_view()
def portal_document(request: HttpRequest, public_id: UUID, document_id: UUID) -> HttpResponse:
    """One printed plan: its progress while it is made, the link to it when ready, a retry when failed."""
    session = cast(PortalRequest, request).portal_session
    reader, document = access.access_portal_document(session, public_id=public_id, document_id=document_id)
    shown = selectors.portal_document(reader=reader, document=document)
    polls = documents.polls_made(request.GET.get("n", ""))
    slow = shown.waiting and polls >= settings.DOCUMENT_POLL_MAX
    refreshing = shown.waiting and STOP_REFRESH not in request.GET and not slow
    context = {
        "document": shown,
        "refresh_seconds": settings.DOCUMENT_POLL_SECONDS if refreshing else None,
        "stopped": shown.waiting and not refreshing,
        "stop_parameter": STOP_REFRESH,
        "slow": slow,
        "next_poll": polls + 1,
    }
    return portal_render(request, "portal/document.html", context)


@portal_view()
def portal_document_download(request: HttpRequest, public_id: UUID, document_id: UUID) -> HttpResponse:
    """The PDF (only a document that is done; logged for the patient, a HEAD request not)."""
    session = cast(PortalRequest, request).portal_session
    _reader, document = access.access_portal_document(
        session, public_id=public_id, document_id=document_id, pdf=True, log=request.method == "GET"
    )
    response = HttpResponse(bytes(document.pdf or b""), content_type="application/pdf")
    name = "plan-stor-skrift" if document.kind == DocumentKind.LARGE_PRINT else "plan"
    response["Content-Disposition"] = f'inline; filename="{name}-{document.number}.pdf"'
    return response
