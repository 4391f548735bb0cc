"""The relative's own support record (the relative's data, not the patient's): its page, and the forms to
screen the relative's strain, record a need in their words, refer them to a support offer and follow a
referral up.

Only those with a reason see any of it: the plan's coordinator (or substitute) and staff acting for an
organisation holding one of the relative's referrals (relatives.access). Everyone else — the plan's other
participants, a break-the-glass reader, anyone outside the plan — gets 404, as for a relative who does not
exist; a participant without a reason is refused at the plan (relatives.access.plans_showing_support), so
nothing of the plan is read. Every page read is logged (VIEW_RELATIVE_SUPPORT), and so is every form.

Forms are pages of their own (plain POST, no JavaScript needed); on success they go back to the plan's
relatives section, or to the support page when opened from there (?from=support).
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext

from pathways import access as hub_access
from pathways.access import PlanAccess
from pathways.models import PathwayPlan, User
from pathways.services import VersionConflict
from pathways.views.base import add_errors, editable_plan, plan_url, staff, staff_view
from relatives import access, selectors, services
from relatives.choices import ReferralStatus
from relatives.forms import NeedForm, ReferralForm, ReferralUpdateForm, StrainScreeningForm
from relatives.models import Relative, SupportReferral

FROM_SUPPORT = "support"  # ?from=support: the form was opened from the support page and goes back there
# The services' names for their fields → the forms' (those not listed are the same or shown above the form).
_REFERRAL_FIELDS = {"offer": "offer", "responsible_organisation": "responsible_organisation"}


def _support_record(
    request: HttpRequest, public_id: UUID, relative_id: UUID, *, write: bool
) -> tuple[User, PlanAccess, Relative]:
    """The plan and the relative, if the user may see the relative's support record (else Http404); the
    plan read is logged as a change for the forms, and the support record's read in any case."""
    actor = staff(request)
    plans = access.plans_showing_support(actor, relative_id)
    if write:
        actor, granted = editable_plan(request, public_id, queryset=plans)
    else:
        granted = hub_access.access_plan(actor, public_id, queryset=plans)
    return actor, granted, access.access_support_record(actor, granted, relative_id)


def _support_url(plan: PathwayPlan, relative: Relative) -> str:
    return reverse("relatives:support-record", args=[plan.public_id, relative.public_id])


def _return_to(request: HttpRequest) -> str:
    """Where the form goes back to: the support page when it was opened from there, else the plan."""
    source = request.POST.get("return_to", "") if request.method == "POST" else request.GET.get("from", "")
    return FROM_SUPPORT if source == FROM_SUPPORT else ""


def _back_url(request: HttpRequest, plan: PathwayPlan, relative: Relative) -> str:
    if _return_to(request) == FROM_SUPPORT:
        return _support_url(plan, relative)
    return plan_url(plan, "relatives")


def _form_context(request: HttpRequest, plan: PathwayPlan, relative: Relative) -> dict[str, object]:
    return {
        "plan": plan,
        "relative": relative,
        "return_to": _return_to(request),
        "back_url": _back_url(request, plan, relative),
    }


@staff_view("GET", "HEAD")
def support_record(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """The relative's support page: strain screenings with their scores and attribution, needs in the
    relative's own words, referrals with status, who is responsible and the next follow-up."""
    _actor, granted, relative = _support_record(request, public_id, relative_id, write=False)
    record = selectors.support_record(relative)
    return render(
        request,
        "relatives/support_record.html",
        {"plan": granted.plan, "relative": relative, "record": record},
    )


@staff_view("GET", "POST")
def strain_screening_create(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Screen the relative's strain with the instrument in use (?instrument=<key> for another one in use)."""
    actor, granted, relative = _support_record(request, public_id, relative_id, write=True)
    plan = granted.plan
    posted = request.method == "POST"
    key = request.POST.get("instrument", "") if posted else request.GET.get("instrument", "")
    found = selectors.screening_instrument(key)
    context = _form_context(request, plan, relative)
    if found is None:
        context |= {"form": None, "instrument": None}
        return render(request, "relatives/strain_screening.html", context, status=422 if posted else 200)
    instrument, items = found
    form = StrainScreeningForm(request.POST if posted else None, items=items, auto_id="screening-%s")
    if posted and form.is_valid():
        try:
            services.strain_screening_record(
                actor=actor,
                relative=relative,
                instrument=instrument,
                answers=form.answers(),
                screened_on=form.cleaned_data["screened_on"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect(_back_url(request, plan, relative))
    context |= {"form": form, "instrument": instrument}
    return render(request, "relatives/strain_screening.html", context, status=422 if form.errors else 200)


@staff_view("GET", "POST")
def need_create(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Record a need in the relative's own words."""
    actor, granted, relative = _support_record(request, public_id, relative_id, write=True)
    plan = granted.plan
    form = NeedForm(request.POST if request.method == "POST" else None, auto_id="need-%s")
    if request.method == "POST" and form.is_valid():
        try:
            services.relative_need_record(actor=actor, relative=relative, text=form.cleaned_data["text"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect(_back_url(request, plan, relative))
    context = _form_context(request, plan, relative) | {"form": form}
    return render(request, "relatives/need_form.html", context, status=422 if form.errors else 200)


@staff_view("POST")
def need_met(request: HttpRequest, public_id: UUID, relative_id: UUID, need_id: UUID) -> HttpResponse:
    """Mark a need met (the relative says it is); back to the support page."""
    actor, granted, relative = _support_record(request, public_id, relative_id, write=True)
    need = access.access_need(relative, need_id)
    services.relative_need_met(actor=actor, need=need)
    return redirect(_support_url(granted.plan, relative) + "#needs")


@staff_view("GET", "POST")
def referral_create(request: HttpRequest, public_id: UUID, relative_id: UUID) -> HttpResponse:
    """Refer the relative to a support offer (?offer=<public id> chooses it in advance)."""
    actor, granted, relative = _support_record(request, public_id, relative_id, write=True)
    plan = granted.plan
    choices = selectors.referral_choices(plan)
    posted = request.method == "POST"
    initial = {"offer": request.GET.get("offer")} if not posted and request.GET.get("offer") else {}
    form = ReferralForm(
        request.POST if posted else None,
        initial=initial,
        offers=choices.offers,
        organisations=choices.organisations,
        members=choices.members,
        auto_id="referral-%s",
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            services.support_referral_create(
                actor=actor,
                relative=relative,
                offer=data["offer"],
                responsible_organisation=data["responsible_organisation"],
                responsible_person=data["responsible_person"],
                status=ReferralStatus(data["status"]),
                follow_up_date=data["follow_up_date"],
                note=data["note"],
            )
        except ValidationError as error:
            add_errors(form, error, _REFERRAL_FIELDS)
        else:
            return redirect(_back_url(request, plan, relative))
    context = _form_context(request, plan, relative) | {"form": form, "referral": None}
    return render(request, "relatives/referral_form.html", context, status=422 if form.errors else 200)


def _update_form(data: object, referral: SupportReferral) -> ReferralUpdateForm:
    return ReferralUpdateForm(
        data,
        initial=ReferralUpdateForm.initial_for(referral),
        referral=referral,
        people=selectors.referral_people(referral),
        auto_id="referral-%s",
    )


@staff_view("GET", "POST")
def referral_update(
    request: HttpRequest, public_id: UUID, relative_id: UUID, referral_id: UUID
) -> HttpResponse:
    """Move a referral on, name who is responsible and set the next follow-up. Someone who changed it
    meanwhile is not overwritten: the form shows what is saved now."""
    actor, granted, relative = _support_record(request, public_id, relative_id, write=True)
    plan = granted.plan
    referral = access.access_referral(relative, referral_id)
    form = _update_form(request.POST if request.method == "POST" else None, referral)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.support_referral_update(
                actor=actor,
                referral=referral,
                expected_version=data["version"],
                status=data["status"],
                responsible_person=data["responsible_person"],
                follow_up_date=data["follow_up_date"],
                note=data["note"],
            )
        except VersionConflict:
            error = gettext(
                "Someone else changed this referral while you were editing. The form now shows what is "
                "saved; make your change again if it is still needed."
            )
            referral = access.access_referral(relative, referral_id)
            form = _update_form(None, referral)
        except ValidationError as refusal:
            add_errors(form, refusal)
        else:
            return redirect(_back_url(request, plan, relative))
    context = _form_context(request, plan, relative) | {"form": form, "referral": referral, "error": error}
    status = 409 if error else 422 if form.errors else 200
    return render(request, "relatives/referral_form.html", context, status=status)
