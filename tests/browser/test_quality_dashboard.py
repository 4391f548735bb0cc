"""The quality dashboard in a real browser: the quality user signs in and lands on the dashboard, filters
to Roskilde, and the charts over time draw under the strict Content-Security-Policy (no violation in the
console); an indicator's page draws its funnel plot across organisations with their table (small ones
hidden); an indicator broken down by education shows its small groups hidden; the CSV downloads.

The numbers are a summary built here (IndicatorCell rows for every shipped indicator, a year of months,
a few organisations per sector), not the demo's synthetic population."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from pathways.choices import MunicipalService, Sector
from pathways.models import Organisation
from quality import instruments, reports, summaries
from quality.choices import AgeBand, EducationBand, EmploymentStatus, IncomeBand, ReportingUnit, Sex
from quality.demo import quality_user_seed
from quality.models import Indicator, IndicatorCell
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser

REHABILITATION = "rehabilitation-plan-discharge-day"  # counted towards the discharging hospital

MUNICIPALITIES = [
    ("265", "Roskilde"),
    ("259", "Køge"),
    ("316", "Holbæk"),
    ("330", "Slagelse"),
    ("350", "Lejre"),
]


def _saved(rows: Iterable[IndicatorCell]) -> list[IndicatorCell]:
    """The cells, saved, with their totals one level up (as the refresh writes them)."""
    cells = IndicatorCell.objects.bulk_create(rows)
    summaries.totals_refresh()
    return cells


def _organisations() -> dict[str, list[Organisation]]:
    made: dict[str, list[Organisation]] = {"hospital": [], "municipality": [], "gp": []}
    for index, (code, name) in enumerate(MUNICIPALITIES):
        made["municipality"].append(
            Organisation.objects.create(
                name=f"Hjemmesygeplejen {name}",
                sector=Sector.MUNICIPALITY,
                sor_code=f"82{index}",
                municipality_code=code,
                municipal_service=MunicipalService.HOME_NURSING,
            )
        )
    for index, name in enumerate(["Medicinsk afdeling, Roskilde", "Medicinsk afdeling, Holbæk"]):
        made["hospital"].append(
            Organisation.objects.create(name=name, sector=Sector.HOSPITAL, sor_code=f"81{index}")
        )
    for index, name in enumerate(["Lægehuset Algade", "Lægerne ved Fjorden", "Lægehuset Torvet"]):
        made["gp"].append(
            Organisation.objects.create(name=name, sector=Sector.GENERAL_PRACTICE, sor_code=f"83{index}")
        )
    return made


def _summary() -> None:
    """A year of cells for every active indicator: each organisation has a rate of its own, Roskilde's
    patients a little better; the long-educated a little better than the rest (the gap to show)."""
    rng = random.Random(16)
    organisations = _organisations()
    first, _last = reports.default_range(by="quarter", today=timezone.localdate())
    months = [reports.add_months(first, i) for i in range(12)]
    unit_sector: dict[str, str] = {
        ReportingUnit.HOSPITAL: "hospital",
        ReportingUnit.GENERAL_PRACTICE: "gp",
    }
    cells = []
    for indicator in Indicator.objects.filter(is_active=True):
        mean = indicator.measure == "mean"
        for organisation in organisations[unit_sector.get(indicator.reporting_unit, "municipality")]:
            base = float(indicator.standard) / 100 + rng.uniform(-0.15, 0.05)
            if indicator.direction == "at_most":
                base = float(indicator.standard) / 100 + rng.uniform(-0.05, 0.08)
            for month in months:
                for _group in range(4):
                    code = organisation.municipality_code or rng.choice(MUNICIPALITIES)[0]
                    education = rng.choice([*EducationBand.values, ""])
                    rate = base + (0.05 if code == "265" else 0) + (0.06 if education == "long_higher" else 0)
                    rate = min(max(rate, 0.02), 0.99)
                    denominator = rng.randint(2, 12)
                    numerator = sum(rng.random() < rate for _ in range(denominator))
                    scores = [rng.randint(8, 25) * 4 for _ in range(denominator)] if mean else []
                    cells.append(
                        IndicatorCell(
                            indicator=indicator,
                            month=month,
                            organisation=organisation,
                            sector=organisation.sector,
                            municipality=code,
                            sex=rng.choice(Sex.values),
                            age_band=rng.choice(AgeBand.values),
                            education=education,
                            employment=rng.choice(EmploymentStatus.values),
                            income=rng.choice(IncomeBand.values),
                            denominator=denominator,
                            numerator=denominator if mean else numerator,
                            missing=rng.choice([0, 0, 0, 1]),
                            value_sum=float(sum(scores)),
                            value_sumsq=float(sum(s * s for s in scores)),
                        )
                    )
    # One organisation so small it must never show: a handful of patients in a single month.
    tiny = Organisation.objects.create(name="Sygehusafsnittet Lille", sector=Sector.HOSPITAL, sor_code="899")
    indicator = Indicator.objects.get(key=REHABILITATION)
    cells.append(
        IndicatorCell(
            indicator=indicator, month=months[0], organisation=tiny, sector=tiny.sector, municipality="265",
            sex="female", age_band="80+", education="basic", denominator=3, numerator=2,
        )
    )  # fmt: skip
    _saved(cells)


@pytest.fixture
def summary(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    instruments.ship(apps)  # the shipped indicators (a flushed database has lost the migration's rows)
    quality_user_seed()
    _summary()


@pytest.fixture
def violations(page):
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"{page.url}: {message.text}"))
    return lambda: [text for text in seen if "Content Security Policy" in text or "Refused" in text]


def test_the_quality_user_filters_to_roskilde_and_the_charts_draw(
    page, live_server, summary, violations, screenshot
):
    log_in(page, live_server, "kvalitet")
    # The quality user's start page is the dashboard (no caseload: she has no organisation).
    assert page.url.rstrip("/").endswith("/quality")
    page.locator("nav.ff-tabs a[href='/quality/']").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_be_visible()
    page.select_option("#filter-municipality", "265")
    page.locator("form.ff-dashboard-filters button[type=submit]").click()
    page.wait_for_load_state()
    assert "municipality=265" in page.url
    expect(page.locator("figure.ff-chart-drawn canvas").first).to_be_visible()
    cards = Indicator.objects.filter(is_active=True).count()
    assert page.locator("figure.ff-chart-drawn[data-chart=series] canvas").count() == cards
    # The overview holds no organisation: the funnel plots are on the indicators' pages.
    assert page.locator("figure[data-chart=funnel]").count() == 0
    # Each chart's table is still there for screen readers, with its caption.
    assert page.locator("figure.ff-chart table caption").count() == cards
    page.wait_for_timeout(300)  # the canvases have painted
    screenshot(page, "q16_dash2_overview")
    page.locator("section.ff-indicator").first.screenshot(path=str(screenshot(page, "q16_dash2_card")))
    # Home nursing is counted towards the patient's municipality: its funnel's dots are municipalities.
    page.locator("a[href^='/quality/indicators/home-nursing-24h/']").click()
    page.wait_for_load_state()
    assert "municipality=265" in page.url
    expect(page.locator("#organisations-heading")).to_have_text("På tværs af kommuner")
    # The rehabilitation plan is counted towards the discharging hospital: a funnel of organisations.
    page.goto(f"{live_server.url}/quality/indicators/{REHABILITATION}/?municipality=265")
    # Roskilde's patients: the hospitals and the tiny ward. The tiny ward's 3 patients show as "<5" and no
    # percentage, and another hospital's numbers are hidden with it (the total would tell them).
    tiny = page.locator(f"#funnel-{REHABILITATION} tr", has_text="Sygehusafsnittet Lille")
    assert tiny.locator("td").all_inner_texts()[:3] == ["–", "<5", "–"]
    # Every patient: the funnel is drawn, the tiny ward still hidden.
    page.goto(f"{live_server.url}/quality/indicators/{REHABILITATION}/")
    expect(page.locator("figure.ff-chart-drawn[data-chart=funnel] canvas")).to_be_visible()
    tiny = page.locator(f"#funnel-{REHABILITATION} tr", has_text="Sygehusafsnittet Lille")
    assert tiny.locator("td").all_inner_texts()[:3] == ["–", "<5", "–"]
    page.wait_for_timeout(300)
    screenshot(page, "q16_dash2_indicator")
    assert violations() == []


def test_an_indicator_by_education_hides_small_groups_and_the_csv_downloads(
    page, live_server, summary, violations, screenshot
):
    log_in(page, live_server, "kvalitet")
    page.goto(f"{live_server.url}/quality/?municipality=265")
    page.locator("section.ff-indicator").first.locator(".ff-section-head a").click()
    page.wait_for_load_state()
    page.locator("nav.ff-breakdowns a[href*='breakdown=education']").click()
    page.wait_for_load_state()
    expect(page.locator("figure.ff-chart-drawn[data-chart=groups] canvas")).to_be_visible()
    expect(page.locator(".ff-gap")).to_be_visible()
    text = page.locator("#breakdown-table").inner_text()
    for cell in text.split():
        assert not (cell.isdigit() and 1 <= int(cell) <= 4)
    page.wait_for_timeout(300)
    screenshot(page, "q16_dash2_education")
    with page.expect_download() as download:
        page.get_by_role("link", name=page.locator("a[download]").inner_text()).click()
    path = download.value.path()
    body = path.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    assert b";" in body.splitlines()[0]
    assert violations() == []


def test_the_dashboard_reads_without_javascript(browser, live_server, summary, screenshot):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="da-DK", java_script_enabled=False
    )
    page = context.new_page()
    log_in(page, live_server, "kvalitet")
    page.goto(f"{live_server.url}/quality/?municipality=265")
    # No charts drawn, every table shown.
    assert page.locator("figure.ff-chart-drawn").count() == 0
    expect(page.locator("table.ff-results").first).to_be_visible()
    screenshot(page, "q16_dash2_nojs")
    context.close()
