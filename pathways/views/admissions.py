"""Admissions without a plan: received hospital notices about citizens who have no plan, listed for the
receiving organisation (pathways.selectors, section "ingest"), newest first, with each citizen's
admissions in the last 12 months so that repeated unplanned admissions stand out."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pathways import selectors
from pathways.views.base import staff, staff_view

PAGE_SIZE = 25


@staff_view("GET", "HEAD")
def admissions_without_plan(request: HttpRequest) -> HttpResponse:
    actor = staff(request)
    page = Paginator(selectors.admissions_without_plan_for(actor), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    selectors.admissions_without_plan_log(actor, page.object_list)
    return render(
        request,
        "pathways/admissions_without_plan.html",
        {"page": page, "candidate": selectors.ADMISSIONS_CANDIDATE},
    )
