"""The plan page and what hangs off it: the CPR reveal, the history, what matters, commitments and
the access log."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext

from pathways import access, selectors, services
from pathways.choices import AccessAction, AccessPurpose
from pathways.forms import (
    WhatMattersForm,
)
from pathways.views.base import (
    HtmxHttpRequest,
    editable_plan,
    partial_or_redirect,
    plan_url,
    staff,
    staff_view,
)


@staff_view("POST")
def cpr_reveal_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """The full CPR number, to the user who asks for it; the reveal is logged."""
    plan = access.access_plan(staff(request), public_id, action=AccessAction.REVEAL_CPR).plan
    if not request.htmx:
        messages.info(request, gettext("CPR number: %(cpr)s") % {"cpr": plan.patient.cpr_formatted})
        return redirect(plan_url(plan))
    return render(request, "pathways/_partials/cpr_revealed.html", {"patient": plan.patient})


@staff_view("GET", "HEAD")
def plan_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    page = selectors.plan_page_for(staff(request), public_id)
    view = "timeline" if request.GET.get("view") == "timeline" else "sector"
    context = {"page": page, "plan": page.plan, "view": view}
    # The sections the apps above add (pathways.extensions), each its template with its own context.
    context["sections"] = [
        render_to_string(template, context | section, request=request) for template, section in page.sections
    ]
    return render(request, "pathways/plan_detail.html", context)


@staff_view("GET", "HEAD")
def plan_history(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Who changed what in the plan and when, newest first; opening it is logged like the plan page."""
    plan = access.access_plan(staff(request), public_id, action=AccessAction.VIEW_HISTORY).plan
    entries = selectors.plan_history(plan=plan)
    return render(request, "pathways/plan_history.html", {"plan": plan, "entries": entries})


@staff_view("GET", "POST")
def what_matters_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    if not rights.can_edit_plan:
        raise PermissionDenied
    error = ""
    if request.method == "POST":
        form = WhatMattersForm(request.POST)
        if form.is_valid():
            try:
                plan = services.plan_update_what_matters(
                    actor=actor,
                    plan=plan,
                    what_matters=form.cleaned_data["what_matters"],
                    expected_version=form.cleaned_data["version"],
                )
            except services.VersionConflict as conflict:
                error = gettext(
                    "Someone else changed the plan while you were writing. Below is what is saved now; "
                    "your text is kept in the box so you can merge it."
                )
                plan = conflict.current
                form = WhatMattersForm(
                    initial={"what_matters": form.cleaned_data["what_matters"], "version": plan.version}
                )
            else:
                return partial_or_redirect(
                    request, "pathways/_partials/what_matters.html", {"plan": plan, "rights": rights}, plan,
                    "what-matters",
                )  # fmt: skip
    else:
        form = WhatMattersForm(initial={"what_matters": plan.what_matters, "version": plan.version})
    context = {"plan": plan, "form": form, "error": error}
    template = (
        "pathways/_partials/what_matters_form.html" if request.htmx else "pathways/what_matters_edit.html"
    )
    return render(request, template, context, status=409 if error and not request.htmx else 200)


@staff_view("POST")
def participant_accept_partial(
    request: HtmxHttpRequest, public_id: UUID, participant_id: UUID
) -> HttpResponse:
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    participant = access.access_participant(granted, participant_id)
    if not rights.can_accept(participant):
        raise PermissionDenied
    services.participant_accept(actor=actor, participant=participant)
    context = {"participants": selectors.plan_participants(plan, rights), "plan": plan}
    return partial_or_redirect(
        request, "pathways/_partials/participants.html", context, plan, "participants-heading"
    )


ACCESS_LOG_PAGE_SIZE = 50


@staff_view("GET", "HEAD")
def plan_access_log(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Who has opened the patient's information, when and why — for the plan's coordinator."""
    actor = staff(request)
    granted = access.access_plan(actor, public_id, action=AccessAction.VIEW_ACCESS_LOG)
    plan = granted.plan
    if not granted.rights.is_coordinator:
        raise PermissionDenied
    page = Paginator(selectors.plan_access_log(plan), ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"plan": plan, "page": page, "emergency": AccessPurpose.EMERGENCY}
    return render(request, "pathways/plan_access_log.html", context)
