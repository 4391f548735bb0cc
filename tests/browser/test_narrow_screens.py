"""Plans read on a phone on a home visit, and what people type: no page scrolls sideways, nothing is cut off.

"Fits" means: the document is no wider than the window, no visible element reaches outside the window (not
even inside a scrolling table wrapper, which a phone user would not know to scroll), and no table cell's
content is wider than the cell (in a fixed-layout table it would run into the next column).
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from pathways.choices import AccessAction, AccessPurpose
from pathways.models import AccessLog, Goal, Organisation, PathwayPlan, PlanCondition, Task, User
from pathways.services import emergency_access_grant
from tests.browser.test_demo_walkthrough import log_in
from tests.browser.test_plan_editing import HOME_VISIT, open_kirsten, row_of

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1366, "height": 900}

# The first ten visible elements reaching outside the window, as "tag.classes#id [left, right] text".
OUTSIDE_THE_WINDOW = """() => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  for (const element of document.body.querySelectorAll("*")) {
    if (element.closest(".sr-only, .skipnav")) continue;  // off-screen on purpose
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || (box.left >= -1 && box.right <= width + 1)) continue;
    const classes = [...element.classList].map((name) => "." + name).join("");
    const name = element.tagName.toLowerCase() + classes + (element.id ? "#" + element.id : "");
    const text = element.textContent.trim().slice(0, 40);
    outside.push(`${name} [${Math.round(box.left)}, ${Math.round(box.right)}] ${text}`);
  }
  return outside.slice(0, 10);
}"""
# The first ten table cells whose content is wider than the cell.
OVERFLOWING_CELLS = """() => [...document.querySelectorAll("main td, main th")]
  .filter((cell) => cell.getClientRects().length && cell.scrollWidth > cell.clientWidth + 1)
  .map((cell) => `${cell.dataset.label || cell.tagName} ${cell.scrollWidth} > ${cell.clientWidth}: `
    + cell.textContent.trim().slice(0, 40))
  .slice(0, 10)"""


def assert_fits(page, where: str) -> None:
    page.wait_for_load_state()
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,"
        " window: window.innerWidth})"
    )
    outside = page.evaluate(OUTSIDE_THE_WINDOW)
    assert widths["scroll"] <= widths["client"] <= widths["window"], (
        f"{where} scrolls sideways: {widths}, {outside}"
    )
    assert outside == [], f"{where}: cut off at the window's edge: {outside}"
    overflowing = page.evaluate(OVERFLOWING_CELLS)
    assert overflowing == [], f"{where}: wider than their cells: {overflowing}"


def assert_task_titles_within_window(page, where: str) -> None:
    width = page.evaluate("window.innerWidth")
    titles = page.locator(".ff-task-title")
    assert titles.count() > 0, where
    for i in range(titles.count()):
        box = titles.nth(i).bounding_box()
        assert box is not None, (where, i)
        assert box["x"] >= 0, (where, i, box)
        assert box["x"] + box["width"] <= width, (where, i, box)


def open_context(browser, viewport):
    return browser.new_context(viewport=viewport, locale="da-DK")


@pytest.fixture
def phone(browser):
    context = open_context(browser, PHONE)
    yield context.new_page()
    context.close()


def test_coordinator_reads_and_edits_the_plan_on_a_phone_without_scrolling_sideways(
    phone, live_server, demo, screenshot
):
    log_in(phone, live_server, "koordinator")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Arbejdsliste")
    assert_fits(phone, "worklist")
    screenshot(phone, "narrow-worklist")
    phone.get_by_role("link", name="Mine patienter", exact=True).click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Mine patienter")
    assert_fits(phone, "caseload")
    screenshot(phone, "narrow-caseload")

    open_kirsten(phone)
    assert_fits(phone, "plan by sector")
    assert_task_titles_within_window(phone, "plan by sector")
    screenshot(phone, "narrow-plan")

    phone.get_by_role("link", name="Tidslinje").click()
    assert_fits(phone, "plan timeline")
    assert_task_titles_within_window(phone, "plan timeline")
    screenshot(phone, "narrow-plan-timeline")

    phone.get_by_role("link", name="Efter sektor").click()
    row_of(phone, HOME_VISIT).get_by_role("link", name="Ret").click()
    editor = phone.locator("tr.ff-task-editing")
    expect(editor).to_have_count(1)
    assert_fits(phone, "task editor in the row")
    screenshot(phone, "narrow-task-editor")
    # The editor is usable at this width: fill it in and save, and the row comes back.
    editor.get_by_label("Opgave", exact=True).fill("Hjemmesygeplejebesøg dagen efter udskrivelse")
    editor.get_by_role("button", name="Gem opgave").click()
    expect(row_of(phone, "Hjemmesygeplejebesøg dagen efter udskrivelse")).to_have_count(1)
    assert_fits(phone, "plan after saving the task")

    phone.get_by_role("link", name="Historik for forløbsplanen").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Historik for forløbsplanen")
    assert_fits(phone, "plan history")
    screenshot(phone, "narrow-history")

    phone.go_back()
    phone.get_by_role("link", name="Hvem har åbnet planen").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Hvem har åbnet planen")
    assert_fits(phone, "access log")
    screenshot(phone, "narrow-access-log")

    phone.go_back()
    phone.get_by_role("link", name="Ny opgave").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Ny opgave")
    assert_fits(phone, "new task")
    screenshot(phone, "narrow-task-create")

    phone.goto(live_server.url + reverse("pathways:emergency-access"))
    assert_fits(phone, "emergency access")
    screenshot(phone, "narrow-emergency-access")


def test_one_long_word_in_what_people_typed_breaks_no_page(browser, live_server, demo, screenshot):
    """Bypassing the forms' limits on purpose: the page must hold whatever is in the database."""
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    long_word = ("Genoptræningsforløbsplanlægningsmøde" * 300)[:10_000]
    title_word = long_word[:200]
    Task.objects.filter(plan=plan, title=HOME_VISIT).update(title=title_word, description=long_word)
    PathwayPlan.objects.filter(pk=plan.pk).update(title=title_word, what_matters=long_word)
    goal, condition = plan.goals.earliest("pk"), plan.conditions.earliest("pk")
    Goal.objects.filter(pk=goal.pk).update(description=long_word, expected_result=long_word)
    PlanCondition.objects.filter(pk=condition.pk).update(display=title_word)
    reason = "Akut tilset i hjemmet, se https://example.org/" + long_word
    nurse = User.objects.get(username="holbaek")
    her_organisation = Organisation.objects.get(name="Hjemmesygeplejen Holbæk")
    emergency_access_grant(actor=nurse, organisation=her_organisation, plan=plan, reason=reason)
    AccessLog.objects.create(
        actor=nurse,
        organisation=her_organisation,
        patient=plan.patient,
        plan=plan,
        action=AccessAction.VIEW_PLAN,
        purpose=AccessPurpose.EMERGENCY,
        reason=reason,
    )

    for size, viewport in [("wide", LAPTOP), ("narrow", PHONE)]:
        context = open_context(browser, viewport)
        page = context.new_page()
        log_in(page, live_server, "koordinator")
        assert_fits(page, f"worklist ({size})")  # the long title is a line of it
        page.goto(f"{live_server.url}/")
        assert_fits(page, f"caseload ({size})")
        screenshot(page, f"long-word-caseload-{size}")

        # Kirsten's name is also a link in the emergency-access alert above the list.
        page.locator("#caseload").get_by_role("link", name="Kirsten Poulsen").click()
        assert_fits(page, f"plan ({size})")
        assert_task_titles_within_window(page, f"plan ({size})")
        screenshot(page, f"long-word-plan-{size}")

        page.get_by_role("link", name="Tidslinje").click()
        assert_fits(page, f"plan timeline ({size})")
        assert_task_titles_within_window(page, f"plan timeline ({size})")

        page.get_by_role("link", name="Historik for forløbsplanen").click()
        expect(page.locator("main tbody")).to_contain_text(long_word[:500])
        assert_fits(page, f"history ({size})")
        screenshot(page, f"long-word-history-{size}")

        page.go_back()
        page.get_by_role("link", name="Hvem har åbnet planen").click()
        expect(page.locator("main tbody")).to_contain_text(long_word[:500])
        assert_fits(page, f"access log ({size})")
        screenshot(page, f"long-word-access-log-{size}")
        context.close()
