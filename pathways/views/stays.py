"""The plan's hospital stays: recording, correcting and cancelling admissions, leave, discharge and death.

Staff acting for a hospital or psychiatry organisation taking part in the plan record events by hand;
everyone else who sees the plan reads the stays section of the plan page. Each form opens in the section
(htmx) or as a page of its own (no JavaScript). An event changes tasks all over the plan, so after one the
whole plan page is shown again (HX-Refresh, or a plain redirect to its stays section).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext

from pathways import access, selectors, stays
from pathways.choices import PLAN_OPEN_STATUSES, TransitionSource, TransitionState
from pathways.forms import StayEventCancelForm, StayEventForm, StayMomentForm
from pathways.models import PathwayPlan, Transition
from pathways.views.base import HtmxHttpRequest, editable_plan, plan_url, staff_view

ANCHOR = "stays"


def _done(request: HtmxHttpRequest, plan: PathwayPlan) -> HttpResponse:
    """The plan page again: the event may have changed any task on it. From the page's own form (htmx)
    the page reloads where the reader is (a redirect to the same page at an anchor would only scroll);
    without JavaScript, to the page at the stays section."""
    if request.htmx:
        response = HttpResponse()
        response["HX-Refresh"] = "true"
        return response
    return redirect(plan_url(plan, ANCHOR))


def _form(request: HtmxHttpRequest, partial: str, context: dict[str, Any], form: Form) -> HttpResponse:
    """The form in the section (htmx swaps 2xx answers only: errors come back 200, in place) or on its
    own page (422 when it has errors)."""
    if request.htmx:
        return render(request, partial, context)
    status = 422 if form.errors else 200
    return render(request, "pathways/stay_event.html", context | {"partial": partial}, status=status)


def _recorder(request: HtmxHttpRequest, public_id: UUID) -> tuple[Any, access.PlanAccess, list[Any]]:
    """The plan and the hospitals the user records for in it; 403 for those who record for none."""
    actor, granted = editable_plan(request, public_id)
    organisations = selectors.hospital_event_organisations_of(actor, granted.plan)
    if not organisations:
        raise PermissionDenied
    return actor, granted, organisations


def _now_initial() -> dict[str, Any]:
    now = timezone.localtime()
    return {"day": now.date(), "time": now.time().replace(second=0, microsecond=0)}


@staff_view("GET", "POST")
def stay_event_record_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Record an admission, leave, discharge or death (a hospital or psychiatry taking part)."""
    actor, granted, organisations = _recorder(request, public_id)
    plan = granted.plan
    form = StayEventForm(
        request.POST or None, initial=_now_initial(), organisations=organisations, auto_id="stay-event-%s"
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if plan.status not in PLAN_OPEN_STATUSES:
                raise ValidationError(
                    gettext("The plan is closed: hospital events can no longer be recorded.")
                )
            stays.transition_record(
                actor=actor,
                patient=plan.patient,
                kind=data["kind"],
                occurred_at=data["occurred_at"],
                hospital=data["hospital"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _done(request, plan)
    context = {"plan": plan, "form": form}
    return _form(request, "pathways/_partials/stay_event_form.html", context, form)


def _manual_event(
    request: HtmxHttpRequest, public_id: UUID, transition_id: UUID
) -> tuple[Any, Any, Transition]:
    """A hospital event entered by hand, in effect, that the user may correct or cancel."""
    actor, granted, _organisations = _recorder(request, public_id)
    transition = access.access_transition(granted, transition_id)
    if transition.source != TransitionSource.MANUAL:
        raise PermissionDenied  # a received message's event is undone by the hospital's own message
    return actor, granted.plan, transition


@staff_view("GET", "POST")
def stay_event_correct_partial(
    request: HtmxHttpRequest, public_id: UUID, transition_id: UUID
) -> HttpResponse:
    """Move an event entered by hand to the right time: what it did is worked out again."""
    actor, plan, transition = _manual_event(request, public_id, transition_id)
    moment = timezone.localtime(transition.occurred_at)
    shown = moment.replace(second=0, microsecond=0)  # the form has minutes
    initial = {"day": shown.date(), "time": shown.time()}
    auto_id = f"stay-correct-{transition.public_id.hex[:8]}-%s"
    form = StayMomentForm(request.POST or None, initial=initial, auto_id=auto_id)
    if request.method == "POST" and form.is_valid():
        try:
            if transition.state != TransitionState.APPLIED:
                raise ValidationError(gettext("This event is no longer in effect."))
            if form.cleaned_data["occurred_at"] != shown:  # saved unchanged: nothing to correct
                stays.transition_correct(
                    actor=actor,
                    transition=transition,
                    occurred_at=form.cleaned_data["occurred_at"],
                    note=form.cleaned_data["note"],
                )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _done(request, plan)
    context = {"plan": plan, "form": form, "transition": transition, "action": "correct"}
    return _form(request, "pathways/_partials/stay_event_change_form.html", context, form)


@staff_view("GET", "POST")
def stay_event_cancel_partial(request: HtmxHttpRequest, public_id: UUID, transition_id: UUID) -> HttpResponse:
    """Cancel an event entered by hand: what it did is undone (an admission: its whole stay)."""
    actor, plan, transition = _manual_event(request, public_id, transition_id)
    auto_id = f"stay-cancel-{transition.public_id.hex[:8]}-%s"
    form = StayEventCancelForm(request.POST or None, auto_id=auto_id)
    if request.method == "POST" and form.is_valid():
        try:
            if transition.state != TransitionState.APPLIED:
                raise ValidationError(gettext("This event is no longer in effect."))
            stays.transition_cancel(actor=actor, transition=transition, note=form.cleaned_data["note"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _done(request, plan)
    context = {"plan": plan, "form": form, "transition": transition, "action": "cancel"}
    return _form(request, "pathways/_partials/stay_event_change_form.html", context, form)
