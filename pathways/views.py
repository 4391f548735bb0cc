"""Staff pages. Thin: parse input, call a selector, render. Patient data is never cached by browsers."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.middleware import HtmxDetails

from pathways import access, selectors, services
from pathways.audit import RequestOrigin
from pathways.choices import AccessAction, AccessPurpose, GoalStatus, TaskKind, TaskStatus
from pathways.forms import (
    CaseloadFilterForm,
    CprSearchForm,
    EmergencyAccessForm,
    GoalEditForm,
    GoalForm,
    TaskCreateForm,
    TaskEditForm,
    TaskStatusForm,
    WhatMattersForm,
)
from pathways.models import Goal, PathwayPlan, Task, User
from pathways.signin import safe_next

CASELOAD_PAGE_SIZE = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)  # @login_required guarantees a signed-in staff user


@never_cache
@login_required
@require_safe
def caseload(request: HtmxHttpRequest) -> HttpResponse:
    actor = _staff(request)
    filters = CaseloadFilterForm(request.GET or None)
    plans = selectors.caseload_for(actor, **filters.filters())
    return _render_caseload(request, actor, plans, filters, CprSearchForm())


def _render_caseload(
    request: HtmxHttpRequest,
    actor: User,
    plans: Any,
    filters: CaseloadFilterForm,
    cpr_form: CprSearchForm,
    *,
    action: AccessAction = AccessAction.LIST,
    status: int = 200,
) -> HttpResponse:
    page = Paginator(plans, CASELOAD_PAGE_SIZE).get_page(request.GET.get("page"))
    access.access_log_plans(actor, page.object_list, action=action)
    params = request.GET.copy()
    params.pop("page", None)
    context = {"page": page, "filters": filters, "cpr_form": cpr_form, "params": params.urlencode()}
    if not request.htmx:
        context["emergency_alerts"] = selectors.emergency_alerts_for(actor)
    template = "pathways/_partials/caseload_table.html" if request.htmx else "pathways/caseload.html"
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


@never_cache
@login_required
@require_POST
def caseload_cpr_search(request: HtmxHttpRequest) -> HttpResponse:
    """Find a patient by CPR number among the user's own plans. The number stays out of the URL; every
    hit is logged as a CPR search."""
    actor = _staff(request)
    form = CprSearchForm(request.POST)
    filters = CaseloadFilterForm()
    if not form.is_valid():
        return _render_caseload(request, actor, selectors.caseload_for(actor), filters, form, status=422)
    plans = selectors.caseload_for(actor, cpr=form.cleaned_data["cpr"])
    return _render_caseload(request, actor, plans, filters, form, action=AccessAction.SEARCH_CPR)


@never_cache
@login_required
@require_POST
def cpr_reveal_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """The full CPR number, to the user who asks for it; the reveal is logged."""
    plan = access.access_plan(_staff(request), public_id, action=AccessAction.REVEAL_CPR).plan
    if not request.htmx:
        messages.info(request, gettext("CPR number: %(cpr)s") % {"cpr": plan.patient.cpr_formatted})
        return redirect(_plan_url(plan))
    return render(request, "pathways/_partials/cpr_revealed.html", {"patient": plan.patient})


@never_cache
@login_required
@require_safe
def plan_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    page = selectors.plan_page_for(_staff(request), public_id)
    view = "timeline" if request.GET.get("view") == "timeline" else "sector"
    return render(request, "pathways/plan_detail.html", {"page": page, "plan": page.plan, "view": view})


@never_cache
@login_required
@require_safe
def plan_history(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Who changed what in the plan and when, newest first; opening it is logged like the plan page."""
    plan = access.access_plan(_staff(request), public_id, action=AccessAction.VIEW_HISTORY).plan
    entries = selectors.plan_history(plan=plan)
    return render(request, "pathways/plan_history.html", {"plan": plan, "entries": entries})


def _plan_url(plan: PathwayPlan, anchor: str = "") -> str:
    return reverse("pathways:plan-detail", args=[plan.public_id]) + (f"#{anchor}" if anchor else "")


def _editable_plan(request: HttpRequest, public_id: UUID) -> tuple[User, access.PlanAccess]:
    """The plan through the access policy (404 outside it), logged as a change, with the actor's rights."""
    actor = _staff(request)
    return actor, access.access_plan(actor, public_id, action=AccessAction.EDIT_PLAN)


def _render_partial_or_redirect(
    request: HtmxHttpRequest, template: str, context: dict[str, Any], plan: PathwayPlan, anchor: str
) -> HttpResponse:
    if request.htmx:
        return render(request, template, context)
    return redirect(_plan_url(plan, anchor))


@never_cache
@login_required
@require_POST
def task_status_partial(request: HtmxHttpRequest, public_id: UUID, task_id: UUID) -> HttpResponse:
    actor, granted = _editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    task = access.access_plan_task(granted, task_id)
    if not rights.can_edit_task(task):
        raise PermissionDenied
    form = TaskStatusForm(request.POST, task=task)
    # htmx swaps only 2xx responses by default, so a conflict or a refused change is answered 200 and
    # shown in place, in the row, with the current values.
    error = ""
    if form.is_valid():
        try:
            services.task_transition(
                actor=actor,
                task=task,
                to_status=TaskStatus(form.cleaned_data["status"]),
                expected_version=form.cleaned_data["version"],
            )
        except services.VersionConflict:
            error = gettext(
                "Someone else changed this task while you were looking at it. "
                "It now shows the current values; choose again if it still needs changing."
            )
        except services.TransitionNotAllowed as exc:
            error = " ".join(exc.messages)
    else:
        error = gettext("Choose one of the statuses offered.")
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(_plan_url(plan, f"task-{task_id}"))
    return _task_row_response(request, granted, task_id, error)


def _task_row_response(
    request: HtmxHttpRequest, granted: access.PlanAccess, task_id: UUID, error: str = ""
) -> HttpResponse:
    """The task's row as saved now (read again with its related objects), changed or not."""
    plan, rights = granted.plan, granted.rights
    row = selectors.task_row(access.access_plan_task(granted, task_id), rights, timezone.localdate())
    response = render(request, "pathways/_partials/task_row.html", {"row": row, "plan": plan, "error": error})
    if not error:
        response["HX-Trigger"] = "plan-changed"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def what_matters_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    actor, granted = _editable_plan(request, public_id)
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
                return _render_partial_or_redirect(
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


@never_cache
@login_required
@require_POST
def participant_accept_partial(
    request: HtmxHttpRequest, public_id: UUID, participant_id: UUID
) -> HttpResponse:
    actor, granted = _editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    participant = access.access_participant(granted, participant_id)
    if not rights.can_accept(participant):
        raise PermissionDenied
    services.participant_accept(actor=actor, participant=participant)
    context = {"participants": selectors.plan_participants(plan, rights), "plan": plan}
    return _render_partial_or_redirect(
        request, "pathways/_partials/participants.html", context, plan, "participants-heading"
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def task_create(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    actor, granted = _editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    participating = _participating_for(plan, rights)
    if not participating.exists():
        raise PermissionDenied
    form = TaskCreateForm(request.POST or None, plan=plan, organisations=participating)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = services.task_create(actor=actor, plan=plan, **_task_fields(data))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(_plan_url(plan, f"task-{task.public_id}"))
    status = 422 if request.method == "POST" else 200
    return render(request, "pathways/task_create.html", {"plan": plan, "form": form}, status=status)


def _task_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The task form's fields as the task services take them (create and edit share them)."""
    fields = ("title", "responsible_organisation", "window_start", "due_date", "description", "goal")
    return {name: data[name] for name in (*fields, "depends_on", "visible_to_patient")} | {
        "kind": TaskKind(data["kind"])
    }


def _participating_for(plan: PathwayPlan, rights: access.PlanRights) -> Any:
    return selectors.task_organisations(plan, rights)


def _task_form_initial(task: Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "kind": task.kind,
        "responsible_organisation": task.responsible_organisation.public_id,
        "responsible_person": task.responsible_person.public_id if task.responsible_person else None,
        "window_start": task.window_start,
        "due_date": task.due_date,
        "description": task.description,
        "goal": task.goal.public_id if task.goal else None,
        "depends_on": task.depends_on.public_id if task.depends_on else None,
        "visible_to_patient": task.visible_to_patient,
        "version": task.version,
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def task_edit_partial(request: HtmxHttpRequest, public_id: UUID, task_id: UUID) -> HttpResponse:
    """Edit a task in its row (htmx) or on its own page (no JavaScript). Status has its own control."""
    actor, granted = _editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    task = access.access_plan_task(granted, task_id)
    if not rights.can_edit_task(task):
        raise PermissionDenied
    organisations = _participating_for(plan, rights)
    error = ""
    # Field ids per task, so two rows open for editing on one page do not share ids.
    auto_id = f"task-{task.public_id.hex[:8]}-%s"
    form = TaskEditForm(
        request.POST or None,
        initial=_task_form_initial(task),
        plan=plan,
        organisations=organisations,
        task=task,
        auto_id=auto_id,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = services.task_update(
                actor=actor,
                task=task,
                expected_version=data["version"],
                responsible_person=data["responsible_person"],
                **_task_fields(data),
            )
        except services.VersionConflict as conflict:
            error = gettext(
                "Someone else changed this task while you were editing it. The form now shows what is saved; "
                "make your change again if it is still needed."
            )
            current = access.access_plan_task(granted, conflict.current.public_id)
            form = TaskEditForm(
                initial=_task_form_initial(current),
                plan=plan,
                organisations=organisations,
                task=current,
                auto_id=auto_id,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if not request.htmx:
                return redirect(_plan_url(plan, f"task-{task.public_id}"))
            return _task_row_response(request, granted, task_id)
    context = {"plan": plan, "task": task, "form": form, "error": error}
    if request.htmx:
        # htmx swaps 2xx only: errors and conflicts are answered 200 and shown in the row.
        return render(request, "pathways/_partials/task_edit_row.html", context)
    status = 409 if error else 422 if form.errors else 200
    return render(request, "pathways/task_edit.html", context, status=status)


def _goal_initial(goal: Goal) -> dict[str, Any]:
    fields = ("description", "expected_result", "target_date", "status", "version")
    return {name: getattr(goal, name) for name in fields}


def _goals_fragment(request: HtmxHttpRequest, plan: PathwayPlan, rights: access.PlanRights) -> HttpResponse:
    if not request.htmx:
        return redirect(_plan_url(plan, "goals"))
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


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def goal_create_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Add an agreed goal (the coordinator). The goals region is returned for htmx."""
    actor, granted = _editable_plan(request, public_id)
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


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def goal_edit_partial(request: HtmxHttpRequest, public_id: UUID, goal_id: UUID) -> HttpResponse:
    """Reword, re-date, mark reached or cancel a goal (the coordinator), with optimistic locking."""
    actor, granted = _editable_plan(request, public_id)
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


# --- Break the glass and the plan's access log ------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def emergency_access(request: HttpRequest) -> HttpResponse:
    """A clinician opens a plan outside their own: CPR number, reason, confirmation. Read only, for a few
    hours, logged with the reason and shown to the plan's coordinator."""
    actor = _staff(request)
    organisations = access.emergency_organisations(actor)
    if not organisations.exists():
        raise PermissionDenied
    form = EmergencyAccessForm(request.POST or None, organisations=organisations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = services.emergency_access_open(
                actor=actor,
                organisation=data["organisation"],
                cpr=data["cpr"],
                reason=data["reason"],
                origin=RequestOrigin.of(request),
            )
        except services.AlreadyInPlan as already:
            messages.info(request, gettext("You already take part in this plan; no emergency access needed."))
            return redirect(_plan_url(already.plan))
        except services.NoPlanForCpr as error:
            form.add_error("cpr", error)
        except services.EmergencyAccessRefused as error:
            form.add_error("reason", error)
        else:
            return redirect(_plan_url(plan))
    status = 422 if form.errors else 200
    hours = int(settings.EMERGENCY_ACCESS_DURATION.total_seconds() // 3600)
    return render(request, "pathways/emergency_access.html", {"form": form, "hours": hours}, status=status)


@never_cache
@login_required
@require_POST
def emergency_access_acknowledge_partial(request: HtmxHttpRequest, access_id: UUID) -> HttpResponse:
    """The coordinator (or substitute) marks an emergency access to their patient's plan as seen."""
    actor = _staff(request)
    grant = access.access_emergency_grant_as_coordinator(actor, access_id)
    services.emergency_access_acknowledge(actor=actor, access=grant)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, gettext("Marked as seen."))
    return redirect(safe_next(request, _plan_url(grant.plan)))


ACCESS_LOG_PAGE_SIZE = 50


@never_cache
@login_required
@require_safe
def plan_access_log(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Who has opened the patient's information, when and why — for the plan's coordinator."""
    actor = _staff(request)
    granted = access.access_plan(actor, public_id, action=AccessAction.VIEW_ACCESS_LOG)
    plan = granted.plan
    if not granted.rights.is_coordinator:
        raise PermissionDenied
    page = Paginator(selectors.plan_access_log(plan), ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"plan": plan, "page": page, "emergency": AccessPurpose.EMERGENCY}
    return render(request, "pathways/plan_access_log.html", context)
