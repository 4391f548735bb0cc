"""The quality dashboard's numbers, read from the summary tables only — never by scanning plans — and every
number that leaves the database passed through quality.suppression first. The cards, series, funnels and
filter checks read the totals one level up (IndicatorTotal: per month and organisation, or per month and
municipality), whose size does not grow with the patients; a breakdown by a group, or a municipality chosen
together with a sector or an organisation, reads the cells (IndicatorCell) they add up (`Filters.summary`).

A view asks for one thing and gets it in a fixed number of queries, however many cells the summary holds:
- `dashboard(filters=…)`: one card per active indicator — the result over the whole period (numerator,
  denominator, share or mean, 95 % confidence interval, missing count, the standard and whether it is met)
  and the series over time (one GROUP BY over all indicators). The card holds no organisation: its size
  does not grow with the number of organisations;
- `funnel(indicator=…, filters=…)`: one indicator across its reporting organisations (one GROUP BY), with
  the funnel's 95 % and 99.8 % limits around the overall result and each organisation marked when it lies
  outside the 95 % limits; `funnels(filters=…)` the same for every active indicator in one GROUP BY (the
  CSV); `sort_organisations` orders such a table for the indicator's page;
- `breakdown(indicator=…, filters=…, by=…)`: one indicator broken down by municipality, sex, age band or the
  protected social background (one GROUP BY), with the gap between the best and the worst group shown;
- `refresh_status()`: the newest summary refresh and the newest finished one (one query).

Suppression (STANDARDS.md §5.5): each table — the periods of a series, the organisations of a funnel, the
groups of a breakdown — goes through `suppression.protect` as one group, so its complementary suppression
sees the whole table; the total of the filtered cells is one number shown alike everywhere
(`suppression.protect_total`), so the tables take it as known and hide cells around a small one, never it.
The chart data are built from those shown rows only: a hidden cell is neither drawn nor counted in the gap
between groups.

Filters narrow the cells: the period (months, quarters or years from a first to a last month), the reporting
organisation's sector, the reporting organisation and the patient's home municipality. Filters come from a
GET form: `filters_from` turns the query string into `Filters` and says what it could not read. The form
offers only the organisations with summary rows (in the chosen sector: `filter_organisations`, one query);
where they are many, it takes a name typed instead of a choice from a list (`ORGANISATION_SELECT_MAX`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from django.db import models
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth, TruncQuarter, TruncYear
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy

from pathways.choices import MUNICIPALITY_NAMES, Sector
from pathways.models import Organisation
from quality import suppression
from quality.choices import (
    PROTECTED_BREAKDOWNS,
    AgeBand,
    Breakdown,
    Direction,
    EducationBand,
    EmploymentStatus,
    IncomeBand,
    Measure,
    Period,
    RefreshState,
    ReportingUnit,
    Sex,
    TotalGrain,
)
from quality.models import Indicator, IndicatorCell, IndicatorRefresh, IndicatorTotal

# The funnel's limits (two-sided): 95 % and 99.8 % of results from organisations no different from the whole.
Z_95 = 1.959963984540054
Z_998 = 3.090232306167813
FUNNEL_POINTS = 60  # points on each limit line
# A period of at most ten years: the series stays a readable chart and a bounded query.
MAX_MONTHS = 120
# How many complete periods the dashboard shows when the user chose none.
DEFAULT_PERIODS: dict[str, int] = {Period.MONTH: 12, Period.QUARTER: 4, Period.YEAR: 3}
MONTHS_IN: dict[str, int] = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}
# Up to this many organisations the filter is a list to choose from; beyond it, a field to type the name in
# (with suggestions as one types): the page stays the same size however many organisations report.
ORGANISATION_SELECT_MAX = 150
# The suggestions for a typed organisation name.
ORGANISATION_SUGGESTIONS = 20
# How many names the message lists when a typed name matches several organisations.
ORGANISATION_MATCHES_SHOWN = 5

# The cell's field for each breakdown, and its groups' names in order.
BREAKDOWN_FIELDS = {
    Breakdown.MUNICIPALITY: "municipality",
    Breakdown.SEX: "sex",
    Breakdown.AGE_BAND: "age_band",
    Breakdown.EDUCATION: "education",
    Breakdown.EMPLOYMENT: "employment",
    Breakdown.INCOME: "income",
}
_GROUP_CHOICES: dict[str, Any] = {
    Breakdown.SEX: Sex,
    Breakdown.AGE_BAND: AgeBand,
    Breakdown.EDUCATION: EducationBand,
    Breakdown.EMPLOYMENT: EmploymentStatus,
    Breakdown.INCOME: IncomeBand,
}
_TRUNC: dict[str, type[TruncMonth | TruncQuarter | TruncYear]] = {
    Period.MONTH: TruncMonth,
    Period.QUARTER: TruncQuarter,
    Period.YEAR: TruncYear,
}
UNKNOWN = ""  # a cell without the breakdown's value: shown as "not stated", never counted in the gap
UNKNOWN_KEY = "unknown"  # its row's key (an organisation not stated: "")


# --- filters -----------------------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def period_start(month: date, by: str) -> date:
    """The first month of the period (month, quarter or year) the month lies in."""
    if by == Period.YEAR:
        return date(month.year, 1, 1)
    if by == Period.QUARTER:
        return date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    return month_start(month)


def default_range(*, by: str, today: date) -> tuple[date, date]:
    """The last complete periods before today (4 quarters, 12 months or 3 years): first and last month."""
    current = period_start(month_start(today), by)
    step = MONTHS_IN[by]
    first = add_months(current, -step * DEFAULT_PERIODS[by])
    return first, add_months(current, -1)


class OrganisationChoice(NamedTuple):
    """An organisation as the filter offers it (read as plain values: thousands of them cost little)."""

    pk: int
    public_id: UUID
    name: str


_BY_ORGANISATION = ("sector", "organisation_id")


@dataclass(frozen=True)
class Filters:
    """What the dashboard counts: cells whose month lies from `first` to `last` (first days of months, both
    included, widened to whole periods of `by`), of reporting organisations in `sector`, of `organisation`,
    of patients living in `municipality` (a kommunekode); empty means all."""

    by: str
    first: date
    last: date
    sector: str = ""
    organisation: OrganisationChoice | None = None
    municipality: str = ""

    def cells(self, queryset: QuerySet[Any] | None = None) -> QuerySet[Any]:
        """The summary rows (cells, or totals) of `queryset` that the filters keep."""
        cells = (queryset if queryset is not None else IndicatorCell.objects.all()).filter(
            month__gte=self.first, month__lte=self.last
        )
        if self.sector:
            cells = cells.filter(sector=self.sector)
        if self.organisation is not None:
            cells = cells.filter(organisation_id=self.organisation.pk)
        if self.municipality:
            cells = cells.filter(municipality=self.municipality)
        return cells

    def summary(self, *, by: str = "") -> QuerySet[Any]:
        """The summary rows a sum under these filters grouped `by` a unit column ("" for none) adds up,
        narrowed by the filters: the totals one level up (IndicatorTotal) at the grain the filters and the
        grouping need, so the dashboard reads as many rows at 1.2 million patients as at 12,000; the cells
        where both an organisation (or sector) and a municipality are asked for."""
        municipal = bool(self.municipality) or by == "municipality"
        organisational = bool(self.sector) or self.organisation is not None or by in _BY_ORGANISATION
        if (municipal and organisational) or by not in ("", "municipality", *_BY_ORGANISATION):
            return self.cells(IndicatorCell.objects.all())
        grain = TotalGrain.MUNICIPALITY if municipal else TotalGrain.ORGANISATION
        return self.cells(IndicatorTotal.objects.filter(grain=grain))

    def periods(self) -> list[date]:
        """The first month of every period in the range, oldest first."""
        step = MONTHS_IN[self.by]
        found, month = [], self.first
        while month <= self.last:
            found.append(month)
            month = add_months(month, step)
        return found

    def query(self) -> dict[str, str]:
        """The filters as the GET form sends them (for links: the CSV, an indicator's page)."""
        values = {
            "by": self.by,
            "from": f"{self.first:%Y-%m}",
            "to": f"{self.last:%Y-%m}",
            "sector": self.sector,
            "organisation": str(self.organisation.public_id) if self.organisation else "",
            "municipality": self.municipality,
        }
        return {name: value for name, value in values.items() if value}

    def describe(self) -> str:
        """The filters in words (the CSV's first line, the page's summary)."""
        parts = [
            f"{period_label(self.first, self.by)} – {period_label(period_start(self.last, self.by), self.by)}"
        ]
        if self.sector:
            parts.append(str(Sector(self.sector).label))
        if self.organisation is not None:
            parts.append(self.organisation.name)
        if self.municipality:
            parts.append(MUNICIPALITY_NAMES.get(self.municipality, self.municipality))
        return ", ".join(parts)


def _month(value: str) -> date | None:
    """'2026-03' → 1 March 2026; anything else → None."""
    if len(value) != 7 or value[4] != "-" or not (value[:4].isascii() and value[:4].isdigit()):
        return None
    if not (value[5:].isascii() and value[5:].isdigit()):
        return None
    year, month = int(value[:4]), int(value[5:])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def filters_from(
    params: Mapping[str, str], *, today: date, organisations: Sequence[OrganisationChoice]
) -> tuple[Filters, list[str]]:
    """The dashboard's filters from its GET form, and a message for each value it could not use (that
    filter then falls back to its default: all, or the last complete periods). `organisations`: those the
    form offers (`filter_organisations`; the organisation is looked up among them, never by a query on user
    input): by its id (the list, links) or by its name as typed (`organisation_named`)."""
    errors: list[str] = []
    by = params.get("by", "") or Period.QUARTER
    if by not in Period.values:
        errors.append(gettext("Choose months, quarters or years."))
        by = Period.QUARTER
    first, last = default_range(by=by, today=today)
    raw_from, raw_to = params.get("from", ""), params.get("to", "")
    if raw_from or raw_to:
        chosen_from = _month(raw_from) if raw_from else first
        chosen_to = _month(raw_to) if raw_to else last
        if chosen_from is None or chosen_to is None:
            errors.append(
                gettext("Write the months as year and month from 2000-01 to 2100-12, for example 2026-03.")
            )
        elif chosen_from > chosen_to:
            errors.append(gettext("The first month must come before the last."))
        else:
            first = period_start(chosen_from, by)
            last = add_months(period_start(chosen_to, by), MONTHS_IN[by] - 1)
            if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
                errors.append(gettext("Choose at most ten years."))
                first, last = default_range(by=by, today=today)
    sector = params.get("sector", "")
    if sector and sector not in Sector.values:
        errors.append(gettext("Choose a sector from the list."))
        sector = ""
    organisation = None
    raw_organisation = params.get("organisation", "").strip()
    if raw_organisation:
        organisation, error = organisation_named(raw_organisation, organisations)
        if error:
            errors.append(error)
    municipality = params.get("municipality", "")
    if municipality and municipality not in MUNICIPALITY_NAMES:
        errors.append(gettext("Choose a municipality from the list."))
        municipality = ""
    filters = Filters(
        by=by, first=first, last=last, sector=sector, organisation=organisation, municipality=municipality
    )
    return filters, errors


def _uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        return ""


def organisation_named(
    value: str, organisations: Sequence[OrganisationChoice]
) -> tuple[OrganisationChoice | None, str]:
    """The organisation the filter means, and a message where there is none: `value` is its id (the list,
    links), its whole name or a part of the name that only one of them has (typed; any case)."""
    wanted = _uuid(value)
    if wanted:
        found = next((o for o in organisations if str(o.public_id) == wanted), None)
        return (found, "") if found else (None, gettext("Choose an organisation from the list."))
    typed = " ".join(value.split()).casefold()
    exact = [o for o in organisations if o.name.casefold() == typed]
    if len(exact) == 1:
        return exact[0], ""
    matches = exact or [o for o in organisations if typed in o.name.casefold()]
    if len(matches) == 1:
        return matches[0], ""
    if not matches:
        return None, gettext(
            "No organisation with numbers on the dashboard has that name. Check the spelling."
        )
    names = ", ".join(o.name for o in matches[:ORGANISATION_MATCHES_SHOWN])
    if len(matches) > ORGANISATION_MATCHES_SHOWN:
        names += ", …"
    return None, gettext("%(count)d organisations match (%(names)s). Write more of the name.") % {
        "count": len(matches),
        "names": names,
    }


def _reporting(sector: str) -> QuerySet[Organisation]:
    """The organisations with summary rows (in `sector`, if one is given): an EXISTS per organisation on
    the totals' organisation index, so it stays cheap however many cells the summary holds."""
    cells = IndicatorTotal.objects.filter(grain=TotalGrain.ORGANISATION, organisation=OuterRef("pk"))
    if sector:
        cells = cells.filter(sector=sector)
    return Organisation.objects.filter(Exists(cells))


def filter_organisations(*, sector: str = "") -> list[OrganisationChoice]:
    """The organisations the filter offers: those the summary has numbers for, in the chosen sector (one
    query). `sector` is the form's value; one that is not a sector counts as none."""
    found = _reporting(sector if sector in Sector.values else "").order_by("name", "pk")
    return [OrganisationChoice(*values) for values in found.values_list("pk", "public_id", "name")]


def organisation_choice(organisation: Organisation) -> OrganisationChoice:
    return OrganisationChoice(organisation.pk, organisation.public_id, organisation.name)


def organisation_suggestions(*, typed: str, sector: str = "") -> list[str]:
    """Names for the organisation field as one types (at most ORGANISATION_SUGGESTIONS, one query)."""
    typed = " ".join(typed.split())[:100]
    if not typed:
        return []
    found = _reporting(sector if sector in Sector.values else "").filter(name__icontains=typed)
    return list(found.order_by("name").values_list("name", flat=True).distinct()[:ORGANISATION_SUGGESTIONS])


def period_label(month: date, by: str) -> str:
    if by == Period.YEAR:
        return str(month.year)
    if by == Period.QUARTER:
        return gettext("Q%(quarter)d %(year)d") % {"quarter": (month.month - 1) // 3 + 1, "year": month.year}
    return formats.date_format(month, "M Y")


# --- one result: counts → what may be shown ---------------------------------------------------------------


# A group of cells added up: suppression.Counts (denominator, numerator, missing, value_sum, value_sumsq).
Sums = suppression.Counts


_SUMS = {
    "d": Sum("denominator"),
    "n": Sum("numerator"),
    "m": Sum("missing"),
    "s": Sum("value_sum"),
    "ss": Sum("value_sumsq"),
}


def _sums(row: Mapping[str, Any]) -> Sums:
    return Sums(
        denominator=row["d"] or 0,
        numerator=row["n"] or 0,
        missing=row["m"] or 0,
        value_sum=row["s"] or 0.0,
        value_sumsq=row["ss"] or 0.0,
    )


def _none() -> Sums:
    return Sums(denominator=0)


@dataclass(frozen=True)
class Row:
    """One line of a table as it may be shown: counts as text ("<5" for 1–4, "–" where hidden to protect
    another cell), the share in % or the mean (None where hidden), its 95 % confidence interval, and whether
    the standard is met (None where there is no value). `n` is the denominator as a number where it is
    shown (the funnel's x), else None. `outside`: for an organisation in a funnel, "above" or "below" where
    its result lies outside the funnel's 95 % limits, else ""; `better` then says whether that is the good
    side (the standard's direction), else None."""

    key: str
    label: str
    numerator: str
    denominator: str
    missing: str
    value: float | None
    low: float | None
    high: float | None
    met: bool | None
    n: int | None
    suppressed: bool
    outside: str = ""
    better: bool | None = None
    withheld: bool = False
    partly_withheld: bool = False  # the numerator (and so the result) withheld, the denominator shown

    def chart_point(self) -> dict[str, Any] | None:
        if self.value is None or self.n is None:
            return None
        return {"x": self.n, "y": round(self.value, 2), "label": self.label}


def standard_met(indicator: Indicator, value: float | None) -> bool | None:
    if value is None:
        return None
    standard = float(indicator.standard)
    return value >= standard if indicator.direction == Direction.AT_LEAST else value <= standard


def _is_mean(indicator: Indicator) -> bool:
    return indicator.measure == Measure.MEAN


def _shown_rows(
    indicator: Indicator,
    keyed: Sequence[tuple[str, str, Sums]],
    total: Sums,
    *,
    withheld: frozenset[str] = frozenset(),
) -> tuple[list[Row], Row]:
    """The rows of one table and its total, through suppression. The total is shown the same on every
    output (the card, each table's last line, the CSV, the indicator's page: `protect_total`), so each
    table is protected taking the total as known to the reader (`total=None`): the cells around a small
    one are hidden with it, never the total. `withheld`: the counts (WITHHELD_KINDS) of a unit the filters
    chose that the table above hides (`withheld`): not shown in any row — its denominator hidden, nothing
    is shown at all."""
    if "denominator" in withheld:
        rows = [_withheld_row(indicator, key, label) for key, label, _sums in keyed]
        return rows, _withheld_row(indicator, "total", gettext("All"))
    shown = _protected(indicator, [(key, sums) for key, _label, sums in keyed])
    shown_total = suppression.protect_total(total, measure=indicator.measure)
    rows = [_row(indicator, key, label, cell) for (key, label, _sums), cell in zip(keyed, shown, strict=True)]
    total_row = _row(indicator, "total", gettext("All"), shown_total)
    if withheld:
        return [_hide_kinds(row, withheld) for row in rows], _hide_kinds(total_row, withheld)
    return rows, total_row


def _hide_kinds(row: Row, kinds: frozenset[str]) -> Row:
    """The row with a withheld numerator (and so the share) or missing count hidden."""
    hidden = suppression.HIDDEN
    if "numerator" in kinds:
        row = replace(
            row,
            numerator=hidden,
            value=None,
            low=None,
            high=None,
            met=None,
            n=None,
            suppressed=True,
            partly_withheld=True,
        )
    if "missing" in kinds:
        row = replace(row, missing=hidden, suppressed=True)
    return row


def _protected(indicator: Indicator, keyed: Sequence[tuple[str, Sums]]) -> list[suppression.Shown]:
    """One table's cells (by their keys: an organisation's pk, a group's value, a period), its total taken
    as known. Every table of the dashboard, and the tables one level above a filter (`withheld`), go through
    here in the order of their keys — not of their labels, which change with the language — so the same
    cells are hidden alike wherever, and in whichever language, they are shown."""
    order = sorted(range(len(keyed)), key=lambda index: keyed[index][0])
    shown, _none_shown = suppression.protect([keyed[i][1] for i in order], None, measure=indicator.measure)
    found = dict(zip(order, shown, strict=True))
    return [found[index] for index in range(len(keyed))]


def _listed(rows: list[Row], total: Row) -> list[Row]:
    """The rows of a table that lists only the units with patients (a funnel, a breakdown), or none where
    its total is 1–4 or withheld: a row listed says its unit has someone, and four groups of "–" under a
    total of 4 would each be 1."""
    if total.withheld or total.denominator == suppression.SMALL:
        return []
    return rows


def _withheld_row(indicator: Indicator, key: str, label: str) -> Row:
    """A row of a view the filters withhold: every count "–" (a mean has no numerator), no result."""
    hidden = suppression.HIDDEN
    return Row(
        key=key,
        label=label,
        numerator="" if _is_mean(indicator) else hidden,
        denominator=hidden,
        missing=hidden,
        value=None,
        low=None,
        high=None,
        met=None,
        n=None,
        suppressed=True,
        withheld=True,
    )


def _row(indicator: Indicator, key: str, label: str, shown: suppression.Shown) -> Row:
    value = shown.mean if _is_mean(indicator) else shown.percent
    interval = shown.ci if value is not None else None
    return Row(
        key=key,
        label=label,
        numerator=shown.numerator,
        denominator=shown.denominator,
        missing=shown.missing,
        value=value,
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
        met=standard_met(indicator, value),
        n=shown.denominator_value if value is not None else None,
        suppressed=shown.suppressed,
    )


# --- a filter on a unit the table above hides ----------------------------------------------------------

WITHHELD_KINDS = ("denominator", "numerator", "missing")
# The filters that choose one unit, with the cell's column: the table one level up lists every unit of it.
_UNIT_COLUMNS = {"sector": "sector", "organisation": "organisation_id", "municipality": "municipality"}


def _unit_key(column: str, value: Any) -> str:
    """A unit's key in its table, as the dashboard's own tables key it (an organisation's pk, a group's
    value, "unknown" for a cell without one), so the table above protects its cells in the same order."""
    if column == "organisation_id":
        return str(value or "")
    return value or UNKNOWN_KEY


def _chosen_unit(filters: Filters, name: str) -> str | None:
    if name == "organisation":
        return None if filters.organisation is None else str(filters.organisation.pk)
    value: str = getattr(filters, name)
    return value or None


def withheld(*, filters: Filters) -> dict[int, frozenset[str]]:
    """The counts ("denominator", "numerator", "missing") of the active indicators (by pk) that are not
    shown under `filters`, because a unit the filters choose (a sector, an organisation, a municipality)
    has them hidden ("–") in the table one level up — the same filters without that one, broken down by
    it — over the whole period or in one of its periods. A filter must not show what another view hides to
    protect a small cell (choosing the organisation a funnel hid as the complement would give its numbers,
    and with them the small cell). A hidden denominator withholds everything. It holds all the way up:
    with two unit filters, each is checked in the table without it, and that table's own filter in the
    table above it. One GROUP BY per unit filter and level (one query with one filter; none without)."""
    if not any(_chosen_unit(filters, name) is not None for name in _UNIT_COLUMNS):
        return {}
    return _withheld(filters, {}, {i.pk: i for i in _active_indicators()})


def _without(filters: Filters, name: str) -> Filters:
    """The filters without one unit filter: the view one level up."""
    if name == "organisation":
        return replace(filters, organisation=None)
    if name == "municipality":
        return replace(filters, municipality="")
    return replace(filters, sector="")


def _withheld(
    filters: Filters, seen: dict[Filters, dict[int, frozenset[str]]], indicators: Mapping[int, Indicator]
) -> dict[int, frozenset[str]]:
    if filters in seen:
        return seen[filters]
    found: dict[int, frozenset[str]] = {}
    for name, column in _UNIT_COLUMNS.items():
        chosen = _chosen_unit(filters, name)
        if chosen is None:
            continue
        above = _without(filters, name)
        for hidden in (_withheld(above, seen, indicators), _hidden_above(above, column, chosen, indicators)):
            for pk, kinds in hidden.items():
                found[pk] = found.get(pk, frozenset()) | kinds
    seen[filters] = found
    return found


def _hidden_above(
    above: Filters, column: str, chosen: str, indicators: Mapping[int, Indicator]
) -> dict[int, frozenset[str]]:
    """The counts the table by `column` under `above` hides for the chosen unit, per indicator: over the
    whole period (the card's total, the funnel, the breakdown) or in one period (the series; a one-period
    filter). A sector is also checked against the organisations in it: its total less the organisations
    the funnel shows would give the ones the funnel hides, so a count any of them hides is not shown for
    the sector either."""
    hidden = _hidden_in_table(above, column, lambda key, _sector: key == chosen, indicators, small=False)
    if column == "sector":
        in_sector = _hidden_in_table(
            above, "organisation_id", lambda _key, sector: sector == chosen, indicators, small=True
        )
        for pk, kinds in in_sector.items():
            hidden[pk] = hidden.get(pk, frozenset()) | kinds
    return hidden


def _hidden_in_table(
    above: Filters,
    column: str,
    chosen: Callable[[str, str], bool],
    indicators: Mapping[int, Indicator],
    *,
    small: bool,
) -> dict[int, frozenset[str]]:
    """The counts hidden ("–", and "<5" too where `small`) for the units `chosen` picks (by key and
    sector) in the table by `column` under `above` — over the whole period and in each period — per
    indicator. A unit's own "<5" is "<5" under its filter as well; a sector's total would give the sum of
    its organisations' "<5"."""
    texts = (suppression.HIDDEN, suppression.SMALL) if small else (suppression.HIDDEN,)
    tables: dict[tuple[int, date | None], dict[str, Sums]] = {}
    sectors: dict[str, str] = {}
    for row in (
        # The indicators read at the start only: one made active meanwhile waits for the next request.
        above.summary(by=column)
        .filter(indicator__in=list(indicators))
        .annotate(period=_TRUNC[above.by]("month"))
        .values("indicator_id", "period", column)
        .annotate(**_SUMS, part=Max("sector"))
        .order_by()
    ):
        key, sums = _unit_key(column, row[column]), _sums(row)
        sectors[key] = max(sectors.get(key, ""), row["part"] or "")
        for where in ((row["indicator_id"], row["period"]), (row["indicator_id"], None)):
            table = tables.setdefault(where, {})
            table[key] = table.get(key, _none()) + sums
    hidden: dict[int, frozenset[str]] = {}
    for (pk, _period), table in tables.items():
        keyed = list(table.items())
        picked = [i for i, (key, _sums) in enumerate(keyed) if chosen(key, sectors[key])]
        if not picked:
            continue
        shown = _protected(indicators[pk], keyed)
        # Every "–" counts, the "all under five" of rule 5 too: the unit's own "<5" under a total of "<5"
        # would split the few further (four organisations of "<5" under a total of 4 are 1 each).
        kinds = frozenset(kind for kind in WITHHELD_KINDS for i in picked if getattr(shown[i], kind) in texts)
        if kinds:
            hidden[pk] = hidden.get(pk, frozenset()) | kinds
    return hidden


# --- the funnel's limits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelLimits:
    """The lines of a funnel plot around the overall result (`centre`, in % or the mean's unit): for each
    denominator in `n`, the 95 % and 99.8 % limits (normal approximation to the binomial for a share,
    clipped to 0–100 %; the standard error of the mean for a mean)."""

    centre: float
    n: list[int]
    low95: list[float]
    high95: list[float]
    low998: list[float]
    high998: list[float]

    def as_data(self) -> dict[str, Any]:
        return {
            "centre": round(self.centre, 2),
            "n": self.n,
            "low95": [round(v, 2) for v in self.low95],
            "high95": [round(v, 2) for v in self.high95],
            "low998": [round(v, 2) for v in self.low998],
            "high998": [round(v, 2) for v in self.high998],
        }


def funnel_limit(*, centre: float, spread: float, n: int, z: float, bounded: bool) -> tuple[float, float]:
    """(low, high) for a unit of `n`: centre ± z × spread / √n. `spread` is √(p(1−p)) × 100 for a share in
    %, the standard deviation for a mean; a share's limits stay within 0–100 %."""
    half = z * spread / math.sqrt(n)
    low, high = centre - half, centre + half
    if bounded:
        low, high = max(low, 0.0), min(high, 100.0)
    return low, high


def _centre_spread(indicator: Indicator, total: Sums) -> tuple[float, float, bool]:
    """The funnel's centre (the overall result, in % or the mean's unit), its spread (√(p(1−p)) × 100 for a
    share, the standard deviation for a mean) and whether the limits stay within 0–100 %."""
    if _is_mean(indicator):
        centre = total.value_sum / total.denominator
        variance = (
            (total.value_sumsq - total.value_sum**2 / total.denominator) / (total.denominator - 1)
            if total.denominator > 1
            else 0.0
        )
        return centre, math.sqrt(max(variance, 0.0)), False
    share = total.numerator / total.denominator
    return share * 100, math.sqrt(share * (1 - share)) * 100, True


def funnel_limits(*, indicator: Indicator, total: Sums, largest: int) -> FunnelLimits | None:
    """The limits for denominators from the smallest shown (5) to a little beyond the largest organisation,
    or None where the overall result is hidden or there is nothing to draw."""
    if total.denominator < suppression.MIN_COUNT or largest < suppression.MIN_COUNT:
        return None
    centre, spread, bounded = _centre_spread(indicator, total)
    ns = _funnel_ns(suppression.MIN_COUNT, -(-largest * 11 // 10))
    limits95 = [funnel_limit(centre=centre, spread=spread, n=n, z=Z_95, bounded=bounded) for n in ns]
    limits998 = [funnel_limit(centre=centre, spread=spread, n=n, z=Z_998, bounded=bounded) for n in ns]
    return FunnelLimits(
        centre=centre,
        n=ns,
        low95=[low for low, _high in limits95],
        high95=[high for _low, high in limits95],
        low998=[low for low, _high in limits998],
        high998=[high for _low, high in limits998],
    )


def _funnel_ns(smallest: int, largest: int) -> list[int]:
    """Denominators spread evenly on a log scale (the limits bend most for small units)."""
    if largest <= smallest:
        return [smallest]
    ratio = (largest / smallest) ** (1 / (FUNNEL_POINTS - 1))
    return sorted({round(smallest * ratio**i) for i in range(FUNNEL_POINTS)} | {largest})


ABOVE = "above"
BELOW = "below"


def _placed(indicator: Indicator, row: Row, total: Sums) -> Row:
    """The row marked where its shown result lies outside the 95 % limits for its denominator."""
    if row.value is None or row.n is None or total.denominator < suppression.MIN_COUNT:
        return row
    centre, spread, bounded = _centre_spread(indicator, total)
    low, high = funnel_limit(centre=centre, spread=spread, n=row.n, z=Z_95, bounded=bounded)
    outside = ABOVE if row.value > high else BELOW if row.value < low else ""
    if not outside:
        return row
    better = (outside == ABOVE) == (indicator.direction == Direction.AT_LEAST)
    return replace(row, outside=outside, better=better)


# --- the dashboard ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorReport:
    """One indicator's card: its result over the whole period and its series over time (a shown table of
    periods); `chart` holds the chart's data (shown values only). No organisation: the funnel across
    organisations is on the indicator's own page (`funnel`)."""

    indicator: Indicator
    total: Row
    series: list[Row]
    chart: dict[str, Any]

    @property
    def unit(self) -> str:
        return "" if _is_mean(self.indicator) else "%"

    @property
    def is_mean(self) -> bool:
        return _is_mean(self.indicator)


def _active_indicators() -> list[Indicator]:
    return list(Indicator.objects.filter(is_active=True).order_by("position", "key"))


def _held(filters: Filters, held: Mapping[int, frozenset[str]] | None) -> Mapping[int, frozenset[str]]:
    """`withheld` for the filters, unless the caller worked it out already for another part of the same
    page (an indicator's page shows its funnel and a breakdown; the CSV the cards and the funnels)."""
    return withheld(filters=filters) if held is None else held


def dashboard(*, filters: Filters, held: Mapping[int, frozenset[str]] | None = None) -> list[IndicatorReport]:
    """Every active indicator's card under the filters: two queries (the indicators, the series grouped by
    indicator and period), whatever the data size; the cards' size grows with the periods only."""
    indicators = _active_indicators()
    trunc = _TRUNC[filters.by]
    cells = filters.summary().filter(indicator__is_active=True)
    by_period: dict[tuple[int, date], Sums] = {}
    for row in (
        cells.annotate(period=trunc("month")).values("indicator_id", "period").annotate(**_SUMS).order_by()
    ):
        by_period[(row["indicator_id"], row["period"])] = _sums(row)
    hidden = _held(filters, held)
    return [
        _card(
            indicator,
            filters=filters,
            periods=[(p, by_period.get((indicator.pk, p), _none())) for p in filters.periods()],
            withheld=hidden.get(indicator.pk, frozenset()),
        )
        for indicator in indicators
    ]


def _card(
    indicator: Indicator, *, filters: Filters, periods: list[tuple[date, Sums]], withheld: frozenset[str]
) -> IndicatorReport:
    total = sum((sums for _period, sums in periods), _none())
    series, shown_total = _shown_rows(
        indicator,
        [(f"{p:%Y-%m}", period_label(p, filters.by), sums) for p, sums in periods],
        total,
        withheld=withheld,
    )
    mean = _is_mean(indicator)
    chart = _chart_base(indicator) | {
        "series": {
            "labels": [row.label for row in series],
            "values": [None if row.value is None else round(row.value, 2) for row in series],
            "low": [None if row.low is None else round(row.low, 2) for row in series],
            "high": [None if row.high is None else round(row.high, 2) for row in series],
        },
        "words": {
            "result": gettext("Mean") if mean else gettext("Share (%)"),
            "standard": gettext("Standard"),
        },
    }
    return IndicatorReport(indicator=indicator, total=shown_total, series=series, chart=chart)


def _chart_base(indicator: Indicator) -> dict[str, Any]:
    return {
        "measure": indicator.measure,
        "unit": "" if _is_mean(indicator) else "%",
        "standard": float(indicator.standard),
        "direction": indicator.direction,
    }


# --- one indicator across organisations (the funnel) -------------------------------------------------------


@dataclass(frozen=True)
class FunnelReport:
    """One indicator across its reporting organisations: every organisation's shown row (in name order;
    `sort_organisations` orders them for a page), the total, the limits, and the chart's data — every
    shown organisation, however many (the table on the page may be split into pages, the chart never)."""

    indicator: Indicator
    total: Row
    rows: list[Row]
    limits: FunnelLimits | None
    chart: dict[str, Any]

    @property
    def is_mean(self) -> bool:
        return _is_mean(self.indicator)

    @property
    def by_municipality(self) -> bool:
        """The dots are municipalities (an indicator counted towards the patient's home municipality)."""
        return _by_municipality(self.indicator)

    @property
    def outside(self) -> list[Row]:
        return [row for row in self.rows if row.outside]


_UNIT_VALUES = ("organisation_id", "organisation__name")


def _by_municipality(indicator: Indicator) -> bool:
    """An indicator counted towards the patient's home municipality has no organisation in its cells:
    its funnel's dots are the municipalities."""
    return indicator.reporting_unit == ReportingUnit.HOME_MUNICIPALITY


def _municipality_unit(code: str) -> tuple[str | None, str]:
    return (code or None), MUNICIPALITY_NAMES.get(code, code)


def funnel(
    *, indicator: Indicator, filters: Filters, held: Mapping[int, frozenset[str]] | None = None
) -> FunnelReport:
    """The indicator across its reporting units (organisations, or municipalities) under the filters: one
    GROUP BY (the names joined in)."""
    if _by_municipality(indicator):
        cells = filters.summary(by="municipality").filter(indicator=indicator)
        units = [
            (*_municipality_unit(row["municipality"]), _sums(row))
            for row in cells.values("municipality").annotate(**_SUMS).order_by()
        ]
    else:
        cells = filters.summary(by="organisation_id").filter(indicator=indicator)
        units = [
            (row["organisation_id"], row["organisation__name"] or "", _sums(row))
            for row in cells.values(*_UNIT_VALUES).annotate(**_SUMS).order_by()
        ]
    return _funnel(indicator, units, withheld=_held(filters, held).get(indicator.pk, frozenset()))


def funnels(*, filters: Filters, held: Mapping[int, frozenset[str]] | None = None) -> dict[int, FunnelReport]:
    """Every active indicator's funnel (by the indicator's pk) in two GROUP BYs (by organisation; by
    municipality for those counted towards it): the CSV."""
    indicators = _active_indicators()
    found: dict[int, list[tuple[Any, str, Sums]]] = {}
    by_municipality = [i.pk for i in indicators if _by_municipality(i)]
    for row in (
        filters.summary(by="organisation_id")
        .filter(indicator__is_active=True)
        .exclude(indicator__in=by_municipality)
        .values("indicator_id", *_UNIT_VALUES)
        .annotate(**_SUMS)
        .order_by()
    ):
        found.setdefault(row["indicator_id"], []).append(
            (row["organisation_id"], row["organisation__name"] or "", _sums(row))
        )
    if by_municipality:
        for row in (
            filters.summary(by="municipality")
            .filter(indicator__in=by_municipality)
            .values("indicator_id", "municipality")
            .annotate(**_SUMS)
            .order_by()
        ):
            found.setdefault(row["indicator_id"], []).append(
                (*_municipality_unit(row["municipality"]), _sums(row))
            )
    hidden = _held(filters, held)
    return {
        indicator.pk: _funnel(
            indicator, found.get(indicator.pk, []), withheld=hidden.get(indicator.pk, frozenset())
        )
        for indicator in indicators
    }


def _funnel(
    indicator: Indicator, units: list[tuple[Any, str, Sums]], *, withheld: frozenset[str]
) -> FunnelReport:
    """The funnel's table and chart: one row per unit (organisation or municipality: `units`)."""
    total = sum((sums for _pk, _name, sums in units), _none())
    municipal = _by_municipality(indicator)
    not_stated = gettext("Municipality not stated") if municipal else gettext("Organisation not stated")
    keyed = sorted(
        (
            # The keys the tables above a filter use (`_unit_key`): the same cells hidden alike.
            (
                _unit_key("municipality" if municipal else "organisation_id", pk),
                name if pk else not_stated,
                sums,
            )
            for pk, name, sums in units
        ),
        key=lambda item: (item[1].casefold(), item[0]),
    )
    rows, shown_total = _shown_rows(indicator, keyed, total, withheld=withheld)
    rows = _listed(rows, shown_total)
    limits = None
    points = [point for row in rows if (point := row.chart_point()) is not None]
    if shown_total.value is not None:
        rows = [_placed(indicator, row, total) for row in rows]
        limits = funnel_limits(
            indicator=indicator, total=total, largest=max((p["x"] for p in points), default=0)
        )
    mean = _is_mean(indicator)
    chart = _chart_base(indicator) | {
        "funnel": {"points": points, "limits": limits.as_data() if limits else None},
        "words": {
            "result": gettext("Mean") if mean else gettext("Share (%)"),
            "overall": gettext("All municipalities") if municipal else gettext("All organisations"),
            # xgettext:no-python-format  # noqa: ERA001 (not code: xgettext reads it)
            "limit95": gettext("95 % limits"),
            # xgettext:no-python-format  # noqa: ERA001 (not code: xgettext reads it)
            "limit998": gettext("99.8 % limits"),
            "organisation": gettext("Municipality") if municipal else gettext("Organisation"),
            "denominator": gettext("Number in the denominator"),
        },
    }
    return FunnelReport(indicator=indicator, total=shown_total, rows=rows, limits=limits, chart=chart)


class OrganisationOrder(models.TextChoices):
    """How the indicator's page orders its organisations."""

    OUTSIDE = "outside", gettext_lazy("Outside the limits first")
    DENOMINATOR = "denominator", gettext_lazy("Most patients first")
    RESULT = "result", gettext_lazy("Best result first")
    NAME = "name", gettext_lazy("By name")


def sort_organisations(report: FunnelReport, order: str) -> list[Row]:
    """The funnel's rows in the chosen order. Rows without a shown result come last (in name order), and
    "Organisation not stated" last of all. OUTSIDE: those outside the 95 % limits first — the worse side
    before the better — then the rest, each by most patients first; DENOMINATOR: most patients first;
    RESULT: the best result first (the standard's direction); NAME: by name."""
    at_least = report.indicator.direction == Direction.AT_LEAST

    def size(row: Row) -> int:
        return -(row.n or 0)

    def key(row: Row) -> tuple[Any, ...]:
        not_stated = row.key in ("", UNKNOWN_KEY)
        last = (not_stated, row.value is None)
        if order == OrganisationOrder.NAME:
            return (not_stated,)
        if order == OrganisationOrder.DENOMINATOR:
            return (*last, size(row))
        if order == OrganisationOrder.RESULT:
            value = row.value or 0.0
            return (*last, -value if at_least else value, size(row))
        place = 0 if row.better is False else 1 if row.better else 2
        return (*last, place, size(row))

    return sorted(report.rows, key=key)  # stable: name order within equal keys


# --- an indicator broken down -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """The difference between the best and the worst shown group (percentage points, or the mean's unit)."""

    best: Row
    worst: Row

    @property
    def size(self) -> float:
        return abs((self.best.value or 0.0) - (self.worst.value or 0.0))


@dataclass(frozen=True)
class BreakdownReport:
    indicator: Indicator
    by: str
    total: Row
    groups: list[Row]
    gap: Gap | None
    chart: dict[str, Any]

    @property
    def protected(self) -> bool:
        return self.by in PROTECTED_BREAKDOWNS

    @property
    def by_label(self) -> str:
        return str(Breakdown(self.by).label)

    @property
    def is_mean(self) -> bool:
        return _is_mean(self.indicator)


def group_label(by: str, value: str) -> str:
    if value == UNKNOWN:
        return gettext("Not stated")
    if by == Breakdown.MUNICIPALITY:
        return MUNICIPALITY_NAMES.get(value, value)
    choices = _GROUP_CHOICES[by]
    return str(choices(value).label) if value in choices.values else value


def _group_order(by: str, value: str) -> tuple[int, str]:
    if value == UNKNOWN:
        return (2, "")
    if by == Breakdown.MUNICIPALITY:
        return (0, MUNICIPALITY_NAMES.get(value, value).casefold())
    values = list(_GROUP_CHOICES[by].values)
    return (0, f"{values.index(value):03d}") if value in values else (1, value)


def breakdown(
    *, indicator: Indicator, filters: Filters, by: str, held: Mapping[int, frozenset[str]] | None = None
) -> BreakdownReport:
    """The indicator under the filters, one row per group of `by` (a Breakdown), in one query; the gap
    between the best and worst group is taken over shown groups only (never "not stated")."""
    column = BREAKDOWN_FIELDS[Breakdown(by)]
    found = {
        row[column]: _sums(row)
        for row in filters.summary(by=column)
        .filter(indicator=indicator)
        .values(column)
        .annotate(**_SUMS)
        .order_by()
    }
    values = sorted(found, key=lambda value: _group_order(by, value))
    total = sum(found.values(), _none())
    groups, shown_total = _shown_rows(
        indicator,
        [(value or UNKNOWN_KEY, group_label(by, value), found[value]) for value in values],
        total,
        withheld=_held(filters, held).get(indicator.pk, frozenset()),
    )
    groups = _listed(groups, shown_total)
    known = [row for row in groups if row.value is not None and row.key != UNKNOWN_KEY]
    gap = None
    if len(known) >= 2:
        ordered = sorted(known, key=lambda row: row.value or 0.0)
        higher_is_better = indicator.direction == Direction.AT_LEAST
        best, worst = (ordered[-1], ordered[0]) if higher_is_better else (ordered[0], ordered[-1])
        gap = Gap(best=best, worst=worst)
    chart = {
        "measure": indicator.measure,
        "unit": "" if _is_mean(indicator) else "%",
        "standard": float(indicator.standard),
        "direction": indicator.direction,
        "groups": {
            "labels": [row.label for row in groups],
            "values": [None if row.value is None else round(row.value, 2) for row in groups],
        },
        "words": {
            "result": gettext("Mean") if _is_mean(indicator) else gettext("Share (%)"),
            "standard": gettext("Standard"),
        },
    }
    return BreakdownReport(indicator=indicator, by=by, total=shown_total, groups=groups, gap=gap, chart=chart)


def indicator_by_key(key: str) -> Indicator | None:
    return Indicator.objects.filter(key=key, is_active=True).first()


# --- the summary refresh's status ------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshStatus:
    """The newest refresh (any state) and the newest finished one (when the numbers shown were made)."""

    latest: IndicatorRefresh | None
    made: IndicatorRefresh | None

    @property
    def running(self) -> bool:
        return self.latest is not None and self.latest.state in (RefreshState.QUEUED, RefreshState.RUNNING)

    @property
    def failed(self) -> bool:
        return self.latest is not None and self.latest.state == RefreshState.FAILED


def refresh_status() -> RefreshStatus:
    """One query: the newest run and the newest finished run."""
    newest = IndicatorRefresh.objects.order_by("-created_at", "-id").values("pk")[:1]
    newest_done = (
        IndicatorRefresh.objects.filter(state=RefreshState.DONE)
        .order_by("-finished_at", "-id")
        .values("pk")[:1]
    )
    runs = list(IndicatorRefresh.objects.filter(Q(pk__in=Subquery(newest)) | Q(pk__in=Subquery(newest_done))))
    latest = max(runs, key=lambda run: (run.created_at, run.pk), default=None)
    made = next((run for run in runs if run.state == RefreshState.DONE), None)
    return RefreshStatus(latest=latest, made=made)


# --- numbers as text (the CSV: Danish Excel reads a decimal comma) ----------------------------------------


def decimal_comma(value: float | Decimal | None, places: int = 1) -> str:
    if value is None:
        return ""
    return f"{float(value):.{places}f}".replace(".", ",")
