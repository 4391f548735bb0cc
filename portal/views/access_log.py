"""Hvem har set mine oplysninger? The patient's own access log (issue 14 item 4): the patient's only.

A relative — even with consent to the whole plan — gets 404: the log is about the patient. Their refused
request writes no access-log row (a row would tell the patient that the relative read the log).
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse

from pathways.choices import AccessAction
from portal.access import access_portal_plan, readers_of
from portal.choices import ReaderRole
from portal.selectors import portal_access_log_page
from portal.views.base import PortalRequest, portal_render, portal_view


@portal_view()
def portal_access_log(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Every read of the patient's data of the last two years, newest first, 50 to a page (`?page=`)."""
    session = cast(PortalRequest, request).portal_session
    readers = readers_of(session, plan_public_id=public_id)
    if not readers or readers[0].role != ReaderRole.PATIENT:  # the patient's own reading comes first
        raise Http404
    reader = access_portal_plan(session, public_id, action=AccessAction.PORTAL_ACCESS_LOG)
    if reader.role != ReaderRole.PATIENT:
        raise Http404
    log = portal_access_log_page(reader, request.GET.get("page"))
    return portal_render(request, "portal/access_log.html", {"log": log})
