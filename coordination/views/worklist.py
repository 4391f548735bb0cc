"""The coordinator's worklist, and the start page after sign-in (the worklist for coordinators, a page an
app above registered for the user — pathways.extensions.START_PAGES — else the caseload)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render

from coordination import selectors
from coordination.choices import WorkItemKind
from pathways import extensions
from pathways.views.base import HtmxHttpRequest, staff, staff_view


@staff_view("GET", "HEAD")
def start(request: HtmxHttpRequest) -> HttpResponse:
    """Where sign-in lands: users with the coordinator role start on their worklist; a page an app above
    registered for the user (pathways.extensions.START_PAGES: quality's dashboard) next; else the
    caseload."""
    user = staff(request)
    if selectors.is_coordinator_user(user):
        return redirect("coordination:worklist")
    return redirect(extensions.start_page(user) or "pathways:caseload")


@staff_view("GET", "HEAD")
def worklist(request: HtmxHttpRequest) -> HttpResponse:
    """What needs doing today across the user's plans; `?show=<kind>` narrows the page to one kind of
    line (an unknown kind shows everything)."""
    show = request.GET.get("show", "")
    worklist = selectors.worklist_for_coordinator(
        staff(request), show=show if show in WorkItemKind.values else ""
    )
    return render(
        request,
        "coordination/worklist.html",
        {"worklist": worklist, "shown_per_section": selectors.WORKLIST_SHOWN_PER_SECTION},
    )
