"""The bell in a real browser: a demo nurse sees how many messages she has not read, opens the list and
marks one read in place (htmx); the bell's number follows without a reload. It all fits a phone too."""

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from pathways import outbox, selectors
from pathways.choices import NotificationChannel, NotificationKind
from pathways.models import Notification, PathwayPlan, User
from tests.browser.test_demo_walkthrough import log_in
from tests.browser.test_narrow_screens import PHONE, assert_fits

pytestmark = pytest.mark.browser


def unread_words(count: int) -> str:
    """What screen readers are told, in the page's language (Danish)."""
    with translation.override("da"):
        return translation.ngettext(
            "%(counter)s unread notification", "%(counter)s unread notifications", count
        ) % {"counter": count}


@pytest.fixture
def message(demo) -> Notification:
    """A task in Kirsten's plan given to the municipal nurse, as the outbox writes and delivers it."""
    nurse = User.objects.get(username="kommune")
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    key = outbox.notify(
        recipient=nurse,
        kind=NotificationKind.TASK_ASSIGNED,
        channel=NotificationChannel.IN_APP,
        plan=plan,
        task=plan.tasks.order_by("id").first(),
        due_at=timezone.now(),
        event="browser",
    )
    outbox.deliver_due()
    return Notification.objects.select_related("task").get(dedupe_key=key)


def test_nurse_sees_her_unread_messages_on_the_bell_and_marks_one_read(
    page, live_server, message, screenshot
):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    unread = selectors.unread_notification_count(User.objects.get(username="kommune"))
    assert unread >= 1

    log_in(page, live_server, "kommune")
    bell = page.locator("#ff-bell")
    expect(bell.locator(".ff-bell-count")).to_have_text(str(unread))
    expect(bell.locator(".sr-only")).to_have_text(unread_words(unread))
    screenshot(page, "bell-kommune")

    bell.get_by_role("link").click()
    page.wait_for_load_state()
    row = page.locator(f"#notification-{message.public_id}")
    expect(row).to_have_class("ff-notification ff-notification-unread")
    expect(row).to_contain_text("Kirsten Poulsen")
    assert message.task is not None
    expect(row).to_contain_text(message.task.title)
    screenshot(page, "notifications-kommune")

    page.evaluate("window.__notReloaded = true")
    row.get_by_role("button").click()
    expect(page.locator(f"#notification-{message.public_id}")).to_have_class("ff-notification")
    if unread > 1:
        expect(bell.locator(".ff-bell-count")).to_have_text(str(unread - 1))
        expect(bell.locator(".sr-only")).to_have_text(unread_words(unread - 1))
    else:
        expect(bell.locator(".ff-bell-count")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True  # swapped in place, no full reload
    screenshot(page, "notifications-kommune-after-read")

    page.set_viewport_size(PHONE)  # on a home visit: the header with the bell and the list fit the phone
    page.reload()
    assert_fits(page, "the notifications on a phone")
    screenshot(page, "notifications-kommune-phone")
    assert violations == []
