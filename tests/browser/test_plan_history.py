"""The plan's history in a real browser: a change made on the plan page shows up there, with its author."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_demo_walkthrough import log_in
from tests.browser.test_plan_editing import HOME_VISIT, open_kirsten, row_of

pytestmark = pytest.mark.browser


def test_nurse_finds_her_own_change_at_the_top_of_the_plan_history(page, live_server, demo, screenshot):
    log_in(page, live_server, "kommune")
    open_kirsten(page)
    row = row_of(page, HOME_VISIT)
    row.get_by_label("Ny status").select_option(label="Udført")
    row.get_by_role("button", name="Skift").click()
    expect(row_of(page, HOME_VISIT).locator(".ff-status")).to_have_text("Udført")

    page.get_by_role("link", name="Historik for forløbsplanen").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Historik for forløbsplanen")
    newest = page.locator("main tbody tr").first
    expect(newest).to_contain_text("Mette Jensen")
    expect(newest).to_contain_text(HOME_VISIT)
    expect(newest).to_contain_text("Udført")
    screenshot(page, "plan-kirsten-history")
