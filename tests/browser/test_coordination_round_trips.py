r"""The coordination forms on the plan page, in a real browser: opened and saved unchanged they change
nothing; what a user types is what is stored (dates typed key by key, digits, long Danish text with line
breaks). Textareas post line breaks as CRLF (htmx posts the textarea's value, LF); either way the forms
store "\n" (pathways.forms.MultilineField), so what is stored equals what was typed.
"""

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from coordination import services
from coordination.choices import DisputeQuestion, NeedCriterion, NeedOutcome
from coordination.forms import NEED_REVIEW_DEFAULT_MONTHS, months_after
from coordination.models import CoordinatorHandover, Dispute, Message, MessageThread, NeedAssessment
from pathways.choices import NotificationKind
from pathways.models import Notification, Organisation, PathwayPlan, Task, User
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser
HOME_VISIT = "Hjemmesygeplejebesøg inden for 24 timer efter udskrivelse"
NEED_NOTE = (
    "Kirsten ønsker én fast person at ringe til, når hun bliver forpustet om natten.\n"
    "Datteren bor i Århus og kommer hver 14. dag; naboen på 2. sal har en nøgle.\n"
    "\n"
    "Aftalt: revurdering efter næste KOL-kontrol (uge 48). Ønsker ikke flere indlæggelser – "
    '"hellere dø hjemme end på gangen", som hun siger.\n' * 6
).strip()
THREAD_BODY = (
    "Kirsten er udskrevet i dag kl. 14.30 efter 6 dages indlæggelse med KOL-forværring.\n"
    "Hun kan træffes på 22 41 63 18 (bedst før kl. 10).\n"
    "\n"
    "Prednisolon 37,5 mg x 1 i 5 dage, derefter stop. Iltbehandling 2 l/min ved behov.\n"
    "Hjemmesygeplejen bedes komme inden for 24 timer og måle saturation – tak!"
)
REPLY_BODY = "Modtaget. Vi kommer i morgen mellem 8 og 10.\nRinger på 22 41 63 18, hvis døren er låst."
DISPUTE_REASON = (
    "Sygehuset mener, at kommunen skal stå for besøget efter udskrivelsen; kommunen mener, at det hører "
    "under sygehusets udgående team, så længe iltbehandlingen er ny.\n"
    "\n"
    "Spørgsmålet er opstået 3 gange i år (februar, maj og september).\n" * 6
).strip()
DISPUTE_DECISION = (
    "Hjemmesygeplejen Roskilde udfører besøget og måler saturation.\n"
    "Sygehuset rådgiver telefonisk på 47 32 22 00 de første 14 dage.\n"
    "\n"
    "Afgjort på koordineringsmødet den 3. november – begge parter er orienteret."
)


def kirstens_plan() -> PathwayPlan:
    return PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")


@pytest.fixture
def kirsten(demo) -> PathwayPlan:
    """Kirsten's plan: Lars Nielsen (koordinator) coordinates, Mette Jensen (kommune) stands in."""
    plan = kirstens_plan()
    assert plan.coordinator is not None
    assert plan.coordinator.username == "koordinator"
    assert plan.coordinator_substitute is not None
    assert plan.coordinator_substitute.username == "kommune"
    assert plan.coordinator_phone  # the handover form shows and posts it back
    return plan


def open_plan(page, live_server, plan: PathwayPlan) -> None:
    page.goto(f"{live_server.url}/plans/{plan.public_id}/")
    page.wait_for_load_state()


def type_date(field, day: date) -> None:
    """Type the date key by key, as a user does. A date input shows its parts in the order of the
    browser's language (that of the machine, not the page's): learn it by typing a known date first."""
    field.focus()
    field.press_sequentially("01022003")
    orders = {"2003-02-01": "%d%m%Y", "2003-01-02": "%m%d%Y"}
    shown = field.input_value()
    assert shown in orders, (
        f"a date input with an unknown order of its parts: typed 01 02 2003, got {shown!r}"
    )
    field.blur()
    field.focus()  # back on the first part
    field.press_sequentially(day.strftime(orders[shown]))
    assert field.input_value() == day.isoformat()


# --- Coordinator handover ------------------------------------------------------------------------------


def coordination_state(plan: PathwayPlan) -> dict[str, object]:
    """The plan's stored values (version and coordinator fields among them), its handovers, the
    coordinator notices and the plan's audit events."""
    return {
        "plan": PathwayPlan.objects.filter(pk=plan.pk).values().get(),
        "handovers": CoordinatorHandover.objects.filter(plan=plan).count(),
        "notices": Notification.objects.filter(kind=NotificationKind.COORDINATOR_ASSIGNED).count(),
        "events": apps.get_model("pathways", "PathwayPlanEvent").objects.count(),
    }


def test_handover_form_saved_unchanged_changes_nothing(page, live_server, kirsten, screenshot):
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    before = coordination_state(kirsten)
    page.locator("#coordination").get_by_role("link", name="Overdrag koordinatorrollen").click()
    form = page.locator("#coordinator-handover-form")
    expect(form).to_have_count(1)
    # The form shows what is stored: the coordinator, the substitute and the phone.
    expect(form.get_by_label("Koordinator", exact=True)).to_have_value(str(kirsten.coordinator.public_id))
    expect(form.get_by_label("Stedfortræder (valgfrit)")).to_have_value(
        str(kirsten.coordinator_substitute.public_id)
    )
    expect(form.get_by_label("Koordinerer for")).to_have_value(
        str(kirsten.coordinator_organisation.public_id)
    )
    # The plan gives the coordinator's own number, so the field is empty (its hint: empty = their own
    # number): a new coordinator would bring theirs, not keep Lars's.
    assert kirsten.coordinator_phone == kirsten.coordinator.phone
    expect(form.get_by_label("Telefonnummer til patienten")).to_have_value("")
    screenshot(page, "round-trip-coordinator-handover")
    form.get_by_role("button", name="Overdrag", exact=True).click()
    expect(page.locator("#coordinator-handover-form")).to_have_count(0)
    expect(page.locator("#coordination")).to_contain_text("Lars Nielsen")
    assert coordination_state(kirsten) == before


def test_handover_page_without_javascript_saved_unchanged_changes_nothing(browser, live_server, kirsten):
    """Without JavaScript the form posts natively from a page of its own, and comes back to the plan."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    plan_url = f"{live_server.url}/plans/{kirsten.public_id}"
    try:
        log_in(page, live_server, "koordinator")
        before = coordination_state(kirsten)
        page.goto(live_server.url + reverse("coordination:coordinator-handover", args=[kirsten.public_id]))
        page.get_by_role("button", name="Overdrag", exact=True).click()
        page.wait_for_load_state()
        assert page.url.startswith(plan_url)  # saved and back on the plan, not an error
        assert coordination_state(kirsten) == before
    finally:
        context.close()


# --- Need assessment -----------------------------------------------------------------------------------


def test_need_assessment_is_stored_as_entered_and_the_form_opens_again_with_defaults(
    page, live_server, kirsten, screenshot
):
    today = timezone.localdate()
    review = today + timedelta(days=101)
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    section = page.locator("#coordination")
    section.get_by_role("link", name="Vurdér behov for forløbskoordinator").click()
    form = page.locator("#need-assessment-form")
    expect(form).to_have_count(1)
    form.get_by_label("Flere kroniske sygdomme (multisygdom)").check()
    form.get_by_label("Kognitiv svækkelse").check()
    form.get_by_label("Gentagne uplanlagte indlæggelser").check()
    form.get_by_label("Uplanlagte indlæggelser de seneste 12 måneder").fill("3")
    form.get_by_label("Har behov for en forløbskoordinator").check()
    form.get_by_label("Bemærkning").fill(NEED_NOTE)
    type_date(form.get_by_label("Revurderes senest"), review)
    screenshot(page, "round-trip-need-assessment")
    form.get_by_role("button", name="Gem vurdering").click()
    expect(page.locator("#need-assessment-form")).to_have_count(0)

    assessment = NeedAssessment.objects.filter(plan=kirsten).latest("id")
    assert assessment.assessed_by.username == "koordinator"
    assert assessment.assessed_on == today
    assert assessment.review_date == review
    assert assessment.criteria == [
        NeedCriterion.MULTIMORBIDITY,
        NeedCriterion.COGNITIVE_IMPAIRMENT,
        NeedCriterion.REPEATED_ADMISSIONS,
    ]
    assert assessment.unplanned_admissions_12m == 3
    assert assessment.outcome == NeedOutcome.NEEDS_COORDINATOR
    assert assessment.patient_present is True
    # The browser posts "\r\n" (natively) or "\n" (htmx); stored is "\n": exactly what was typed.
    assert assessment.note == NEED_NOTE

    # Opened again: a fresh form with the defaults, not the last answers and not an error.
    page.locator("#coordination").get_by_role("link", name="Vurdér behov for forløbskoordinator").click()
    form = page.locator("#need-assessment-form")
    expect(form).to_have_count(1)
    expect(form.locator(".form-error-message")).to_have_count(0)
    expect(form.get_by_role("alert")).to_have_count(0)
    expect(form.get_by_label("Vurderingsdato")).to_have_value(today.isoformat())
    expect(form.get_by_label("Revurderes senest")).to_have_value(
        months_after(today, NEED_REVIEW_DEFAULT_MONTHS).isoformat()
    )
    expect(form.get_by_label("Uplanlagte indlæggelser de seneste 12 måneder")).to_have_value("0")
    expect(form.get_by_label("Ja", exact=True)).to_be_checked()
    expect(form.locator("input[name=criteria]:checked")).to_have_count(0)
    expect(form.locator("input[name=outcome]:checked")).to_have_count(0)
    expect(form.get_by_label("Bemærkning")).to_have_value("")


# --- Messages ------------------------------------------------------------------------------------------


def test_new_thread_and_reply_are_stored_as_typed_and_shown_with_line_breaks(
    page, live_server, kirsten, screenshot
):
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    page.locator("#messages").get_by_role("link", name="Ny besked").click()
    page.wait_for_load_state()
    page.get_by_label("Fra", exact=True).select_option(label="Roskilde Kommune")
    page.get_by_label("Hjemmesygeplejen Roskilde", exact=True).check()
    page.get_by_label("Emne", exact=True).fill("Udskrivelse 14.30 – besøg i morgen?")
    page.get_by_label("Besked", exact=True).fill(THREAD_BODY)
    page.get_by_role("button", name="Send besked").click()
    page.wait_for_load_state()
    expect(page.locator(".form-error-message")).to_have_count(0)

    message = Message.objects.filter(plan=kirsten).latest("id")
    assert message.thread.subject == "Udskrivelse 14.30 – besøg i morgen?"
    assert message.body == THREAD_BODY
    assert [r.organisation.name for r in message.recipients.all()] == ["Hjemmesygeplejen Roskilde"]
    assert page.url.endswith(f"/messages/{message.thread.public_id}/")
    shown = page.locator(f"#message-{message.public_id} .ff-message-body")
    # Shown with its line breaks (one <br> per line break; the empty line stays).
    expect(shown.locator("br")).to_have_count(THREAD_BODY.count("\n"))
    assert shown.inner_text() == THREAD_BODY
    screenshot(page, "round-trip-thread")

    reply_form = page.locator("#thread form")
    # A follow-up to one's own message: from the organisation one wrote from, to those one wrote to.
    expect(reply_form.get_by_label("Fra", exact=True)).to_have_value(
        str(message.sender_organisation.public_id)
    )
    expect(reply_form.locator("input[name=recipients]:checked")).to_have_count(1)
    expect(reply_form.get_by_label("Hjemmesygeplejen Roskilde", exact=True)).to_be_checked()
    reply_form.get_by_label("Besked", exact=True).fill(REPLY_BODY)
    reply_form.get_by_role("button", name="Send svar").click()
    expect(page.locator("#thread .ff-message")).to_have_count(2)
    reply = Message.objects.filter(thread=message.thread).latest("id")
    assert reply.pk != message.pk
    assert reply.body == REPLY_BODY
    assert reply.sender_organisation.name == "Roskilde Kommune"
    assert [r.organisation.name for r in reply.recipients.all()] == ["Hjemmesygeplejen Roskilde"]
    assert page.locator(f"#message-{reply.public_id} .ff-message-body").inner_text() == REPLY_BODY


# --- Responsibility disputes ---------------------------------------------------------------------------


def test_dispute_reason_interim_organisation_and_decision_are_stored_as_entered(
    page, live_server, kirsten, screenshot
):
    task = Task.objects.get(plan=kirsten, title=HOME_VISIT)
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, kirsten)
    disputes = page.locator("#disputes")
    disputes.get_by_role("link", name="Meld uenighed om ansvar").click()
    form = page.locator("#dispute-form")
    expect(form).to_have_count(1)
    form.get_by_label("Opgave", exact=True).select_option(str(task.public_id))
    form.get_by_label("Medicinsk afdeling", exact=True).check()
    form.get_by_label("Hjemmesygeplejen Roskilde", exact=True).check()
    form.get_by_label("Hvad der er uenighed om").select_option(DisputeQuestion.WHO_ACTS.value)
    form.get_by_label("Hvorfor").fill(DISPUTE_REASON)
    form.get_by_label("Hvem varetager opgaven i mellemtiden").select_option(label="Hjemmesygeplejen Roskilde")
    form.get_by_label("Meldt på vegne af").select_option(label="Roskilde Kommune")
    screenshot(page, "round-trip-dispute-raise")
    form.get_by_role("button", name="Meld uenighed", exact=True).click()
    expect(page.locator("#dispute-form")).to_have_count(0)

    dispute = Dispute.objects.get(task=task)
    assert dispute.reason == DISPUTE_REASON
    assert dispute.interim_organisation.name == "Hjemmesygeplejen Roskilde"
    assert dispute.raised_by_organisation.name == "Roskilde Kommune"
    assert dispute.question == DisputeQuestion.WHO_ACTS
    assert sorted(o.name for o in dispute.parties.all()) == [
        "Hjemmesygeplejen Roskilde",
        "Medicinsk afdeling",
    ]
    card = page.locator(f"#dispute-{dispute.public_id}")
    expect(card.locator("br")).to_have_count(DISPUTE_REASON.count("\n"))

    card.get_by_role("link", name="Afgør").click()
    form = page.locator("#dispute-resolve-form")
    expect(form).to_have_count(1)
    form.get_by_label("Afgørelse").fill(DISPUTE_DECISION)
    form.get_by_label("Ansvarlig for opgaven fremover").select_option(label="Hjemmesygeplejen Roskilde")
    form.get_by_role("button", name="Afgør og flyt opgaven").click()
    expect(page.locator(f"#dispute-{dispute.public_id}")).to_have_attribute("data-status", "resolved")

    dispute.refresh_from_db()
    assert dispute.decision == DISPUTE_DECISION
    assert dispute.decided_organisation is not None
    assert dispute.decided_organisation.name == "Hjemmesygeplejen Roskilde"
    assert dispute.reason == DISPUTE_REASON  # resolving leaves the reason as it was written
    resolved = page.locator(f"#dispute-{dispute.public_id}")
    assert resolved.locator("dd").first.inner_text() == DISPUTE_DECISION


# --- The forms that create: sent unchanged they write nothing -------------------------------------------


def written(plan: PathwayPlan) -> dict[str, object]:
    """Everything the coordination forms write, and the plan itself."""
    return {
        "plan": PathwayPlan.objects.filter(pk=plan.pk).values().get(),
        "assessments": list(NeedAssessment.objects.filter(plan=plan).values()),
        "disputes": list(Dispute.objects.filter(plan=plan).order_by("pk").values()),
        "tasks": list(Task.objects.filter(plan=plan).order_by("pk").values()),
        "threads": list(MessageThread.objects.filter(plan=plan).order_by("pk").values()),
        "messages": Message.objects.filter(plan=plan).count(),
        "notifications": Notification.objects.count(),
    }


def test_creating_forms_sent_unchanged_write_nothing_and_say_what_is_missing(page, live_server, kirsten):
    task = Task.objects.get(plan=kirsten, title=HOME_VISIT)
    dispute = services.dispute_raise(
        actor=User.objects.get(username="koordinator"),
        task=task,
        organisation=Organisation.objects.get(name="Roskilde Kommune"),
        parties=Organisation.objects.filter(name__in=["Medicinsk afdeling", "Hjemmesygeplejen Roskilde"]),
        question=DisputeQuestion.WHO_ACTS,
        reason=DISPUTE_REASON,
        interim_organisation=Organisation.objects.get(name="Hjemmesygeplejen Roskilde"),
    )
    thread = MessageThread.objects.get(plan=kirsten, subject__startswith="Udskrivelse: epikrise")
    log_in(page, live_server, "koordinator")
    # Reading the thread marks it read (a read receipt): open it before taking stock.
    page.goto(
        live_server.url + reverse("coordination:thread-detail", args=[kirsten.public_id, thread.public_id])
    )
    open_plan(page, live_server, kirsten)
    before = written(kirsten)

    page.locator("#coordination").get_by_role("link", name="Vurdér behov for forløbskoordinator").click()
    form = page.locator("#need-assessment-form")
    form.get_by_role("button", name="Gem vurdering").click()
    expect(form.locator(".form-error-message")).to_have_count(1)  # the outcome is the assessor's to choose

    page.locator(f"#dispute-{dispute.public_id}").get_by_role("link", name="Afgør").click()
    form = page.locator("#dispute-resolve-form")
    form.get_by_role("button", name="Afgør og flyt opgaven").click()
    expect(form.locator(".form-error-message")).not_to_have_count(0)

    page.locator("#disputes").get_by_role("link", name="Meld uenighed om ansvar").click()
    form = page.locator("#dispute-form")
    form.get_by_role("button", name="Meld uenighed", exact=True).click()
    expect(form.locator(".form-error-message")).not_to_have_count(0)
    assert written(kirsten) == before

    page.locator("#messages").get_by_role("link", name="Ny besked").click()
    page.get_by_role("button", name="Send besked").click()
    expect(page.locator(".form-error-message")).not_to_have_count(0)

    page.goto(
        live_server.url + reverse("coordination:thread-detail", args=[kirsten.public_id, thread.public_id])
    )
    page.get_by_role("button", name="Send svar").click()
    expect(page.locator("#thread .form-error-message")).to_have_count(1)  # write the message
    assert written(kirsten) == before
