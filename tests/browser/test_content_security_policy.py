"""The strict Content-Security-Policy in a real browser: every page works, and Chromium reports no
violation (blocked inline script or style, eval) on the staff pages, the admin or the API docs."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_demo_walkthrough import log_in
from tests.browser.test_security import sign_in_administrator

pytestmark = pytest.mark.browser


@pytest.fixture
def violations(page):
    """Console messages about the policy, gathered while the test drives the page."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"{page.url}: {message.text}"))
    return lambda: [text for text in seen if "Content Security Policy" in text]


def test_staff_pages_and_htmx_run_under_the_policy(page, live_server, demo, violations, screenshot):
    log_in(page, live_server, "kommune")  # a coordinator: she starts on her worklist
    expect(page.get_by_role("heading", level=1)).to_have_text("Arbejdsliste")
    page.get_by_role("link", name="Mine patienter", exact=True).click()
    page.wait_for_load_state()
    page.get_by_label("Søg på navn").fill("Kir")  # filters in place through htmx
    expect(page.locator("#caseload")).not_to_contain_text("Ingrid Mortensen")
    page.get_by_role("link", name="Kirsten Poulsen").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Vis CPR-nummer (logges)").click()  # swapped in by htmx
    expect(page.locator("#cpr strong")).to_have_text("140361-2126")
    page.get_by_role("link", name="Tidslinje").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Ny opgave").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/plans/00000000-0000-0000-0000-000000000000/")
    assert page.get_by_role("heading", name="Siden findes ikke").is_visible()
    screenshot(page, "error-404")
    assert violations() == []


def test_api_docs_load_swagger_ui_from_its_own_script_file(page, live_server, demo, violations, screenshot):
    log_in(page, live_server, "kommune")
    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI only draws the operations once its start-up script (?script) has run.
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert "/api/v1/plans/" in page.locator(".swagger-ui").inner_text()
    screenshot(page, "api-docs")
    assert violations() == []


def test_admin_index_lists_and_change_pages_run_under_the_policy(
    page, live_server, demo, violations, screenshot
):
    sign_in_administrator(page, live_server)  # the QR code of the set-up page is an inline SVG
    page.goto(f"{live_server.url}/admin/")
    assert page.get_by_role("heading", name="Administration").is_visible()
    page.goto(f"{live_server.url}/admin/pathways/pathwayplan/")
    page.locator("#result_list tbody th a").first.click()
    page.wait_for_load_state()
    page.locator(".select2-selection").first.click()  # the patient autocomplete (select2, jQuery)
    expect(page.locator(".select2-results__option").first).to_be_visible()
    page.keyboard.press("Escape")
    screenshot(page, "admin-plan-change")
    page.goto(f"{live_server.url}/admin/pathways/accesslog/")  # a list without actions
    expect(page.locator("#result_list")).to_be_visible()
    assert violations() == []
