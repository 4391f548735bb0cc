"""A new user's first minutes, in a real browser: log in, see one's own patients, open a plan."""

import pytest

from pathways.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def log_in(page, live_server, username):
    """Password, then — for a clinician who has not set up two-step sign-in — "Not now"."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_load_state()
    if "offer=1" in page.url:
        page.get_by_role("link", name="Ikke nu — fortsæt uden").click()
        page.wait_for_load_state()


def test_municipal_nurse_sees_kirsten_but_not_helle_and_opens_the_shared_plan(
    page, live_server, demo, screenshot
):
    log_in(page, live_server, "kommune")
    # She coordinates plans, so she starts on her worklist; her patients are one tab away.
    assert page.locator("h1").inner_text() == "Arbejdsliste"
    assert "Fatma Yilmaz" in page.locator("main").inner_text()
    screenshot(page, "worklist-kommune")
    page.get_by_role("link", name="Mine patienter", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Mine patienter"
    caseload = page.locator("#caseload table").inner_text()
    assert "Kirsten Poulsen" in caseload
    assert "Helle Sørensen" not in caseload
    screenshot(page, "caseload-kommune")

    page.get_by_role("link", name="Kirsten Poulsen").click()
    page.wait_for_load_state()
    body = page.locator("main").inner_text()
    assert "Hvad er vigtigt for dig?" in body
    # One plan across sectors: the hospital's, the municipality's and the GP's tasks on one page.
    for sector in ["Sygehus", "Kommune", "Almen praksis"]:
        assert page.get_by_role("heading", name=sector, exact=True).count() == 1, sector
    assert "xxxx" in body  # CPR masked
    screenshot(page, "plan-kirsten")


def test_holbaek_nurse_sees_helle_and_not_kirsten(page, live_server, demo):
    log_in(page, live_server, "holbaek")
    page.goto(f"{live_server.url}/")
    caseload = page.locator("#caseload table").inner_text()
    assert "Helle Sørensen" in caseload
    assert "Kirsten Poulsen" not in caseload


def test_wrong_password_shows_a_danish_error_and_no_session(page, live_server, demo, screenshot):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Brugernavn").fill("kommune")
    page.get_by_label("Adgangskode").fill("forkert")
    page.get_by_role("button", name="Log ind").click()
    assert page.get_by_role("alert").is_visible()
    screenshot(page, "login-error")
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
