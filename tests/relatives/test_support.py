"""The relative's own support record: strain screening (scoring, the high-strain flag, every item
required), needs, referrals to support offers with follow-up reminders through the outbox, who may see and
write it (and that every read is logged), the forms' answers to bad input, and query-count guards."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.translation import override

from pathways import outbox
from pathways import services as hub_services
from pathways.access import notifications_visible_to
from pathways.choices import (
    AccessAction,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    Sector,
    SecurityEventKind,
)
from pathways.models import AccessLog, Notification, Organisation, SecurityEvent
from pathways.services import VersionConflict
from relatives import services
from relatives.choices import OfferKind, ReferralStatus, Relation
from relatives.instruments import CSI_KEY, ship
from relatives.models import (
    Relative,
    RelativeNeed,
    StrainInstrument,
    StrainItem,
    StrainScreening,
    SupportOffer,
    SupportReferral,
)
from tests.conftest import make_user, sign_in

# --- Fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture
def csi(db) -> StrainInstrument:
    ship(StrainInstrument, StrainItem)  # a transactional test's flush may have emptied the data migration's
    return StrainInstrument.objects.get(key=CSI_KEY)


def item_keys(instrument: StrainInstrument) -> list[str]:
    return list(instrument.items.order_by("position").values_list("key", flat=True))


def answers_with(instrument: StrainInstrument, yes: int) -> dict[str, bool]:
    """All items answered: the first `yes` of them "yes"."""
    return {key: index < yes for index, key in enumerate(item_keys(instrument))}


def add_relative(plan, name: str = "Mette Testesen", **extra) -> Relative:
    return Relative.objects.create(plan=plan, name=name, relation=Relation.CHILD, **extra)


@pytest.fixture
def relative(world) -> Relative:
    return add_relative(world.plan)


@pytest.fixture
def offer(world) -> SupportOffer:
    """The hospital's relatives' conversations: the hospital takes part in the plan, so its staff may see
    the record of a relative referred to it."""
    return SupportOffer.objects.create(
        name="Pårørendesamtaler på Medicinsk afdeling",
        kind=OfferKind.CONVERSATION,
        organisation=world.hospital,
    )


@pytest.fixture
def municipal_offer(world) -> SupportOffer:
    return SupportOffer.objects.create(
        name="Pårørendesamtaler i Roskilde", kind=OfferKind.CONVERSATION, organisation=world.municipality
    )


def screen(world, relative, instrument, yes: int, *, actor=None, **extra) -> StrainScreening:
    return services.strain_screening_record(
        actor=actor or world.coordinator,
        relative=relative,
        instrument=instrument,
        answers=answers_with(instrument, yes),
        screened_on=extra.pop("screened_on", timezone.localdate()),
        **extra,
    )


def refer(world, relative, offer, *, actor=None, **extra) -> SupportReferral:
    return services.support_referral_create(
        actor=actor or world.coordinator, relative=relative, offer=offer, **extra
    )


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def signed_in(user) -> Client:
    return english(sign_in(Client(), user))


def support_url(name: str, relative: Relative, *extra) -> str:
    return reverse(f"relatives:{name}", args=[relative.plan.public_id, relative.public_id, *extra])


def plan_page(relative_or_plan) -> str:
    plan = getattr(relative_or_plan, "plan", relative_or_plan)
    return reverse("pathways:plan-detail", args=[plan.public_id])


def support_reads(user) -> int:
    return AccessLog.objects.filter(actor=user, action=AccessAction.VIEW_RELATIVE_SUPPORT).count()


def follow_ups(**filters):
    return Notification.objects.filter(kind=NotificationKind.RELATIVE_FOLLOW_UP, **filters)


def today() -> date:
    return timezone.localdate()


# --- Strain screening ------------------------------------------------------------------------------------


def test_six_yes_answers_score_6_of_13_and_are_not_high_strain(world, relative, csi):
    screening = screen(world, relative, csi, 6)

    assert (screening.score, screening.max_score, screening.high_strain) == (6, 13, False)


def test_seven_yes_answers_are_high_strain(world, relative, csi):
    screening = screen(world, relative, csi, 7)

    assert (screening.score, screening.high_strain) == (7, True)


def test_thirteen_yes_answers_are_the_highest_score(world, relative, csi):
    screening = screen(world, relative, csi, 13)

    assert (screening.score, screening.max_score, screening.high_strain) == (13, 13, True)


def test_the_answers_are_kept_by_item_with_who_screened_for_which_organisation(world, relative, csi):
    screening = screen(world, relative, csi, 2)

    assert screening.answers == answers_with(csi, 2)
    assert screening.screened_by == world.coordinator
    assert screening.screened_by_organisation == world.municipality


def test_every_item_must_be_answered_and_the_error_names_the_missing_ones(world, relative, csi):
    answers = answers_with(csi, 3)
    keys = item_keys(csi)
    del answers[keys[1]], answers[keys[4]], answers[keys[12]]

    with override("en"), pytest.raises(ValidationError) as refused:
        services.strain_screening_record(
            actor=world.coordinator, relative=relative, instrument=csi, answers=answers, screened_on=today()
        )

    assert "Not answered: 2, 5 and 13." in refused.value.message_dict["answers"][0]
    assert not StrainScreening.objects.exists()


def test_an_answer_that_is_not_yes_or_no_counts_as_not_answered(world, relative, csi):
    answers: Any = answers_with(csi, 3) | {item_keys(csi)[0]: "yes"}  # a string, not a yes/no answer

    with override("en"), pytest.raises(ValidationError, match=r"Not answered: 1\."):
        services.strain_screening_record(
            actor=world.coordinator, relative=relative, instrument=csi, answers=answers, screened_on=today()
        )
    assert not StrainScreening.objects.exists()


def test_answers_to_questions_the_instrument_lacks_are_refused(world, relative, csi):
    answers = answers_with(csi, 3) | {"made_up": True}

    with pytest.raises(ValidationError) as refused:
        services.strain_screening_record(
            actor=world.coordinator, relative=relative, instrument=csi, answers=answers, screened_on=today()
        )
    assert "answers" in refused.value.message_dict
    assert not StrainScreening.objects.exists()


def test_a_screening_dated_in_the_future_is_refused(world, relative, csi):
    with pytest.raises(ValidationError) as refused:
        screen(world, relative, csi, 3, screened_on=today() + timedelta(days=1))
    assert "screened_on" in refused.value.message_dict
    assert not StrainScreening.objects.exists()


def test_changing_the_instrument_later_leaves_recorded_screenings_as_they_were(world, relative, csi):
    screening = screen(world, relative, csi, 7)
    csi.items.filter(key=item_keys(csi)[-1]).delete()
    csi.high_strain_from = 9
    csi.save()

    screening.refresh_from_db()
    assert (screening.score, screening.max_score, screening.high_strain) == (7, 13, True)
    later = screen(world, relative, csi, 7)
    assert (later.score, later.max_score, later.high_strain) == (7, 12, False)


def test_a_child_relative_may_be_screened_too(world, csi):
    child = add_relative(world.plan, "Emma", is_child=True, child_age=12)

    assert screen(world, child, csi, 7).high_strain


def test_a_relative_no_longer_on_the_plan_gets_no_new_screening(world, relative, csi):
    relative.ended_at = timezone.now()
    relative.save()

    with pytest.raises(ValidationError):
        screen(world, relative, csi, 3)
    assert not StrainScreening.objects.exists()


# --- Who may write the support record ------------------------------------------------------------------


def test_before_any_referral_only_the_coordinator_screens_refers_or_records_needs(
    world, relative, csi, offer
):
    for person in (world.home_nurse, world.hospital_doctor, world.gp_doctor, world.outsider):
        with pytest.raises(PermissionDenied):
            screen(world, relative, csi, 3, actor=person)
        with pytest.raises(PermissionDenied):
            refer(world, relative, offer, actor=person)
        with pytest.raises(PermissionDenied):
            services.relative_need_record(actor=person, relative=relative, text="Søvn")
    assert not StrainScreening.objects.exists()
    assert not SupportReferral.objects.exists()
    assert not RelativeNeed.objects.exists()


def test_once_referred_the_offers_organisation_may_write_the_record_and_no_one_else(
    world, relative, csi, offer, municipal_offer
):
    refer(world, relative, offer)

    assert (
        screen(world, relative, csi, 4, actor=world.hospital_doctor).screened_by_organisation
        == world.hospital
    )
    services.relative_need_record(actor=world.hospital_doctor, relative=relative, text="At sove igennem.")
    refer(world, relative, municipal_offer, actor=world.hospital_doctor)
    with pytest.raises(PermissionDenied):
        screen(world, relative, csi, 4, actor=world.gp_doctor)


def test_in_a_plan_without_a_coordinator_its_participants_do_not_start_a_support_record(world, csi, offer):
    relative = add_relative(world.other_plan)  # the outsider set the plan up; it has no coordinator

    with pytest.raises(PermissionDenied):
        screen(world, relative, csi, 3, actor=world.outsider)
    assert not StrainScreening.objects.exists()


# --- Needs -------------------------------------------------------------------------------------------------


def test_a_need_is_kept_in_the_relatives_own_words(world, relative):
    need = services.relative_need_record(
        actor=world.coordinator, relative=relative, text="  Jeg har brug for at sove en hel nat.  "
    )

    assert need.text == "Jeg har brug for at sove en hel nat."
    assert need.recorded_by == world.coordinator


def test_an_empty_or_too_long_need_is_refused(world, relative):
    for text in ("   ", "x" * 2001):
        with pytest.raises(ValidationError) as refused:
            services.relative_need_record(actor=world.coordinator, relative=relative, text=text)
        assert "text" in refused.value.message_dict
    assert not RelativeNeed.objects.exists()


def test_a_need_marked_met_twice_keeps_the_first_time(world, relative):
    need = services.relative_need_record(actor=world.coordinator, relative=relative, text="Aflastning")
    first = services.relative_need_met(actor=world.coordinator, need=need).met_at

    assert services.relative_need_met(actor=world.coordinator, need=need).met_at == first


# --- Referrals and follow-up reminders -------------------------------------------------------------------


def test_a_referral_is_the_offers_organisations_by_default(world, relative, offer):
    referral = refer(world, relative, offer)

    assert referral.responsible_organisation == world.hospital
    assert referral.status == ReferralStatus.REFERRED
    assert referral.created_by == world.coordinator


def test_a_follow_up_date_reminds_the_responsible_person_at_8_on_that_day(world, relative, offer):
    day = today() + timedelta(days=10)
    referral = refer(world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=day)

    rows = list(follow_ups(state=NotificationState.PENDING))
    assert [row.recipient for row in rows] == [world.hospital_doctor]
    assert rows[0].channel == NotificationChannel.IN_APP
    assert rows[0].due_at == outbox.local_moment(day)
    assert rows[0].due_at.astimezone(outbox.LOCAL).hour == 8
    assert f"referral:{referral.pk}:{day.isoformat()}" in rows[0].dedupe_key


def test_without_a_person_the_responsible_organisations_coordinators_are_reminded(
    world, relative, municipal_offer
):
    refer(world, relative, municipal_offer, follow_up_date=today() + timedelta(days=3))

    assert [row.recipient for row in follow_ups()] == [world.coordinator]


def test_an_organisation_without_coordinators_leaves_the_reminder_to_the_plans_coordinator(
    world, relative, offer
):
    refer(world, relative, offer, follow_up_date=today() + timedelta(days=3))  # the hospital has none

    assert [row.recipient for row in follow_ups()] == [world.coordinator]


def test_staff_with_an_e_mail_address_get_the_reminder_by_e_mail_too(world, relative, offer):
    world.hospital_doctor.email = "doctor@example.invalid"
    world.hospital_doctor.save()

    refer(world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=today())

    assert sorted(follow_ups().values_list("channel", flat=True)) == ["email", "in_app"]


def test_moving_the_follow_up_date_moves_the_reminder(world, relative, offer):
    first = today() + timedelta(days=10)
    referral = refer(world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=first)
    later = first + timedelta(days=7)

    services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=referral.version,
        status=referral.status,
        responsible_person=world.hospital_doctor,
        follow_up_date=later,
        note="",
    )

    waiting = follow_ups(state=NotificationState.PENDING).get()
    assert waiting.due_at == outbox.local_moment(later)
    assert follow_ups(state=NotificationState.CANCELLED).get().due_at == outbox.local_moment(first)


def test_a_new_responsible_person_takes_the_reminder_over(world, relative, offer):
    colleague = make_user("colleague", world.hospital)
    referral = refer(
        world,
        relative,
        offer,
        responsible_person=world.hospital_doctor,
        follow_up_date=today() + timedelta(2),
    )

    services.support_referral_update(
        actor=world.hospital_doctor,
        referral=referral,
        expected_version=referral.version,
        status=referral.status,
        responsible_person=colleague,
        follow_up_date=referral.follow_up_date,
        note="",
    )

    assert [row.recipient for row in follow_ups(state=NotificationState.PENDING)] == [colleague]


@pytest.mark.parametrize(
    "closed", [ReferralStatus.COMPLETED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED]
)
def test_closing_the_referral_cancels_its_reminder(world, relative, offer, closed):
    referral = refer(world, relative, offer, follow_up_date=today() + timedelta(days=5))

    services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=referral.version,
        status=closed,
        responsible_person=None,
        follow_up_date=referral.follow_up_date,
        note="",
    )

    assert not follow_ups(state=NotificationState.PENDING).exists()
    assert follow_ups(state=NotificationState.CANCELLED).count() == 1


def test_a_follow_up_date_in_the_past_is_refused_and_today_reminds_at_once(world, relative, offer):
    with override("en"), pytest.raises(ValidationError, match="cannot be in the past"):
        refer(world, relative, offer, follow_up_date=today() - timedelta(days=1))
    assert not SupportReferral.objects.exists()

    before = timezone.now()
    refer(world, relative, offer, follow_up_date=today())

    assert follow_ups().get().due_at <= max(outbox.local_moment(today()), timezone.now())
    assert follow_ups().get().due_at >= min(outbox.local_moment(today()), before)


def test_moving_a_follow_up_into_the_past_is_refused_but_an_old_date_may_stay(world, relative, offer):
    referral = refer(world, relative, offer, follow_up_date=today() + timedelta(days=1))
    SupportReferral.objects.filter(pk=referral.pk).update(follow_up_date=today() - timedelta(days=3))
    referral.refresh_from_db()

    with pytest.raises(ValidationError) as refused:
        services.support_referral_update(
            actor=world.coordinator,
            referral=referral,
            expected_version=referral.version,
            status=referral.status,
            responsible_person=None,
            follow_up_date=today() - timedelta(days=1),
            note="",
        )
    assert "follow_up_date" in refused.value.message_dict
    started = services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=referral.version,
        status=ReferralStatus.STARTED,
        responsible_person=None,
        follow_up_date=referral.follow_up_date,
        note="",
    )
    assert started.status == ReferralStatus.STARTED


def test_the_outbox_delivers_the_reminder_as_an_in_app_message_on_the_day(world, relative, offer):
    day = today() + timedelta(days=4)
    refer(world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=day)

    outbox.deliver_due()  # what the world has due now (its tasks' messages)
    assert outbox.deliver_due(now=outbox.local_moment(day) - timedelta(minutes=1)) == 0
    assert outbox.deliver_due(now=outbox.local_moment(day)) == 1

    message = notifications_visible_to(world.hospital_doctor).get(kind=NotificationKind.RELATIVE_FOLLOW_UP)
    assert message.plan == world.plan


def test_the_reminder_e_mail_names_no_one_and_links_to_the_plans_relatives(world, relative, offer):
    world.hospital_doctor.email = "doctor@example.invalid"
    world.hospital_doctor.save()
    refer(world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=today())
    row = follow_ups(channel=NotificationChannel.EMAIL).get()

    message = outbox._message(row)  # staff are written to in the product's language

    assert "en pårørendes støtte skal følges op" in message.body
    assert message.body.count(plan_page(relative) + "#relatives") == 1
    for private in ("Kirsten", "Mette", "Medicinsk afdeling", "Pårørendesamtaler"):
        assert private not in message.body
    assert message.address == "doctor@example.invalid"


def test_a_stale_version_is_a_conflict_and_changes_nothing(world, relative, offer):
    referral = refer(world, relative, offer)
    services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=1,
        status=ReferralStatus.STARTED,
        responsible_person=None,
        follow_up_date=None,
        note="",
    )

    with pytest.raises(VersionConflict):
        services.support_referral_update(
            actor=world.coordinator,
            referral=referral,
            expected_version=1,
            status=ReferralStatus.CANCELLED,
            responsible_person=None,
            follow_up_date=None,
            note="",
        )
    referral.refresh_from_db()
    assert (referral.status, referral.version) == (ReferralStatus.STARTED, 2)


def test_saving_a_referral_unchanged_writes_nothing(world, relative, offer):
    referral = refer(world, relative, offer, note="Ringer selv.", follow_up_date=today() + timedelta(3))

    saved = services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=referral.version,
        status=referral.status,
        responsible_person=None,
        follow_up_date=referral.follow_up_date,
        note="Ringer selv.",
    )

    assert saved.version == referral.version == 1
    assert follow_ups(state=NotificationState.PENDING).count() == 1


def test_a_closed_referral_stays_closed(world, relative, offer):
    referral = refer(world, relative, offer)
    referral = services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=1,
        status=ReferralStatus.DECLINED,
        responsible_person=None,
        follow_up_date=None,
        note="",
    )

    with pytest.raises(ValidationError) as refused:
        services.support_referral_update(
            actor=world.coordinator,
            referral=referral,
            expected_version=referral.version,
            status=ReferralStatus.STARTED,
            responsible_person=None,
            follow_up_date=None,
            note="",
        )
    assert "status" in refused.value.message_dict
    noted = services.support_referral_update(
        actor=world.coordinator,
        referral=referral,
        expected_version=referral.version,
        status=ReferralStatus.DECLINED,
        responsible_person=None,
        follow_up_date=None,
        note="Vil hellere tale med sin egen læge.",
    )
    assert noted.note == "Vil hellere tale med sin egen læge."


def test_referrals_refused_for_bad_choices(world, relative, offer, municipal_offer):
    refer(world, relative, offer)
    retired = SupportOffer.objects.create(
        name="Gammelt kursus", kind=OfferKind.COURSE, organisation=world.municipality, is_active=False
    )
    cases = [
        ({"offer": offer}, "offer"),  # already open
        ({"offer": retired}, "offer"),
        ({"offer": municipal_offer, "responsible_organisation": world.unrelated}, "responsible_organisation"),
        ({"offer": municipal_offer, "responsible_person": world.hospital_doctor}, "responsible_person"),
        ({"offer": municipal_offer, "status": ReferralStatus.COMPLETED}, "status"),
        ({"offer": municipal_offer, "note": "x" * 2001}, "note"),
    ]
    for arguments, field in cases:
        with pytest.raises(ValidationError) as refused:
            services.support_referral_create(actor=world.coordinator, relative=relative, **arguments)
        assert field in refused.value.message_dict, arguments
    assert SupportReferral.objects.count() == 1


# --- Access: who sees the support record, and every read logged -----------------------------------------


@pytest.fixture
def screened(world, relative, csi) -> Relative:
    screen(world, relative, csi, 8)
    return relative


def test_the_support_page_is_404_for_participants_without_a_reason_and_outsiders(world, screened):
    for person in (world.hospital_doctor, world.home_nurse, world.gp_doctor, world.outsider):
        assert signed_in(person).get(support_url("support-record", screened)).status_code == 404
    assert AccessLog.objects.filter(action=AccessAction.VIEW_RELATIVE_SUPPORT).count() == 0


def test_a_participant_without_a_reason_is_refused_at_the_plan_and_nothing_is_read(world, screened):
    response = signed_in(world.gp_doctor).get(support_url("support-record", screened))

    assert response.status_code == 404
    assert not AccessLog.objects.filter(actor=world.gp_doctor).exists()
    assert SecurityEvent.objects.filter(
        user=world.gp_doctor, kind=SecurityEventKind.PERMISSION_DENIED
    ).exists()


def test_the_coordinator_sees_the_support_page_and_the_read_is_logged(world, screened, offer):
    refer(world, screened, offer, follow_up_date=today() + timedelta(days=9))
    response = signed_in(world.coordinator).get(support_url("support-record", screened))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Score: 8 of 13" in body
    assert "High strain (7 or more)" in body
    assert "Robinson BC" in body  # the attribution
    assert "not shown to the patient" in body
    assert offer.name in body
    assert date_format(today() + timedelta(days=9), "j. F Y") in body
    assert support_reads(world.coordinator) == 1


def test_the_support_page_lists_the_yes_answers_in_the_instruments_order(world, relative, csi):
    items = list(csi.items.order_by("position"))
    answers = {item.key: item.position in (2, 9, 13) for item in items}
    services.strain_screening_record(
        actor=world.coordinator, relative=relative, instrument=csi, answers=answers, screened_on=today()
    )

    body = signed_in(world.coordinator).get(support_url("support-record", relative)).content.decode()

    positions = [body.index(escape(items[n - 1].text_en)) for n in (2, 9, 13)]
    assert positions == sorted(positions)
    assert escape(items[0].text_en) not in body


def test_staff_of_the_offers_organisation_see_it_once_referred(world, screened, offer):
    doctor = signed_in(world.hospital_doctor)
    assert doctor.get(support_url("support-record", screened)).status_code == 404

    refer(world, screened, offer)

    assert doctor.get(support_url("support-record", screened)).status_code == 200
    assert support_reads(world.hospital_doctor) == 1
    assert signed_in(world.gp_doctor).get(support_url("support-record", screened)).status_code == 404


def test_a_break_the_glass_reader_does_not_see_the_support_record(world, screened):
    emergency = Organisation.objects.create(name="Akutmodtagelsen", sector=Sector.HOSPITAL, sor_code="1009")
    doctor = make_user("emergency_doctor", emergency)
    hub_services.emergency_access_grant(
        actor=doctor, organisation=emergency, plan=world.plan, reason="Indlagt akut om natten med åndenød."
    )
    client = signed_in(doctor)

    assert client.get(support_url("support-record", screened)).status_code == 404
    page = client.get(plan_page(screened))
    assert page.status_code == 200
    assert support_url("support-record", screened) not in page.content.decode()
    assert support_reads(doctor) == 0


def test_the_plan_page_shows_the_summary_to_the_coordinator_and_logs_one_read(world, screened, offer):
    day = today() + timedelta(days=12)
    refer(world, screened, offer, follow_up_date=day)
    add_relative(world.plan, "Søren Testesen")  # a second relative: still one logged read

    body = signed_in(world.coordinator).get(plan_page(screened)).content.decode()

    screened_on = StrainScreening.objects.get().screened_on
    assert f"Strain: 8 of 13 — high strain (screened {date_format(screened_on, 'j. F Y')})" in body
    assert f"follow up on {date_format(day, 'j. F Y')}" in body
    assert support_url("support-record", screened) in body
    assert support_reads(world.coordinator) == 1


def test_the_plan_page_shows_no_summary_and_no_hint_to_those_without_a_reason(world, screened, offer):
    for person in (world.gp_doctor, world.home_nurse, world.hospital_doctor):
        body = signed_in(person).get(plan_page(screened)).content.decode()
        assert screened.name in body  # the relative is the plan's: every participant sees them
        assert "Strain:" not in body
        assert "/support/" not in body
        assert "relative-support" not in body
    assert AccessLog.objects.filter(action=AccessAction.VIEW_RELATIVE_SUPPORT).count() == 0


def test_the_danish_summary_reads_as_the_plan_page_shows_it(world, screened):
    body = sign_in(Client(), world.coordinator).get(plan_page(screened)).content.decode()

    with override("da"):
        day = date_format(StrainScreening.objects.get().screened_on, "j. F Y")
    assert day in body


# --- The forms: bad input gives a clear error and writes nothing --------------------------------------------


def screening_body(instrument: StrainInstrument, yes: int, **extra) -> dict[str, object]:
    answers = {
        f"item_{key}": "yes" if answer else "no" for key, answer in answers_with(instrument, yes).items()
    }
    return {"instrument": instrument.key, "screened_on": today().isoformat(), **answers, **extra}


def test_the_screening_form_shows_every_item_in_the_active_language_and_the_attribution(world, relative, csi):
    english_page = signed_in(world.coordinator).get(support_url("strain-screening-create", relative))
    danish_page = sign_in(Client(), world.coordinator).get(support_url("strain-screening-create", relative))

    english_body, danish_body = english_page.content.decode(), danish_page.content.decode()
    for item in csi.items.all():
        assert escape(item.text_en) in english_body
        assert escape(item.text_da) in danish_body
    assert english_body.count('type="radio"') == 2 * 13
    assert csi.introduction in english_body
    assert "Robinson BC" in english_body


def test_the_screening_form_saves_and_goes_back_to_the_plans_relatives(world, relative, csi):
    response = signed_in(world.coordinator).post(
        support_url("strain-screening-create", relative), screening_body(csi, 8)
    )

    assert response.status_code == 302
    assert response["Location"] == plan_page(relative) + "#relatives"
    assert StrainScreening.objects.get().score == 8


def test_the_screening_form_opened_from_the_support_page_goes_back_there(world, relative, csi):
    response = signed_in(world.coordinator).post(
        support_url("strain-screening-create", relative), screening_body(csi, 2, return_to="support")
    )

    assert response["Location"] == support_url("support-record", relative)


def test_the_screening_form_names_the_questions_not_answered_and_writes_nothing(world, relative, csi):
    body = screening_body(csi, 8)
    keys = item_keys(csi)
    del body[f"item_{keys[1]}"], body[f"item_{keys[4]}"]

    response = signed_in(world.coordinator).post(support_url("strain-screening-create", relative), body)

    assert response.status_code == 422
    content = response.content.decode()
    assert "Not answered: 2 and 5." in content
    assert "Answer yes or no." in content
    assert not StrainScreening.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"screened_on": ""},
        {"screened_on": "2026-13-40"},
        {"screened_on": (date.today() + timedelta(days=3)).isoformat()},
        {"item_sleep": "maybe"},
        {"note": "x" * 2001},
    ],
)
def test_bad_screening_input_is_refused_with_422_and_writes_nothing(world, relative, csi, bad):
    response = signed_in(world.coordinator).post(
        support_url("strain-screening-create", relative), screening_body(csi, 3, **bad)
    )

    assert response.status_code == 422
    assert 'class="form-error-message"' in response.content.decode()
    assert not StrainScreening.objects.exists()


def test_an_empty_post_to_any_support_form_writes_nothing(world, relative, offer):
    referral = refer(world, relative, offer)
    client = signed_in(world.coordinator)
    for name, extra in (
        ("strain-screening-create", []),
        ("need-create", []),
        ("referral-create", []),
        ("referral-update", [referral.public_id]),
    ):
        assert client.post(support_url(name, relative, *extra), {}).status_code == 422, name
    assert not StrainScreening.objects.exists()
    assert not RelativeNeed.objects.exists()
    assert SupportReferral.objects.get().version == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_bad_need_input_is_refused(world, relative, text):
    response = signed_in(world.coordinator).post(support_url("need-create", relative), {"text": text})

    assert response.status_code == 422
    assert not RelativeNeed.objects.exists()


def test_a_need_is_recorded_and_marked_met_on_the_support_page(world, relative):
    client = signed_in(world.coordinator)
    client.post(
        support_url("need-create", relative), {"text": "At få en pause om ugen.", "return_to": "support"}
    )
    need = RelativeNeed.objects.get()

    response = client.post(support_url("need-met", relative, need.public_id))

    assert response.status_code == 302
    need.refresh_from_db()
    assert need.met_at is not None
    assert "At få en pause om ugen." in client.get(support_url("support-record", relative)).content.decode()


def test_a_need_of_another_relative_is_404(world, relative):
    other = add_relative(world.plan, "Søren")
    need = services.relative_need_record(actor=world.coordinator, relative=other, text="Søvn")

    response = signed_in(world.coordinator).post(support_url("need-met", relative, need.public_id))

    assert response.status_code == 404
    need.refresh_from_db()
    assert need.met_at is None


def referral_body(chosen: SupportOffer, **extra) -> dict[str, object]:
    return {"offer": chosen.public_id, "status": ReferralStatus.REFERRED, **extra}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"offer": ""}, "offer"),
        ({"offer": uuid4()}, "offer"),
        ({"status": ReferralStatus.COMPLETED}, "status"),
        ({"follow_up_date": (date.today() - timedelta(days=1)).isoformat()}, "follow_up_date"),
        ({"follow_up_date": "i morgen"}, "follow_up_date"),
        ({"responsible_organisation": uuid4()}, "responsible_organisation"),
        ({"responsible_person": uuid4()}, "responsible_person"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_bad_referral_input_is_refused_with_a_clear_error(world, relative, offer, bad, field):
    response = signed_in(world.coordinator).post(
        support_url("referral-create", relative), referral_body(offer, **bad)
    )

    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert not SupportReferral.objects.exists()
    assert not follow_ups().exists()


def test_a_responsible_person_from_another_organisation_is_refused(world, relative, offer):
    body = referral_body(offer, responsible_person=world.gp_doctor.public_id)

    with override("en"):
        response = signed_in(world.coordinator).post(support_url("referral-create", relative), body)

    assert response.status_code == 422
    assert "Choose a person who works in the responsible organisation." in response.content.decode()
    assert not SupportReferral.objects.exists()


def test_the_referral_form_offers_only_offers_offered_now(world, relative, offer):
    SupportOffer.objects.create(
        name="Nedlagt gruppe", kind=OfferKind.OTHER, organisation=world.municipality, is_active=False
    )

    body = signed_in(world.coordinator).get(support_url("referral-create", relative)).content.decode()

    assert offer.name in body
    assert "Nedlagt gruppe" not in body


def test_a_referral_made_on_the_form_reminds_on_its_date(world, relative, offer):
    day = today() + timedelta(days=6)
    body = referral_body(
        offer, responsible_person=world.hospital_doctor.public_id, follow_up_date=day.isoformat()
    )

    response = signed_in(world.coordinator).post(support_url("referral-create", relative), body)

    assert response.status_code == 302
    referral = SupportReferral.objects.get()
    assert (referral.responsible_person, referral.follow_up_date) == (world.hospital_doctor, day)
    assert follow_ups().get().recipient == world.hospital_doctor


def update_body(referral: SupportReferral, **extra) -> dict[str, object]:
    return {
        "status": referral.status,
        "responsible_person": referral.responsible_person.public_id if referral.responsible_person else "",
        "follow_up_date": referral.follow_up_date.isoformat() if referral.follow_up_date else "",
        "note": referral.note,
        "version": referral.version,
        **extra,
    }


def test_the_referral_form_saved_unchanged_changes_nothing(world, relative, offer):
    day = today() + timedelta(days=8)
    referral = refer(
        world, relative, offer, responsible_person=world.hospital_doctor, follow_up_date=day, note="Hej"
    )
    client = signed_in(world.coordinator)

    form = client.get(support_url("referral-update", relative, referral.public_id)).content.decode()
    assert f'value="{day.isoformat()}"' in form  # the date input round-trips
    response = client.post(
        support_url("referral-update", relative, referral.public_id), update_body(referral)
    )

    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.version == 1


def test_the_referral_form_with_a_stale_version_says_so_and_changes_nothing(world, relative, offer):
    referral = refer(world, relative, offer)
    body = update_body(referral, status=ReferralStatus.CANCELLED)
    SupportReferral.objects.filter(pk=referral.pk).update(version=2)

    with override("en"):
        response = signed_in(world.coordinator).post(
            support_url("referral-update", relative, referral.public_id), body
        )

    assert response.status_code == 409
    assert "Someone else changed this referral" in response.content.decode()
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REFERRED


def test_the_referral_form_offers_only_the_next_statuses(world, relative, offer):
    referral = refer(world, relative, offer)
    client = signed_in(world.coordinator)

    response = client.post(
        support_url("referral-update", relative, referral.public_id),
        update_body(referral, status=ReferralStatus.PROPOSED),
    )

    assert response.status_code == 422
    assert "status" in response.context["form"].errors
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REFERRED


def test_a_referral_of_another_relative_is_404(world, relative, offer):
    other = add_relative(world.plan, "Søren")
    referral = refer(world, other, offer)

    response = signed_in(world.coordinator).get(support_url("referral-update", relative, referral.public_id))

    assert response.status_code == 404


# --- The admin: the catalogue and the instruments --------------------------------------------------------


def test_the_admin_refuses_a_high_strain_threshold_above_the_number_of_questions(world, csi):
    client = sign_in(Client(), world.admin)
    url = reverse("admin:relatives_straininstrument_add")
    body = {
        "name": "Kort skala",
        "key": "kort",
        "attribution": "Egen skala.",
        "high_strain_from": "3",
        "is_active": "on",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-0-position": "1",
        "items-0-key": "a",
        "items-0-text_da": "Spørgsmål 1",
        "items-0-text_en": "Question 1",
        "items-1-position": "2",
        "items-1-key": "b",
        "items-1-text_da": "Spørgsmål 2",
        "items-1-text_en": "Question 2",
    }

    assert client.post(url, body).status_code == 200  # shown again with the error
    assert not StrainInstrument.objects.filter(key="kort").exists()
    assert client.post(url, body | {"high_strain_from": "2"}).status_code == 302
    assert StrainInstrument.objects.get(key="kort").items.count() == 2


# --- Query counts ---------------------------------------------------------------------------------------


def _with_support(world, relative, csi, offers: list[SupportOffer], count: int) -> None:
    for index in range(count):
        screen(world, relative, csi, index % 14, screened_on=today() - timedelta(days=index))
        services.relative_need_record(actor=world.coordinator, relative=relative, text=f"Behov {index}")
    for index, offer in enumerate(offers[:count]):
        refer(
            world,
            relative,
            offer,
            responsible_person=world.coordinator,
            follow_up_date=today() + timedelta(index),
        )


@pytest.fixture
def many_offers(world) -> list[SupportOffer]:
    return [
        SupportOffer.objects.create(
            name=f"Tilbud {n:02}", kind=OfferKind.OTHER, organisation=world.municipality
        )
        for n in range(20)
    ]


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_support_page_reads_in_the_same_number_of_queries_for_1_and_20_entries(world, csi, many_offers):
    one, twenty = add_relative(world.plan, "En"), add_relative(world.plan, "Tyve")
    _with_support(world, one, csi, many_offers, 1)
    _with_support(world, twenty, csi, many_offers, 20)
    client = signed_in(world.coordinator)
    client.get(support_url("support-record", one))  # warm the session and the caches

    assert _queries(client, support_url("support-record", one)) == _queries(
        client, support_url("support-record", twenty)
    )


def test_the_plan_pages_relatives_section_reads_the_same_for_1_and_20_relatives(world, csi, many_offers):
    def plan_with(count: int):
        patient = hub_services.patient_create(
            cpr=f"0202{count:02d}{2000 + count:04d}",
            given_name=f"Patient{count}",
            family_name="Tælling",
            home_municipality="265",
        )
        plan = hub_services.plan_create(
            actor=world.coordinator, patient=patient, title="Tælling", participants=[world.municipality]
        )
        plan = hub_services.coordinator_assign(
            actor=world.coordinator, plan=plan, coordinator=world.coordinator, organisation=world.municipality
        )
        for index in range(count):
            relative = add_relative(plan, f"Pårørende {index:02}")
            _with_support(world, relative, csi, many_offers[index:], 1)
        return plan

    one, twenty = plan_with(1), plan_with(20)
    client = signed_in(world.coordinator)
    client.get(plan_page(one))

    assert _queries(client, plan_page(one)) == _queries(client, plan_page(twenty))
    assert support_reads(world.coordinator) == 1 + 2
