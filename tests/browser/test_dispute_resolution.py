"""A responsibility dispute seen live: the Holbæk home nurse has a Helle-like plan open and sees the
dispute about the needle-free glucose meter and its age; the plan's coordinator resolves it in another
browser; the nurse's open page shows it resolved without a reload.

The section polls itself (htmx `every Ns`, N = settings.DISPUTES_POLL_SECONDS, 30 in production). The test
shortens the interval to 1 second through that setting; the refresh itself is the page's own, unaided."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coordination import services
from coordination.choices import DisputeQuestion
from coordination.models import Dispute
from pathways import services as hub_services
from pathways.choices import MembershipRole, PlanStatus, Sector, TaskKind, TaskStatus
from pathways.demo import DEMO_PASSWORD
from pathways.models import Organisation, User
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser
METER = "Nålefri blodsukkermåler"


def staff_member(username, organisation, role, first_name, last_name):
    user = User.objects.create_user(
        username=username, password=DEMO_PASSWORD, first_name=first_name, last_name=last_name
    )
    hub_services.membership_add(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def helle(transactional_db, settings):
    """A plan like Helle's: the meter is disputed between the region and the municipality for three
    weeks, home nursing measuring with her in the meantime."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DISPUTES_POLL_SECONDS = 1
    endocrinology = Organisation.objects.create(
        name="Endokrinologisk ambulatorium", sector=Sector.HOSPITAL, sor_code="1101"
    )
    municipality = Organisation.objects.create(
        name="Holbæk Kommune", sector=Sector.MUNICIPALITY, sor_code="2101"
    )
    home_nursing = Organisation.objects.create(
        name="Hjemmesygeplejen Holbæk", sector=Sector.MUNICIPALITY, sor_code="2102", parent=municipality
    )
    nurse = staff_member("sygeplejerske", home_nursing, MembershipRole.CLINICIAN, "Sofie", "Larsen")
    coordinator = staff_member("koordinator", municipality, MembershipRole.COORDINATOR, "Lars", "Nielsen")
    patient = hub_services.patient_create(
        cpr="0206842148", given_name="Helle", family_name="Sørensen", home_municipality="316"
    )
    plan = hub_services.plan_create(
        actor=coordinator,
        patient=patient,
        title="Type 2-diabetes uden nålestik",
        participants=[endocrinology, municipality, home_nursing],
    )
    plan = hub_services.coordinator_assign(
        actor=coordinator, plan=plan, coordinator=coordinator, organisation=municipality
    )
    plan = hub_services.plan_transition(actor=coordinator, plan=plan, to_status=PlanStatus.ACTIVE)
    meter = hub_services.task_create(
        actor=coordinator,
        plan=plan,
        title=METER,
        responsible_organisation=endocrinology,
        kind=TaskKind.ASSISTIVE_DEVICE,
        status=TaskStatus.ON_HOLD,
    )
    dispute = services.dispute_raise(
        actor=nurse,
        task=meter,
        organisation=home_nursing,
        parties=[endocrinology, municipality],
        question=DisputeQuestion.WHO_PAYS,
        reason="Region og kommune er uenige om, hvem der betaler måleren.",
        interim_organisation=home_nursing,
        interim_note="Hjemmesygeplejen hjælper med målinger.",
    )
    Dispute.objects.filter(pk=dispute.pk).update(raised_at=timezone.now() - timedelta(days=21))
    return plan, dispute


def test_the_nurse_sees_the_dispute_resolved_by_the_coordinator_without_reloading(
    page, browser, live_server, helle, screenshot
):
    plan, dispute = helle
    plan_path = f"{live_server.url}/plans/{plan.public_id}/"
    log_in(page, live_server, "sygeplejerske")
    page.goto(plan_path)
    card = page.locator(f"#dispute-{dispute.public_id}")
    expect(card).to_have_attribute("data-status", "open")
    expect(card).to_contain_text(METER)
    expect(card).to_contain_text("21 dage")
    expect(card).to_contain_text("Hjemmesygeplejen Holbæk")  # who acts in the meantime
    # The task row carries the marker too, linking to the dispute.
    expect(page.locator(f"a[href='#dispute-{dispute.public_id}']")).to_have_count(1)
    # The nurse may not resolve it: that is the coordinator's.
    expect(page.locator(f"a[href$='/disputes/{dispute.public_id}/resolve/']")).to_have_count(0)
    screenshot(page, "dispute-open-nurse")
    page.evaluate("window.__notReloaded = true")

    coordinator_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="da-DK")
    try:
        other = coordinator_context.new_page()
        log_in(other, live_server, "koordinator")
        other.goto(plan_path)
        other.locator(f"a[href$='/disputes/{dispute.public_id}/resolve/']").click()
        form = other.locator("#dispute-resolve-form")
        form.locator("textarea[name=decision]").fill("Kommunen bevilger måleren som hjælpemiddel.")
        form.locator("select[name=responsible_organisation]").select_option(label="Holbæk Kommune")
        form.locator("button[type=submit]").click()
        expect(other.locator(f"#dispute-{dispute.public_id}")).to_have_attribute("data-status", "resolved")
        # The task's row on her page follows: no marker, the organisation decided on.
        her_row = other.locator(f"#task-{dispute.task.public_id}")
        expect(her_row.locator("td[data-label='Ansvarlig']")).to_contain_text("Holbæk Kommune")
        expect(her_row.locator(f"a[href='#dispute-{dispute.public_id}']")).to_have_count(0)
        screenshot(other, "dispute-resolved-coordinator")
    finally:
        coordinator_context.close()

    resolved = page.locator(f"#dispute-{dispute.public_id}")
    expect(resolved).to_have_attribute("data-status", "resolved", timeout=10_000)
    expect(resolved).to_contain_text("Kommunen bevilger måleren som hjælpemiddel.")
    # And the nurse's task table: the marker is gone, the task is the municipality's.
    row = page.locator(f"#task-{dispute.task.public_id}")
    expect(row.locator("td[data-label='Ansvarlig']")).to_contain_text("Holbæk Kommune")
    expect(page.locator(f"a[href='#dispute-{dispute.public_id}']")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True  # refreshed in place, no reload
    screenshot(page, "dispute-resolved-nurse")
    dispute.refresh_from_db()
    assert dispute.resolved_by.username == "koordinator"
    assert dispute.task.responsible_organisation.name == "Holbæk Kommune"
