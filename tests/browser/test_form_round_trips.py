"""Every edit form, in a real browser: opened and saved unchanged it changes nothing; what a user types is
what is stored (dates, long text with line breaks, Danish letters).

A date input once rendered "29.11.2026"; browsers take only ISO dates there, showed the field empty and
posted it empty, so every unchanged save erased a task's dates. Textareas post line breaks as CRLF.
Each new edit form gets a test here.
"""

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from pathways.models import Goal, PathwayPlan, Task
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser
HOME_VISIT = "Hjemmesygeplejebesøg inden for 24 timer efter udskrivelse"
MULTILINE = "Første linje med æøå.\nAnden linje.\n\nTredje afsnit efter en tom linje."
AUDITED = ["Task", "Goal", "PathwayPlan", "PlanParticipant"]


def kirstens_plan():
    return PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")


def database_state(plan):
    """Every stored value of the plan, its goals and tasks, and how many audit events exist."""
    return {
        "plan": PathwayPlan.objects.filter(pk=plan.pk).values().get(),
        "tasks": list(Task.objects.filter(plan=plan).order_by("pk").values()),
        "goals": list(Goal.objects.filter(plan=plan).order_by("pk").values()),
        "events": {name: apps.get_model("pathways", f"{name}Event").objects.count() for name in AUDITED},
    }


@pytest.fixture
def kirsten(demo):
    """Kirsten's plan with multi-line text in every long field, and a goal with a target date."""
    plan = kirstens_plan()
    PathwayPlan.objects.filter(pk=plan.pk).update(what_matters=MULTILINE)
    Task.objects.filter(plan=plan, title=HOME_VISIT).update(description=MULTILINE)
    goal = plan.goals.order_by("pk").first()
    Goal.objects.filter(pk=goal.pk).update(
        description=MULTILINE, target_date=timezone.localdate() + timedelta(days=60)
    )
    task = Task.objects.get(plan=plan, title=HOME_VISIT)
    assert task.window_start is not None  # the dates an unchanged save once erased
    assert task.due_date is not None
    return plan


def open_plan(page, live_server, plan):
    page.goto(f"{live_server.url}/plans/{plan.public_id}/")
    page.wait_for_load_state()


def task_row(page, title):
    return page.locator("tr", has=page.locator(".ff-task-title", has_text=title))


def test_task_editor_saved_unchanged_changes_nothing(page, live_server, kirsten, screenshot):
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    before = database_state(kirsten)
    task_row(page, HOME_VISIT).get_by_role("link", name="Ret").click()
    editor = page.locator("tr.ff-task-editing")
    expect(editor).to_have_count(1)
    task = Task.objects.get(plan=kirsten, title=HOME_VISIT)
    # The browser shows the stored dates (an ISO value), not an empty field.
    expect(editor.get_by_label("Frist")).to_have_value(str(task.due_date))
    expect(editor.get_by_label("Fra (valgfrit)")).to_have_value(str(task.window_start))
    screenshot(page, "round-trip-task-editor")
    editor.get_by_role("button", name="Gem opgave").click()
    expect(page.locator("tr.ff-task-editing")).to_have_count(0)
    expect(task_row(page, HOME_VISIT)).to_be_visible()
    assert database_state(kirsten) == before


def test_task_editor_stores_a_changed_date_and_long_text_as_entered(page, live_server, kirsten):
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    task_row(page, HOME_VISIT).get_by_role("link", name="Ret").click()
    editor = page.locator("tr.ff-task-editing")
    new_due = date(2026, 12, 24)
    long_text = ("Husk nøglen hos naboen på nr. 7 – ring på først.\n" * 40).strip()[:2000]
    editor.get_by_label("Frist").fill(new_due.isoformat())
    editor.get_by_label("Beskrivelse").fill(long_text)
    editor.get_by_role("button", name="Gem opgave").click()
    expect(page.locator("tr.ff-task-editing")).to_have_count(0)
    task = Task.objects.get(plan=kirsten, title=HOME_VISIT)
    assert task.due_date == new_due
    assert task.description == long_text


@pytest.mark.parametrize(
    ("form", "button"), [("task", "Gem opgave"), ("goal", "Gem mål"), ("what-matters", "Gem")]
)
def test_edit_page_without_javascript_saved_unchanged_changes_nothing(
    browser, live_server, kirsten, form, button
):
    """Without JavaScript the forms post natively: CRLF line breaks and the browser's own date value."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    plan_url = f"{live_server.url}/plans/{kirsten.public_id}"
    urls = {
        "task": f"{plan_url}/tasks/{Task.objects.get(plan=kirsten, title=HOME_VISIT).public_id}/edit/",
        "goal": f"{plan_url}/goals/{kirsten.goals.order_by('pk').first().public_id}/edit/",
        "what-matters": f"{plan_url}/what-matters/",
    }
    try:
        log_in(page, live_server, "koordinator")
        before = database_state(kirsten)
        page.goto(urls[form])
        page.get_by_role("button", name=button).click()
        page.wait_for_load_state()
        assert page.url.startswith(plan_url)  # saved and back on the plan, not an error
        assert database_state(kirsten) == before
    finally:
        context.close()


def test_goal_editor_saved_unchanged_changes_nothing_and_keeps_a_changed_date(page, live_server, kirsten):
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    goal = kirsten.goals.order_by("pk").first()
    before = database_state(kirsten)
    item = page.locator(f"#goal-{goal.public_id}")
    item.get_by_role("link", name="Ret").click()
    form = page.locator(f"#goal-form-{goal.public_id}")
    expect(form.get_by_label("Måldato (valgfrit)")).to_have_value(goal.target_date.isoformat())
    form.get_by_role("button", name="Gem mål").click()
    expect(page.locator(f"#goal-form-{goal.public_id}")).to_have_count(0)
    assert database_state(kirsten) == before

    page.locator(f"#goal-{goal.public_id}").get_by_role("link", name="Ret").click()
    form = page.locator(f"#goal-form-{goal.public_id}")
    form.get_by_label("Måldato (valgfrit)").fill("2027-03-01")
    form.get_by_role("button", name="Gem mål").click()
    expect(page.locator(f"#goal-form-{goal.public_id}")).to_have_count(0)
    goal.refresh_from_db()
    assert goal.target_date == date(2027, 3, 1)
    assert goal.description == MULTILINE


def test_what_matters_saved_unchanged_changes_nothing_and_keeps_line_breaks(page, live_server, kirsten):
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    before = database_state(kirsten)
    body = page.locator("#what-matters-body")
    body.get_by_role("link", name="Ret").click()
    expect(page.locator("#what-matters-body textarea")).to_have_value(MULTILINE)
    page.locator("#what-matters-body").get_by_role("button", name="Gem").click()
    expect(page.locator("#what-matters-body textarea")).to_have_count(0)
    assert database_state(kirsten) == before

    page.locator("#what-matters-body").get_by_role("link", name="Ret").click()
    written = "At kunne passe min have.\nAt se mine børnebørn hver søndag."
    page.locator("#what-matters-body textarea").fill(written)
    page.locator("#what-matters-body").get_by_role("button", name="Gem").click()
    expect(page.locator("#what-matters-body textarea")).to_have_count(0)
    assert kirstens_plan().what_matters == written


def test_new_task_is_stored_as_entered(page, live_server, kirsten):
    log_in(page, live_server, "koordinator")
    page.goto(f"{live_server.url}/plans/{kirsten.public_id}/tasks/new/")
    page.get_by_label("Opgave", exact=True).fill("Opfølgende samtale om KOL-forløbet")
    page.get_by_label("Ansvarlig organisation").select_option(index=1)
    page.get_by_label("Fra (valgfrit)").fill("2026-12-28")
    page.get_by_label("Frist").fill("2027-01-08")
    page.get_by_label("Beskrivelse").fill(MULTILINE)
    page.get_by_role("button", name="Tilføj opgave").click()
    page.wait_for_load_state()
    task = Task.objects.get(plan=kirsten, title="Opfølgende samtale om KOL-forløbet")
    assert (task.window_start, task.due_date) == (date(2026, 12, 28), date(2027, 1, 8))
    assert task.description == MULTILINE
