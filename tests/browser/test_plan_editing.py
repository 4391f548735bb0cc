"""The shared plan edited live in a real browser (htmx), and a large plan rendering."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pathways.choices import TaskKind
from pathways.models import Organisation, PathwayPlan, Task
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser
HOME_VISIT = "Hjemmesygeplejebesøg inden for 24 timer efter udskrivelse"
GP_FOLLOW_UP = "Opfølgning hos egen læge efter udskrivelse"


def open_kirsten(page):
    """From wherever sign-in landed (coordinators start on their worklist), through Mine patienter."""
    page.get_by_role("link", name="Mine patienter", exact=True).click()
    page.wait_for_load_state()
    page.locator("#caseload").get_by_role("link", name="Kirsten Poulsen").click()
    page.wait_for_load_state()


def row_of(page, title):
    return page.locator("tr", has=page.locator(".ff-task-title", has_text=title))


def test_nurse_marks_her_home_visit_done_and_the_row_updates_without_reload(
    page, live_server, demo, screenshot
):
    log_in(page, live_server, "kommune")
    open_kirsten(page)
    main = page.locator("main").inner_text()
    # She sees the hospital's and the GP's tasks next to her own.
    assert "Lungemedicinsk ambulatorium" in main or "Medicinsk afdeling" in main
    assert "Lægehuset Algade" in main
    row = row_of(page, HOME_VISIT)
    expect(row_of(page, GP_FOLLOW_UP)).to_contain_text("Venter")  # it waits for her visit
    page.evaluate("window.__notReloaded = true")
    row.get_by_label("Ny status").select_option(label="Udført")
    row.get_by_role("button", name="Skift").click()
    expect(row_of(page, HOME_VISIT).locator(".ff-status")).to_have_text("Udført")
    # The GP's follow-up that waited for the visit is released on the same page.
    expect(row_of(page, GP_FOLLOW_UP)).to_contain_text("Klar: opgaven, den ventede på, er udført")
    expect(row_of(page, GP_FOLLOW_UP)).not_to_contain_text("Venter")
    assert page.evaluate("window.__notReloaded") is True  # swapped in place, no full reload
    screenshot(page, "plan-kirsten-after-edit")
    page.reload()
    expect(row_of(page, HOME_VISIT).locator(".ff-status")).to_have_text("Udført")


def test_nurse_edits_her_home_visit_in_place_and_the_coordinator_adds_a_goal(
    page, live_server, demo, screenshot
):
    log_in(page, live_server, "kommune")
    open_kirsten(page)
    page.evaluate("window.__notReloaded = true")
    row_of(page, HOME_VISIT).get_by_role("link", name="Ret").click()
    editor = page.locator("tr.ff-task-editing")
    expect(editor).to_have_count(1)
    editor.get_by_label("Opgave", exact=True).fill("Hjemmesygeplejebesøg dagen efter udskrivelse")
    editor.get_by_label("Ansvarlig person (valgfrit)").select_option(label="Mette Jensen")
    screenshot(page, "task-edit-in-row")
    editor.get_by_role("button", name="Gem opgave").click()
    updated = row_of(page, "Hjemmesygeplejebesøg dagen efter udskrivelse")
    expect(updated).to_contain_text("Mette Jensen")
    assert page.evaluate("window.__notReloaded") is True
    page.get_by_role("button", name="Log ud").click()

    log_in(page, live_server, "koordinator")
    open_kirsten(page)
    page.evaluate("window.__notReloaded = true")
    page.get_by_role("link", name="Tilføj mål").click()
    page.get_by_label("Mål", exact=True).fill("Kunne gå tur med hunden hver dag")
    page.get_by_role("button", name="Tilføj mål").click()
    expect(page.locator("#goals")).to_contain_text("Kunne gå tur med hunden hver dag")
    assert page.evaluate("window.__notReloaded") is True
    page.reload()
    expect(page.locator("#goals")).to_contain_text("Kunne gå tur med hunden hver dag")


def test_gp_cannot_change_the_hospitals_task(page, live_server, demo):
    log_in(page, live_server, "egenlaege")
    open_kirsten(page)
    hospital_rows = page.locator("tr", has=page.get_by_text("Lungemedicinsk ambulatorium"))
    assert hospital_rows.count() > 0
    assert hospital_rows.locator("form.ff-status-form").count() == 0
    gp_rows = page.locator("tr", has=page.get_by_text("Lægehuset Algade", exact=True))
    assert gp_rows.locator("form.ff-status-form").count() > 0


def test_plan_page_with_200_tasks_renders(page, live_server, demo, screenshot):
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    municipality = Organisation.objects.get(name="Hjemmesygeplejen Roskilde")
    today = timezone.localdate()
    existing = plan.tasks.count()
    Task.objects.bulk_create(
        Task(
            plan=plan,
            title=f"Ekstra besøg {i}",
            kind=TaskKind.HOME_VISIT,
            responsible_organisation=municipality,
            due_date=today + timedelta(days=i - 30),
        )
        for i in range(200 - existing)
    )
    log_in(page, live_server, "kommune")
    open_kirsten(page)
    assert page.locator("tr[id^=task-]").count() == 200
    assert f"Ekstra besøg {200 - existing - 1}" in page.locator("main").inner_text()
    screenshot(page, "plan-200-tasks")
