"""The relatives as staff see and change them: the plan page's section, a relative's page with the whole
consent history, and the forms to add a relative, record the patient's decision and withdraw a consent —
bad input shows a clear error and writes nothing; the section reads in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from pathways import services as hub
from pathways.choices import NotificationKind, Sector
from pathways.models import AuditEvent, Notification, Organisation, event_model_label
from relatives import services
from relatives.choices import (
    CapacityLoss,
    ConsentDecider,
    ConsentMethod,
    ConsentScope,
    Relation,
    RelativeChannel,
    RepresentativeBasis,
)
from relatives.models import Relative, RelativeConsent
from tests.conftest import make_user, sign_in


def add(world, **fields) -> Relative:
    values = {
        "name": "Mette Testesen",
        "relation": Relation.CHILD,
        "phone": "22 41 63 18",
        "preferred_channel": RelativeChannel.SMS,
    } | fields
    return services.relative_add(actor=world.coordinator, plan=world.plan, **values)


def decide(world, relative, scope=ConsentScope.WHOLE_PLAN, **fields) -> RelativeConsent:
    values = {"method": ConsentMethod.SPOKEN, "coercion_checked": scope != ConsentScope.NONE} | fields
    return services.relative_consent_record(actor=world.coordinator, relative=relative, scope=scope, **values)


def plan_page(world) -> str:
    return reverse("pathways:plan-detail", args=[world.plan.public_id])


def url(name: str, world, relative=None) -> str:
    args = [world.plan.public_id] if relative is None else [world.plan.public_id, relative.public_id]
    return reverse(f"relatives:{name}", args=args)


@pytest.fixture
def relative(world) -> Relative:
    return add(world)


@pytest.fixture
def coordinator(client, world, settings):
    """The plan's coordinator, signed in, with the interface in English (the language switch's cookie)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return sign_in(client, world.coordinator)


class FormValues(HTMLParser):
    """What a browser would post for the form with `form_id`, left as the page shows it."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[name] = a.get("value", "on")
            else:
                self.values[name] = a.get("value", "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += (
                data.removeprefix("\n") if not self.values[self._textarea] else data
            )

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self.inside = False


def form_values(html: str, form_id: str) -> dict[str, str]:
    parser = FormValues(form_id)
    parser.feed(html)
    return parser.values


# --- The plan page's section --------------------------------------------------------------------------------


def test_the_plan_shows_each_relative_with_what_the_patient_lets_them_see(coordinator, world, relative):
    services.relative_update(
        actor=world.coordinator, relative=relative, expected_version=relative.version, is_closest=True
    )
    decide(world, relative, ConsentScope.APPOINTMENTS, valid_until=timezone.localdate() + timedelta(days=30))
    child = add(world, name="Alma", relation=Relation.GRANDCHILD, is_child=True, child_age=9)
    withdrawn = add(world, name="Jens", relation=Relation.SIBLING)
    decide(world, withdrawn, ConsentScope.WHOLE_PLAN)
    services.relative_consent_revoke(actor=world.coordinator, relative=withdrawn, method=ConsentMethod.SPOKEN)
    body = coordinator.get(plan_page(world)).content.decode()
    assert "Mette Testesen" in body
    assert "Closest relative" in body
    assert "Sees: appointments only" in body
    assert "22 41 63 18" in body
    assert "until" in body
    assert "Child under 18" in body
    assert "Gets no messages of their own" in body
    assert f"Consent withdrawn on {timezone.localdate().day}" in body
    assert url("relative-create", world) in body
    assert url("consent-record", world, relative) in body
    assert url("consent-revoke", world, relative) in body
    assert url("consent-revoke", world, withdrawn) not in body  # nothing left to withdraw
    assert url("relative-detail", world, child) in body


def test_a_reader_through_break_the_glass_sees_the_relatives_but_cannot_change_them(client, world, relative):
    emergency = Organisation.objects.create(name="Akutmodtagelsen", sector=Sector.HOSPITAL, sor_code="1009")
    doctor = make_user("akutlaege", emergency)
    hub.emergency_access_grant(
        actor=doctor, organisation=emergency, plan=world.plan, reason="Indlagt akut, skal kende planen."
    )
    body = sign_in(client, doctor).get(plan_page(world)).content.decode()
    assert "Mette Testesen" in body
    assert url("relative-create", world) not in body
    assert url("consent-record", world, relative) not in body
    assert client.get(url("consent-record", world, relative)).status_code == 403


def _relatives(world, count: int, *, children: bool, start: int = 0) -> None:
    scopes = [
        ConsentScope.WHOLE_PLAN,
        ConsentScope.APPOINTMENTS,
        ConsentScope.CONTACT_ONLY,
        ConsentScope.NONE,
    ]
    for number in range(start, start + count):
        child = children and number % 5 == 1  # with children: the second, the seventh, …
        relative = add(world, name=f"Pårørende {number:02}", is_child=child, child_age=10 if child else None)
        scope = ConsentScope.CONTACT_ONLY if child else scopes[number % len(scopes)]
        decide(world, relative, scope)


@pytest.mark.parametrize(("first", "children"), [(1, False), (2, True)])
def test_the_relatives_section_reads_as_many_queries_for_one_relative_as_for_twenty(
    client, world, first, children
):
    """One adult relative, or one with a child (whose checklist is one more read), against twenty."""
    signed_in = sign_in(client, world.coordinator)
    _relatives(world, first, children=children)
    with CaptureQueriesContext(connection) as few:
        signed_in.get(plan_page(world))
    _relatives(world, 20 - first, children=children, start=first)
    with CaptureQueriesContext(connection) as twenty:
        body = signed_in.get(plan_page(world)).content.decode()
    assert body.count('class="ff-relative"') == 20
    assert len(twenty) == len(few)


# --- Adding and changing a relative -------------------------------------------------------------------------


def test_a_relative_is_added_from_the_plan(coordinator, world):
    form = coordinator.get(url("relative-create", world))
    assert form.status_code == 200
    response = coordinator.post(
        url("relative-create", world),
        {
            "name": "Mette Testesen",
            "relation": Relation.CHILD,
            "phone": "22 41 63 18",
            "preferred_channel": RelativeChannel.SMS,
            "language": "da",
            "is_closest": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == plan_page(world) + "#relatives"
    relative = Relative.objects.get()
    assert relative.is_closest
    assert relative.added_by_organisation == world.municipality


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 201}, "at most 200 characters"),
        ({"relation": "boss"}, "Select a valid choice"),
        ({"phone": "ring mig"}, "Write the phone number with digits"),
        ({"email": "mette@"}, "Write a whole e-mail address"),
        ({"preferred_channel": RelativeChannel.EMAIL}, "Add their e-mail address"),
        ({"preferred_channel": RelativeChannel.SMS, "phone": ""}, "Add their mobile number"),
        ({"preferred_channel": RelativeChannel.LETTER}, "Add their postal address"),
        ({"language": "Danish"}, "Write the language as a short code"),
        ({"child_age": "12"}, "Give an age only for a child under 18."),
        ({"is_child": "on", "child_age": "18"}, "A child relative is 0 to 17 years old."),
        ({"organisation": "00000000-0000-0000-0000-000000000000"}, "Select a valid choice"),
    ],
)
def test_bad_input_on_the_relative_form_shows_a_clear_error_and_writes_nothing(
    coordinator, world, post, message
):
    data = {
        "name": "Mette Testesen",
        "relation": Relation.CHILD,
        "phone": "22 41 63 18",
        "preferred_channel": RelativeChannel.SMS,
        "language": "da",
    } | post
    response = coordinator.post(url("relative-create", world), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Relative.objects.exists()


def test_a_second_closest_relative_is_explained_on_the_form(coordinator, world, relative):
    services.relative_update(
        actor=world.coordinator, relative=relative, expected_version=relative.version, is_closest=True
    )
    response = coordinator.post(
        url("relative-create", world),
        {"name": "Jens", "relation": Relation.SPOUSE, "phone": "22334455", "preferred_channel": "sms",
         "language": "da", "is_closest": "on"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Mette Testesen is already the patient&#x27;s closest relative" in response.content.decode()
    assert Relative.objects.count() == 1


def test_the_edit_form_saved_unchanged_changes_nothing(coordinator, world):
    relative = add(
        world,
        relation_detail="ældste datter",
        email="mette@example.dk",
        address="Algade 1\n4600 Køge",
        note="Ring efter kl. 16.\nHar nøgle.",
        is_closest=True,
    )
    events_before = AuditEvent.objects.across(event_model_label(Relative)).count()
    page = coordinator.get(url("relative-update", world, relative))
    assert page.status_code == 200
    values = form_values(page.content.decode(), "relative-form")
    assert values["version"] == str(relative.version)
    response = coordinator.post(url("relative-update", world, relative), values)
    assert response.status_code == 302
    saved = Relative.objects.get(pk=relative.pk)
    assert saved.version == relative.version
    assert AuditEvent.objects.across(event_model_label(Relative)).count() == events_before


def test_someone_elses_change_is_not_overwritten(coordinator, world, relative):
    values = form_values(
        coordinator.get(url("relative-update", world, relative)).content.decode(), "relative-form"
    )
    services.relative_update(
        actor=world.home_nurse, relative=relative, expected_version=relative.version, name="Mette T."
    )
    response = coordinator.post(url("relative-update", world, relative), values | {"name": "Mette Hansen"})
    assert response.status_code == 409
    assert "Someone else changed this relative" in response.content.decode()
    assert Relative.objects.get(pk=relative.pk).name == "Mette T."


def test_a_relative_of_another_plan_is_not_found(coordinator, world):
    foreign = services.relative_add(
        actor=None, plan=world.other_plan, name="Ukendt", relation=Relation.FRIEND, preferred_channel="none"
    )
    path = reverse("relatives:relative-detail", args=[world.plan.public_id, foreign.public_id])
    assert coordinator.get(path).status_code == 404
    path = reverse("relatives:consent-revoke", args=[world.plan.public_id, foreign.public_id])
    assert coordinator.post(path, {"method": "spoken", "confirm": "on"}).status_code == 404
    assert not RelativeConsent.objects.exists()


def test_a_relative_taken_off_the_plan_leaves_the_section(coordinator, world, relative):
    page = coordinator.get(url("relative-remove", world, relative))
    assert page.status_code == 200
    refused = coordinator.post(url("relative-remove", world, relative), {"version": relative.version})
    assert refused.status_code == 422
    assert Relative.objects.get(pk=relative.pk).ended_at is None
    response = coordinator.post(
        url("relative-remove", world, relative), {"version": relative.version, "confirm": "on"}
    )
    assert response.status_code == 302
    assert Relative.objects.get(pk=relative.pk).ended_at is not None
    assert "Mette Testesen" not in coordinator.get(plan_page(world)).content.decode()


# --- The patient's decision ---------------------------------------------------------------------------------


def _decision(**fields) -> dict[str, str]:
    """What the decision form posts for a relative without a decision yet (its hidden field says so)."""
    return {
        "expected_decision": services.NO_DECISION,
        "scope": ConsentScope.APPOINTMENTS,
        "method": ConsentMethod.SPOKEN,
        "coercion_checked": "on",
        "decided_by": ConsentDecider.PATIENT,
        "valid_from": timezone.localdate().isoformat(),
    } | fields


def test_the_patients_decision_is_recorded_and_shown(coordinator, world, relative):
    page = coordinator.get(url("consent-record", world, relative))
    assert page.status_code == 200
    body = page.content.decode()
    assert "The patient cannot consent" in body  # the representative's fieldset
    assert "I have checked that the patient is not pressured into this" in body
    opened_on = form_values(body, "consent-form")["expected_decision"]
    assert opened_on == services.NO_DECISION  # the form was opened on a relative without a decision
    response = coordinator.post(
        url("consent-record", world, relative), _decision(expected_decision=opened_on)
    )
    assert response.status_code == 302
    assert response["Location"] == plan_page(world) + "#relatives"
    assert "Sees: appointments only" in coordinator.get(plan_page(world)).content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"coercion_checked": ""}, "Confirm that you have checked the patient is not pressured into this."),
        ({"scope": ""}, "This field is required."),
        ({"scope": "everything"}, "Select a valid choice"),
        ({"method": "portal"}, "Select a valid choice"),
        ({"valid_from": "31.12.2026"}, "Enter a valid date."),
        (
            {"valid_from": (timezone.localdate() + timedelta(days=1)).isoformat()},
            "A decision counts from today or an earlier day.",
        ),
        (
            {"valid_until": (timezone.localdate() - timedelta(days=1)).isoformat()},
            "The end date cannot be before",
        ),
        (
            {"decided_by": ConsentDecider.REPRESENTATIVE},
            "Write the name of the person acting for the patient.",
        ),
        ({"decided_by": ConsentDecider.REPRESENTATIVE}, "Choose the legal basis they act on."),
        (
            {"decided_by": ConsentDecider.REPRESENTATIVE},
            "Write why the patient cannot decide for themselves.",
        ),
        (
            {
                "decided_by": ConsentDecider.REPRESENTATIVE,
                "representative_name": "Søren Testesen",
                "representative_basis": RepresentativeBasis.GUARDIAN,
                "capacity_loss": CapacityLoss.TEMPORARY,
                "capacity_note": "Delir.",
            },
            "give the date this decision ends",
        ),
        ({"note": "x" * 2001}, "at most 2000 characters"),
    ],
)
def test_bad_input_on_the_decision_form_shows_a_clear_error_and_writes_nothing(
    coordinator, world, relative, fields, message
):
    response = coordinator.post(url("consent-record", world, relative), _decision(**fields))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not RelativeConsent.objects.exists()


def test_the_dates_come_back_as_typed_when_the_form_is_shown_again(coordinator, world, relative):
    start = timezone.localdate() - timedelta(days=3)  # a decision made a few days ago, recorded now
    end = start + timedelta(days=30)
    response = coordinator.post(
        url("consent-record", world, relative),
        _decision(coercion_checked="", valid_from=start.isoformat(), valid_until=end.isoformat()),
    )
    assert response.status_code == 422
    values = form_values(response.content.decode(), "consent-form")
    assert values["valid_from"] == start.isoformat()
    assert values["valid_until"] == end.isoformat()
    response = coordinator.post(url("consent-record", world, relative), values | {"coercion_checked": "on"})
    assert response.status_code == 302
    consent = RelativeConsent.objects.get()
    assert (consent.valid_from, consent.valid_until) == (start, end)


def test_a_representatives_decision_is_shown_as_a_distinct_case_in_the_history(coordinator, world, relative):
    own = decide(world, relative, ConsentScope.WHOLE_PLAN, coercion_note="Talt med Kirsten alene.")
    response = coordinator.post(
        url("consent-record", world, relative),
        _decision(
            expected_decision=str(own.public_id),  # the form was opened on the patient's own decision
            decided_by=ConsentDecider.REPRESENTATIVE,
            representative_name="Søren Testesen",
            representative_basis=RepresentativeBasis.LASTING_POWER,
            capacity_loss=CapacityLoss.LASTING,
            capacity_note="Svær demens.",
        ),
    )
    assert response.status_code == 302
    page = coordinator.get(url("relative-detail", world, relative))
    assert page.status_code == 200
    body = page.content.decode()
    history = body[body.index('id="consent-history"') :]
    # Newest first: the representative's decision, then the patient's own.
    assert history.index("Søren Testesen") < history.index("Talt med Kirsten alene.")
    assert "The patient cannot consent" in history
    assert "Svær demens." in history
    assert "Lasting power of attorney" in history
    assert "Hjemmesygeplejen Roskilde" in history
    assert f"{date_format(timezone.localdate(), 'j. b Y')} – no end date" in history  # short dates in tables
    assert history.count("<tr") == 3  # the header and both decisions


# --- Withdrawing a consent ----------------------------------------------------------------------------------


def test_withdrawing_asks_first_and_then_shows_at_once_in_the_plan_and_its_history(
    coordinator, world, relative
):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    confirm = coordinator.get(url("consent-revoke", world, relative))
    assert confirm.status_code == 200
    assert "This takes effect at once" in confirm.content.decode()
    unconfirmed = coordinator.post(url("consent-revoke", world, relative), {"method": ConsentMethod.SPOKEN})
    assert unconfirmed.status_code == 422
    assert "Confirm that the consent has been withdrawn." in unconfirmed.content.decode()
    assert RelativeConsent.objects.count() == 1
    response = coordinator.post(
        url("consent-revoke", world, relative), {"method": ConsentMethod.SPOKEN, "confirm": "on"}
    )
    assert response.status_code == 302
    assert "Consent withdrawn on" in coordinator.get(plan_page(world)).content.decode()
    history = coordinator.get(reverse("pathways:plan-history", args=[world.plan.public_id]))
    assert "Consent withdrawn" in history.content.decode()
    assert Notification.objects.filter(kind=NotificationKind.CONSENT_REVOKED).count() == 2
    again = coordinator.post(
        url("consent-revoke", world, relative), {"method": ConsentMethod.SPOKEN, "confirm": "on"}
    )
    assert again.status_code == 422
    assert "The relative has no consent to withdraw." in again.content.decode()
    assert RelativeConsent.objects.count() == 2
