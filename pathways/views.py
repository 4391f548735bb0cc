"""Staff pages. Thin: parse input, call a selector, render. Patient data is never cached by browsers."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.middleware import HtmxDetails

from pathways import access, selectors, services
from pathways.choices import AccessAction, TaskKind, TaskStatus
from pathways.forms import CaseloadFilterForm, CprSearchForm, TaskCreateForm, TaskStatusForm, WhatMattersForm
from pathways.models import Organisation, PathwayPlan, Task, User

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
    plan = access.access_plan(_staff(request), public_id, action=AccessAction.REVEAL_CPR)
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
    plan = access.access_plan(_staff(request), public_id, action=AccessAction.VIEW_HISTORY)
    entries = selectors.plan_history(plan=plan)
    return render(request, "pathways/plan_history.html", {"plan": plan, "entries": entries})


def _plan_url(plan: PathwayPlan, anchor: str = "") -> str:
    return reverse("pathways:plan-detail", args=[plan.public_id]) + (f"#{anchor}" if anchor else "")


def _editable_plan(request: HttpRequest, public_id: UUID) -> tuple[User, PathwayPlan, access.PlanRights]:
    """The plan through the access policy (404 outside it), logged as a change, with the actor's rights."""
    actor = _staff(request)
    plan = access.access_plan(actor, public_id, action=AccessAction.EDIT_PLAN)
    return actor, plan, access.plan_rights(actor, plan)


def _task_in(plan: PathwayPlan, task_id: UUID) -> Task:
    related = ("responsible_organisation", "responsible_person", "depends_on")
    task = plan.tasks.select_related(*related).filter(public_id=task_id).first()
    if task is None:
        raise Http404
    return task


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
    actor, plan, rights = _editable_plan(request, public_id)
    task = _task_in(plan, task_id)
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
    # Read the row again with its related objects: it shows what is saved now, changed or not.
    row = selectors.task_row(_task_in(plan, task_id), rights, timezone.localdate())
    response = render(request, "pathways/_partials/task_row.html", {"row": row, "plan": plan, "error": error})
    if not error:
        response["HX-Trigger"] = "plan-changed"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def what_matters_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    actor, plan, rights = _editable_plan(request, public_id)
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
    actor, plan, rights = _editable_plan(request, public_id)
    participant = plan.participants.filter(public_id=participant_id).first()
    if participant is None:
        raise Http404
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
    actor, plan, rights = _editable_plan(request, public_id)
    participating = Organisation.objects.filter(participations__plan=plan)
    if not rights.is_coordinator:
        participating = participating.filter(pk__in=rights.acting_organisation_ids)
    if not participating.exists():
        raise PermissionDenied
    form = TaskCreateForm(request.POST or None, plan=plan, organisations=participating.order_by("name"))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = services.task_create(
                actor=actor,
                plan=plan,
                title=data["title"],
                kind=TaskKind(data["kind"]),
                responsible_organisation=data["responsible_organisation"],
                window_start=data["window_start"],
                due_date=data["due_date"],
                description=data["description"],
                goal=data["goal"],
                depends_on=data["depends_on"],
                visible_to_patient=data["visible_to_patient"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(_plan_url(plan, f"task-{task.public_id}"))
    status = 422 if request.method == "POST" else 200
    return render(request, "pathways/task_create.html", {"plan": plan, "form": form}, status=status)
