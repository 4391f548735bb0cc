"""The quality dashboard (staff, quality role only): the indicators across sectors with their charts over
time (the overview: small, whatever the number of organisations), one indicator across organisations (the
funnel plot, its table sorted and split into pages) and broken down by group, the CSV export of everything,
and the summary refresh's status.

Who may see it: users with the permission `quality.view_dashboard` (the quality role; an administrator has
every permission). Anyone else signed in is refused with 403 — the page exists for everyone and holds no
patient, so there is nothing to hide by answering 404 as the plan pages do — and the refusal is a security
event (pathways.middleware). A quality user has no organisation membership and so no plan: the dashboard
shows numbers from the summary table only (quality.reports), every one through quality.suppression, and
never a name, a CPR number or a plan.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext

from pathways.choices import MUNICIPALITIES, Sector
from pathways.models import User
from pathways.views.base import HtmxHttpRequest, staff, staff_view
from quality import reports, summaries
from quality.choices import PROTECTED_BREAKDOWNS, Breakdown, Direction, Measure, Period

PERMISSION = "quality.view_dashboard"
FILTER_NAMES = ("by", "from", "to", "sector", "organisation", "municipality")
# The organisations' table on an indicator's page: this many rows a page (the chart shows them all).
ORGANISATIONS_PER_PAGE = 50
# The refresh's status asks for itself every few seconds while a run waits or runs, for at most ten minutes;
# after that the page says to reload it.
POLL_SECONDS = 3
POLL_MAX = 200


def _quality_user(request: HttpRequest) -> User:
    user = staff(request)
    if not user.has_perm(PERMISSION):
        raise PermissionDenied(
            gettext(
                "The quality dashboard is for staff with the quality role. "
                "Ask your administrator if you need it."
            )
        )
    return user


def _params(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "") for name in FILTER_NAMES}


def _filters(request: HttpRequest) -> tuple[reports.Filters, list[str], list[reports.OrganisationChoice]]:
    organisations = reports.filter_organisations(sector=request.GET.get("sector", ""))
    filters, errors = reports.filters_from(
        _params(request), today=timezone.localdate(), organisations=organisations
    )
    return filters, errors, organisations


def _form_context(
    request: HttpRequest,
    filters: reports.Filters,
    errors: list[str],
    organisations: list[reports.OrganisationChoice],
) -> dict[str, Any]:
    query = urlencode(filters.query())
    typed = filters.organisation.name if filters.organisation else request.GET.get("organisation", "")[:200]
    select = len(organisations) <= reports.ORGANISATION_SELECT_MAX
    return {
        "filters": filters,
        "errors": errors,
        "query": query,
        "periods": Period.choices,
        "sectors": Sector.choices,
        # Few organisations: a list to choose from; many: a field to type the name (the page's size stays
        # the same however many organisations report).
        "organisation_select": select,
        "organisations": organisations if select else [],
        "organisation_typed": "" if select else " ".join(typed.split()),
        "municipalities": MUNICIPALITIES,
        "first_month": f"{filters.first:%Y-%m}",
        "last_month": f"{filters.last:%Y-%m}",
        "organisation_id": str(filters.organisation.public_id) if filters.organisation else "",
    }


def _refresh_context(status: reports.RefreshStatus, polls: int = 0) -> dict[str, Any]:
    return {"refresh": status, "polls": polls, "poll_seconds": POLL_SECONDS, "poll_max": POLL_MAX}


@staff_view("GET", "HEAD")
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every indicator under the filters (GET form: period, sector, organisation, municipality): its result
    with the standard and a chart over time with its table, and a link to the indicator's own page (the
    organisations, the groups)."""
    _quality_user(request)
    filters, errors, organisations = _filters(request)
    context = _form_context(request, filters, errors, organisations) | _refresh_context(
        reports.refresh_status()
    )
    if errors:
        return render(request, "quality/dashboard.html", context | {"cards": []}, status=400)
    cards = reports.dashboard(filters=filters)
    return render(request, "quality/dashboard.html", context | {"cards": cards})


@staff_view("GET", "HEAD")
def dashboard_indicator(request: HttpRequest, key: str) -> HttpResponse:
    """One indicator under the same filters: across organisations (a funnel plot of all of them; their
    table ordered by `?order=` — those outside the 95 % limits first, by default — and split into pages of
    ORGANISATIONS_PER_PAGE, `?page=`), and broken down by a group (`?breakdown=`: municipality, sex, age
    band, education, employment, income) with the gap between the best and the worst group."""
    _quality_user(request)
    indicator = reports.indicator_by_key(key)
    if indicator is None:
        raise Http404
    filters, errors, organisations = _filters(request)
    by = request.GET.get("breakdown", "") or Breakdown.MUNICIPALITY
    if by not in Breakdown.values:
        errors.append(gettext("Choose a breakdown from the list."))
        by = Breakdown.MUNICIPALITY
    order = request.GET.get("order", "") or reports.OrganisationOrder.OUTSIDE
    if order not in reports.OrganisationOrder.values:
        errors.append(gettext("Choose an order from the list."))
        order = reports.OrganisationOrder.OUTSIDE
    context = _form_context(request, filters, errors, organisations) | {
        "indicator": indicator,
        "breakdowns": Breakdown.choices,
        "breakdown_by": by,
        "protected_breakdowns": PROTECTED_BREAKDOWNS,
        "orders": reports.OrganisationOrder.choices,
        "order": order,
        # The page's own settings, for the links that change one of them.
        "breakdown_query": urlencode(filters.query() | {"order": order}),
        "order_query": urlencode(filters.query() | {"breakdown": by}),
        "page_query": urlencode(filters.query() | {"breakdown": by, "order": order}),
        "report": None,
    }
    if errors:
        return render(request, "quality/dashboard_indicator.html", context, status=400)
    held = reports.withheld(filters=filters)  # once for the page: its funnel and its breakdown
    context["report"] = reports.breakdown(indicator=indicator, filters=filters, by=by, held=held)
    funnel = reports.funnel(indicator=indicator, filters=filters, held=held)
    pages = Paginator(reports.sort_organisations(funnel, order), ORGANISATIONS_PER_PAGE)
    context["funnel"] = funnel
    context["organisation_page"] = pages.get_page(request.GET.get("page"))
    return render(request, "quality/dashboard_indicator.html", context)


@staff_view("GET", "HEAD")
def dashboard_organisations(request: HttpRequest) -> HttpResponse:
    """Suggestions for the organisation field as one types (htmx fills its <datalist>): at most a few
    names of organisations with summary numbers (in `?sector=`) whose name holds `?organisation=`."""
    _quality_user(request)
    names = reports.organisation_suggestions(
        typed=request.GET.get("organisation", ""), sector=request.GET.get("sector", "")
    )
    return render(request, "quality/_partials/organisation_options.html", {"names": names})


@staff_view("GET", "HEAD")
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    """What the dashboard shows as CSV for Danish Excel (UTF-8 with a byte order mark, semicolons, decimal
    commas), with the same suppression: every indicator's result, series and organisations; or, with
    `?indicator=<key>&breakdown=<group>`, that indicator's breakdown and its gap."""
    _quality_user(request)
    filters, errors, organisations = _filters(request)
    key, by = request.GET.get("indicator", ""), request.GET.get("breakdown", "")
    indicator = reports.indicator_by_key(key) if key else None
    if key and indicator is None:
        errors.append(gettext("There is no such indicator."))
    if key and by not in Breakdown.values:
        errors.append(gettext("Choose a breakdown from the list."))
    if errors:  # the dashboard's form with what could not be read, as the page says it (no file)
        context = _form_context(request, filters, errors, organisations) | _refresh_context(
            reports.refresh_status()
        )
        return render(request, "quality/dashboard.html", context | {"cards": []}, status=400)
    if indicator is not None:
        report = reports.breakdown(indicator=indicator, filters=filters, by=by)
        rows = _breakdown_lines(report, filters)
    else:
        held = reports.withheld(filters=filters)  # once for the file: its cards and its funnels
        cards = reports.dashboard(filters=filters, held=held)
        rows = _dashboard_lines(cards, reports.funnels(filters=filters, held=held), filters)
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel reads UTF-8 only with the byte order mark
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(_header())
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    name = f"kvalitet-{indicator.key if indicator else 'indikatorer'}-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _header() -> list[str]:
    return [
        gettext("Indicator"),
        gettext("Table"),
        gettext("Row"),
        gettext("Numerator"),
        gettext("Denominator"),
        # xgettext:no-python-format  # noqa: ERA001 (not code: xgettext reads it)
        gettext("Result (% or mean, decimal comma)"),
        gettext("95 % CI lower (decimal comma)"),
        gettext("95 % CI upper (decimal comma)"),
        gettext("Missing"),
        gettext("Standard"),
        gettext("Standard met"),
        gettext("Filters"),
    ]


def _text(value: str) -> str:
    """A text cell Excel must not take for a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _line(indicator: Any, table: str, row: reports.Row, described: str) -> list[str]:
    sign = "≥" if indicator.direction == Direction.AT_LEAST else "≤"
    unit = "" if indicator.measure == Measure.MEAN else " %"
    met = "" if row.met is None else (gettext("yes") if row.met else gettext("no"))
    return [
        _text(indicator.name),
        _text(table),
        _text(row.label),
        row.numerator,
        row.denominator,
        reports.decimal_comma(row.value),
        reports.decimal_comma(row.low),
        reports.decimal_comma(row.high),
        row.missing,
        f"{sign} {reports.decimal_comma(indicator.standard)}{unit}",
        met,
        _text(described),
    ]


def _dashboard_lines(
    cards: Iterable[reports.IndicatorReport],
    funnels: dict[int, reports.FunnelReport],
    filters: reports.Filters,
) -> list[list[str]]:
    described = filters.describe()
    lines = []
    for card in cards:
        lines.append(_line(card.indicator, gettext("Result"), card.total, described))
        lines.extend(_line(card.indicator, gettext("Over time"), row, described) for row in card.series)
        funnel = funnels[card.indicator.pk]
        table = gettext("By municipality") if funnel.by_municipality else gettext("By organisation")
        lines.extend(_line(card.indicator, table, row, described) for row in funnel.rows)
    return lines


def _breakdown_lines(report: reports.BreakdownReport, filters: reports.Filters) -> list[list[str]]:
    described = filters.describe()
    table = gettext("By %(group)s") % {"group": str(Breakdown(report.by).label).lower()}
    lines = [_line(report.indicator, gettext("Result"), report.total, described)]
    lines.extend(_line(report.indicator, table, row, described) for row in report.groups)
    if report.gap is not None:
        gap = gettext("Gap between best (%(best)s) and worst (%(worst)s)") % {
            "best": report.gap.best.label,
            "worst": report.gap.worst.label,
        }
        lines.append(
            [
                _text(report.indicator.name),
                _text(table),
                _text(gap),
                "",
                "",
                reports.decimal_comma(report.gap.size),
            ]
            + [""] * 5
            + [_text(described)]
        )
    return lines


# --- the summary refresh ----------------------------------------------------------------------------------


def _polls(value: str) -> int:
    return min(int(value), POLL_MAX) if value.isascii() and value.isdigit() and len(value) < 6 else 0


@staff_view("GET", "HEAD")
def dashboard_refresh_partial(request: HttpRequest) -> HttpResponse:
    """When the numbers were made, and the progress of a refresh while one waits or runs (htmx asks for it
    again every few seconds until the run ends)."""
    _quality_user(request)
    context = _refresh_context(reports.refresh_status(), _polls(request.GET.get("n", "")))
    # The dashboard's filters, carried on so the link to load it again keeps them.
    context["query"] = urlencode({name: value for name, value in _params(request).items() if value})
    return render(request, "quality/_partials/refresh_status.html", context)


@staff_view("POST")
def dashboard_refresh(request: HtmxHttpRequest) -> HttpResponse:
    """Ask for the summary to be made again (the run already waiting or running, if there is one); the
    status back for htmx, else the dashboard."""
    actor = _quality_user(request)
    summaries.refresh_request(actor=actor)
    if request.htmx:
        return render(
            request, "quality/_partials/refresh_status.html", _refresh_context(reports.refresh_status())
        )
    return redirect("quality:dashboard")
