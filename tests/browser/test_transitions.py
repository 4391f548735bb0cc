"""Hospital events on the plan page in a real browser: the hospital nurse records Kirsten's discharge, the
plan reacts (held tasks resumed, the follow-ups of her templates made), and the home nurse finds the new
home nursing visit on the plan and the news on her bell. The correction form saved unchanged changes
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pathways import outbox, stays
from pathways.choices import (
    STAY_OPEN_STATUSES,
    NotificationChannel,
    NotificationKind,
    TaskStatus,
    TransitionKind,
    TransitionState,
)
from pathways.models import HospitalStay, Notification, Organisation, PathwayPlan, Task, Transition, User
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser
HOME_NURSING = "Hjemmesygeplejen Roskilde"


@pytest.fixture
def kirsten(demo) -> PathwayPlan:
    """Kirsten's plan with her in hospital now (the browser tests' demo has just received her discharge:
    the hospital admits her again), and the demo's messages delivered."""
    plan = PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")
    if not HospitalStay.objects.filter(patient=plan.patient, status__in=STAY_OPEN_STATUSES).exists():
        stays.transition_record(
            actor=User.objects.get(username="sygehus"),
            patient=plan.patient,
            kind=TransitionKind.ADMISSION,
            occurred_at=timezone.now() - timedelta(minutes=5),
            hospital=Organisation.objects.get(name="Medicinsk afdeling"),
        )
    outbox.deliver_due()
    return plan


def open_kirsten(page, live_server, plan):
    page.goto(f"{live_server.url}/plans/{plan.public_id}/")
    page.wait_for_load_state()


def test_the_hospital_nurse_records_the_discharge_and_the_home_nurse_sees_the_new_visit(
    page, live_server, kirsten, screenshot
):
    held_before = set(kirsten.tasks.filter(status=TaskStatus.ON_HOLD).values_list("pk", flat=True))
    assert held_before, "in hospital: the municipality's and the GP's tasks are on hold"

    log_in(page, live_server, "sygehus")
    open_kirsten(page, live_server, kirsten)
    expect(page.locator("#in-hospital")).to_be_visible()
    section = page.locator("#stays")
    section.locator("a[href$='/stays/record/']").click()
    form = page.locator("#stay-event-form")
    expect(form).to_be_visible()
    form.locator("select[name=event]").select_option("discharge")
    screenshot(page, "stays-record-discharge")
    # The whole plan page comes again: tasks all over it have changed.
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("#in-hospital")).to_have_count(0)

    discharge = Transition.objects.filter(
        plan=kirsten, kind=TransitionKind.DISCHARGE, state=TransitionState.APPLIED
    ).latest("created_at")
    assert discharge.recorded_by == User.objects.get(username="sygehus")
    visit = Task.objects.get(created_by_transition=discharge, responsible_organisation__name=HOME_NURSING)
    assert visit.due_date == timezone.localdate(discharge.occurred_at) + timedelta(days=1)
    event = page.locator(f"#stay-event-{discharge.public_id}")
    expect(event).to_be_visible()
    expect(event.locator("[data-effect=created]")).to_contain_text(visit.title)
    expect(event.locator("[data-effect=resumed]")).to_be_visible()
    screenshot(page, "stays-after-discharge")
    assert not Task.objects.filter(pk__in=held_before, status=TaskStatus.ON_HOLD).exists()

    outbox.deliver_due()  # what the worker does within a minute of the commit
    page.get_by_role("button", name="Log ud").click()
    log_in(page, live_server, "kommune")
    open_kirsten(page, live_server, kirsten)
    row = page.locator(f"#task-{visit.public_id}")
    expect(row).to_be_visible()
    expect(row).to_contain_text(visit.title)
    expect(row).to_contain_text(HOME_NURSING)
    expect(row.locator(".ff-status")).to_have_attribute("data-status", TaskStatus.REQUESTED)
    screenshot(page, "stays-home-nurse-plan")

    told = Notification.objects.get(
        kind=NotificationKind.PATIENT_DISCHARGED,
        channel=NotificationChannel.IN_APP,
        recipient_id=User.objects.get(username="kommune").pk,
        plan=kirsten,
        dedupe_key__contains=f"transition:{discharge.pk}",
    )
    bell = page.locator("#ff-bell")
    expect(bell.locator(".ff-bell-count")).to_be_visible()
    bell.get_by_role("link").click()
    page.wait_for_load_state()
    notice = page.locator(f"#notification-{told.public_id}")
    expect(notice).to_have_class("ff-notification ff-notification-unread")
    expect(notice).to_contain_text("Kirsten Poulsen")
    screenshot(page, "stays-home-nurse-bell")


def test_the_correction_form_saved_unchanged_changes_nothing(page, live_server, kirsten):
    hospital = Organisation.objects.get(name="Medicinsk afdeling")
    nurse = User.objects.get(username="sygehus")
    leave = stays.transition_record(
        actor=nurse,
        patient=kirsten.patient,
        kind=TransitionKind.LEAVE_START,
        occurred_at=(timezone.now() - timedelta(minutes=2)).replace(second=17),
        hospital=hospital,
    )
    log_in(page, live_server, "sygehus")
    open_kirsten(page, live_server, kirsten)
    event = page.locator(f"#stay-event-{leave.public_id}")
    event.locator("a[href$='/correct/']").click()
    form = page.locator(f"#stay-correct-{leave.public_id}")
    expect(form).to_be_visible()
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(f"#stay-event-{leave.public_id}")).to_be_visible()
    assert Transition.objects.get(pk=leave.pk).state == TransitionState.APPLIED
    assert not Transition.objects.filter(corrects=leave).exists()
