"""Wellbeing on the plan in a real browser: the coordinator enters Kirsten's WHO-5 answers given on paper
(a create-only form: what is typed — the date key by key, one radio per question — is what is stored), sees
the trend chart with its table on the plan page, opens the response and marks its flag seen. Screenshots
of the plan section and the response page (q16_staff_*)."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils import timezone

from pathways.models import PathwayPlan
from quality import instruments, services
from quality.choices import ResponseSource
from quality.instruments import WHO5_KEY
from quality.models import Questionnaire, QuestionnaireResponse
from tests.browser.test_coordination_round_trips import open_plan, type_date
from tests.conftest import sign_in

pytestmark = pytest.mark.browser

# What Kirsten answered on paper: 2+2+3+1+3 = 11, score 44 (reduced wellbeing; "rested" at 1 flags it).
PAPER = {"cheerful": 2, "calm": 2, "active": 3, "rested": 1, "interest": 3}


def log_in(page, live_server, user) -> None:
    """The user signed in as they would be (password and, where their account needs it, the second step:
    tests.conftest.sign_in), the session handed to the browser."""
    client = sign_in(Client(), user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def test_the_coordinator_enters_answers_given_on_paper_and_reads_the_trend(
    page, live_server, transactional_db, world, screenshot
):
    # A transactional test before this one may have emptied the tables the data migration filled.
    instruments.ship(apps)
    plan = world.plan
    # Kirsten's plan made half a year ago, with two earlier answers, so the trend has a past.
    PathwayPlan.objects.filter(pk=plan.pk).update(created_at=timezone.now() - timedelta(days=200))
    coordinator = world.coordinator
    who5 = Questionnaire.objects.get(key=WHO5_KEY)
    today = timezone.localdate()
    for days, values in ((170, [4, 4, 3, 4, 4]), (80, [3, 3, 3, 2, 3])):
        services.response_record(
            questionnaire=who5,
            plan=plan,
            answers=dict(zip(PAPER, values, strict=True)),
            source=ResponseSource.STAFF_VISIT,
            actor=coordinator,
            answered_on=today - timedelta(days=days),
        )
    before = set(QuestionnaireResponse.objects.values_list("pk", flat=True))

    log_in(page, live_server, coordinator)
    open_plan(page, live_server, plan)
    page.locator("#wellbeing a[href$='/questionnaires/new/']").click()
    page.wait_for_load_state()
    form = page.locator("#response-form")
    form.locator("[name=respondent]").select_option("patient")
    form.locator("[name=source][value=staff_paper]").check()
    answered_on = today - timedelta(days=9)
    type_date(form.locator("[name=answered_on]"), answered_on)
    for link_id, value in PAPER.items():
        form.locator(f"[name=item_{link_id}][value='{value}']").check()
    screenshot(page, "q16_staff_entry_form")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("#wellbeing")

    entered = QuestionnaireResponse.objects.exclude(pk__in=before).get()
    assert entered.answers == PAPER
    assert entered.answered_on == answered_on
    assert (entered.source, entered.entered_by, entered.relative) == (
        ResponseSource.STAFF_PAPER,
        coordinator,
        None,
    )
    assert (entered.raw_score, entered.score, entered.flagged) == (11, 44, True)

    section = page.locator("#wellbeing")
    assert section.locator("svg[role=img] circle").count() >= 3
    assert section.locator(f"#response-{entered.public_id}").count() == 1
    section.scroll_into_view_if_needed()
    section.screenshot(
        path=str(screenshot(page, "q16_staff_plan_page").with_name("q16_staff_plan_section.png"))
    )

    section.locator(f"#response-{entered.public_id} a").click()
    page.wait_for_load_state()
    screenshot(page, "q16_staff_response")
    with page.expect_navigation():
        page.locator("form[action$='/seen/'] button").click()
    page.wait_for_load_state()
    entered.refresh_from_db()
    assert entered.flag_seen_by == coordinator
    assert page.locator("form[action$='/seen/']").count() == 0
