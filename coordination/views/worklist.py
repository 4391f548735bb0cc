"""The coordinator's worklist, and the start page after sign-in (the worklist for coordinators, the
caseload for everyone else)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render

from coordination import selectors
from coordination.choices import WorkItemKind
from pathways.views.base import HtmxHttpRequest, staff, staff_view


@staff_view("GET", "HEAD")
def start(request: HtmxHttpRequest) -> HttpResponse:
    """Where sign-in lands: users with the coordinator role start on their worklist."""
    if selectors.is_coordinator_user(staff(request)):
        return redirect("coordination:worklist")
    return redirect("pathways:caseload")


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
