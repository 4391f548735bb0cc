"""Break the glass (Nødadgang): a clinician opens a plan outside their own; the coordinator marks it seen."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from pathways import access, services
from pathways.audit import RequestOrigin
from pathways.forms import (
    EmergencyAccessForm,
)
from pathways.signin.policy import safe_next
from pathways.views.base import (
    HtmxHttpRequest,
    plan_url,
    staff,
    staff_view,
)


@staff_view("GET", "POST")
def emergency_access(request: HttpRequest) -> HttpResponse:
    """A clinician opens a plan outside their own: CPR number, reason, confirmation. Read only, for a few
    hours, logged with the reason and shown to the plan's coordinator."""
    actor = staff(request)
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
            return redirect(plan_url(already.plan))
        except services.NoPlanForCpr as error:
            form.add_error("cpr", error)
        except services.EmergencyAccessRefused as error:
            form.add_error("reason", error)
        else:
            return redirect(plan_url(plan))
    status = 422 if form.errors else 200
    hours = int(settings.EMERGENCY_ACCESS_DURATION.total_seconds() // 3600)
    return render(request, "pathways/emergency_access.html", {"form": form, "hours": hours}, status=status)


@staff_view("POST")
def emergency_access_acknowledge_partial(request: HtmxHttpRequest, access_id: UUID) -> HttpResponse:
    """The coordinator (or substitute) marks an emergency access to their patient's plan as seen."""
    actor = staff(request)
    grant = access.access_emergency_grant_as_coordinator(actor, access_id)
    services.emergency_access_acknowledge(actor=actor, access=grant)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, gettext("Marked as seen."))
    return redirect(safe_next(request, plan_url(grant.plan)))
