"""The user's in-app messages (Beskeder): the list behind the bell, one marked read, all marked read.

Marking read answers htmx with the changed part (the row, or the list) and the bell out of band, with an
`HX-Trigger` (`notifications-changed`) for any other region that shows the count; without JavaScript it
sends the user back to the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.paginator import Page, Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from pathways import access, selectors, services
from pathways.choices import AccessAction
from pathways.models import Notification, PathwayPlan, User
from pathways.signin.policy import safe_next
from pathways.views.base import HtmxHttpRequest, staff, staff_view

NOTIFICATIONS_PAGE_SIZE = 50
CHANGED_EVENT = "notifications-changed"


def _shown(actor: User, notifications: Iterable[Notification]) -> None:
    """A message names its patient: showing it is a read of the plan, logged once per plan shown."""
    plans: dict[int, PathwayPlan] = {n.plan_id: n.plan for n in notifications}
    access.access_log_plans(actor, plans.values(), action=AccessAction.LIST)


def _page(actor: User, number: Any) -> Page[Notification]:
    page = Paginator(selectors.notifications_for(actor), NOTIFICATIONS_PAGE_SIZE).get_page(number)
    _shown(actor, page.object_list)
    return page


@staff_view("GET", "HEAD")
def notifications(request: HtmxHttpRequest) -> HttpResponse:
    """The user's messages, newest first, unread ones marked; 50 a page."""
    page = _page(staff(request), request.GET.get("page"))
    return render(request, "pathways/notifications.html", {"page": page})


def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = CHANGED_EVENT
    patch_vary_headers(response, ["HX-Request"])
    return response


def _back_to_list(request: HtmxHttpRequest) -> HttpResponse:
    """To the page of the list the form was on (`next`); anywhere else is not "back", so the list."""
    list_url = reverse("pathways:notifications")
    target = safe_next(request, list_url)
    response = HttpResponseRedirect(target if target.startswith(f"{list_url}?") else list_url)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_view("POST")
def notification_read_partial(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Mark one of the user's messages read (404 for anyone else's). htmx gets the row as it is now."""
    actor = staff(request)
    services.notification_mark_read(actor=actor, public_id=public_id)
    if not request.htmx:
        return _back_to_list(request)
    notification = access.access_notification(actor, public_id)
    _shown(actor, [notification])
    context = {"notification": notification, "bell_oob": True}
    return _changed(render(request, "pathways/_partials/notification_row.html", context))


@staff_view("POST")
def notifications_read_all(request: HtmxHttpRequest) -> HttpResponse:
    """Mark every message the bell counts read. htmx gets the list's page (`page` in the form) again."""
    actor = staff(request)
    services.notification_mark_read(actor=actor, public_id=None)
    if not request.htmx:
        return _back_to_list(request)
    context = {"page": _page(actor, request.POST.get("page")), "bell_oob": True}
    return _changed(render(request, "pathways/_partials/notification_list.html", context))
