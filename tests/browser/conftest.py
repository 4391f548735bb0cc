"""Headless Chromium (the system's, driven by Playwright) against pytest-django's live server."""

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import sync_playwright

from pathways import ingest, medcom
from pathways.demo import DEMO_MEDCOM_KEY

CHROMIUM = os.environ.get("FF_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("FF_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / ".var" / "screenshots")
)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                  "--disable-dev-shm-usage", "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="da-DK")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def demo(transactional_db, settings):
    """The demo, with Kirsten back home: seed_demo leaves her admitted (so that a person trying the product
    can send her discharge); here the demo's discharge notice is received, so her home visit and GP
    follow-up are no longer on hold (a visit cannot be done while she is in hospital)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    credential = ingest.credential_authenticate(DEMO_MEDCOM_KEY)
    assert credential is not None
    # Ten minutes ago, so that a test can admit her again and discharge her by hand "now".
    message = medcom.example_message("kirsten-discharge", now=timezone.now() - timedelta(minutes=10))
    status, _answer = ingest.medcom_receive(credential=credential, body=json.dumps(message).encode())
    assert status == 200


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
