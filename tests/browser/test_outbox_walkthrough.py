"""The outbox as a new user meets it after `make run`, in a real browser with a real Celery worker, Redis,
PostgreSQL and the local mail sink: the nurse gives a task in Kirsten's plan to her evening colleague,
who finds it on her bell and in her mailbox; Kirsten's appointment reminder goes out by her channel."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone, translation
from playwright.sync_api import expect

from config.celery import app as celery_app
from pathways import outbox
from pathways.choices import NotificationChannel, NotificationKind, NotificationState
from pathways.models import Notification, PathwayPlan, Task
from tests.browser.test_demo_walkthrough import log_in
from tests.browser.test_form_round_trips import HOME_VISIT, open_plan, task_row

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_a_task_given_to_a_colleague_reaches_her_bell_and_mailbox_within_a_minute(
    page, live_server, demo, mail_sink, screenshot
):
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    task = Task.objects.get(plan=plan, title=HOME_VISIT)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        outbox.deliver_due()  # what the demo data left due (the worker would do it within a minute)
        log_in(page, live_server, "kommune")
        open_plan(page, live_server, plan)
        task_row(page, HOME_VISIT).get_by_role("link", name="Ret").click()
        editor = page.locator("form", has=page.get_by_role("button", name="Gem opgave"))
        editor.get_by_label("Ansvarlig person (valgfrit)").select_option(label="Ida Kristensen")
        editor.get_by_role("button", name="Gem opgave").click()
        expect(task_row(page, HOME_VISIT)).to_contain_text("Ida Kristensen")
        saved = timezone.now()

        assigned = Notification.objects.filter(task=task, kind=NotificationKind.TASK_ASSIGNED)
        assert _wait_for(lambda: assigned.filter(state=NotificationState.SENT).count() == 2)
        assert timezone.now() - saved < timedelta(minutes=1)

    # The visit is due tomorrow, so besides "assigned to you" she is told at once that it is due soon.
    mails = [m["body"] for m in mail_sink.messages() if m["to"] == ["aftenvagt@example.invalid"]]
    with translation.override("da"):
        assigned_words = str(NotificationKind.TASK_ASSIGNED.label).lower()
    # Hers, and (as one of home nursing's staff) the one about the demo discharge's follow-up visit.
    assigned_mails = [body for body in mails if assigned_words in body]
    assert assigned_mails
    assert all(f"/plans/{plan.public_id}/" in body for body in assigned_mails)
    for body in mails:  # hers, about any plan (the demo's messages between sectors too)
        assert "/plans/" in body
        assert HOME_VISIT not in body
        assert "Kirsten" not in body

    page.context.clear_cookies()
    log_in(page, live_server, "aftenvagt")
    bell = page.locator("#ff-bell")
    expect(bell.locator(".ff-bell-count")).to_be_visible()  # unread messages, this one among them
    screenshot(page, "bell-aftenvagt")
    bell.click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text(HOME_VISIT)
    expect(page.locator("main")).to_contain_text("Kirsten Poulsen")
    screenshot(page, "notifications-aftenvagt")


def test_kirstens_appointment_reminder_goes_out_by_email_as_she_prefers(demo, mail_sink):
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    reminders = Notification.objects.filter(plan=plan, kind=NotificationKind.APPOINTMENT_REMINDER)
    assert reminders.exists(), "the demo plan has an appointment more than 2 days ahead"
    reminder = reminders.order_by("due_at").first()
    assert reminder is not None
    assert reminder.channel == NotificationChannel.EMAIL  # Kirsten: digital, with an e-mail address
    assert outbox.deliver_due(now=reminder.due_at) >= 1
    to_kirsten = [m for m in mail_sink.messages() if m["to"] == ["kirsten.poulsen@example.invalid"]]
    # The appointment reminder, once; besides it only her WHO-5 questions may be due by then (the demo asks
    # them the day it is made, so whether they come first depends on the hour it was made).
    about_appointment = [m for m in to_kirsten if "om 2 dage" in m["body"]]
    assert len(about_appointment) == 1
    others = [m for m in to_kirsten if m not in about_appointment]
    assert all(m["subject"] == "Et par spørgsmål om, hvordan du har det" for m in others)


def test_the_coordinator_prints_ingrids_letter_from_the_print_queue(page, live_server, demo, screenshot):
    letters = Notification.objects.filter(
        plan__patient__given_name="Ingrid", channel=NotificationChannel.LETTER
    ).order_by("due_at")
    first = letters.first()
    assert first is not None, "Ingrid prefers letters and has an appointment ahead"
    outbox.deliver_due(now=first.due_at)
    log_in(page, live_server, "koordinator")
    page.get_by_role("link", name="Breve").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("Til udskrivning")
    screenshot(page, "letters-koordinator")
    page.get_by_role("link", name="Ingrid Mortensen").first.click()
    page.wait_for_load_state()
    expect(page.locator("article")).to_contain_text("Du har en aftale den")
    screenshot(page, "letter-ingrid")
    page.get_by_role("button", name="Markér som udskrevet og sendt").click()
    page.wait_for_load_state()
    first.refresh_from_db()
    assert first.read_at is not None
