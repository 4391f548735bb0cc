"""Tasks in the plan: status changes, a new task, editing a task in its row (htmx) or on its own page."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext

from pathways import access, selectors, services
from pathways.choices import TaskKind, TaskStatus
from pathways.forms import (
    TaskCreateForm,
    TaskEditForm,
    TaskStatusForm,
)
from pathways.models import Task
from pathways.views.base import (
    HtmxHttpRequest,
    editable_plan,
    plan_url,
    staff,
    staff_view,
)


@staff_view("POST")
def task_status_partial(request: HtmxHttpRequest, public_id: UUID, task_id: UUID) -> HttpResponse:
    actor, granted = editable_plan(request, public_id)
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
        return redirect(plan_url(plan, f"task-{task_id}"))
    return _task_row_response(request, granted, task_id, error)


def _task_row_response(
    request: HtmxHttpRequest, granted: access.PlanAccess, task_id: UUID, error: str = ""
) -> HttpResponse:
    """The task's row as saved now (read again with its related objects), changed or not, and the rows
    of the tasks that wait for it (done: they are ready now; reopened: waiting again), out of band."""
    plan, rights = granted.plan, granted.rights
    task = access.access_plan_task(granted, task_id)
    row = selectors.task_row(task, rights, timezone.localdate())
    [row] = selectors.with_markers(staff(request), plan, [row])
    context = {"row": row, "plan": plan, "error": error}
    html = render_to_string("pathways/_partials/task_row.html", context, request=request)
    if not error:
        followers = selectors.task_rows_of(staff(request), granted, waiting_for=task)
        if followers:
            html += render_to_string(
                "pathways/_partials/task_rows_oob.html",
                {"oob_rows": followers, "plan": plan},
                request=request,
            )
    response = HttpResponse(html)
    if not error:
        response["HX-Trigger"] = "plan-changed"
    return response


@staff_view("GET", "POST")
def task_create(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    participating = selectors.task_organisations(plan, rights)
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
            return redirect(plan_url(plan, f"task-{task.public_id}"))
    status = 422 if request.method == "POST" else 200
    return render(request, "pathways/task_create.html", {"plan": plan, "form": form}, status=status)


def _task_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The task form's fields as the task services take them (create and edit share them)."""
    fields = ("title", "responsible_organisation", "window_start", "due_date", "description", "goal")
    return {name: data[name] for name in (*fields, "depends_on", "visible_to_patient")} | {
        "kind": TaskKind(data["kind"])
    }


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


@staff_view("GET", "POST")
def task_edit_partial(request: HtmxHttpRequest, public_id: UUID, task_id: UUID) -> HttpResponse:
    """Edit a task in its row (htmx) or on its own page (no JavaScript). Status has its own control."""
    actor, granted = editable_plan(request, public_id)
    plan, rights = granted.plan, granted.rights
    task = access.access_plan_task(granted, task_id)
    if not rights.can_edit_task(task):
        raise PermissionDenied
    organisations = selectors.task_organisations(plan, rights)
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
                return redirect(plan_url(plan, f"task-{task.public_id}"))
            return _task_row_response(request, granted, task_id)
    context = {"plan": plan, "task": task, "form": form, "error": error}
    if request.htmx:
        # htmx swaps 2xx only: errors and conflicts are answered 200 and shown in the row.
        return render(request, "pathways/_partials/task_edit_row.html", context)
    status = 409 if error else 422 if form.errors else 200
    return render(request, "pathways/task_edit.html", context, status=status)
