"""Suppression across the dashboard's views: a cell hidden ("–") in one table is never shown as a number in
another. The attack this guards against: the funnel hides an organisation's numbers as the complement of a
small one; choosing that organisation in the filter gave its numbers, and the total minus the shown
organisations minus it gave the small one. Now a filter on a unit the table above hides shows nothing
(`reports.withheld`), over the whole period and in each period; and every table is protected in the order
of its units' keys, so the same cells are hidden alike in every view and language.

What this does not claim, and so does not test (quality.suppression's docstring, docs/architecture.md
"Quality"): views over different period ranges (a quarter's card against the half year's series, two
ranges' difference), and the breakdowns under a filter against those without (an organisation's education
groups against everyone's, the organisation × municipality table seen from both sides) are each
protected on their own, so the same cells can be hidden in one and shown in the other."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any

import pytest
from django.utils import translation

from pathways.choices import Sector
from pathways.models import Organisation
from quality import reports, summaries
from quality.choices import Breakdown
from quality.models import Indicator, IndicatorCell
from quality.suppression import HIDDEN, SMALL

REHABILITATION = "rehabilitation-plan-discharge-day"  # counted towards the discharging hospital
HALF_YEAR = reports.Filters(by="quarter", first=date(2026, 1, 1), last=date(2026, 6, 1))
KINDS = ("numerator", "denominator", "missing")


def _saved(rows: Iterable[IndicatorCell]) -> list[IndicatorCell]:
    """The cells, saved, with their totals one level up (as the refresh writes them)."""
    cells = IndicatorCell.objects.bulk_create(rows)
    summaries.totals_refresh()
    return cells


def _organisations(count: int) -> list[Organisation]:
    return [
        Organisation.objects.create(name=f"Sygehus {i}", sector=Sector.HOSPITAL, sor_code=f"77{i:02d}")
        for i in range(count)
    ]


def _cells(rows: list[dict[str, Any]]) -> list[IndicatorCell]:
    indicator = Indicator.objects.get(key=REHABILITATION)
    defaults = {"month": date(2026, 1, 1), "municipality": "265", "sex": "female", "age_band": "65-79"}
    return _saved(
        IndicatorCell(
            indicator=indicator,
            sector=row["organisation"].sector if row["organisation"] else "",
            **(defaults | row),
        )
        for row in rows
    )


# --- the attack, by hand -----------------------------------------------------------------------------------


@pytest.fixture
def funnel_with_a_complement(db):
    """Four hospitals in Q1 2026: 100, 20, 3 (small) and 7 discharges. The funnel shows the 3 as
    "<5" and hides the 7 as its complement; the total, 130, is on every output."""
    big, middle, small, complement = _organisations(4)
    _cells(
        [
            {"organisation": big, "denominator": 100, "numerator": 90},
            {"organisation": middle, "denominator": 20, "numerator": 18},
            {"organisation": small, "denominator": 3, "numerator": 1},
            {"organisation": complement, "denominator": 7, "numerator": 6},
        ]
    )
    return big, middle, small, complement


def _recover_small(filters_by_unit) -> int | None:
    """The attacker: the total, minus every organisation the funnel shows, minus the hidden one's own
    total from its filtered card. None when the filtered card shows no number."""
    indicator = Indicator.objects.get(key=REHABILITATION)
    funnel = reports.funnel(indicator=indicator, filters=HALF_YEAR)
    hidden = [row for row in funnel.rows if row.denominator == HIDDEN]
    assert len(hidden) == 1, "the funnel hides one organisation as the complement"
    shown = sum(int(row.denominator) for row in funnel.rows if row.denominator not in (HIDDEN, SMALL))
    card = next(
        c for c in reports.dashboard(filters=filters_by_unit(hidden[0].key)) if c.indicator == indicator
    )
    if card.total.denominator in (HIDDEN, SMALL):
        return None
    return int(funnel.total.denominator) - shown - int(card.total.denominator)


def _by_organisation(key: str) -> reports.Filters:
    choice = reports.organisation_choice(Organisation.objects.get(pk=int(key)))
    return replace(HALF_YEAR, organisation=choice)


def test_choosing_the_organisation_the_funnel_hid_shows_nothing(funnel_with_a_complement):
    _big, _middle, _small, complement = funnel_with_a_complement
    assert _recover_small(_by_organisation) is None
    indicator = Indicator.objects.get(key=REHABILITATION)
    filters = _by_organisation(str(complement.pk))
    card = next(c for c in reports.dashboard(filters=filters) if c.indicator == indicator)
    assert card.total.withheld
    assert {row.denominator for row in card.series} == {HIDDEN}
    assert all(value is None for value in card.chart["series"]["values"])
    assert reports.funnel(indicator=indicator, filters=filters).total.withheld
    breakdown = reports.breakdown(indicator=indicator, filters=filters, by=Breakdown.SEX)
    assert breakdown.gap is None
    assert breakdown.groups == []  # not even which groups have patients


def test_without_the_check_the_attacker_gets_the_small_cell(funnel_with_a_complement, monkeypatch):
    """The control: the attack is real. Without `withheld` the filtered card gives the complement's 7,
    and the small organisation's 3 follows."""
    monkeypatch.setattr(reports, "withheld", lambda **_given: {})
    assert _recover_small(_by_organisation) == 3


def test_the_organisations_the_funnel_shows_are_shown_under_the_filter(funnel_with_a_complement):
    big, *_rest = funnel_with_a_complement
    indicator = Indicator.objects.get(key=REHABILITATION)
    card = next(
        c for c in reports.dashboard(filters=_by_organisation(str(big.pk))) if c.indicator == indicator
    )
    assert not card.total.withheld
    assert (card.total.numerator, card.total.denominator) == ("90", "100")


def test_a_unit_hidden_in_one_period_is_not_shown_in_that_period_either(db):
    """Q1: the unit is the funnel's complement; Q2: it is large. Its card over the half year would show
    Q1 in its series, the cell the funnel for Q1 alone hides: the whole card is withheld."""
    big, middle, small, complement = _organisations(4)
    _cells(
        [
            {"organisation": big, "denominator": 60, "numerator": 50},
            {"organisation": middle, "denominator": 20, "numerator": 18},
            {"organisation": middle, "month": date(2026, 4, 1), "denominator": 20, "numerator": 18},
            {"organisation": small, "denominator": 2, "numerator": 2},
            {"organisation": complement, "denominator": 6, "numerator": 5},
            {"organisation": complement, "month": date(2026, 4, 1), "denominator": 90, "numerator": 80},
            {"organisation": big, "month": date(2026, 4, 1), "denominator": 70, "numerator": 60},
        ]
    )
    indicator = Indicator.objects.get(key=REHABILITATION)
    first_quarter = replace(HALF_YEAR, last=date(2026, 3, 1))
    q1 = {row.key: row for row in reports.funnel(indicator=indicator, filters=first_quarter).rows}
    assert q1[str(complement.pk)].denominator == HIDDEN
    whole = {row.key: row for row in reports.funnel(indicator=indicator, filters=HALF_YEAR).rows}
    assert whole[str(complement.pk)].denominator == "96"  # over the half year it is shown
    card = next(
        c for c in reports.dashboard(filters=_by_organisation(str(complement.pk))) if c.indicator == indicator
    )
    assert card.total.withheld


def test_a_municipality_hidden_in_the_breakdown_is_not_shown_when_chosen(db):
    (unit,) = _organisations(1)
    _cells(
        [
            {"organisation": unit, "municipality": "265", "denominator": 80, "numerator": 70},
            {"organisation": unit, "municipality": "316", "denominator": 4, "numerator": 4},
            {"organisation": unit, "municipality": "259", "denominator": 9, "numerator": 7},
        ]
    )
    indicator = Indicator.objects.get(key=REHABILITATION)
    table = reports.breakdown(indicator=indicator, filters=HALF_YEAR, by=Breakdown.MUNICIPALITY)
    hidden = [row.key for row in table.groups if row.denominator == HIDDEN]
    assert hidden == ["259"]
    card = next(
        c
        for c in reports.dashboard(filters=replace(HALF_YEAR, municipality="259"))
        if c.indicator == indicator
    )
    assert card.total.withheld
    shown = next(
        c
        for c in reports.dashboard(filters=replace(HALF_YEAR, municipality="265"))
        if c.indicator == indicator
    )
    assert shown.total.denominator == "80"


# --- every view of random data ------------------------------------------------------------------------------


def _random_cells(chooser: random.Random, organisations: list[Organisation]) -> list[IndicatorCell]:
    rows = []
    for organisation in organisations:
        for municipality in chooser.sample(["265", "316", "259"], chooser.randint(1, 3)):
            for month in chooser.sample([date(2026, m, 1) for m in range(1, 7)], chooser.randint(1, 4)):
                for sex in ("female", "male"):
                    for education in chooser.sample(["basic", "vocational", ""], chooser.randint(1, 2)):
                        d = chooser.choice([0, 1, 2, 3, 4, 6, 9, chooser.randint(5, 40)])
                        rows.append(
                            {
                                "organisation": organisation,
                                "municipality": municipality,
                                "month": month,
                                "sex": sex,
                                "education": education,
                                "denominator": d,
                                "numerator": chooser.randint(0, d),
                                "missing": chooser.choice([0, 0, 1, 3, 6]),
                            }
                        )
    return _cells(rows)


def _members(cells: list[IndicatorCell], filters: reports.Filters) -> list[IndicatorCell]:
    return [
        c
        for c in cells
        if filters.first <= c.month <= filters.last
        and (filters.organisation is None or c.organisation_id == filters.organisation.pk)
        and (not filters.municipality or c.municipality == filters.municipality)
        and (not filters.sector or c.sector == filters.sector)
    ]


def _group_of(cell: IndicatorCell, *, column: str) -> str:
    return getattr(cell, column) or reports.UNKNOWN_KEY


def _period_of(cell: IndicatorCell) -> str:
    return f"{reports.period_start(cell.month, 'quarter'):%Y-%m}"


def _outputs(indicator, filters, *, funnel: bool, by: list[str]):
    """Every shown row under `filters`, each with the cells it adds up (a set of summary-row pks); none
    where the filters are withheld (nothing shown, nothing hidden to protect another cell)."""
    card = next(c for c in reports.dashboard(filters=filters) if c.indicator == indicator)
    if card.total.withheld:
        return
    tables: list[tuple[list[reports.Row], Callable[[IndicatorCell], str]]] = [(card.series, _period_of)]
    if funnel:
        rows = reports.funnel(indicator=indicator, filters=filters).rows
        tables.append((rows, lambda cell: str(cell.organisation_id)))
    for dimension in by:
        column = reports.BREAKDOWN_FIELDS[Breakdown(dimension)]
        report = reports.breakdown(indicator=indicator, filters=filters, by=dimension)
        tables.append((report.groups, partial(_group_of, column=column)))
    yield card.total, None
    for rows, key_of in tables:
        for row in rows:
            yield row, key_of


@pytest.mark.parametrize("seed", range(6))
def test_no_cell_is_hidden_in_one_view_and_shown_in_another_in_random_summaries(db, seed):
    """Random summaries. For each period (the half year, each quarter): the overview's cards, the funnel
    and every breakdown without a filter, and the card of every organisation, municipality and sector
    chosen in the filter. The same set of summary rows never shows a number in one and "–" in another.
    (A "<5" in one and a "–" in another may happen where the same rows make up two different tables by
    chance; it tells no exact count.)"""
    chooser = random.Random(seed)
    organisations = _organisations(4)
    organisations[3].sector = Sector.MUNICIPALITY  # two sectors
    organisations[3].save()
    cells = _random_cells(chooser, organisations)
    indicator = Indicator.objects.get(key=REHABILITATION)
    ranges = [
        HALF_YEAR,
        replace(HALF_YEAR, last=date(2026, 3, 1)),
        replace(HALF_YEAR, first=date(2026, 4, 1)),
    ]
    hidden_somewhere = False
    for period in ranges:
        views = [(period, True, list(Breakdown.values))]
        views += [
            (replace(period, organisation=reports.organisation_choice(o)), False, []) for o in organisations
        ]
        views += [(replace(period, municipality=m), False, []) for m in ("265", "316", "259")]
        views += [
            (replace(period, sector=sector), False, []) for sector in (Sector.HOSPITAL, Sector.MUNICIPALITY)
        ]
        seen: dict[tuple[frozenset[int], str], set[str]] = {}
        for filters, funnel, by in views:
            members = _members(cells, filters)
            # A count withheld under the filters is "–" everywhere in the view: it protects nothing.
            shown_kinds = [
                k for k in KINDS if k not in reports.withheld(filters=filters).get(indicator.pk, ())
            ]
            for row, key_of in _outputs(indicator, filters, funnel=funnel, by=by):
                found = frozenset(c.pk for c in members if key_of is None or key_of(c) == row.key)
                if found:
                    for kind in shown_kinds:
                        seen.setdefault((found, kind), set()).add(getattr(row, kind))
        clashes = [
            (period.describe(), sorted(found), kind, texts)
            for (found, kind), texts in seen.items()
            if HIDDEN in texts and texts - {HIDDEN, SMALL}
        ]
        assert clashes == []
        hidden_somewhere |= any(HIDDEN in texts for texts in seen.values())
    assert hidden_somewhere, "the data exercised complementary suppression"


def test_the_same_cells_are_hidden_in_every_language(db):
    """The tables are protected in the order of their units' keys, not of their names: "Organisation ikke
    oplyst" sorts before "Organisation Nord" in Danish and "Organisation not stated" after it in English,
    and of two equal cells the complement must not move with the language."""
    big, small = _organisations(2)
    north = Organisation.objects.create(name="Organisation Nord", sector=Sector.HOSPITAL, sor_code="7799")
    _cells(
        [
            {"organisation": big, "denominator": 100, "numerator": 90},
            {"organisation": small, "denominator": 2, "numerator": 1},
            {"organisation": north, "denominator": 7, "numerator": 6},
            {"organisation": None, "denominator": 7, "numerator": 6},
        ]
    )
    indicator = Indicator.objects.get(key=REHABILITATION)
    shown = {}
    for language in ("da", "en"):
        with translation.override(language):
            rows = reports.funnel(indicator=indicator, filters=HALF_YEAR).rows
        shown[language] = {row.key: row.denominator for row in rows}
    assert sorted(shown["da"].values()) == ["100", "7", SMALL, HIDDEN]
    assert shown["da"] == shown["en"]


def test_a_total_under_five_is_not_split_by_choosing_each_unit(db):
    """Four hospitals, one patient each without the plan in time: the numerators' total is "<5", so the
    funnel hides every numerator ("–": 0–4). Each hospital's own card must not say "<5" — four "<5" under a
    total of 4 are 1 each — nor 0: the numerator is withheld under the filter."""
    hospitals = _organisations(4)
    _cells([{"organisation": h, "denominator": 20, "numerator": 1} for h in hospitals])
    indicator = Indicator.objects.get(key=REHABILITATION)
    funnel = reports.funnel(indicator=indicator, filters=HALF_YEAR)
    assert {row.numerator for row in funnel.rows} == {HIDDEN}
    for hospital in hospitals:
        card = next(
            c
            for c in reports.dashboard(filters=_by_organisation(str(hospital.pk)))
            if c.indicator == indicator
        )
        assert card.total.numerator == HIDDEN
        assert card.total.denominator == "20"
        assert card.total.value is None


def test_a_total_under_five_lists_no_units(db):
    """Three hospitals with one patient each: a total of "<5". Listing them would say each has someone
    (three "–" under a total of 3 are 1 each): the funnel and the breakdowns list none."""
    hospitals = _organisations(3)
    _cells([{"organisation": h, "denominator": 1, "numerator": 1, "sex": "male"} for h in hospitals])
    indicator = Indicator.objects.get(key=REHABILITATION)
    funnel = reports.funnel(indicator=indicator, filters=HALF_YEAR)
    assert funnel.total.denominator == SMALL
    assert funnel.rows == []
    by_sex = reports.breakdown(indicator=indicator, filters=HALF_YEAR, by=Breakdown.SEX)
    assert by_sex.groups == []


def test_a_sector_filter_does_not_give_away_a_small_organisation_of_the_sector(db):
    """Hospitals A (100) and B (3), municipal units C (7) and D (50): the funnel shows B as "<5" and hides
    C as its complement. The card for hospitals would show 103, and 103 − A = B; the one for municipal units
    57 − D = C. A sector whose organisations the funnel hides (or shows as "<5") shows none of that count."""
    a, b = _organisations(2)
    c = Organisation.objects.create(name="Hjemmeplejen C", sector=Sector.MUNICIPALITY, sor_code="7790")
    d = Organisation.objects.create(name="Hjemmeplejen D", sector=Sector.MUNICIPALITY, sor_code="7791")
    _cells(
        [
            {"organisation": a, "denominator": 100, "numerator": 90},
            {"organisation": b, "denominator": 3, "numerator": 2},
            {"organisation": c, "denominator": 7, "numerator": 6},
            {"organisation": d, "denominator": 50, "numerator": 45},
        ]
    )
    indicator = Indicator.objects.get(key=REHABILITATION)
    shown = {row.key: row.denominator for row in reports.funnel(indicator=indicator, filters=HALF_YEAR).rows}
    assert shown == {str(a.pk): "100", str(b.pk): SMALL, str(c.pk): HIDDEN, str(d.pk): "50"}
    for sector in (Sector.HOSPITAL, Sector.MUNICIPALITY):
        card = next(
            c
            for c in reports.dashboard(filters=replace(HALF_YEAR, sector=sector))
            if c.indicator == indicator
        )
        assert card.total.withheld, sector
    # Without the small hospital every organisation is shown, and so are the sectors.
    IndicatorCell.objects.filter(organisation=b).delete()
    summaries.totals_refresh()
    card = next(
        c
        for c in reports.dashboard(filters=replace(HALF_YEAR, sector=Sector.HOSPITAL))
        if c.indicator == indicator
    )
    assert card.total.denominator == "100"
