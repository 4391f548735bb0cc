"""The quality dashboard (quality.reports, quality/views/dashboard.py): only the quality role sees it; it
never shows a patient; every count and percentage in its HTML, CSV and chart data has passed suppression;
the filters narrow the numbers to what a hand-built summary adds up to; the funnel's limits; the overview
stays the same size however many organisations report (their funnel is on the indicator's page, sorted and
split into pages); the organisation filter offers only organisations with numbers; a fixed number of
queries however many summary rows there are; the CSV as Danish Excel reads it; the quality user starts on
the dashboard.

The numbers come from IndicatorCell rows built here, so each expected number is worked out in the test."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from pathways.choices import Sector
from pathways.models import Organisation, User
from quality import reports, summaries
from quality.choices import Breakdown, RefreshState
from quality.models import Indicator, IndicatorCell, IndicatorRefresh
from tests.conftest import make_user, sign_in

HOME_NURSING = "home-nursing-24h"  # counted towards the patient's home municipality
REHABILITATION = "rehabilitation-plan-discharge-day"  # counted towards the discharging hospital
WHO5_MEAN = "who5-mean"
# Two whole quarters: Q1 and Q2 2026.
PERIOD = {"by": "quarter", "from": "2026-01", "to": "2026-06"}


def _saved(rows: Iterable[IndicatorCell]) -> list[IndicatorCell]:
    """The cells, saved, with their totals one level up (as the refresh writes them)."""
    cells = IndicatorCell.objects.bulk_create(rows)
    summaries.totals_refresh()
    return cells


@pytest.fixture
def quality_user(world) -> User:
    """A quality consultant: the dashboard's permission through a group, and no organisation."""
    group = Group.objects.create(name="Kvalitet (test)")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="quality", codename="view_dashboard")
    )
    user = make_user("kvalitet", None)
    user.groups.add(group)
    return user


@pytest.fixture
def quality_client(client, quality_user):
    """Signed in as the quality user, in English (the language switch's cookie): the tests read words."""
    client.cookies["django_language"] = "en"
    return sign_in(client, quality_user)


def _cell(indicator, organisation, *, month=date(2026, 1, 1), municipality="265", **values) -> IndicatorCell:
    defaults = {"sex": "female", "age_band": "65-79", "denominator": 0, "numerator": 0, "missing": 0}
    return IndicatorCell(
        indicator=indicator,
        organisation=organisation,
        sector=organisation.sector if organisation else "",
        month=month,
        municipality=municipality,
        **(defaults | values),
    )


def _indicator(key: str = HOME_NURSING) -> Indicator:
    return Indicator.objects.get(key=key)


@pytest.fixture
def cells(world) -> list[IndicatorCell]:
    """Home nursing within 24 hours (standard ≥ 90 %), Q1–Q2 2026, reported per municipality:
    Roskilde's home nursing (patients of Roskilde, 265) and Holbæk's (patients of Holbæk, 316).

    Roskilde: Jan 40/50 (missing 6), Feb 30/30, Apr 45/50 → Q1 70/80, Q2 45/50, all 115/130.
    Holbæk:   Jan 8/10, May 17/20                                  → Q1 8/10,  Q2 17/20, all 25/30.
    A small group besides: Roskilde, men, Mar 2/3 (a cell of 1–4 that must never show).
    """
    indicator = _indicator()
    rows = [
        _cell(indicator, world.municipality, month=date(2026, 1, 1), denominator=50, numerator=40, missing=6),
        _cell(indicator, world.municipality, month=date(2026, 2, 1), denominator=30, numerator=30),
        _cell(indicator, world.municipality, month=date(2026, 4, 1), denominator=50, numerator=45),
        _cell(
            indicator,
            world.unrelated,
            month=date(2026, 1, 1),
            municipality="316",
            denominator=10,
            numerator=8,
        ),
        _cell(
            indicator,
            world.unrelated,
            month=date(2026, 5, 1),
            municipality="316",
            denominator=20,
            numerator=17,
        ),
        _cell(indicator, world.municipality, month=date(2026, 3, 1), sex="male", denominator=3, numerator=2),
    ]
    return _saved(rows)


# --- who may see it -------------------------------------------------------------------------------------


def _dashboard_urls() -> list[str]:
    return [
        reverse("quality:dashboard"),
        reverse("quality:dashboard-indicator", args=[HOME_NURSING]),
        reverse("quality:dashboard-csv"),
        reverse("quality:dashboard-refresh-partial"),
    ]


@pytest.mark.parametrize("role", ["coordinator", "hospital_doctor", "home_nurse", "gp_doctor", "outsider"])
def test_staff_without_the_quality_role_are_refused(client, world, role):
    sign_in(client, getattr(world, role))
    for url in _dashboard_urls():
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("quality:dashboard-refresh")).status_code == 403
    assert not IndicatorRefresh.objects.exists()
    # The page says what is missing, not to ask the plan's coordinator (who may be the one refused).
    client.cookies["django_language"] = "en"
    words = client.get(reverse("quality:dashboard")).content.decode()
    assert "for staff with the quality role" in words
    assert "plan's coordinator" not in words


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for url in _dashboard_urls():
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_the_quality_user_sees_the_dashboard_but_no_plan(quality_client, world, cells):
    for url in _dashboard_urls():
        assert quality_client.get(url).status_code == 200, url
    # No organisation: the plans stay closed to her.
    assert quality_client.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).status_code == 404


def test_the_navigation_links_to_the_dashboard_only_for_the_quality_role(client, world, quality_user):
    url = reverse("quality:dashboard")
    menu = sign_in(client, quality_user).get(url).content.decode().split('class="container ff-tabs"')[1]
    menu = menu.split("</nav>")[0]
    assert f'href="{url}"' in menu
    # The quality role alone: no worklist or caseload in the menu, both would always be empty.
    assert f'href="{reverse("coordination:worklist")}"' not in menu
    assert f'href="{reverse("pathways:caseload")}"' not in menu
    client.logout()
    page = sign_in(client, world.coordinator).get(reverse("pathways:caseload")).content.decode()
    assert f'href="{url}"' not in page
    assert f'href="{reverse("coordination:worklist")}"' in page


def test_an_unknown_indicator_is_not_found(quality_client, world):
    assert quality_client.get(reverse("quality:dashboard-indicator", args=["no-such"])).status_code == 404


# --- no patient identity, nothing small ------------------------------------------------------------------


def _every_output(client, indicator_key: str = HOME_NURSING) -> dict[str, str]:
    """Every page and file the dashboard makes under the test's period: the dashboard, each breakdown
    page and its CSV, the dashboard's CSV."""
    outputs = {"dashboard": client.get(reverse("quality:dashboard"), PERIOD).content.decode()}
    outputs["csv"] = client.get(reverse("quality:dashboard-csv"), PERIOD).content.decode("utf-8-sig")
    for by in Breakdown.values:
        page = reverse("quality:dashboard-indicator", args=[indicator_key])
        outputs[f"page {by}"] = client.get(page, PERIOD | {"breakdown": by}).content.decode()
        query = PERIOD | {"indicator": indicator_key, "breakdown": by}
        outputs[f"csv {by}"] = client.get(reverse("quality:dashboard-csv"), query).content.decode("utf-8-sig")
    return outputs


def test_no_output_names_a_patient_or_a_plan(quality_client, world, cells):
    identities = [
        world.patient.given_name,
        world.patient.family_name,
        world.patient.cpr,
        world.patient.cpr[:6],
        str(world.patient.public_id),
        world.other_patient.family_name,
        world.other_patient.cpr,
        str(world.plan.public_id),
        str(world.other_plan.public_id),
        world.plan.title,
    ]
    for name, output in _every_output(quality_client).items():
        for identity in identities:
            assert identity not in output, (name, identity)


class _Tables(HTMLParser):
    """The result tables of a page (class ff-results): their header names and rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, list[list[str]]]] = []
        self._in_results = False
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._head = False

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class", "") or ""
        if tag == "table" and "ff-results" in classes:
            self._in_results = True
            self.tables.append({"header": [], "rows": []})
        elif self._in_results and tag == "thead":
            self._head = True
        elif self._in_results and tag == "tr":
            self._row = []
        elif self._in_results and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_results = False
        elif self._in_results and tag == "thead":
            self._head = False
        elif self._in_results and tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._in_results and tag == "tr":
            self.tables[-1]["header" if self._head else "rows"].append(self._row)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> list[dict[str, list[list[str]]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _is_small(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 4


def _assert_protected(
    numerator: str, denominator: str, percent: str, interval: str, missing: str, where
) -> None:
    for count in (numerator, denominator, missing):
        assert not _is_small(count), where
    counts_shown = (
        denominator.isdigit() and int(denominator) >= 5 and (numerator == "" or numerator.isdigit())
    )
    if not counts_shown or (numerator.isdigit() and 1 <= int(numerator) < 5):
        assert percent in ("–", ""), where
        assert interval == "", where


def test_no_html_table_shows_a_count_of_1_to_4_or_a_percent_of_a_small_cell(quality_client, world, cells):
    seen_small = 0
    for name, output in _every_output(quality_client).items():
        if name.startswith("csv"):
            continue
        for table in _tables(output):
            names = table["header"][0]
            if names[1] == "Answers":  # a mean: no numerator
                assert names[1:5] == ["Answers", "Mean", "95 % CI", "Missing"], names
                table["rows"] = [[row[0], "", *row[1:]] for row in table["rows"]]
            else:
                assert names[1:6] == ["Numerator", "Denominator", "%", "95 % CI", "Missing"], names
            for row in table["rows"]:
                numerator, denominator, percent, interval, missing = row[1:6]
                _assert_protected(numerator, denominator, percent, interval, missing, (name, row))
                seen_small += "<5" in row
    assert seen_small  # the men's cell of 3 was there to hide: it shows as "<5"


def test_no_csv_line_shows_a_count_of_1_to_4_or_a_percent_of_a_small_cell(quality_client, world, cells):
    seen_small = 0
    for name, output in _every_output(quality_client).items():
        if not name.startswith("csv"):
            continue
        lines = list(csv.reader(io.StringIO(output), delimiter=";"))
        for line in lines[1:]:
            if line[2].startswith("Gap between"):
                continue  # the gap: a difference of two shown groups, no counts
            numerator, denominator, result, low, _high, missing = line[3:9]
            interval = low
            _assert_protected(numerator, denominator, result or "–", interval, missing, (name, line))
            seen_small += "<5" in line
    assert seen_small


def _chart_data(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', html)
    assert found is not None, chart_id
    return json.loads(found.group(1))


def test_the_chart_data_hold_only_shown_values(quality_client, world, cells):
    html = quality_client.get(reverse("quality:dashboard"), PERIOD | {"by": "month"}).content.decode()
    data = _chart_data(html, "chart-home-nursing-24h")
    series = data["series"]
    # Months Jan–Jun: March holds only the small cell of 3 (hidden), June nothing; the rest are shown.
    assert series["labels"][0].lower().startswith("jan")
    assert series["values"][2] is None  # March: 2 of 3
    assert series["values"][5] is None  # June: no patients
    assert "<5" not in json.dumps(data)
    page = reverse("quality:dashboard-indicator", args=[HOME_NURSING])
    funnel = _chart_data(quality_client.get(page, PERIOD).content.decode(), "chart-funnel")
    assert len(funnel["funnel"]["points"]) == 2  # Roskilde and Holbæk
    for point in funnel["funnel"]["points"]:
        assert point["x"] >= 5
    assert "<5" not in json.dumps(funnel)


def test_a_small_organisation_is_neither_in_the_funnel_nor_revealed_by_the_total(
    quality_client, world, cells
):
    indicator = _indicator(REHABILITATION)
    _saved(
        [
            _cell(indicator, world.hospital, denominator=50, numerator=40),
            _cell(indicator, world.unrelated, denominator=30, numerator=20),
            _cell(indicator, world.gp, month=date(2026, 2, 1), denominator=2, numerator=1),
        ]
    )
    filters, _errors = reports.filters_from(PERIOD, today=date(2026, 11, 30), organisations=[])
    funnel = reports.funnel(indicator=indicator, filters=filters)
    gp_row = next(row for row in funnel.rows if row.label == world.gp.name)
    assert gp_row.denominator == "<5"
    assert gp_row.value is None
    assert world.gp.name not in [point["label"] for point in funnel.chart["funnel"]["points"]]
    # One organisation hidden under a shown total: another one is hidden with it (complementary).
    hidden = [row for row in funnel.rows if not row.denominator.isdigit()]
    assert len(hidden) >= 2
    # The CSV's organisations are the same rows.
    assert reports.funnels(filters=filters)[indicator.pk].rows == funnel.rows


def test_an_indicator_counted_towards_the_home_municipality_has_municipalities_in_its_funnel(
    quality_client, world, cells
):
    """Home nursing's cells carry the patient's municipality, not an organisation: the funnel's dots, its
    table and the CSV's rows are the municipalities."""
    filters, _errors = reports.filters_from(PERIOD, today=date(2026, 11, 30), organisations=[])
    funnel = reports.funnel(indicator=_indicator(), filters=filters)
    assert funnel.by_municipality
    assert {row.label: row.denominator for row in funnel.rows} == {"Roskilde": "133", "Holbæk": "30"}
    assert {point["label"] for point in funnel.chart["funnel"]["points"]} == {"Roskilde", "Holbæk"}
    page = quality_client.get(reverse("quality:dashboard-indicator", args=[HOME_NURSING]), PERIOD)
    html = page.content.decode()
    assert "Across municipalities" in html
    assert "2 municipalities." in html
    lines = _card(quality_client)
    assert lines[("By municipality", "Roskilde")][4] == "133"
    assert not any(table == "By organisation" for table, _row in lines)


# --- the filters narrow the numbers ---------------------------------------------------------------------


def _card(client, key: str = HOME_NURSING, **query):
    response = client.get(reverse("quality:dashboard-csv"), PERIOD | query)
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    indicator = _indicator(key).name
    return {(line[1], line[2]): line for line in lines[1:] if line[0] == indicator}


def test_the_whole_period_adds_up_every_cell(quality_client, world, cells):
    with translation.override("en"):
        card = _card(quality_client)
    total = card[("Result", "All")]
    # 40+30+45+8+17+2 of 50+30+50+10+20+3
    assert total[3:6] == ["142", "163", "87,1"]
    assert total[8] == "6"  # missing
    assert total[10] == "no"  # 87.1 % is under the standard of 90 %


def test_the_municipality_filter_counts_only_its_patients(quality_client, world, cells):
    with translation.override("en"):
        card = _card(quality_client, municipality="265")
    # Roskilde only: 40+30+45+2 of 50+30+50+3
    assert card[("Result", "All")][3:5] == ["117", "133"]
    with translation.override("en"):
        card = _card(quality_client, municipality="316")
    assert card[("Result", "All")][3:6] == ["25", "30", "83,3"]


def test_the_organisation_and_sector_filters_count_only_theirs(quality_client, world, cells):
    with translation.override("en"):
        card = _card(quality_client, organisation=str(world.unrelated.public_id))
    assert card[("Result", "All")][3:5] == ["25", "30"]
    with translation.override("en"):
        card = _card(quality_client, sector="hospital")
    assert card[("Result", "All")][3:5] == ["0", "0"]


def test_the_period_filter_counts_only_its_months(quality_client, world, cells):
    with translation.override("en"):
        card = _card(quality_client, **{"from": "2026-04", "to": "2026-06"})
    # Q2: Roskilde 45/50, Holbæk 17/20
    assert card[("Result", "All")][3:5] == ["62", "70"]
    assert [key for key in card if key[0] == "Over time"] == [("Over time", "Q2 2026")]


def test_the_series_has_a_row_per_period(quality_client, world, cells):
    with translation.override("en"):
        card = _card(quality_client)
    assert card[("Over time", "Q1 2026")][3:5] == ["80", "93"]  # 40+30+8+2 of 50+30+10+3
    assert card[("Over time", "Q2 2026")][3:6] == ["62", "70", "88,6"]


def test_bad_filters_are_refused_with_a_message_and_no_numbers(quality_client, world, cells):
    for query in ({"by": "week"}, {"from": "2026-13"}, {"from": "2026-06", "to": "2026-01"}, {"sector": "x"},
                  {"organisation": "not-a-uuid"}, {"municipality": "999"}, {"from": "٢٠٢٦-٠١"}):  # fmt: skip
        response = quality_client.get(reverse("quality:dashboard"), query)
        assert response.status_code == 400, query
        assert 'class="alert alert-error"' in response.content.decode()
        assert "ff-indicator" not in response.content.decode()
        refused = quality_client.get(reverse("quality:dashboard-csv"), query)
        assert refused.status_code == 400
        assert refused["Content-Type"].startswith("text/html")  # the form and its message, no file
        assert 'class="alert alert-error"' in refused.content.decode()


def test_the_default_period_is_the_last_four_complete_quarters():
    assert reports.default_range(by="quarter", today=date(2026, 11, 30)) == (
        date(2025, 10, 1),
        date(2026, 9, 1),
    )
    assert reports.default_range(by="month", today=date(2026, 1, 15)) == (date(2025, 1, 1), date(2025, 12, 1))
    assert reports.default_range(by="year", today=date(2026, 3, 1)) == (date(2023, 1, 1), date(2025, 12, 1))


# --- breakdowns and the gap -----------------------------------------------------------------------------


def test_a_breakdown_shows_the_gap_between_the_best_and_worst_shown_group(world):
    indicator = _indicator()
    _saved([
        _cell(indicator, world.municipality, education="basic", denominator=40, numerator=24),  # 60 %
        _cell(indicator, world.municipality, education="long_higher", denominator=20, numerator=19),  # 95 %
        _cell(indicator, world.municipality, education="upper_secondary", denominator=50, numerator=40),
        _cell(indicator, world.municipality, education="short_higher", denominator=2, numerator=2),  # hidden
        _cell(indicator, world.municipality, education="", denominator=10, numerator=10),  # not stated: 100 %
    ])  # fmt: skip
    filters, _errors = reports.filters_from(PERIOD, today=date(2026, 11, 30), organisations=[])
    report = reports.breakdown(indicator=indicator, filters=filters, by=Breakdown.EDUCATION)
    by_key = {row.key: row for row in report.groups}
    assert by_key["short_higher"].denominator == "<5"
    assert by_key["short_higher"].value is None
    assert report.gap is not None
    # Best and worst among the shown groups only: the hidden one and "not stated" are left out.
    assert (report.gap.best.key, report.gap.worst.key) == ("long_higher", "basic")
    assert report.gap.size == pytest.approx(35.0)
    assert report.chart["groups"]["values"][list(by_key).index("short_higher")] is None


def test_the_gap_of_an_at_most_indicator_takes_the_lowest_as_best(world):
    indicator = _indicator("readmission-30d")  # standard ≤ 15 %
    _saved([
        _cell(indicator, world.hospital, sex="female", denominator=100, numerator=10),
        _cell(indicator, world.hospital, sex="male", denominator=100, numerator=25),
    ])  # fmt: skip
    filters, _errors = reports.filters_from(PERIOD, today=date(2026, 11, 30), organisations=[])
    report = reports.breakdown(indicator=indicator, filters=filters, by=Breakdown.SEX)
    assert report.gap is not None
    assert (report.gap.best.key, report.gap.worst.key) == ("female", "male")
    assert report.total.met is False  # 17.5 % is over 15 %


def test_a_mean_indicator_shows_the_mean_with_its_interval(world):
    indicator = _indicator(WHO5_MEAN)  # at least 50
    scores = [40, 60, 64, 72, 84, 52]
    _saved([
        _cell(indicator, world.municipality, denominator=len(scores), numerator=len(scores),
              value_sum=sum(scores), value_sumsq=sum(s * s for s in scores))
    ])  # fmt: skip
    filters, _errors = reports.filters_from(PERIOD, today=date(2026, 11, 30), organisations=[])
    card = next(c for c in reports.dashboard(filters=filters) if c.indicator == indicator)
    assert card.total.value == pytest.approx(62.0)
    assert card.total.met is True
    assert card.total.low is not None
    assert card.total.high is not None
    assert card.total.low < 62 < card.total.high


# --- the funnel's limits --------------------------------------------------------------------------------


def test_the_funnel_limits_for_a_known_case():
    # 80 % of 100: the standard error is √(0.8 × 0.2 / 100) = 4 percentage points.
    low, high = reports.funnel_limit(centre=80.0, spread=40.0, n=100, z=reports.Z_95, bounded=True)
    assert low == pytest.approx(72.16, abs=0.01)
    assert high == pytest.approx(87.84, abs=0.01)
    low, high = reports.funnel_limit(centre=80.0, spread=40.0, n=100, z=reports.Z_998, bounded=True)
    assert low == pytest.approx(67.64, abs=0.01)
    assert high == pytest.approx(92.36, abs=0.01)
    # Near 100 % the limit stops at 100 %.
    assert reports.funnel_limit(centre=98.0, spread=14.0, n=5, z=reports.Z_998, bounded=True)[1] == 100.0


def test_the_funnel_is_drawn_around_the_overall_share(world):
    indicator = _indicator()
    total = reports.Sums(denominator=200, numerator=160)
    limits = reports.funnel_limits(indicator=indicator, total=total, largest=100)
    assert limits is not None
    assert limits.centre == pytest.approx(80.0)
    assert limits.n[0] == 5
    assert limits.n[-1] == 110  # a little beyond the largest organisation
    for n, low, high in zip(limits.n, limits.low95, limits.high95, strict=True):
        half = reports.Z_95 * 40.0 / math.sqrt(n)
        assert low == pytest.approx(max(0.0, 80.0 - half))
        assert high == pytest.approx(min(100.0, 80.0 + half))
    # The limits narrow as the organisations grow.
    assert limits.high998[0] - limits.low998[0] > limits.high998[-1] - limits.low998[-1]
    # Hidden overall result: no funnel.
    assert (
        reports.funnel_limits(indicator=indicator, total=reports.Sums(denominator=4, numerator=2), largest=4)
        is None
    )


# --- queries --------------------------------------------------------------------------------------------


def _queries(client, url: str, query: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, query).status_code == 200
    return len(captured)


def _many_cells(world, count: int) -> None:
    indicators = list(Indicator.objects.filter(is_active=True))
    organisations = [world.municipality, world.unrelated, world.hospital, world.gp]
    _saved(
        _cell(
            indicators[i % len(indicators)],
            organisations[i % len(organisations)],
            month=date(2026, 1 + i % 6, 1),
            municipality=("265", "316", "259")[i % 3],
            education=("basic", "long_higher", "")[i % 3],
            denominator=10 + i % 7,
            numerator=5 + i % 5,
        )
        for i in range(count)
    )


def test_the_pages_use_the_same_number_of_queries_for_ten_times_the_cells(quality_client, world):
    pages = [
        (reverse("quality:dashboard"), PERIOD),
        (reverse("quality:dashboard-indicator", args=[HOME_NURSING]), PERIOD | {"breakdown": "education"}),
        (reverse("quality:dashboard-csv"), PERIOD),
        (reverse("quality:dashboard-refresh-partial"), {}),
    ]
    _many_cells(world, 60)
    few = [_queries(quality_client, url, query) for url, query in pages]
    _many_cells(world, 540)
    many = [_queries(quality_client, url, query) for url, query in pages]
    assert few == many
    assert max(many) <= 12


# --- the CSV --------------------------------------------------------------------------------------------


def test_the_csv_is_for_danish_excel(quality_client, world, cells):
    with translation.override("en"):
        response = quality_client.get(reverse("quality:dashboard-csv"), PERIOD)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="kvalitet-')
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the byte order mark
    header = body.decode("utf-8-sig").splitlines()[0]
    assert header.split(";")[:5] == ["Indicator", "Table", "Row", "Numerator", "Denominator"]
    assert "decimal comma" in header.split(";")[5]
    assert re.search(r";87,1;", body.decode("utf-8-sig"))  # decimal comma, not a point
    assert "," not in "".join(line.split(";")[3] for line in body.decode("utf-8-sig").splitlines()[1:])


def test_a_breakdown_csv_ends_with_the_gap(quality_client, world):
    indicator = _indicator()
    _saved([
        _cell(indicator, world.municipality, municipality="265", denominator=40, numerator=36),  # 90 %
        _cell(indicator, world.unrelated, municipality="316", denominator=20, numerator=14),  # 70 %
    ])  # fmt: skip
    query = PERIOD | {"indicator": HOME_NURSING, "breakdown": "municipality"}
    with translation.override("en"):
        text = quality_client.get(reverse("quality:dashboard-csv"), query).content.decode("utf-8-sig")
    last = list(csv.reader(io.StringIO(text), delimiter=";"))[-1]
    assert last[2] == "Gap between best (Roskilde) and worst (Holbæk)"
    assert last[5] == "20,0"


def test_a_text_cell_cannot_become_an_excel_formula(quality_client, world):
    world.unrelated.name = "=HYPERLINK(1)"
    world.unrelated.save()
    _saved([_cell(_indicator(REHABILITATION), world.unrelated, denominator=40, numerator=36)])
    text = quality_client.get(reverse("quality:dashboard-csv"), PERIOD).content.decode("utf-8-sig")
    assert ";'=HYPERLINK(1);" in text
    assert ";=HYPERLINK" not in text


# --- the refresh's status -------------------------------------------------------------------------------


def test_the_status_shows_when_the_numbers_were_made_and_polls_while_a_run_is_on(quality_client, world):
    from django.utils import timezone

    IndicatorRefresh.objects.create(state=RefreshState.DONE, progress=100, finished_at=timezone.now())
    page = quality_client.get(reverse("quality:dashboard")).content.decode()
    assert "hx-trigger" not in page.split('id="refresh-status"')[1].split(">")[0]
    IndicatorRefresh.objects.create(state=RefreshState.RUNNING, progress=40, step="Hjemmebesøg")
    status = quality_client.get(reverse("quality:dashboard-refresh-partial")).content.decode()
    assert 'hx-trigger="every 3s"' in status
    assert 'value="40"' in status
    assert (
        reverse("quality:dashboard") in status.split("progress")[-1]
    )  # the link to load it again (no JavaScript)
    # After the most asks, the asking stops.
    last = quality_client.get(reverse("quality:dashboard-refresh-partial"), {"n": "200"}).content.decode()
    assert "hx-trigger" not in last


def test_asking_for_new_numbers_queues_one_run_and_shows_its_progress(quality_client, quality_user):
    response = quality_client.post(reverse("quality:dashboard-refresh"))
    assert response.status_code == 302
    assert response["Location"] == reverse("quality:dashboard")
    run = IndicatorRefresh.objects.get()
    assert (run.state, run.requested_by) == (RefreshState.QUEUED, quality_user)
    # Asked again (htmx) while it waits: the same run, its status back to poll.
    response = quality_client.post(reverse("quality:dashboard-refresh"), HTTP_HX_REQUEST="true")
    assert IndicatorRefresh.objects.count() == 1
    assert 'hx-trigger="every 3s"' in response.content.decode()


# --- national size: the overview stays small, the organisations are on the indicator's page -------------

GP_FOLLOW_UP = "gp-follow-up-7d"  # at least 80 %, reported by the patient's general practice


def _clinics(count: int, *, first: int = 0) -> list[Organisation]:
    return Organisation.objects.bulk_create(
        Organisation(name=f"Lægehuset {i:03d}", sector=Sector.GENERAL_PRACTICE, sor_code=f"{7000000 + i}")
        for i in range(first, first + count)
    )


def _clinic_cells(clinics: list[Organisation], *, denominator: int = 50, numerator: int = 40) -> None:
    indicator = _indicator(GP_FOLLOW_UP)
    _saved(_cell(indicator, clinic, denominator=denominator, numerator=numerator) for clinic in clinics)


def test_the_overview_stays_the_same_size_however_many_organisations_report(quality_client, world, cells):
    _clinic_cells(_clinics(10))
    few = quality_client.get(reverse("quality:dashboard"), PERIOD).content.decode()
    queries_few = _queries(quality_client, reverse("quality:dashboard"), PERIOD)
    _clinic_cells(_clinics(290, first=10))
    many = quality_client.get(reverse("quality:dashboard"), PERIOD).content.decode()
    assert _queries(quality_client, reverse("quality:dashboard"), PERIOD) == queries_few
    # 290 more clinics would add at least 40 characters each if the page named them.
    assert len(many) < len(few) + 1000
    assert "Lægehuset" not in many
    # Each card: its result and its series over time, and a link to the indicator's page; no organisation.
    assert 'id="funnel-' not in many
    assert 'data-chart="funnel"' not in many
    indicator_page = reverse("quality:dashboard-indicator", args=[GP_FOLLOW_UP])
    assert f'href="{indicator_page}?' in many


def test_the_indicator_page_shows_the_organisations_outside_the_limits_first_and_the_rest_in_pages(
    quality_client, world
):
    clinics = _clinics(60)
    _clinic_cells(clinics[2:])  # 80 % each
    _clinic_cells([clinics[0]], numerator=10)  # 20 %: below the limits, worse
    _clinic_cells([clinics[1]], numerator=50)  # 100 %: above the limits, better
    page = reverse("quality:dashboard-indicator", args=[GP_FOLLOW_UP])
    with translation.override("en"):
        html = quality_client.get(page, PERIOD).content.decode()
    table = next(t for t in _tables(html) if t["header"][0][0] == "Organisation")
    assert table["header"][0][-1] == "Outside the 95 % limits"
    rows = table["rows"][:-1]  # the last row is the total
    assert len(rows) == 50  # one page
    assert [row[0] for row in rows[:2]] == ["Lægehuset 000", "Lægehuset 001"]  # worse side first
    assert [row[-1] for row in rows[:3]] == ["Below: worse", "Above: better", ""]
    assert table["rows"][-1][0] == "All"
    assert "page=2#organisations" in html
    # The chart holds every organisation, whatever the page.
    assert len(_chart_data(html, "chart-funnel")["funnel"]["points"]) == 60
    second = quality_client.get(page, PERIOD | {"page": "2"}).content.decode()
    assert len(next(t for t in _tables(second) if t["header"][0][0] == "Organisation")["rows"]) == 10 + 1
    # Ordered by the best result: the 100 % clinic first.
    by_result = quality_client.get(page, PERIOD | {"order": "result"}).content.decode()
    first_row = next(t for t in _tables(by_result) if t["header"][0][0] == "Organisation")["rows"][0]
    assert first_row[0] == "Lægehuset 001"
    assert quality_client.get(page, PERIOD | {"order": "sideways"}).status_code == 400


def test_the_organisation_filter_offers_only_organisations_with_numbers_in_the_sector(
    quality_client, world, cells
):
    def offered(query: dict[str, str]) -> str:
        html = quality_client.get(reverse("quality:dashboard"), PERIOD | query).content.decode()
        return html.split('id="filter-organisation"')[1].split("</select>")[0]

    options = offered({})
    assert world.municipality.name in options
    assert world.unrelated.name in options
    assert world.hospital.name not in options  # no summary rows
    assert world.gp.name not in options
    assert world.municipality.name not in offered({"sector": "hospital"})


def test_among_many_organisations_one_is_found_by_its_typed_name(quality_client, world):
    _clinic_cells(_clinics(200))
    html = quality_client.get(reverse("quality:dashboard"), PERIOD).content.decode()
    field = (
        html.split('id="filter-organisation"')[0].rsplit("<", 1)[1]
        + html.split('id="filter-organisation"')[1]
    )
    assert field.startswith('input class="form-input" type="text"')
    assert "Lægehuset" not in html
    with translation.override("en"):
        card = _card(quality_client, GP_FOLLOW_UP, organisation="lægehuset  007")  # any case, spaces
    assert card[("Result", "All")][3:5] == ["40", "50"]
    assert (
        quality_client.get(
            reverse("quality:dashboard"), PERIOD | {"organisation": "Lægehuset 007"}
        ).status_code
        == 200
    )
    with translation.override("en"):
        response = quality_client.get(reverse("quality:dashboard"), PERIOD | {"organisation": "Lægehuset 00"})
    assert response.status_code == 400
    assert "10 organisations match" in response.content.decode()
    assert (
        quality_client.get(reverse("quality:dashboard"), PERIOD | {"organisation": "Nowhere"}).status_code
        == 400
    )
    # As one types (htmx), a few names are suggested.
    suggestions = quality_client.get(reverse("quality:dashboard-organisations"), {"organisation": "set 01"})
    assert re.findall(r'<option value="([^"]+)">', suggestions.content.decode()) == [
        f"Lægehuset {i:03d}" for i in range(10, 20)
    ]
    many = quality_client.get(reverse("quality:dashboard-organisations"), {"organisation": "Lægehuset"})
    assert many.content.decode().count("<option") == reports.ORGANISATION_SUGGESTIONS
    hospitals = {"organisation": "Lægehuset", "sector": "hospital"}
    assert (
        "<option"
        not in quality_client.get(reverse("quality:dashboard-organisations"), hospitals).content.decode()
    )


# --- the start page after sign-in ------------------------------------------------------------------------


def test_the_quality_user_starts_on_the_dashboard_and_clinicians_where_they_did(client, world, quality_user):
    start = reverse("coordination:start")
    assert sign_in(client, quality_user).get(start)["Location"] == reverse("quality:dashboard")
    client.logout()
    # A clinician who may also open the dashboard keeps the caseload; a coordinator the worklist.
    world.gp_doctor.groups.add(*quality_user.groups.all())
    assert sign_in(client, world.gp_doctor).get(start)["Location"] == reverse("pathways:caseload")
    client.logout()
    world.coordinator.groups.add(*quality_user.groups.all())
    assert sign_in(client, world.coordinator).get(start)["Location"] == reverse("coordination:worklist")
