"""Staff pages. Thin: parse input, call a selector, render. Patient data is never cached by browsers."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_htmx.middleware import HtmxDetails

from pathways import access, selectors
from pathways.choices import AccessAction
from pathways.models import User

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
    query = request.GET.get("q", "").strip()[:100]
    paginator = Paginator(selectors.caseload_for(actor, query=query), CASELOAD_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    access.access_log_plans(actor, page.object_list, action=AccessAction.LIST)
    template = "pathways/_partials/caseload_table.html" if request.htmx else "pathways/caseload.html"
    response = render(request, template, {"page": page, "query": query})
    response["Vary"] = "HX-Request"
    return response


@never_cache
@login_required
@require_safe
def plan_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    page = selectors.plan_page_for(_staff(request), public_id)
    return render(request, "pathways/plan_detail.html", {"page": page, "plan": page.plan})
