"""The caseload (Mine patienter): the user's patients, filters, sorting, and the logged CPR search."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from pathways import access, extensions, selectors
from pathways.choices import AccessAction
from pathways.forms import (
    CaseloadFilterForm,
    CprSearchForm,
)
from pathways.models import User
from pathways.views.base import (
    HtmxHttpRequest,
    staff,
    staff_view,
)

CASELOAD_PAGE_SIZE = 25


@staff_view("GET", "HEAD")
def caseload(request: HtmxHttpRequest) -> HttpResponse:
    actor = staff(request)
    filters = CaseloadFilterForm(request.GET or None)
    plans = selectors.caseload_for(actor, **filters.filters())
    return _render_caseload(request, actor, plans, filters, CprSearchForm())


def _render_caseload(
    request: HtmxHttpRequest,
    actor: User,
    plans: Any,
    filters: CaseloadFilterForm,
    cpr_form: CprSearchForm,
    *,
    action: AccessAction = AccessAction.LIST,
    status: int = 200,
) -> HttpResponse:
    page = Paginator(plans, CASELOAD_PAGE_SIZE).get_page(request.GET.get("page"))
    access.access_log_plans(actor, page.object_list, action=action)
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "cpr_form": cpr_form,
        "params": params.urlencode(),
        "caseload_extensions": extensions.CASELOAD_EXTENSIONS,
    }
    if not request.htmx:
        context["emergency_alerts"] = selectors.emergency_alerts_for(actor)
    template = "pathways/_partials/caseload_table.html" if request.htmx else "pathways/caseload.html"
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


@staff_view("POST")
def caseload_cpr_search(request: HtmxHttpRequest) -> HttpResponse:
    """Find a patient by CPR number among the user's own plans. The number stays out of the URL; every
    hit is logged as a CPR search."""
    actor = staff(request)
    form = CprSearchForm(request.POST)
    filters = CaseloadFilterForm()
    if not form.is_valid():
        return _render_caseload(request, actor, selectors.caseload_for(actor), filters, form, status=422)
    plans = selectors.caseload_for(actor, cpr=form.cleaned_data["cpr"])
    return _render_caseload(request, actor, plans, filters, form, action=AccessAction.SEARCH_CPR)
