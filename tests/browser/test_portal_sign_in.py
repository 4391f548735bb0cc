"""Signing in to the portal as Kirsten does, on a phone (360 px) with JavaScript turned off: she asks for a
link with her e-mail address, the link arrives in the mail sink, its button sends a code to the SMS sink;
tapping the link again while the code is on its way brings her back to the code page; a wrong code says
so, the right one opens her plan; "log ud" opened as a page asks first; she signs out. Five wrong codes
get their own plain words. Screenshots: portal_signin_*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Page, expect

from pathways import outbox
from portal.models import CODE_TRIES, PortalSession, PortalSignIn
from tests.conftest import World

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
EMAIL = "kirsten@example.dk"


@pytest.fixture
def kirsten(transactional_db: None, world: World) -> World:
    world.patient.email, world.patient.phone = EMAIL, "22 41 63 18"
    world.patient.save(update_fields=["email", "phone"])
    return world


def submit(page: Page) -> None:
    with page.expect_navigation():
        page.locator("main button[type=submit]").click()


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_kirsten_signs_in_with_a_link_by_mail_and_a_code_by_sms_without_javascript(
    browser: Any, live_server: Any, kirsten: World, mail_sink: Any, sms_sink: Any, screenshot: Any
) -> None:
    context = browser.new_context(viewport=PHONE, locale="da-DK", java_script_enabled=False)
    page = context.new_page()
    base = live_server.url

    page.goto(base + reverse("portal:home"))
    assert page.url == base + reverse("portal:sign-in")
    expect(page.locator("h1")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "portal_signin_1_ask")

    page.locator("input[name=address]").fill("")
    submit(page)
    expect(page.locator("input[name=address]")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "portal_signin_2_ask_empty")

    page.locator("input[name=address]").fill(EMAIL.upper())
    submit(page)
    assert page.url == base + reverse("portal:sign-in-sent")
    screenshot(page, "portal_signin_3_sent")

    outbox.deliver_due()  # what the worker does as the request commits
    [mail] = mail_sink.messages()
    assert mail["to"] == [EMAIL]
    found = re.search(r"https?://\S+(/portal/log-ind/link/\S+/)", mail["body"])
    assert found is not None
    page.goto(base + found.group(1))
    expect(page.locator("main form[method=post] button")).to_be_visible()
    screenshot(page, "portal_signin_4_link")
    submit(page)
    assert page.url == base + reverse("portal:sign-in-code")
    no_sideways_scroll(page)
    screenshot(page, "portal_signin_5_code")

    page.goto(base + found.group(1))  # she taps the link in the mail again while the code is on its way
    assert page.url == base + reverse("portal:sign-in-code")
    expect(page.locator("input[name=code]")).to_be_visible()

    outbox.deliver_due()
    [sms] = sms_sink.messages()  # one code only
    assert sms["msisdn"] == 4522416318
    code = re.search(r"\b(\d{6})\b", sms["message"])
    assert code is not None
    wrong = f"{(int(code.group(1)) + 1) % 1_000_000:06d}"
    page.locator("input[name=code]").fill(wrong)
    submit(page)
    expect(page.locator("input[name=code]")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "portal_signin_6_code_wrong")

    page.locator("input[name=code]").fill(code.group(1))
    submit(page)
    plan = kirsten.plan
    assert page.url == base + reverse("portal:plan", args=[plan.public_id])
    expect(page.locator("main")).to_contain_text("Hjemmebesøg")
    screenshot(page, "portal_signin_7_signed_in")
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    portal_cookie = next(cookie for name, cookie in cookies.items() if name.endswith("ff_portal"))
    assert portal_cookie["path"] == "/portal/"
    assert portal_cookie["httpOnly"]
    assert "sessionid" not in cookies
    assert not any(name.endswith("_sign_in") for name in cookies)

    page.goto(base + reverse("portal:sign-out"))  # "log ud" opened as a page: it asks first
    expect(page.locator("main form[method=post] button")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "portal_signin_8_sign_out_asks")
    assert PortalSession.objects.get().ended_at is None
    with page.expect_navigation():
        page.locator(f"main a[href='{reverse('portal:home')}']").click()
    assert page.url == base + reverse("portal:plan", args=[plan.public_id])

    with page.expect_navigation():
        page.locator(f"header form[action='{reverse('portal:sign-out')}'] button").click()
    assert page.url.startswith(base + reverse("portal:sign-in"))
    expect(page.locator("[role=status]")).to_be_visible()
    screenshot(page, "portal_signin_9_signed_out")
    assert PortalSession.objects.get().ended_at is not None

    page.goto(base + found.group(1))  # the link again: used
    expect(page.locator("main a[href='" + reverse("portal:sign-in") + "']")).to_be_visible()
    screenshot(page, "portal_signin_10_link_used")
    context.close()


def test_five_wrong_codes_get_their_own_plain_words(
    browser: Any, live_server: Any, kirsten: World, screenshot: Any
) -> None:
    context = browser.new_context(viewport=PHONE, locale="da-DK", java_script_enabled=False)
    base = live_server.url
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": base}])
    page = context.new_page()
    page.goto(base + reverse("portal:sign-in"))
    page.locator("input[name=address]").fill(EMAIL)
    submit(page)
    sign_in = PortalSignIn.objects.get()
    page.goto(base + reverse("portal:sign-in-link", args=[sign_in.public_id, sign_in.link_token()]))
    submit(page)
    sign_in.refresh_from_db()
    wrong = f"{(int(sign_in.code()) + 1) % 1_000_000:06d}"

    for _try in range(CODE_TRIES):
        page.locator("input[name=code]").fill(wrong)
        submit(page)

    expect(page.locator("h1")).to_have_text("The code was wrong too many times")
    expect(page.locator(f"main a[href='{reverse('portal:sign-in')}']")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "portal_signin_11_too_many_codes")
    context.close()


def test_the_sign_in_page_at_desktop_width(
    browser: Any, live_server: Any, transactional_db: None, screenshot: Any
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="da-DK", java_script_enabled=False)
    page = context.new_page()
    response = page.goto(live_server.url + reverse("portal:sign-in"))
    assert response is not None
    assert response.status == 200
    assert "no-store" in response.headers["cache-control"]
    screenshot(page, "portal_signin_desktop")
    context.close()
