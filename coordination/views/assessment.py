"""The need for a coordinator and the coordinator's handover: a form page each (plain POST without
JavaScript, redirected back to the plan's coordination section), or the same form inside the section
(htmx: the section comes back on success, the form with its errors otherwise)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.vary import vary_on_headers

from coordination import access as coordination_access
from coordination import selectors, services
from coordination.choices import NeedOutcome
from coordination.forms import CoordinatorHandoverForm, NeedAssessmentForm
from pathways.access import PlanAccess
from pathways.models import PathwayPlan, User
from pathways.services import VersionConflict
from pathways.views.base import (
    HtmxHttpRequest,
    add_errors,
    editable_plan,
    form_response,
    plan_url,
    staff_view,
)

ANCHOR = "coordination"
# The hub's names for the coordinator fields (pathways.services.coordinator_assign) → the form's.
_HANDOVER_FIELDS = {
    "coordinator": "coordinator",
    "coordinator_organisation": "organisation",
    "coordinator_substitute": "substitute",
    "phone": "phone",
    "note": "note",
}


def _section(request: HtmxHttpRequest, actor: User, granted: PlanAccess) -> HttpResponse:
    """Back to the plan's coordination section: the section itself for htmx, else a redirect."""
    if not request.htmx:
        return redirect(plan_url(granted.plan, ANCHOR))
    plan = selectors.plan_as_saved(granted.plan)
    participating = coordination_access.participating_ids(plan)
    context = selectors.coordination_context(
        actor, plan, granted.rights, participating, read_only=granted.emergency is not None
    )
    response = render(request, "coordination/_partials/plan_coordination.html", context)
    response["HX-Trigger"] = "plan-changed"
    return response


@staff_view("GET", "POST")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def need_assessment(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Assess, with the patient, whether the plan needs a coordinator (coordinator, substitute or staff of
    an organisation taking part)."""
    actor, granted = editable_plan(request, public_id)
    plan = granted.plan
    if granted.emergency is not None or not coordination_access.may_assess_need(
        granted.rights, coordination_access.participating_ids(plan)
    ):
        raise PermissionDenied
    form = NeedAssessmentForm(
        request.POST or None,
        organisations=selectors.assessment_organisations(actor, plan),
        auto_id="need-%s",
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.need_assessment_record(
                actor=actor,
                plan=plan,
                organisation=data["organisation"],
                assessed_on=data["assessed_on"],
                patient_present=data["patient_present"],
                criteria=data["criteria"],
                unplanned_admissions_12m=data["unplanned_admissions_12m"],
                outcome=NeedOutcome(data["outcome"]),
                note=data["note"],
                review_date=data["review_date"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _section(request, actor, granted)
    context = {"plan": plan, "form": form, "suggestion": form.suggestion()}
    return form_response(
        request,
        page="coordination/need_assessment.html",
        fragment="coordination/_partials/need_assessment_form.html",
        form_id="need-assessment-form",
        context=context,
        status=422 if form.errors else 200,
    )


def _handover_initial(plan: PathwayPlan) -> dict[str, Any]:
    return {
        "coordinator": plan.coordinator.public_id if plan.coordinator else None,
        "organisation": plan.coordinator_organisation.public_id if plan.coordinator_organisation else None,
        "substitute": plan.coordinator_substitute.public_id if plan.coordinator_substitute else None,
        # Empty while the plan gives the coordinator's own number (the field's hint: empty = their own),
        # so a new coordinator brings their number; a team number given instead stays until changed.
        "phone": ""
        if plan.coordinator is not None and plan.coordinator_phone == plan.coordinator.phone
        else plan.coordinator_phone,
        "version": plan.version,
    }


@staff_view("GET", "POST")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def coordinator_handover(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Hand the plan's coordination over to a coordinator of an organisation taking part (the plan's
    coordinator or substitute; while the plan has none, whoever sets it up)."""
    actor, granted = editable_plan(request, public_id, queryset=selectors.plans_with_coordinators())
    plan = granted.plan
    if granted.emergency is not None or not coordination_access.may_hand_over(
        actor, plan, granted.rights, coordination_access.participating_ids(plan)
    ):
        raise PermissionDenied
    candidates, organisations = selectors.coordinator_candidates(plan), selectors.plan_organisations(plan)
    form = CoordinatorHandoverForm(
        request.POST or None,
        initial=_handover_initial(plan),
        candidates=candidates,
        organisations=organisations,
        auto_id="handover-%s",
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.coordinator_handover(
                actor=actor,
                plan=plan,
                coordinator=data["coordinator"],
                organisation=data["organisation"],
                substitute=data["substitute"],
                phone=data["phone"],
                note=data["note"],
                expected_version=data["version"],
            )
        except VersionConflict as conflict:
            error = gettext(
                "Someone else changed the coordinator while you were editing. The form now shows what is "
                "saved; make your change again if it is still needed."
            )
            current = selectors.plan_as_saved(conflict.current)
            form = CoordinatorHandoverForm(
                initial=_handover_initial(current),
                candidates=candidates,
                organisations=organisations,
                auto_id="handover-%s",
            )
        except ValidationError as refusal:
            add_errors(form, refusal, _HANDOVER_FIELDS)
        else:
            return _section(request, actor, granted)
    context = {"plan": plan, "form": form, "error": error}
    return form_response(
        request,
        page="coordination/coordinator_handover.html",
        fragment="coordination/_partials/coordinator_handover_form.html",
        form_id="coordinator-handover-form",
        context=context,
        status=409 if error else 422 if form.errors else 200,
    )
