"""The caseload (Mine patienter): the user's patients, filters, sorting, and the logged CPR search."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render

from pathways import access, extensions, selectors
from pathways.choices import AccessAction
from pathways.forms import (
    CaseloadFilterForm,
    CprSearchForm,
)
from pathways.models import PathwayPlan, User
from pathways.views.base import (
    HtmxHttpRequest,
    staff,
    staff_view,
)

CASELOAD_PAGE_SIZE = 25
# The caseload counts its plans up to this many: a home-nursing unit of a large municipality has thousands,
# and counting them all on every page would cost more than the page (issue 18). Beyond it, the page says
# "more than" and asks for a search or a filter.
CASELOAD_COUNT_CAP = 1000

if TYPE_CHECKING:
    _PlanPaginator = Paginator[PathwayPlan]
else:
    _PlanPaginator = Paginator  # not subscriptable at run time


class CappedPaginator(_PlanPaginator):
    """A Paginator that counts no further than `cap` rows (`more`: there are more): the pages reach the
    first `cap` rows, and the count costs the same however many plans the user's organisations have."""

    def __init__(self, plans: QuerySet[PathwayPlan], per_page: int, *, cap: int) -> None:
        super().__init__(plans, per_page)
        self.plans = plans
        self.cap = cap

    @cached_property
    def _counted(self) -> int:
        return self.plans.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def more(self) -> bool:
        return self._counted > self.cap


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
    paginator = CappedPaginator(plans, CASELOAD_PAGE_SIZE, cap=CASELOAD_COUNT_CAP)
    page = paginator.get_page(request.GET.get("page"))
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
