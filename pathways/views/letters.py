"""The print queue (Breve til udskrivning): letters to patients who asked for paper, printed and posted by
the plan's coordinator's organisation. Every page names patients and their addresses: each is a logged
read. Each letter has its PDF (issue 15: a worker makes it once the letter reaches the queue; where the
patient asked for paper, the printable plan is attached), with its state shown here."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from pathways import access, outbox, selectors, services
from pathways.choices import AccessAction
from pathways.models import Notification, PathwayPlan, User
from pathways.views.base import HtmxHttpRequest, staff, staff_view

LETTERS_PAGE_SIZE = 50


def _shown(actor: User, letters: Iterable[Notification], action: AccessAction) -> None:
    plans: dict[int, PathwayPlan] = {letter.plan_id: letter.plan for letter in letters}
    access.access_log_plans(actor, plans.values(), action=action)


@staff_view("GET", "HEAD")
def letters(request: HtmxHttpRequest) -> HttpResponse:
    """Letters to print first, oldest first; then the printed ones."""
    actor = staff(request)
    page = Paginator(selectors.letters_for(actor), LETTERS_PAGE_SIZE).get_page(request.GET.get("page"))
    _shown(actor, page.object_list, AccessAction.LIST)
    pdfs = selectors.letter_documents(page.object_list)
    rows = [(letter, outbox.letter_addressee(letter), pdfs.get(letter.pk)) for letter in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "poll_seconds": settings.DOCUMENT_POLL_SECONDS,
        "poll_max": settings.DOCUMENT_POLL_MAX,
    }
    return render(request, "pathways/letters.html", context)


@staff_view("GET", "HEAD")
def letter(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """One letter as it is printed: the addressee's (patient's or relative's) name and address, the text,
    the sender."""
    actor = staff(request)
    found = access.access_letter(actor, public_id)
    _shown(actor, [found], AccessAction.VIEW_PLAN)
    context = {
        "letter": found,
        "paragraphs": outbox.letter_paragraphs(found),
        "to": outbox.letter_addressee(found),
        "plan": found.plan,
        "document": selectors.letter_documents([found]).get(found.pk),
        "poll_seconds": settings.DOCUMENT_POLL_SECONDS,
        "poll_max": settings.DOCUMENT_POLL_MAX,
    }
    return render(request, "pathways/letter.html", context)


@staff_view("POST")
def letter_printed(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Printed and posted: back to the print queue."""
    services.letter_mark_printed(actor=staff(request), public_id=public_id)
    return HttpResponseRedirect(reverse("pathways:letters"))
