"""Printable plans as a new user meets them after `make run`, in a real browser with a real Celery worker,
Redis and PostgreSQL: Kirsten's coordinator asks for her plan in large print on the plan page, sees it being
made, and opens the PDF when the page turns to ready; the print queue shows each letter's PDF."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from config.celery import app as celery_app
from pathways import outbox
from pathways.choices import (
    AccessAction,
    DocumentKind,
    DocumentState,
    NotificationChannel,
    NotificationKind,
)
from pathways.models import AccessLog, Notification, PathwayPlan, PlanDocument
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_demo_walkthrough import log_in
from tests.browser.test_form_round_trips import open_plan
from tests.browser.test_narrow_screens import PHONE, assert_fits

pytestmark = [pytest.mark.browser, pytest.mark.worker]

# The worker's first render loads WeasyPrint and the fonts: give it time on a busy machine.
READY_WITHIN_MS = 90_000


def _wait_for(predicate, seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_the_coordinator_asks_for_kirstens_large_print_plan_sees_it_made_and_opens_the_pdf(
    page, live_server, demo, screenshot
):
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, plan)
    print_section = page.locator("section.ff-print")
    expect(print_section.locator("button")).to_have_count(3)
    print_section.screenshot(path=str(SCREENSHOTS / "doc15_staff_plan_print.png"))

    # Asked for before any worker runs: the page shows it waiting, and keeps asking.
    print_section.locator('button[name="kind"][value="large_print"]').click()
    page.wait_for_load_state()
    document = PlanDocument.objects.get(plan=plan, kind=DocumentKind.LARGE_PRINT)
    assert page.url == f"{live_server.url}/documents/{document.public_id}/"
    status = page.locator(".ff-document-status")
    expect(status).to_have_attribute("data-state", DocumentState.QUEUED)
    expect(status.locator("progress")).to_be_visible()
    expect(page.locator("main .font-lead")).to_contain_text("Kirsten Poulsen")
    screenshot(page, "doc15_staff_document_waiting")
    page.goto(f"{live_server.url}/plans/{plan.public_id}/documents/")
    expect(page.locator(f"#document-status-{document.public_id}")).to_have_attribute("data-state", "queued")
    screenshot(page, "doc15_staff_documents_rendering")
    page.go_back()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # The request sent on commit waits in Redis; the worker takes it. The page turns by itself.
        expect(status).to_have_attribute("data-state", DocumentState.DONE, timeout=READY_WITHIN_MS)
    link = status.locator("a.ff-document-open")
    expect(link).to_be_visible()
    screenshot(page, "doc15_staff_document_ready")

    pdf = page.request.get(live_server.url + link.get_attribute("href"))
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    assert AccessLog.objects.filter(
        actor__username="koordinator", plan=plan, action=AccessAction.DOWNLOAD_DOCUMENT
    ).exists()

    page.goto(f"{live_server.url}/plans/{plan.public_id}/documents/")
    expect(page.locator(f"#document-status-{document.public_id}")).to_have_attribute("data-state", "done")
    screenshot(page, "doc15_staff_documents_done")

    # A PDF that could not be made says so, and can be asked for again (here with no worker running).
    page.locator("#documents-staff").locator("xpath=..").get_by_role("button").click()
    page.wait_for_load_state()
    failed = PlanDocument.objects.get(plan=plan, kind=DocumentKind.STAFF)
    PlanDocument.objects.filter(pk=failed.pk).update(state=DocumentState.FAILED, error="MemoryError")
    page.reload()
    expect(page.locator(".ff-document-failed")).to_be_visible()
    screenshot(page, "doc15_staff_document_failed")
    page.locator(".ff-document-failed").get_by_role("button").click()
    page.wait_for_load_state()
    expect(page.locator(".ff-document-status")).to_have_attribute("data-state", DocumentState.QUEUED)

    # On a phone: nothing scrolls sideways or is cut off.
    page.set_viewport_size(PHONE)
    assert_fits(page, "a document's page")
    page.goto(f"{live_server.url}/plans/{plan.public_id}/documents/")
    assert_fits(page, "printed plans")
    open_plan(page, live_server, plan)
    assert_fits(page, "the plan page with its print buttons")


def test_the_print_queue_shows_each_letters_pdf_and_opens_it(page, live_server, demo, screenshot):
    """Ingrid prefers letters: her appointment reminder, once due, is delivered to the coordinator's print
    queue, and the outbox asks the worker for its PDF, which it makes."""
    reminder = Notification.objects.get(
        plan__patient__given_name="Ingrid",
        channel=NotificationChannel.LETTER,
        kind=NotificationKind.APPOINTMENT_REMINDER,
    )
    letters = PlanDocument.objects.filter(kind=DocumentKind.LETTER, plan__patient__given_name="Ingrid")
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        outbox.deliver_due(now=reminder.due_at)
        assert _wait_for(letters.exists)
        assert _wait_for(lambda: not letters.exclude(state=DocumentState.DONE).exists())
    log_in(page, live_server, "koordinator")
    page.goto(f"{live_server.url}/letters/")
    row = page.locator("tbody tr", has_text="Ingrid Mortensen").first
    link = row.locator("a.ff-document-open")
    expect(link).to_be_visible()
    screenshot(page, "doc15_staff_print_queue")
    pdf = page.request.get(live_server.url + link.get_attribute("href"))
    assert pdf.body().startswith(b"%PDF")
