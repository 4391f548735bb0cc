"""Responsibility disputes on a plan: mark a task's responsibility as disputed, resolve it (the plan's
coordinator), and the section's own refresh (htmx polling), so a reader sees a resolution without
reloading. Forms open in the section's slot (htmx) or on a page of their own (no JavaScript)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.views.decorators.vary import vary_on_headers

from coordination import access, selectors, services
from coordination.choices import DisputeStatus
from coordination.forms import DisputeRaiseForm, DisputeResolveForm
from coordination.models import Dispute
from pathways import access as hub_access
from pathways import selectors as hub_selectors
from pathways.services import VersionConflict
from pathways.views.base import (
    HtmxHttpRequest,
    add_errors,
    editable_plan,
    form_response,
    plan_url,
    staff,
    staff_view,
)

SECTION = "coordination/_partials/plan_disputes.html"


def _section(request: HtmxHttpRequest, granted: hub_access.PlanAccess) -> HttpResponse:
    """The disputes section as it is now and, out of band, the rows of its disputes' tasks on the plan
    (their markers and, after a decision, their responsible organisation), so a reader's task table keeps
    up with the section."""
    section = selectors.disputes_section_for(granted.plan, granted.rights)
    response = render(request, SECTION, {"plan": granted.plan, "disputes_section": section})
    task_ids = [row.dispute.task_id for row in [*section.open, *section.resolved]]
    if task_ids:
        rows = hub_selectors.task_rows_of(staff(request), granted, task_ids=task_ids)
        response.content += render_to_string(
            "pathways/_partials/task_rows_oob.html", {"oob_rows": rows, "plan": granted.plan}, request=request
        ).encode()
    return response


def _changed(request: HtmxHttpRequest, granted: hub_access.PlanAccess) -> HttpResponse:
    """After a change: the section as it is now (htmx, with the plan's other regions told), else back
    to the plan's disputes."""
    if not request.htmx:
        return redirect(plan_url(granted.plan, "disputes"))
    response = _section(request, granted)
    response["HX-Trigger"] = "plan-changed"
    return response


@staff_view("GET", "HEAD")
def plan_disputes_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """The plan's disputes section as it is now (the section polls it; reading it is logged). A poll
    whose page is still right (`since`, the list's fingerprint) is answered 204: nothing to swap, nothing
    read, nothing logged — an open plan page does not fill the patient's access log every 30 seconds."""
    actor = staff(request)
    if selectors.unchanged_disputes(actor, public_id, request.GET.get("since", "")):
        return HttpResponse(status=204)
    granted = hub_access.access_plan(actor, public_id)
    response = _section(request, granted)
    response["Vary"] = "HX-Request"
    return response


@staff_view("GET", "POST")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def dispute_create(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Mark a task's responsibility as disputed (anyone acting for an organisation taking part, or the
    plan's coordinator). ?task=<public id> chooses the task in advance."""
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    choices = selectors.dispute_choices(plan, rights)
    if not choices.raise_for.exists():
        raise PermissionDenied
    initial: dict[str, Any] = {}
    if request.method == "GET" and request.GET.get("task"):
        initial["task"] = request.GET["task"]
    raise_for = list(choices.raise_for[:2])
    if len(raise_for) == 1:
        initial["organisation"] = raise_for[0].public_id
    form = DisputeRaiseForm(
        request.POST or None,
        initial=initial,
        tasks=choices.tasks,
        raise_for=choices.raise_for,
        participating=choices.participating,
        auto_id="dispute-new-%s",
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.dispute_raise(
                actor=actor,
                task=data["task"],
                organisation=data["organisation"],
                parties=data["parties"],
                question=data["question"],
                reason=data["reason"],
                interim_organisation=data["interim_organisation"],
                interim_note=data["interim_note"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            return _changed(request, granted)
    context = {"plan": plan, "form": form}
    status = 422 if form.errors else 200
    return form_response(
        request,
        page="coordination/dispute_create.html",
        fragment="coordination/_partials/dispute_form.html",
        form_id="dispute-form",
        context=context,
        status=status,
    )


def _resolve_initial(dispute: Dispute) -> dict[str, Any]:
    return {"version": dispute.version}


@staff_view("GET", "POST")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def dispute_resolve(request: HtmxHttpRequest, public_id: UUID, dispute_id: UUID) -> HttpResponse:
    """The plan's coordinator (or substitute) decides who is responsible; the task moves with the
    decision. Someone who decided first, or changed the dispute meanwhile, is told so."""
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    if granted.emergency is not None or not access.may_resolve(plan, rights):
        raise PermissionDenied
    dispute = access.access_dispute(granted, dispute_id)
    participating = selectors.dispute_choices(plan, rights).participating
    auto_id = f"dispute-{dispute.public_id.hex[:8]}-%s"
    form = DisputeResolveForm(
        request.POST or None, initial=_resolve_initial(dispute), participating=participating, auto_id=auto_id
    )
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.dispute_resolve(
                actor=actor,
                dispute=dispute,
                decision=data["decision"],
                responsible_organisation=data["responsible_organisation"],
                expected_version=data["version"],
            )
        except services.DisputeAlreadyResolved as exc:
            error, status = " ".join(exc.messages), 409
            dispute = access.access_dispute(granted, dispute_id)
        except VersionConflict:
            error, status = (
                gettext(
                    "Someone else changed this dispute while you were deciding. Check it and decide again."
                ),
                409,
            )
            dispute = access.access_dispute(granted, dispute_id)
            form = DisputeResolveForm(
                initial={
                    "decision": data["decision"],
                    "responsible_organisation": data["responsible_organisation"].public_id,
                    "version": dispute.version,
                },
                participating=participating,
                auto_id=auto_id,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            return _changed(request, granted)
    elif request.method == "GET" and dispute.status != DisputeStatus.OPEN:
        error = gettext("This dispute has been resolved.")
    if form.errors and not error:
        status = 422
    context = {"plan": plan, "dispute": dispute, "form": form, "error": error}
    return form_response(
        request,
        page="coordination/dispute_resolve.html",
        fragment="coordination/_partials/dispute_resolve_form.html",
        form_id="dispute-resolve-form",
        context=context,
        status=status,
    )
