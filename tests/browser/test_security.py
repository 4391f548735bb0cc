"""Security as a new user meets it in a real browser: setting up and using the second step, breaking the
glass, and the coordinator seeing who opened the plan and why."""

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP

from pathways.demo import DEMO_PASSWORD
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser


def app_code(secret: str, steps_ahead: int = 0) -> str:
    """What the authenticator app on the phone shows for the key on the set-up page."""
    totp = TOTP(b32decode(secret.replace(" ", "")), step=30, t0=0, digits=6, drift=0)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def password(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_load_state()


def sign_in_administrator(page, live_server) -> str:
    """The administrator's first sign-in: password, then setting up the authenticator app. Returns the key."""
    password(page, live_server, "admin")
    secret = page.locator(".ff-secret").inner_text()
    page.get_by_label("Kode fra appen").fill(app_code(secret))
    page.get_by_role("button", name="Slå totrinslogin til").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Jeg har gemt koderne — fortsæt").click()
    page.wait_for_load_state()
    return secret


def test_administrator_sets_up_and_then_uses_two_step_sign_in(page, live_server, demo, screenshot):
    password(page, live_server, "admin")
    assert "/account/two-step/" in page.url
    assert page.locator("h1").inner_text() == "Opsæt totrinslogin"
    assert page.locator(".ff-qr svg").count() == 1
    screenshot(page, "mfa-setup")
    # Nothing else opens before the second step is set up.
    page.goto(f"{live_server.url}/admin/")
    assert "/account/two-step/" in page.url

    secret = page.locator(".ff-secret").inner_text()
    page.get_by_label("Kode fra appen").fill(app_code(secret))
    page.get_by_role("button", name="Slå totrinslogin til").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Gem dine gendannelseskoder"
    codes = page.locator(".ff-recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}", c) for c in codes)
    screenshot(page, "mfa-recovery-codes")
    page.get_by_role("link", name="Jeg har gemt koderne — fortsæt").click()
    page.wait_for_load_state()

    page.get_by_role("button", name="Log ud").click()
    page.wait_for_load_state()
    password(page, live_server, "admin")
    assert "/login/second-step/" in page.url
    screenshot(page, "mfa-verify")
    page.get_by_label("Kode").fill(app_code(secret, steps_ahead=1))  # a new code: each works once
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("#site-name").count() == 1


def test_outsider_breaks_the_glass_and_the_coordinator_sees_who_and_why(
    browser, page, live_server, demo, screenshot
):
    log_in(page, live_server, "holbaek")
    page.goto(f"{live_server.url}/")
    assert "Kirsten Poulsen" not in page.locator("main").inner_text()
    page.get_by_role("link", name="Er patienten ikke i dine forløb? Nødadgang").click()
    page.wait_for_load_state()
    page.get_by_label("CPR-nummer").fill("1403612126")
    reason = "Akut indlagt via 112, skal kende plan og aftaler før behandling."
    page.get_by_label("Hvorfor skal du åbne patientens plan nu?").fill(reason)
    page.get_by_label("Jeg har brug for oplysningerne", exact=False).check()
    screenshot(page, "emergency-access-form")
    page.get_by_role("button", name="Åbn planen (logges)").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Kirsten Poulsen"
    assert "nødadgang" in page.get_by_role("alert").first.inner_text()
    assert page.locator("select[name=status]").count() == 0  # read only
    screenshot(page, "emergency-access-plan")

    coordinator = browser.new_context(viewport={"width": 1280, "height": 900}, locale="da-DK").new_page()
    log_in(coordinator, live_server, "koordinator")
    alerts = coordinator.locator(".ff-emergency-alerts").inner_text()
    assert "Nødadgang til dine patienter" in alerts
    assert reason in alerts
    screenshot(coordinator, "emergency-alert-coordinator")
    coordinator.locator(".ff-emergency-alerts").get_by_role("link", name="Kirsten Poulsen").click()
    coordinator.wait_for_load_state()
    assert coordinator.locator("h1").inner_text() == "Hvem har åbnet planen"
    emergency_row = coordinator.locator("tr.ff-row-emergency").first.inner_text()
    assert "Nødadgang" in emergency_row
    assert reason in emergency_row
    screenshot(coordinator, "plan-access-log")
    coordinator.context.close()
