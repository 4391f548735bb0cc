"""The plan in the portal: the home page (straight to the one plan, a choice between several, or a kind
page when there is none) and the plan page, as the reader's consent lets them see it. Only a GET is logged:
a HEAD request shows nothing."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from pathways.choices import AccessAction
from portal import access, selectors
from portal.views.base import PortalRequest, portal_render, portal_view


@portal_view()
def portal_home(request: HttpRequest) -> HttpResponse:
    """The plans the signed-in person may read: straight to the plan when there is one, else a choice
    (a relative of two patients, a patient who is also a relative; each patient named is logged), or a
    kind page when there is none."""
    session = cast(PortalRequest, request).portal_session
    readers = access.readers_of(session)
    plan_ids = {reader.plan.public_id for reader in readers}
    if len(plan_ids) == 1:
        return redirect("portal:plan", public_id=readers[0].plan.public_id)
    if not readers:
        contact = selectors.portal_no_plan_contact(session=session)
        return portal_render(request, "portal/home.html", {"choices": (), "contact": contact})
    if request.method == "GET":
        access.portal_list_log_write(readers=readers)
    choices = tuple(selectors.portal_home_choices(readers=readers))
    return portal_render(request, "portal/home.html", {"choices": choices, "contact": None})


@portal_view()
def portal_plan(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The plan as the reader may see it (404 for a plan they may not open; the read is logged), and the
    reader's own questionnaires waiting for an answer (issue 16)."""
    session = cast(PortalRequest, request).portal_session
    reader = access.access_portal_plan(
        session, public_id=public_id, action=AccessAction.PORTAL_PLAN, log=request.method == "GET"
    )
    page = selectors.portal_plan_page(reader=reader)
    questionnaires = selectors.portal_questionnaire_invites(reader=reader)
    return portal_render(request, "portal/plan.html", {"page": page, "questionnaires": questionnaires})
