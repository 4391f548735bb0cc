"""What changed after the review of the consent part: a message to a relative is checked against their
consent again when it is sent; withdrawal and removal take unprinted letters out of the print queue but
never the notice of withdrawal; narrowing to "contact person only" ends access like a withdrawal; the
decision form is a conflict when another decision was recorded meanwhile and writes nothing when saved
unchanged; removing a relative cancels their open referrals; a referral's responsible organisation takes
part in the plan; a closed referral no longer opens the support record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pathways import outbox
from pathways import services as hub
from pathways.choices import NotificationChannel, NotificationKind, NotificationState, Sector, TaskKind
from pathways.models import Notification, Organisation, Task
from relatives import access, services
from relatives.choices import (
    ConsentAction,
    ConsentMethod,
    ConsentScope,
    OfferKind,
    ReferralStatus,
    Relation,
    RelativeChannel,
)
from relatives.models import Relative, RelativeConsent, SupportOffer, SupportReferral
from tests.conftest import make_user, sign_in
from tests.relatives.test_relatives_section import form_values

EMAIL = "mette@example.dk"


def add(world, **fields: Any) -> Relative:
    """A relative who hears from us by e-mail (no quiet hours, no SMS gateway in the way)."""
    values = {
        "name": "Mette Testesen",
        "relation": Relation.CHILD,
        "email": EMAIL,
        "preferred_channel": RelativeChannel.EMAIL,
    } | fields
    return services.relative_add(actor=world.coordinator, plan=world.plan, **values)


def decide(world, relative: Relative, scope: str = ConsentScope.WHOLE_PLAN, **fields: Any) -> RelativeConsent:
    values: dict[str, Any] = {"method": ConsentMethod.SPOKEN, "coercion_checked": scope != ConsentScope.NONE}
    values |= fields
    return services.relative_consent_record(actor=world.coordinator, relative=relative, scope=scope, **values)


def to_relative(relative: Relative, **filters: Any):
    return Notification.objects.addressed_to(relative).filter(**filters)


def mailed_to(mailoutbox, address: str) -> list[Any]:
    return [mail for mail in mailoutbox if address in mail.to]


def appointment_on(world, day: date) -> Task:
    return hub.task_create(
        actor=world.home_nurse,
        plan=world.plan,
        title="Kontrol af lungefunktion",
        responsible_organisation=world.municipality,
        kind=TaskKind.APPOINTMENT,
        due_date=day,
    )


@pytest.fixture
def relative(world) -> Relative:
    return add(world)


@pytest.fixture
def appointment(world) -> Task:
    """An appointment ten days ahead: the relative's e-mail reminder is due two days before."""
    return appointment_on(world, timezone.localdate() + timedelta(days=10))


@pytest.fixture
def on_day(monkeypatch) -> Callable[[date], None]:
    """Let the product's "today" be a later day: a consent runs out while a message waits."""
    real = timezone.localdate

    def move(day: date) -> None:
        monkeypatch.setattr(
            timezone,
            "localdate",
            lambda value=None, **kwargs: day if value is None else real(value, **kwargs),
        )

    return move


# --- A message to a relative is checked against the consent when it is sent -----------------------------


def test_a_reminder_written_under_the_consent_is_sent_while_the_consent_still_covers_it(
    world, relative, appointment, mailoutbox
):
    decide(world, relative, ConsentScope.APPOINTMENTS)
    reminder = to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER).get()

    outbox.deliver_due(now=reminder.due_at)

    reminder.refresh_from_db()
    assert reminder.state == NotificationState.SENT
    assert len(mailed_to(mailoutbox, EMAIL)) == 1


def test_a_reminder_is_cancelled_at_send_when_the_consent_has_run_out(
    world, relative, appointment, mailoutbox, on_day
):
    ends = timezone.localdate() + timedelta(days=3)
    decide(world, relative, ConsentScope.APPOINTMENTS, valid_until=ends)
    reminder = to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER).get()
    assert reminder.state == NotificationState.PENDING  # written while the consent covered it
    assert reminder.due_at.date() > ends

    on_day(reminder.due_at.date())  # the day it is sent: the consent ended days before
    outbox.deliver_due(now=reminder.due_at)

    reminder.refresh_from_db()
    assert reminder.state == NotificationState.CANCELLED  # not failed: nothing for an administrator
    assert reminder.sent_at is None
    assert mailed_to(mailoutbox, EMAIL) == []


def test_a_reminder_is_cancelled_at_send_when_the_consent_was_narrowed_to_contact_only(
    world, relative, appointment, mailoutbox
):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    reminder = to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER).get()
    # The narrower decision as it may stand in the database without the outbox being brought in line
    # (the portal records decisions of its own): the outbox asks the consent again before it sends.
    RelativeConsent.objects.create(
        plan=world.plan,
        relative=relative,
        action=ConsentAction.CHANGED,
        scope=ConsentScope.CONTACT_ONLY,
        method=ConsentMethod.PORTAL,
        coercion_checked=True,
    )
    assert Notification.objects.get(pk=reminder.pk).state == NotificationState.PENDING

    outbox.deliver_due(now=reminder.due_at)

    reminder.refresh_from_db()
    assert reminder.state == NotificationState.CANCELLED
    assert mailed_to(mailoutbox, EMAIL) == []


def test_narrowing_to_contact_only_ends_access_at_once_like_a_withdrawal(
    world, relative, appointment, mailoutbox
):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    reminder = to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER).get()

    narrowed = decide(world, relative, ConsentScope.CONTACT_ONLY)

    assert narrowed.action == ConsentAction.CHANGED  # still involved: a contact person
    assert Relative.objects.get(pk=relative.pk).sessions_ended_at is not None
    assert Notification.objects.get(pk=reminder.pk).state == NotificationState.CANCELLED
    told = Notification.objects.filter(kind=NotificationKind.CONSENT_REVOKED, state=NotificationState.PENDING)
    assert told.addressed_to(world.patient).exists()
    assert told.addressed_to(relative).exists()
    outbox.deliver_due(now=reminder.due_at)
    [notice] = mailed_to(mailoutbox, EMAIL)  # the notice, and not the reminder
    assert "Du har ikke længere adgang til planen for Kirsten" in notice.body


def test_a_whole_plan_message_to_a_relative_narrowed_to_appointments_is_cancelled_at_send(
    world, relative, appointment, mailoutbox
):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    # A new coordinator, told to the relatives who see the whole plan (as coordination does), waiting.
    key = outbox.notify(
        recipient=relative,
        kind=NotificationKind.COORDINATOR_ASSIGNED,
        channel=NotificationChannel.EMAIL,
        plan=world.plan,
        due_at=timezone.now() + timedelta(hours=1),
        event="handover:test",
    )
    decide(world, relative, ConsentScope.APPOINTMENTS)
    news = Notification.objects.get(dedupe_key=key)
    assert news.state == NotificationState.PENDING  # narrowing to appointments keeps access: not cancelled
    reminder = to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER).get()

    outbox.deliver_due(now=timezone.now() + timedelta(hours=2))
    news.refresh_from_db()
    assert news.state == NotificationState.CANCELLED
    assert mailed_to(mailoutbox, EMAIL) == []

    outbox.deliver_due(now=reminder.due_at)  # the appointments are still theirs to hear of
    reminder.refresh_from_db()
    assert reminder.state == NotificationState.SENT
    assert len(mailed_to(mailoutbox, EMAIL)) == 1


def test_the_withdrawal_notice_survives_a_removal_right_after_and_is_delivered(
    world, relative, appointment, mailoutbox
):
    decide(world, relative, ConsentScope.WHOLE_PLAN)
    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)
    fresh = Relative.objects.get(pk=relative.pk)
    services.relative_remove(actor=world.coordinator, relative=fresh, expected_version=fresh.version)

    notice = to_relative(relative, kind=NotificationKind.CONSENT_REVOKED).get()
    assert notice.state == NotificationState.PENDING
    assert not to_relative(relative, state=NotificationState.PENDING).exclude(pk=notice.pk).exists()

    outbox.deliver_due()

    notice.refresh_from_db()
    assert notice.state == NotificationState.SENT
    [mail] = mailed_to(mailoutbox, EMAIL)
    assert "Du har ikke længere adgang til planen for Kirsten" in mail.body


# --- Unprinted letters leave the print queue ----------------------------------------------------------------


def test_an_unprinted_letter_to_the_relative_leaves_the_print_queue_on_withdrawal(client, world):
    relative = add(
        world,
        name="Susanne Poulsen",
        email="",
        address="Strandvejen 3, 4600 Køge",
        preferred_channel=RelativeChannel.LETTER,
    )
    decide(world, relative, ConsentScope.APPOINTMENTS)
    first = appointment_on(world, timezone.localdate() + timedelta(days=14))
    second = appointment_on(world, timezone.localdate() + timedelta(days=21))
    letters = to_relative(relative, kind=NotificationKind.APPOINTMENT_REMINDER)
    printed, waiting = letters.get(task=first), letters.get(task=second)
    outbox.deliver_due(now=waiting.due_at)  # both in the coordinator's print queue
    hub.letter_mark_printed(actor=world.coordinator, public_id=printed.public_id)
    sign_in(client, world.coordinator)
    queue = reverse("pathways:letters")
    assert reverse("pathways:letter", args=[waiting.public_id]) in client.get(queue).content.decode()

    services.relative_consent_revoke(actor=world.coordinator, relative=relative, method=ConsentMethod.SPOKEN)

    waiting.refresh_from_db()
    assert waiting.state == NotificationState.CANCELLED
    assert reverse("pathways:letter", args=[waiting.public_id]) not in client.get(queue).content.decode()
    assert client.get(reverse("pathways:letter", args=[waiting.public_id])).status_code == 404
    printed.refresh_from_db()
    assert (printed.state, printed.read_at is not None) == (NotificationState.SENT, True)  # posted already
    # The letter telling them their access has ended is not cancelled: it joins the queue.
    outbox.deliver_due()
    notice = to_relative(relative, kind=NotificationKind.CONSENT_REVOKED).get()
    assert notice.state == NotificationState.SENT
    assert reverse("pathways:letter", args=[notice.public_id]) in client.get(queue).content.decode()


# --- The decision form ----------------------------------------------------------------------------------


def consent_url(world, relative: Relative) -> str:
    return reverse("relatives:consent-record", args=[world.plan.public_id, relative.public_id])


@pytest.mark.parametrize("decided_before", [False, True])
def test_a_decision_form_opened_before_another_decision_is_a_conflict_and_writes_nothing(
    client, world, relative, decided_before
):
    if decided_before:
        decide(world, relative, ConsentScope.WHOLE_PLAN)
    sign_in(client, world.coordinator)
    values = form_values(client.get(consent_url(world, relative)).content.decode(), "consent-form")
    meanwhile = decide(world, relative, ConsentScope.APPOINTMENTS, coercion_note="Talt med Kirsten alene.")
    decisions = RelativeConsent.objects.count()

    response = client.post(
        consent_url(world, relative),
        values | {"scope": ConsentScope.CONTACT_ONLY, "coercion_checked": "on"},
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert "En anden har registreret en afgørelse om denne pårørende, mens du udfyldte formularen." in body
    assert form_values(body, "consent-form")["expected_decision"] == str(meanwhile.public_id)
    assert RelativeConsent.objects.count() == decisions
    assert access.relative_scope(relative) == ConsentScope.APPOINTMENTS


def test_the_decision_form_saved_unchanged_records_no_new_decision(client, world, relative):
    current = decide(world, relative, ConsentScope.APPOINTMENTS)
    sign_in(client, world.coordinator)
    values = form_values(client.get(consent_url(world, relative)).content.decode(), "consent-form")
    assert values["expected_decision"] == str(current.public_id)
    assert values["scope"] == ConsentScope.APPOINTMENTS

    response = client.post(consent_url(world, relative), values | {"coercion_checked": "on"})

    assert response.status_code == 302
    assert list(RelativeConsent.objects.filter(relative=relative)) == [current]
    assert (
        services.relative_consent_record(
            actor=world.coordinator,
            relative=relative,
            scope=ConsentScope.APPOINTMENTS,
            method=ConsentMethod.SPOKEN,
            coercion_checked=True,
            expected_decision=str(current.public_id),
        )
        == current
    )
    assert RelativeConsent.objects.filter(relative=relative).count() == 1
    # A note is something new to record: the same scope with a note is a decision of its own.
    decide(world, relative, ConsentScope.APPOINTMENTS, note="Bekræftet igen i telefonen.")
    assert RelativeConsent.objects.filter(relative=relative).count() == 2


def test_a_decision_cannot_start_on_a_later_day(world, relative):
    with pytest.raises(ValidationError) as refused:
        decide(world, relative, ConsentScope.WHOLE_PLAN, valid_from=timezone.localdate() + timedelta(days=1))
    assert refused.value.message_dict["valid_from"] == [
        "En afgørelse gælder fra i dag eller en tidligere dag."
    ]
    assert not RelativeConsent.objects.exists()


# --- Referrals: removal, the responsible organisation, closed referrals ------------------------------------


@pytest.fixture
def offer(world) -> SupportOffer:
    """The hospital's relatives' conversations (the hospital takes part in the plan)."""
    return SupportOffer.objects.create(
        name="Pårørendesamtaler på Medicinsk afdeling",
        kind=OfferKind.CONVERSATION,
        organisation=world.hospital,
    )


@pytest.fixture
def association(world) -> SupportOffer:
    """A patient association's course: its organisation does not take part in the plan."""
    holder = Organisation.objects.create(name="Lungeforeningen", sector=Sector.OTHER, sor_code="9001")
    return SupportOffer.objects.create(
        name="Kursus for pårørende", kind=OfferKind.COURSE, organisation=holder
    )


def refer(world, relative: Relative, offer: SupportOffer, **extra: Any) -> SupportReferral:
    return services.support_referral_create(actor=world.coordinator, relative=relative, offer=offer, **extra)


def follow_ups(**filters: Any):
    return Notification.objects.filter(kind=NotificationKind.RELATIVE_FOLLOW_UP, **filters)


def test_removing_a_relative_cancels_their_open_referrals_and_the_follow_up_reminders(
    world, relative, offer, association
):
    soon = timezone.localdate() + timedelta(days=5)
    open_referral = refer(
        world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=soon
    )
    done = refer(world, relative, association, follow_up_date=soon)
    done = services.support_referral_update(
        actor=world.coordinator,
        referral=done,
        expected_version=done.version,
        status=ReferralStatus.COMPLETED,
        responsible_person=None,
        follow_up_date=done.follow_up_date,
        note="",
    )
    assert follow_ups(state=NotificationState.PENDING).exists()

    fresh = Relative.objects.get(pk=relative.pk)
    services.relative_remove(actor=world.coordinator, relative=fresh, expected_version=fresh.version)

    open_referral.refresh_from_db()
    assert open_referral.status == ReferralStatus.CANCELLED
    assert open_referral.version == 2
    assert (
        SupportReferral.objects.get(pk=done.pk).status == ReferralStatus.COMPLETED
    )  # closed stays as it was
    assert not follow_ups(state__in=(NotificationState.PENDING, NotificationState.SENDING)).exists()
    assert follow_ups(state=NotificationState.CANCELLED).exists()


def test_a_responsible_organisation_outside_the_plan_is_refused_clearly(world, relative, association):
    with pytest.raises(ValidationError) as refused:
        refer(world, relative, association, responsible_organisation=association.organisation)

    assert refused.value.message_dict == {
        "responsible_organisation": ["Vælg en organisation, der deltager i planen."]
    }
    assert not SupportReferral.objects.exists()
    assert not follow_ups().exists()


def test_the_referral_form_offers_no_organisation_outside_the_plan(world, relative, association):
    client = sign_in(Client(), world.coordinator)
    url = reverse("relatives:referral-create", args=[world.plan.public_id, relative.public_id])
    response = client.post(
        url,
        {
            "offer": association.public_id,
            "status": ReferralStatus.REFERRED,
            "responsible_organisation": association.organisation.public_id,
        },
    )

    assert response.status_code == 422
    assert "responsible_organisation" in response.context["form"].errors
    assert not SupportReferral.objects.exists()


def test_an_offer_held_outside_the_plan_is_followed_up_by_the_coordinators_organisation(
    world, relative, association
):
    referral = refer(world, relative, association)

    assert referral.responsible_organisation == world.municipality  # the coordinator's


def support_url(relative: Relative) -> str:
    return reverse("relatives:support-record", args=[relative.plan.public_id, relative.public_id])


def test_a_closed_referral_no_longer_opens_the_support_record_to_its_organisation(world, relative, offer):
    referral = refer(world, relative, offer)
    doctor = sign_in(Client(), world.hospital_doctor)
    assert doctor.get(support_url(relative)).status_code == 200

    services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=referral.version,
        status=ReferralStatus.COMPLETED,
        responsible_person=None,
        follow_up_date=None,
        note="",
    )

    assert doctor.get(support_url(relative)).status_code == 404
    plan_page = doctor.get(reverse("pathways:plan-detail", args=[world.plan.public_id])).content.decode()
    assert support_url(relative) not in plan_page
    assert sign_in(Client(), world.coordinator).get(support_url(relative)).status_code == 200


def test_staff_of_an_organisation_outside_the_plan_do_not_see_the_record_of_a_relative_referred_there(
    world, relative, association
):
    refer(world, relative, association)
    volunteer = make_user("lungeforeningen", association.organisation)

    assert sign_in(Client(), volunteer).get(support_url(relative)).status_code == 404
