r"""Relatives in a real browser, through the pages a coordinator uses: a relative recorded with
"appointments only", their strain screened, a referral to a support offer; and the round trip: the
relative's form and the referral's form saved unchanged change nothing (dates, digits and long text with
line breaks are kept). Fields are found by their names, so the test does not hang on the wording.
"""

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from pathways.models import PathwayPlan, User
from relatives import access, services
from relatives.choices import ConsentScope, ReferralStatus
from relatives.models import Relative, RelativeConsent, StrainScreening, SupportOffer, SupportReferral
from tests.browser.test_coordination_round_trips import open_plan, type_date
from tests.browser.test_demo_walkthrough import log_in

pytestmark = pytest.mark.browser

NOTE = (
    "Jens bor i Greve og arbejder på skiftehold; ring efter kl. 15.\n"
    "Han har nøgle til lejligheden og kører Kirsten til kontrol – når han kan.\n"
    "\n"
    "Vil helst have besked om aftaler på sms (ikke e-mail).\n" * 4
).strip()
REFERRAL_NOTE = (
    "Jens er træt og sover dårligt; han vil gerne have en pause hver anden weekend.\n"
    "Aftalt med Kirsten, at han selv ringer til kommunen – vi følger op.\n" * 3
).strip()
# The items Jens answers "yes" to: 7 of 13, high strain.
YES = {"sleep", "inconvenient", "confining", "plans", "demands", "work", "overwhelmed"}


def kirstens_plan() -> PathwayPlan:
    return PathwayPlan.objects.get(patient__given_name="Kirsten", status="active")


def submit(page, form: str) -> None:
    with page.expect_navigation():
        page.locator(f"{form} button[type=submit]").click()
    page.wait_for_load_state()


def relative_row(page, relative: Relative):
    return page.locator(f"#relative-{relative.public_id}")


def test_the_coordinator_records_a_relative_for_appointments_screens_and_refers(
    page, live_server, demo, screenshot
):
    plan = kirstens_plan()
    respite = SupportOffer.objects.get(name="Aflastning i Roskilde Kommune")
    log_in(page, live_server, "koordinator")
    open_plan(page, live_server, plan)

    # Add the relative.
    page.locator("#relatives a[href$='/relatives/new/']").click()
    page.wait_for_load_state()
    form = page.locator("#relative-form")
    form.locator("[name=name]").fill("Jens Poulsen")
    form.locator("[name=relation]").select_option("child")
    form.locator("[name=relation_detail]").fill("Søn")
    form.locator("[name=phone]").fill("40 12 34 56")
    form.locator("[name=preferred_channel][value=sms]").check()
    form.locator("[name=note]").fill(NOTE)
    screenshot(page, "rel_children_relative_create")
    submit(page, "#relative-form")
    jens = Relative.objects.get(plan=plan, name="Jens Poulsen")
    assert (jens.phone, jens.note, jens.preferred_channel) == ("40 12 34 56", NOTE, "sms")
    assert page.url.endswith("#relatives")

    # The patient's decision: appointments only, checked for pressure.
    relative_row(page, jens).locator("a[href$='/consent/']").click()
    page.wait_for_load_state()
    form = page.locator("#consent-form")
    form.locator("[name=scope][value=appointments]").check()
    form.locator("[name=method][value=spoken]").check()
    form.locator("[name=coercion_checked]").check()
    submit(page, "#consent-form")
    consent = RelativeConsent.objects.filter(relative=jens).get()
    assert consent.scope == ConsentScope.APPOINTMENTS
    assert consent.recorded_by == User.objects.get(username="koordinator")
    assert access.relative_scope(jens) == ConsentScope.APPOINTMENTS

    # Screen the strain: 7 of 13 is high strain.
    relative_row(page, jens).locator("a[href$='/support/screening/']").click()
    page.wait_for_load_state()
    form = page.locator("#strain-screening-form")
    keys = [name.removeprefix("item_") for name in _radio_names(form)]
    assert len(keys) == 13
    for key in keys:
        form.locator(f"[name=item_{key}][value={'yes' if key in YES else 'no'}]").check()
    submit(page, "#strain-screening-form")
    screening = StrainScreening.objects.get(relative=jens)
    assert (screening.score, screening.max_score, screening.high_strain) == (7, 13, True)

    # Refer to respite care, followed up in ten days.
    relative_row(page, jens).locator("a[href$='/support/referrals/new/']").click()
    page.wait_for_load_state()
    form = page.locator("#referral-form")
    form.locator("[name=offer]").select_option(str(respite.public_id))
    follow_up = timezone.localdate() + timedelta(days=10)
    type_date(form.locator("[name=follow_up_date]"), follow_up)
    form.locator("[name=note]").fill(REFERRAL_NOTE)
    submit(page, "#referral-form")
    referral = SupportReferral.objects.get(relative=jens)
    assert (referral.offer, referral.status, referral.follow_up_date) == (
        respite,
        ReferralStatus.REFERRED,
        follow_up,
    )
    assert referral.note == REFERRAL_NOTE

    # The plan shows it: the relative, the score and the referral with its follow-up date.
    row = relative_row(page, jens)
    text = row.inner_text()
    assert "7 af 13" in text or "7 of 13" in text
    assert respite.name in text
    assert f"{follow_up.day}." in text
    screenshot(page, "rel_children_relative_recorded")


def _radio_names(form) -> list[str]:
    names = form.locator("input[type=radio][name^=item_]").evaluate_all("els => els.map(e => e.name)")
    return list(dict.fromkeys(names))


def _state(model, pk: int) -> dict[str, object]:
    """The row as stored (its version and change time among it) and the model's audit events."""
    return {
        "row": model.objects.filter(pk=pk).values().get(),
        "events": apps.get_model("relatives", f"{model.__name__}Event").objects.count(),
    }


def test_the_relative_and_referral_forms_saved_unchanged_change_nothing(page, live_server, demo, screenshot):
    plan = kirstens_plan()
    susanne = Relative.objects.get(plan=plan, name="Susanne Poulsen")
    # Long text with line breaks, digits with spaces, an e-mail and an address, as the demo has them.
    susanne = services.relative_update(
        actor=None, relative=susanne, expected_version=susanne.version, note=NOTE
    )
    referral = SupportReferral.objects.get(relative=susanne)
    referral = services.support_referral_update(
        actor=None,
        referral=referral,
        expected_version=referral.version,
        status=referral.status,
        responsible_person=referral.responsible_person,
        follow_up_date=referral.follow_up_date,
        note=REFERRAL_NOTE,
    )
    log_in(page, live_server, "koordinator")

    before = _state(Relative, susanne.pk)
    page.goto(f"{live_server.url}/plans/{plan.public_id}/relatives/{susanne.public_id}/edit/")
    page.wait_for_load_state()
    assert page.locator("#relative-form [name=phone]").input_value() == "28 19 45 63"
    assert page.locator("#relative-form [name=note]").input_value() == NOTE
    screenshot(page, "rel_children_relative_update")
    submit(page, "#relative-form")
    assert _state(Relative, susanne.pk) == before

    before = _state(SupportReferral, referral.pk)
    page.goto(
        f"{live_server.url}/plans/{plan.public_id}/relatives/{susanne.public_id}/support/referrals/"
        f"{referral.public_id}/"
    )
    page.wait_for_load_state()
    form = page.locator("#referral-form")
    assert referral.follow_up_date is not None
    assert form.locator("[name=follow_up_date]").input_value() == referral.follow_up_date.isoformat()
    assert form.locator("[name=note]").input_value() == REFERRAL_NOTE
    submit(page, "#referral-form")
    assert _state(SupportReferral, referral.pk) == before
