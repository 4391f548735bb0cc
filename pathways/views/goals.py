"""The plan's agreed goals: added, edited, reached or cancelled by the coordinator (htmx fragment
or plain posts without JavaScript)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from pathways import access, services
from pathways.choices import GoalStatus
from pathways.forms import (
    GoalEditForm,
    GoalForm,
)
from pathways.models import Goal, PathwayPlan
from pathways.views.base import (
    HtmxHttpRequest,
    editable_plan,
    plan_url,
    staff_view,
)


def _goal_initial(goal: Goal) -> dict[str, Any]:
    fields = ("description", "expected_result", "target_date", "status", "version")
    return {name: getattr(goal, name) for name in fields}


def _goals_fragment(request: HtmxHttpRequest, plan: PathwayPlan, rights: access.PlanRights) -> HttpResponse:
    if not request.htmx:
        return redirect(plan_url(plan, "goals"))
    goals = list(plan.goals.order_by("sort_order", "id"))
    response = render(
        request, "pathways/_partials/goals.html", {"plan": plan, "goals": goals, "rights": rights}
    )
    response["HX-Trigger"] = "plan-changed"
    return response


def _goal_form_fragment(request: HtmxHttpRequest, context: dict[str, Any]) -> HttpResponse:
    response = render(request, "pathways/_partials/goal_form.html", context)
    if request.method == "POST":
        # The form posts into the goals region; an answer with errors replaces the form itself instead.
        goal = context["goal"]
        response["HX-Retarget"] = f"#goal-form-{goal.public_id if goal else 'new'}"
        response["HX-Reswap"] = "outerHTML"
    return response


@staff_view("GET", "POST")
def goal_create_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Add an agreed goal (the coordinator). The goals region is returned for htmx."""
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    if not rights.can_edit_plan:
        raise PermissionDenied
    form = GoalForm(request.POST or None, auto_id="goal-new-%s")
    if request.method == "POST" and form.is_valid():
        services.goal_create(actor=actor, plan=plan, **form.cleaned_data)
        return _goals_fragment(request, plan, rights)
    context = {"plan": plan, "form": form, "goal": None}
    if request.htmx:
        return _goal_form_fragment(request, context)
    return render(request, "pathways/goal_edit.html", context, status=422 if form.errors else 200)


@staff_view("GET", "POST")
def goal_edit_partial(request: HtmxHttpRequest, public_id: UUID, goal_id: UUID) -> HttpResponse:
    """Reword, re-date, mark reached or cancel a goal (the coordinator), with optimistic locking."""
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    if not rights.can_edit_plan:
        raise PermissionDenied
    goal = access.access_goal(granted, goal_id)
    auto_id = f"goal-{goal.public_id.hex[:8]}-%s"
    form = GoalEditForm(request.POST or None, initial=_goal_initial(goal), auto_id=auto_id, goal=goal)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.goal_update(
                actor=actor,
                goal=goal,
                expected_version=data["version"],
                description=data["description"],
                expected_result=data["expected_result"],
                target_date=data["target_date"],
                status=GoalStatus(data["status"]),
            )
        except services.VersionConflict as conflict:
            goal = conflict.current
            error = gettext(
                "Someone else changed this goal while you were editing it. The form now shows what is saved."
            )
            form = GoalEditForm(initial=_goal_initial(goal), auto_id=auto_id, goal=goal)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _goals_fragment(request, plan, rights)
    context = {"plan": plan, "form": form, "goal": goal, "error": error}
    if request.htmx:
        return _goal_form_fragment(request, context)
    status = 409 if error else 422 if form.errors else 200
    return render(request, "pathways/goal_edit.html", context, status=status)
