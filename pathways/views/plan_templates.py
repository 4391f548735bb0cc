"""Pages for a plan's pathway templates: the preview and the update from a newer version."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from pathways import access, pathway_templates, selectors
from pathways.choices import AccessAction
from pathways.forms import TemplateUpdateForm
from pathways.views.base import plan_url, staff, staff_view


@staff_view("GET", "HEAD", "POST")
def plan_template_update(request: HttpRequest, public_id: UUID, template_id: UUID) -> HttpResponse:
    """What updating the plan to the newest version of one of its templates would add and change (GET),
    and the update itself (POST), for those who may edit the plan. Nothing changes until they confirm."""
    actor = staff(request)
    action = AccessAction.EDIT_PLAN if request.method == "POST" else AccessAction.VIEW_PLAN
    granted = access.access_plan(actor, public_id, action=action)
    plan = granted.plan
    if not granted.rights.can_edit_plan:
        raise PermissionDenied
    row = next(
        (r for r in selectors.plan_templates_of(plan) if str(r.template.public_id) == str(template_id)), None
    )
    if row is None:
        raise Http404
    error, status = "", 200
    if request.method == "POST":
        form = TemplateUpdateForm(request.POST)
        if not form.is_valid():
            error, status = gettext("Look at what the update does, then confirm it."), 422
        else:
            try:
                done = pathway_templates.plan_template_update_apply(
                    actor=actor,
                    plan=plan,
                    template=row.template,
                    expected_version_number=form.cleaned_data["version"],
                )
            except ValidationError as refused:
                error, status = " ".join(refused.messages), 409
                row = next(r for r in selectors.plan_templates_of(plan) if r.template.pk == row.template.pk)
            else:
                messages.success(request, _done_message(row.template.name, done))
                return redirect(plan_url(plan, "plan-templates"))
    update = next(
        (
            u
            for u in pathway_templates.plan_template_update_preview(plan=plan)
            if u.template.pk == row.template.pk
        ),
        None,
    )
    context = {"plan": plan, "row": row, "update": update, "error": error}
    return render(request, "pathways/plan_template_update.html", context, status=status)


def _done_message(name: str, done: pathway_templates.TemplateUpdateDone) -> str:
    message = gettext(
        "The plan follows version %(number)d of %(name)s now: %(added)d tasks added, %(updated)d changed."
    ) % {
        "number": done.version.number if done.version else 0,
        "name": name,
        "added": len(done.added),
        "updated": len(done.updated),
    }
    if done.kept:
        message += " " + gettext(
            "%(count)d tasks were left as they are, because they have been changed on the plan."
        ) % {"count": len(done.kept)}
    return message
