"""Relatives on a plan and the patient's consent: add and change a relative, their page with the whole
consent history, record the patient's decision, withdraw a consent, take a relative off the plan.

Forms on pages of their own (they work without JavaScript); a change goes back to the plan's relatives
section. Who may change: the plan's coordinator and staff acting for an organisation taking part
(relatives.access.may_manage_relatives; the services ask again); everyone who sees the plan reads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext

from pathways import access as hub_access
from pathways.models import User
from pathways.services import VersionConflict
from pathways.views.base import add_errors, editable_plan, plan_url, staff, staff_view
from relatives import access, selectors, services
from relatives.forms import ConsentForm, RelativeEditForm, RelativeForm, RemoveForm, RevokeForm
from relatives.models import Relative, RelativeConsent

ANCHOR = "relatives"


def _manager(request: HttpRequest, public_id: UUID) -> tuple[User, hub_access.PlanAccess]:
    """The plan for a change to its relatives (logged as a change), if the user may make it; else 403
    (404 outside the plan)."""
    actor, granted = editable_plan(request, public_id)
    participating = access.participating_ids(granted.plan)
    if granted.emergency is not None or not access.may_manage_relatives(granted.rights, participating):
        raise PermissionDenied
    return actor, granted


def _back(granted: hub_access.PlanAccess) -> HttpResponse:
    return redirect(plan_url(granted.plan, ANCHOR))


def _status(form: Any, error: str) -> int:
    return 409 if error else 422 if form.errors else 200


def _relative_initial(relative: Relative) -> dict[str, Any]:
    initial = {name: getattr(relative, name) for name in services.RELATIVE_FIELDS}
    return initial | {"version": relative.version}


def _consent_initial(current: RelativeConsent | None) -> dict[str, Any]:
    """A new decision starts from the one that counts (to narrow or widen it); the check for pressure is
    made again each time."""
    if current is None:
        return {"expected_decision": services.NO_DECISION}
    fields = ("scope", "method", "decided_by", "valid_until", *ConsentForm.REPRESENTATIVE_FIELDS)
    initial = {name: getattr(current, name) for name in fields} | {"expected_decision": current.public_id}
    if current.valid_until is not None and current.valid_until < timezone.localdate():
        initial["valid_until"] = None
    return initial


@staff_view("GET", "POST")
def relative_create(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Put a relative on the plan."""
    actor, granted = _manager(request, public_id)
    form = RelativeForm(
        request.POST if request.method == "POST" else None,
        organisations=selectors.recording_organisations(granted),
        auto_id="relative-%s",
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.relative_add(
                actor=actor,
                plan=granted.plan,
                organisation=data.get("organisation"),
                **{name: data[name] for name in services.RELATIVE_FIELDS},
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _back(granted)
    context = {"plan": granted.plan, "form": form, "relative": None}
    return render(request, "relatives/relative_form.html", context, status=_status(form, ""))


@staff_view("GET")
def relative_detail(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """A relative's page: how to reach them, the decision that counts and every decision before it."""
    actor = staff(request)
    granted = hub_access.access_plan(actor, public_id)
    relative = access.access_relative(granted, relative_id)
    participating = access.participating_ids(granted.plan)
    context = {
        "plan": granted.plan,
        "detail": selectors.relative_detail(relative),
        "may_manage_relatives": granted.emergency is None
        and access.may_manage_relatives(granted.rights, participating),
        "today": timezone.localdate(),
    }
    return render(request, "relatives/relative_detail.html", context)


@staff_view("GET", "POST")
def relative_update(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Change a relative's details. Someone who changed them meanwhile is not overwritten."""
    actor, granted = _manager(request, public_id)
    relative = access.access_relative(granted, relative_id)
    form = RelativeEditForm(
        request.POST if request.method == "POST" else None,
        initial=_relative_initial(relative),
        auto_id="relative-%s",
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.relative_update(
                actor=actor,
                relative=relative,
                expected_version=data["version"],
                **{name: data[name] for name in services.RELATIVE_FIELDS},
            )
        except VersionConflict as conflict:
            error = gettext(
                "Someone else changed this relative while you were editing. The form now shows what is "
                "saved; make your change again if it is still needed."
            )
            relative = conflict.current
            form = RelativeEditForm(initial=_relative_initial(relative), auto_id="relative-%s")
        except ValidationError as refusal:
            add_errors(form, refusal)
        else:
            return _back(granted)
    context = {"plan": granted.plan, "form": form, "relative": relative, "error": error}
    return render(request, "relatives/relative_form.html", context, status=_status(form, error))


@staff_view("GET", "POST")
def consent_record(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Record the patient's decision about a relative: whether involved, what they may see, how given —
    or, for a patient who cannot consent, the decision of the person acting for them."""
    actor, granted = _manager(request, public_id)
    relative = access.access_relative(granted, relative_id)
    detail = selectors.relative_detail(relative)
    form = ConsentForm(
        request.POST if request.method == "POST" else None,
        initial=_consent_initial(detail.current),
        relative=relative,
        organisations=selectors.recording_organisations(granted),
        auto_id="consent-%s",
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.relative_consent_record(
                actor=actor,
                relative=relative,
                organisation=data.pop("organisation"),
                **data,
            )
        except VersionConflict:
            error = gettext(
                "Someone else recorded a decision about this relative while you were filling in the form. "
                "The form now starts from that decision; record yours again if it is still needed."
            )
            detail = selectors.relative_detail(relative)
            form = ConsentForm(
                initial=_consent_initial(detail.current),
                relative=relative,
                organisations=selectors.recording_organisations(granted),
                auto_id="consent-%s",
            )
        except ValidationError as refusal:
            add_errors(form, refusal)
        else:
            return _back(granted)
    context = {"plan": granted.plan, "relative": relative, "detail": detail, "form": form, "error": error}
    context["today"] = timezone.localdate()
    return render(request, "relatives/consent_record.html", context, status=_status(form, error))


@staff_view("GET", "POST")
def consent_revoke(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Withdraw a relative's consent: asked to confirm first; it takes effect at once."""
    actor, granted = _manager(request, public_id)
    relative = access.access_relative(granted, relative_id)
    detail = selectors.relative_detail(relative)
    form = RevokeForm(request.POST if request.method == "POST" else None, auto_id="revoke-%s")
    if request.method == "POST" and form.is_valid():
        try:
            services.relative_consent_revoke(
                actor=actor,
                relative=relative,
                method=form.cleaned_data["method"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _back(granted)
    context = {"plan": granted.plan, "relative": relative, "detail": detail, "form": form}
    context["today"] = timezone.localdate()
    return render(request, "relatives/consent_revoke.html", context, status=_status(form, ""))


@staff_view("GET", "POST")
def relative_remove(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Take a relative off the plan (their access ends at once); asked to confirm first."""
    actor, granted = _manager(request, public_id)
    relative = access.access_relative(granted, relative_id)
    form = RemoveForm(
        request.POST if request.method == "POST" else None,
        initial={"version": relative.version},
        auto_id="remove-%s",
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            services.relative_remove(
                actor=actor, relative=relative, expected_version=form.cleaned_data["version"]
            )
        except VersionConflict as conflict:
            error = gettext("Someone else changed this relative meanwhile. Check the details and try again.")
            relative = conflict.current
            form = RemoveForm(initial={"version": relative.version}, auto_id="remove-%s")
        else:
            return _back(granted)
    context = {"plan": granted.plan, "relative": relative, "form": form, "error": error}
    return render(request, "relatives/relative_remove.html", context, status=_status(form, error))
