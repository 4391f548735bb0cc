"""Children as relatives: the checklist staff work through for a child relative, one step at a time. A
step's form answers with the step again (htmx) or, without JavaScript, goes back to the plan's relatives;
a refusal is shown by the step (on a page of its own without JavaScript)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from pathways.models import PathwayPlan
from pathways.services import VersionConflict
from pathways.views.base import HtmxHttpRequest, add_errors, editable_plan, plan_url, staff_view
from relatives import access, services
from relatives.forms import ChecklistItemForm
from relatives.models import ChildChecklistItem

ITEM = "relatives/_partials/child_checklist_item.html"


@staff_view("POST")
def checklist_item_update_partial(request: HtmxHttpRequest, public_id: UUID, item_id: UUID) -> HttpResponse:
    """Mark a step of a child's checklist done, not relevant or open again (those who manage the plan's
    relatives). Someone who changed the step meanwhile wins: the step is shown as it is saved now."""
    actor, granted = editable_plan(request, public_id)
    if not access.may_work_checklist(granted):
        raise PermissionDenied
    plan = granted.plan
    item = access.access_checklist_item(granted, item_id)
    form = ChecklistItemForm(request.POST)
    shown: ChecklistItemForm | None = form  # None: the step as saved now, after a conflict
    error, status = "", 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            item = services.checklist_item_update(
                actor=actor,
                item=item,
                expected_version=data["version"],
                status=data["status"],
                contact_name=data["contact_name"],
                consent_confirmed=data["consent_confirmed"],
                note=data["note"],
            )
        except VersionConflict as conflict:
            item, shown, status = conflict.current, None, 409
            error = gettext(
                "Someone else changed this step while you were working on it. This is what is saved now."
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            if not request.htmx:
                return redirect(plan_url(plan, "relatives"))
            response = render(request, ITEM, _context(plan, item, None, ""))
            response["HX-Trigger"] = "plan-changed"
            return response
    if shown is not None and shown.errors:
        status = 422
    context = _context(plan, item, shown, error)
    if request.htmx:
        return render(request, ITEM, context)  # htmx swaps 2xx answers only
    return render(request, "relatives/checklist_item_update.html", context, status=status)


def _context(
    plan: PathwayPlan, item: ChildChecklistItem, form: ChecklistItemForm | None, error: str
) -> dict[str, Any]:
    return {"plan": plan, "item": item, "form": form, "error": error, "may_manage_relatives": True}
