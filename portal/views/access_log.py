"""Hvem har set mine oplysninger? The patient's own access log (issue 14 item 4): the patient's only.

A relative — even with consent to the whole plan — gets 404: the log is about the patient. Their refused
request writes no access-log row (a row would tell the patient that the relative read the log), and
neither does a HEAD request, which shows nothing.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.http import HttpRequest, HttpResponse

from pathways.choices import AccessAction
from portal.access import access_portal_plan
from portal.choices import ReaderRole
from portal.selectors import portal_access_log_page
from portal.views.base import PortalRequest, portal_render, portal_view


@portal_view()
def portal_access_log(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Every read of the patient's data of the last two years, newest first, 50 to a page (`?page=`)."""
    session = cast(PortalRequest, request).portal_session
    reader = access_portal_plan(
        session,
        public_id=public_id,
        action=AccessAction.PORTAL_ACCESS_LOG,
        log=request.method == "GET",
        roles=(ReaderRole.PATIENT,),
    )
    log = portal_access_log_page(reader, page_number=request.GET.get("page"))
    return portal_render(request, "portal/access_log.html", {"log": log})
