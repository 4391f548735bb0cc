"""The portal's sign-in as a patient or relative meets it: ask for a link by e-mail or mobile number (the
same answer for everyone), open it (a button: a mail scanner's GET spends nothing), type the code that
came the other way, read the plan; single use, 15 minutes, 5 tries, 30 minutes idle, sign-out. And what
must never happen: a staff session and a portal session mixing, a secret in the admin, health data in a
message."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pathways import outbox
from pathways import services as hub
from pathways.audit import RequestOrigin
from pathways.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationState,
    PlanStatus,
    SecurityEventKind,
)
from pathways.models import Notification, PathwayPlan, Patient, SecurityEvent
from portal.access import readers_of
from portal.choices import SessionEnd
from portal.models import CODE_TRIES, PortalSession, PortalSignIn
from portal.signin import SIGN_IN_COOKIE, sign_in_address, sign_in_request
from relatives import services as relatives
from relatives.choices import ConsentMethod, ConsentScope, Relation, RelativeChannel
from relatives.models import Relative
from tests.conftest import sign_in as staff_sign_in

KIRSTEN_EMAIL = "kirsten@example.dk"
KIRSTEN_PHONE = "22 41 63 18"
SIGN_IN = reverse("portal:sign-in")
SENT = reverse("portal:sign-in-sent")
CODE = reverse("portal:sign-in-code")
HOME = reverse("portal:home")


# --- helpers --------------------------------------------------------------------------------------


@pytest.fixture
def kirsten(world) -> Patient:
    """The world's patient, with an e-mail address and a mobile number to sign in with."""
    patient = world.patient
    patient.email, patient.phone = KIRSTEN_EMAIL, KIRSTEN_PHONE
    patient.save()
    return patient


def english() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def ask(client: Client, address: str):
    return client.post(SIGN_IN, {"address": address})


def link_path(sign_in: PortalSignIn) -> str:
    return reverse("portal:sign-in-link", args=[sign_in.public_id, sign_in.link_token()])


def open_link(client: Client, sign_in: PortalSignIn):
    return client.post(link_path(sign_in))


def code_of(sign_in: PortalSignIn) -> str:
    sign_in.refresh_from_db()
    return sign_in.code()


def signed_in(client: Client, address: str = KIRSTEN_EMAIL) -> PortalSignIn:
    """The whole way, as the person does it: ask, open the link, type the code."""
    assert ask(client, address).status_code == 302
    sign_in = PortalSignIn.objects.latest("created_at")
    assert open_link(client, sign_in).status_code == 302
    response = client.post(CODE, {"code": code_of(sign_in)})
    assert response.status_code == 302
    assert response["Location"] == HOME
    return sign_in


def messages_of(sign_in: PortalSignIn, kind: NotificationKind):
    return Notification.objects.addressed_to(sign_in).filter(kind=kind)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def ago(**delta: float) -> datetime:
    return timezone.now() - timedelta(**delta)


def add_relative(plan: PathwayPlan, actor, *, scope=ConsentScope.WHOLE_PLAN, **fields) -> Relative:
    values = {
        "name": "Susanne Poulsen",
        "relation": Relation.CHILD,
        "email": "susanne@example.dk",
        "preferred_channel": RelativeChannel.EMAIL,
    } | fields
    relative = relatives.relative_add(actor=actor, plan=plan, **values)
    relatives.relative_consent_record(
        actor=actor,
        relative=relative,
        scope=scope,
        method=ConsentMethod.SPOKEN,
        coercion_checked=scope != ConsentScope.NONE,
    )
    return relative


@pytest.fixture
def second_plan(world) -> PathwayPlan:
    """Another patient's active plan, in the same municipality (a relative of two patients)."""
    patient = hub.patient_create(
        cpr="0101501234", given_name="Bent", family_name="Bruun", home_municipality="265"
    )
    plan = hub.plan_create(
        actor=world.coordinator, patient=patient, title="Hjertesvigt", participants=[world.municipality]
    )
    plan = hub.coordinator_assign(
        actor=world.coordinator, plan=plan, coordinator=world.coordinator, organisation=world.municipality
    )
    return hub.plan_transition(actor=world.coordinator, plan=plan, to_status=PlanStatus.ACTIVE)


# --- asking for a link ----------------------------------------------------------------------------


def test_a_known_address_gets_one_link_in_the_outbox_sent_at_once(kirsten):
    response = ask(Client(), KIRSTEN_EMAIL)

    assert response.status_code == 302
    assert response["Location"] == SENT
    sign_in = PortalSignIn.objects.get()
    assert sign_in.patient == kirsten
    assert sign_in.plan == kirsten.plans.get()
    assert sign_in.expires_at - sign_in.created_at == timedelta(minutes=15)
    [link] = messages_of(sign_in, NotificationKind.SIGN_IN_LINK)
    assert link.channel == NotificationChannel.EMAIL
    assert link.state == NotificationState.PENDING
    assert link.due_at <= timezone.now()
    assert not messages_of(sign_in, NotificationKind.SIGN_IN_CODE).exists()  # only once the link is opened


@pytest.mark.parametrize(
    "typed",
    [
        "KIRSTEN@Example.dk ",
        "22416318",
        "+45 22 41 63 18",
        "0045-2241-6318",
        "22-41-63-18",
        "２２４１６３１８",
        "45 22 41 63 18",
        "4522416318",
    ],
)
def test_the_address_is_found_however_it_is_written(kirsten, typed):
    ask(Client(), typed)

    assert PortalSignIn.objects.get().patient == kirsten


def test_an_8_digit_number_that_starts_with_45_keeps_its_45(world):
    world.patient.phone = "45 22 41 63"
    world.patient.save()

    ask(Client(), "45 22 41 63")

    assert PortalSignIn.objects.get().phone == "45224163"


def test_a_phone_number_stored_with_the_country_code_is_found_by_its_8_digits(kirsten):
    kirsten.phone = "+45 22416318"
    kirsten.save()

    ask(Client(), "22 41 63 18")

    sign_in = PortalSignIn.objects.get()
    assert sign_in.link_channel == NotificationChannel.SMS
    assert sign_in.phone == "22416318"


def test_unknown_known_and_throttled_get_the_same_answer_and_only_the_known_a_link(kirsten, settings):
    settings.PORTAL_LINKS_PER_ADDRESS = 2
    answers, written = {}, {}
    for who, address in [
        ("known", KIRSTEN_EMAIL),
        ("unknown", "nobody@example.dk"),
        ("unknown phone", "99 88 77 66"),
        ("known again", KIRSTEN_EMAIL),
        ("throttled", KIRSTEN_EMAIL),
    ]:
        client = Client()
        before = Notification.objects.count()
        response = ask(client, address)
        page = client.get(response["Location"])
        answers[who] = (response.status_code, response["Location"], page.status_code, without_csrf(page.text))
        written[who] = Notification.objects.count() - before

    assert answers["known"] == answers["unknown"] == answers["unknown phone"] == answers["throttled"]
    assert written == {"known": 1, "unknown": 0, "unknown phone": 0, "known again": 1, "throttled": 0}
    assert PortalSignIn.objects.count() == 2
    [event] = SecurityEvent.objects.all()
    assert event.kind == SecurityEventKind.LOCKED_OUT
    assert event.user is None
    assert event.detail == {"portal": True, "throttled": "address"}  # never the address


def test_one_ip_address_gets_only_so_many_links_and_then_the_same_answer(world, kirsten, settings):
    settings.PORTAL_LINKS_PER_IP = 2
    add_relative(world.plan, world.coordinator, email="susanne@example.dk")
    same_ip = Client(REMOTE_ADDR="203.0.113.7")
    for address in ("nobody@example.dk", "99 88 77 66"):  # unknown: no link, so not counted
        ask(same_ip, address)

    answers = [ask(same_ip, address) for address in (KIRSTEN_EMAIL, KIRSTEN_PHONE, "susanne@example.dk")]
    elsewhere = ask(Client(REMOTE_ADDR="198.51.100.4"), "susanne@example.dk")

    assert {(answer.status_code, answer["Location"]) for answer in [*answers, elsewhere]} == {(302, SENT)}
    assert sorted(PortalSignIn.objects.values_list("ip_address", flat=True), key=str) == [
        "198.51.100.4",
        "203.0.113.7",
        "203.0.113.7",
    ]
    assert not PortalSignIn.objects.filter(email="susanne@example.dk", ip_address="203.0.113.7").exists()
    [event] = SecurityEvent.objects.all()
    assert event.kind == SecurityEventKind.LOCKED_OUT
    assert event.ip_address == "203.0.113.7"
    assert event.detail == {"portal": True, "throttled": "ip"}


def test_without_an_ip_address_only_the_address_is_counted(kirsten, settings):
    settings.PORTAL_LINKS_PER_IP = 0
    address = sign_in_address(text=KIRSTEN_EMAIL)
    assert address is not None

    assert sign_in_request(address=address, origin=RequestOrigin(ip_address=None)) is not None
    assert sign_in_request(address=address, origin=RequestOrigin(ip_address="203.0.113.7")) is None


def test_the_throttle_counts_only_links_that_went_to_the_typed_address(kirsten, settings):
    # Links by mail also keep her phone (the code goes there): they are no links to the phone.
    settings.PORTAL_LINKS_PER_ADDRESS = 2
    ask(Client(), KIRSTEN_EMAIL)
    ask(Client(), KIRSTEN_EMAIL)

    by_phone = ask(Client(), KIRSTEN_PHONE)
    by_mail_again = ask(Client(), KIRSTEN_EMAIL)

    assert by_phone["Location"] == by_mail_again["Location"] == SENT
    links = PortalSignIn.objects.order_by("pk").values_list("link_channel", flat=True)
    assert list(links) == [NotificationChannel.EMAIL, NotificationChannel.EMAIL, NotificationChannel.SMS]
    sms_link = PortalSignIn.objects.get(link_channel=NotificationChannel.SMS)
    assert messages_of(sms_link, NotificationKind.SIGN_IN_LINK).get().channel == NotificationChannel.SMS
    assert SecurityEvent.objects.get().detail == {"portal": True, "throttled": "address"}  # the 3rd by mail


def test_the_throttle_counts_only_the_last_15_minutes(kirsten, settings):
    settings.PORTAL_LINKS_PER_ADDRESS = 1
    ask(Client(), KIRSTEN_EMAIL)
    ask(Client(), KIRSTEN_EMAIL)
    assert PortalSignIn.objects.count() == 1

    PortalSignIn.objects.update(created_at=ago(minutes=16), expires_at=ago(minutes=1))
    ask(Client(), KIRSTEN_EMAIL)
    assert PortalSignIn.objects.count() == 2


def test_the_sign_in_page_says_which_way_the_code_comes():
    page = english().get(SIGN_IN)

    assert "If the link came by e-mail, the code comes by SMS." in page.text
    assert "If the link came by SMS, the code comes by e-mail." in page.text


def test_the_sign_in_page_gives_made_up_examples_not_a_real_persons_number(kirsten):
    page = english().get(SIGN_IN)
    refused = ask(english(), "not an address")

    assert "For example navn@mail.dk or 12\xa034\xa056\xa078." in page.text  # one line: no-break spaces
    assert "Write an e-mail like navn@mail.dk, or a mobile number" in refused.text
    for text in (page.text, refused.text):
        assert "22 41 63 18" not in text
        assert "anna@" not in text


def test_the_sent_page_says_a_link_was_sent_if_we_know_the_address(kirsten):
    client = english()
    page = client.get(ask(client, "nobody@example.dk")["Location"])

    assert "If we know the address, we have sent you a link. It works for 15 minutes." in page.text


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "kirsten",
        "anna@",
        "@example.dk",
        "2241631",
        "224163189",
        "+46 22 41 63 18",
        "a" * 250 + "@x.dk",
    ],
)
def test_an_address_that_is_neither_an_email_nor_a_mobile_number_is_refused_and_nothing_written(
    kirsten, typed
):
    response = ask(english(), typed)

    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert "Write" in response.text  # the field's error says what to write
    assert not PortalSignIn.objects.exists()
    assert not Notification.objects.filter(kind="sign_in_link").exists()


def test_only_patients_with_a_plan_the_portal_shows_get_a_link(world):
    other = world.other_patient  # the world's other plan is a draft
    other.email = "ole@example.dk"
    other.save()

    ask(Client(), "ole@example.dk")

    assert not PortalSignIn.objects.exists()


def test_an_address_two_patients_share_signs_in_neither_as_patient(kirsten, second_plan):
    second_plan.patient.email = KIRSTEN_EMAIL
    second_plan.patient.save()

    ask(Client(), KIRSTEN_EMAIL)

    assert not PortalSignIn.objects.exists()


def test_relatives_without_a_seeing_consent_children_and_removed_relatives_get_no_link(world):
    add_relative(world.plan, world.coordinator, scope=ConsentScope.CONTACT_ONLY, email="contact@example.dk")
    child = relatives.relative_add(
        actor=world.coordinator,
        plan=world.plan,
        name="Lille Poulsen",
        relation=Relation.GRANDCHILD,
        email="child@example.dk",
        is_child=True,
        child_age=12,
    )
    removed = add_relative(world.plan, world.coordinator, name="Tidligere", email="removed@example.dk")
    relatives.relative_remove(actor=world.coordinator, relative=removed, expected_version=removed.version)

    for address in ("contact@example.dk", child.email, "removed@example.dk"):
        ask(Client(), address)

    assert not PortalSignIn.objects.exists()


# --- the link -------------------------------------------------------------------------------------


def test_opening_the_link_page_spends_nothing_a_mail_scanner_may_fetch_it(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()

    for _fetch in range(3):
        page = Client().get(link_path(sign_in))
        assert page.status_code == 200
        assert f'action="{link_path(sign_in)}"' in page.text
        assert 'method="post"' in page.text

    sign_in.refresh_from_db()
    assert sign_in.link_opened_at is None
    assert sign_in.code() == ""
    assert not messages_of(sign_in, NotificationKind.SIGN_IN_CODE).exists()
    assert open_link(Client(), sign_in)["Location"] == CODE  # still works


def test_the_link_works_once(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()

    first = open_link(Client(), sign_in)
    again = open_link(Client(), sign_in)

    assert first.status_code == 302
    assert first["Location"] == CODE
    assert again.status_code == 410
    assert Client().get(link_path(sign_in)).status_code == 410
    assert messages_of(sign_in, NotificationKind.SIGN_IN_CODE).count() == 1


def test_the_link_works_for_15_minutes(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    ask(Client(), KIRSTEN_EMAIL)
    fresh, old = PortalSignIn.objects.order_by("pk")
    PortalSignIn.objects.filter(pk=fresh.pk).update(created_at=ago(minutes=14), expires_at=ago(minutes=-1))
    PortalSignIn.objects.filter(pk=old.pk).update(
        created_at=ago(minutes=15, seconds=1), expires_at=ago(seconds=1)
    )

    assert open_link(Client(), fresh).status_code == 302
    assert Client().get(link_path(old)).status_code == 410
    assert open_link(Client(), old).status_code == 410


def test_the_link_tapped_again_while_the_code_waits_goes_back_to_the_code_page(kirsten):
    # She pressed the button, went to her SMS app, and taps the link in the mail again.
    client = english()
    ask(client, KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(client, sign_in)
    code = code_of(sign_in)

    again = client.get(link_path(sign_in))
    pressed_again = open_link(client, sign_in)

    assert (again.status_code, again["Location"]) == (302, CODE)
    assert (pressed_again.status_code, pressed_again["Location"]) == (302, CODE)
    assert SIGN_IN_COOKIE not in pressed_again.cookies  # the same cookie: the code still fits
    assert messages_of(sign_in, NotificationKind.SIGN_IN_CODE).count() == 1  # no new code
    assert code_of(sign_in) == code
    assert client.get(CODE).status_code == 200
    assert client.post(CODE, {"code": code})["Location"] == HOME


def test_the_link_tapped_again_elsewhere_or_when_the_code_no_longer_waits_no_longer_works(kirsten):
    client = Client()
    ask(client, KIRSTEN_EMAIL)
    ask(client, KIRSTEN_EMAIL)
    first, second = PortalSignIn.objects.order_by("pk")
    open_link(client, first)
    cookie = client.cookies[SIGN_IN_COOKIE].value
    wrong_token = reverse("portal:sign-in-link", args=[first.public_id, "0" * 64])

    assert Client().get(link_path(first)).status_code == 410  # another browser
    assert client.get(wrong_token).status_code == 410
    assert client.get(link_path(second)).status_code == 200  # another link: its own button
    PortalSignIn.objects.filter(pk=first.pk).update(code_sent_at=ago(minutes=15, seconds=1))
    assert client.get(link_path(first)).status_code == 410  # the code expired
    assert client.post(link_path(first)).status_code == 410
    PortalSignIn.objects.filter(pk=first.pk).update(code_sent_at=timezone.now(), failed_codes=CODE_TRIES)
    assert client.get(link_path(first)).status_code == 410  # spent by wrong codes
    PortalSignIn.objects.filter(pk=first.pk).update(failed_codes=0, completed_at=timezone.now())
    assert client.get(link_path(first)).status_code == 410  # already used to sign in
    assert client.cookies[SIGN_IN_COOKIE].value == cookie  # the link page leaves the cookie
    assert messages_of(first, NotificationKind.SIGN_IN_CODE).count() == 1


def test_unknown_wrong_used_and_expired_links_all_get_the_same_page(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    ask(Client(), KIRSTEN_EMAIL)
    used, expired = PortalSignIn.objects.order_by("pk")
    open_link(Client(), used)
    PortalSignIn.objects.filter(pk=expired.pk).update(created_at=ago(minutes=20), expires_at=ago(minutes=5))
    wrong = reverse("portal:sign-in-link", args=[expired.public_id, "0" * 64])
    unknown = reverse("portal:sign-in-link", args=["6f1f9a1e-8d5b-4a44-9f47-2a7a3f3e0c11", "0" * 64])

    pages = [Client().get(path) for path in (link_path(used), link_path(expired), wrong, unknown)]
    pages += [Client().post(path) for path in (link_path(used), wrong, unknown)]

    assert {page.status_code for page in pages} == {410}
    assert len({without_csrf(page.text).replace(page.wsgi_request.path, "") for page in pages}) == 1
    assert f'href="{SIGN_IN}"' in pages[0].text  # ask for a new one


# --- the code -------------------------------------------------------------------------------------


def test_a_link_by_email_brings_the_code_by_sms_when_there_is_a_phone(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(Client(), sign_in)

    assert (sign_in.link_channel, sign_in.code_channel) == (
        NotificationChannel.EMAIL,
        NotificationChannel.SMS,
    )
    assert (sign_in.email, sign_in.phone) == (KIRSTEN_EMAIL, "22416318")
    [code] = messages_of(sign_in, NotificationKind.SIGN_IN_CODE)
    assert code.channel == NotificationChannel.SMS
    assert code.due_at <= timezone.now()


def test_a_link_by_sms_brings_the_code_by_email_when_there_is_an_address(kirsten):
    ask(Client(), KIRSTEN_PHONE)
    sign_in = PortalSignIn.objects.get()
    open_link(Client(), sign_in)

    assert (sign_in.link_channel, sign_in.code_channel) == (
        NotificationChannel.SMS,
        NotificationChannel.EMAIL,
    )
    assert messages_of(sign_in, NotificationKind.SIGN_IN_CODE).get().channel == NotificationChannel.EMAIL


def test_with_only_an_email_address_the_code_comes_by_email_too(kirsten):
    kirsten.phone = ""
    kirsten.save()
    ask(Client(), KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(Client(), sign_in)

    assert sign_in.code_channel == NotificationChannel.EMAIL
    assert messages_of(sign_in, NotificationKind.SIGN_IN_CODE).get().channel == NotificationChannel.EMAIL


def test_the_messages_hold_the_link_and_the_code_and_no_health_data(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(Client(), sign_in)
    sign_in.refresh_from_db()
    link = messages_of(sign_in, NotificationKind.SIGN_IN_LINK).get()
    code = messages_of(sign_in, NotificationKind.SIGN_IN_CODE).get()

    link_text = " ".join(sign_in.notification_text(link))
    code_text = " ".join(sign_in.notification_text(code))

    assert settings.SITE_URL.rstrip("/") + link_path(sign_in) in link_text
    assert re.search(rf"\b{sign_in.code()}\b", code_text)
    assert sign_in.code() not in link_text
    assert link_path(sign_in) not in code_text
    plan = kirsten.plans.get()
    for secret in (
        "Kirsten",
        "Testesen",
        kirsten.cpr,
        plan.title,
        "KOL",
        "diabetes",
        "Hjemmebesøg",
        "46 31 00 00",
    ):
        assert secret.lower() not in (link_text + code_text).lower()


def test_the_code_can_be_typed_only_in_the_browser_that_opened_the_link(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    opener, stranger = Client(), Client()
    open_link(opener, sign_in)

    assert stranger.get(CODE).status_code == 410
    assert stranger.post(CODE, {"code": code_of(sign_in)}).status_code == 410
    stranger.cookies[SIGN_IN_COOKIE] = f"{sign_in.public_id}:not-the-key"
    assert stranger.post(CODE, {"code": code_of(sign_in)}).status_code == 410
    assert opener.get(CODE).status_code == 200
    assert opener.post(CODE, {"code": code_of(sign_in)})["Location"] == HOME


def test_the_browser_cookie_is_httponly_for_the_portal_and_short_lived(kirsten):
    ask(Client(), KIRSTEN_EMAIL)
    response = open_link(Client(), PortalSignIn.objects.get())

    cookie = response.cookies[SIGN_IN_COOKIE]
    assert cookie["path"] == "/portal/"
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 15 * 60


def test_a_wrong_code_says_how_many_tries_are_left_and_the_fifth_spends_the_sign_in(kirsten):
    client = english()
    ask(client, KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(client, sign_in)
    right = code_of(sign_in)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    answers = [client.post(CODE, {"code": wrong}) for _try in range(CODE_TRIES - 1)]

    assert [a.status_code for a in answers] == [422] * 4
    assert "You can try 4 more times." in answers[0].text
    assert "You can try 1 more time." in answers[3].text
    last = client.post(CODE, {"code": wrong})
    assert last.status_code == 410
    assert "<h1>The code was wrong too many times</h1>" in last.text
    assert "Ask for a new link." in last.text
    assert "The link no longer works" not in last.text
    assert last.cookies[SIGN_IN_COOKIE]["max-age"] == 0
    assert client.post(CODE, {"code": right}).status_code == 410  # even the right code: ask for a new link
    sign_in.refresh_from_db()
    assert sign_in.failed_codes == CODE_TRIES
    assert sign_in.completed_at is None
    assert not PortalSession.objects.exists()
    kinds = list(SecurityEvent.objects.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds == [SecurityEventKind.LOGIN_FAILED] * 4 + [SecurityEventKind.LOCKED_OUT]


def test_a_code_that_is_not_6_digits_is_refused_without_costing_a_try(kirsten):
    client = Client()
    ask(client, KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(client, sign_in)

    for typed in ("", "12345", "abcdef", "1234567"):
        assert client.post(CODE, {"code": typed}).status_code == 422

    sign_in.refresh_from_db()
    assert sign_in.failed_codes == 0


def test_the_code_works_for_15_minutes(kirsten):
    client = Client()
    ask(client, KIRSTEN_EMAIL)
    sign_in = PortalSignIn.objects.get()
    open_link(client, sign_in)
    PortalSignIn.objects.filter(pk=sign_in.pk).update(code_sent_at=ago(minutes=15, seconds=1))

    assert client.post(CODE, {"code": code_of(sign_in)}).status_code == 410
    assert not PortalSession.objects.exists()


def test_the_right_code_signs_in_once_with_the_portal_cookie_and_no_staff_session(kirsten):
    client = Client()
    sign_in = signed_in(client)

    session = PortalSession.objects.get()
    assert session.patient == kirsten
    assert session.sign_in == sign_in
    assert readers_of(session)[0].plan == kirsten.plans.get()
    cookie = client.cookies[settings.PORTAL_SESSION_COOKIE]
    assert cookie["path"] == "/portal/"
    assert cookie["httponly"]
    assert client.cookies[SIGN_IN_COOKIE].value == ""  # the browser's sign-in cookie is gone
    sign_in.refresh_from_db()
    assert sign_in.completed_at is not None
    assert not Session.objects.exists()  # no django_session row
    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_SUCCEEDED)
    assert event.user is None
    assert event.detail["sign_in"] == str(sign_in.public_id)

    assert client.post(CODE, {"code": code_of(sign_in)}).status_code == 410
    assert PortalSession.objects.count() == 1


def test_signed_in_the_portal_home_opens_the_plan(kirsten):
    client = Client()
    signed_in(client)

    response = client.get(HOME, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("portal:plan", args=[kirsten.plans.get().public_id])


# --- relatives ------------------------------------------------------------------------------------


def test_a_relative_of_two_patients_signs_in_once_and_the_session_holds_both(world, second_plan):
    daughter = add_relative(world.plan, world.coordinator, phone="28 19 45 63")
    neighbour = add_relative(
        second_plan,
        world.coordinator,
        scope=ConsentScope.APPOINTMENTS,
        relation=Relation.OTHER,
        phone="+45 28194563",
    )
    client = Client()

    sign_in = signed_in(client, "susanne@example.dk")

    assert sign_in.patient is None
    assert set(sign_in.relatives.all()) == {daughter, neighbour}
    assert sign_in.plan == world.plan  # the first reader's plan carries the outbox rows
    assert (sign_in.code_channel, sign_in.phone) == (NotificationChannel.SMS, "28194563")  # both theirs
    assert Notification.objects.addressed_to(sign_in).count() == 2  # one link, one code
    session = PortalSession.objects.get()
    assert set(session.relatives.all()) == {daughter, neighbour}
    assert session.patient is None
    readers = {reader.plan: reader.scope for reader in readers_of(session)}
    assert readers == {world.plan: ConsentScope.WHOLE_PLAN, second_plan: ConsentScope.APPOINTMENTS}


def test_readers_sharing_an_email_but_not_a_phone_sign_in_only_as_the_one_the_code_reaches(
    world, second_plan
):
    # Two relatives of different patients with one e-mail and each their own phone (or none): the code
    # goes to the first one's phone, so it proves only her, and only she is in the session.
    first = add_relative(world.plan, world.coordinator, phone="28 19 45 63")
    other_phone = add_relative(second_plan, world.coordinator, name="Ib Bruun", phone="31 31 31 31")
    no_phone = add_relative(second_plan, world.coordinator, name="Eva Bruun", relation=Relation.OTHER)

    sign_in = signed_in(Client(), "susanne@example.dk")

    assert list(sign_in.relatives.all()) == [first]
    assert list(PortalSession.objects.get().relatives.all()) == [first]
    assert [reader.plan for reader in readers_of(PortalSession.objects.get())] == [world.plan]
    code = messages_of(sign_in, NotificationKind.SIGN_IN_CODE).get()
    assert (code.channel, sign_in.phone) == (NotificationChannel.SMS, "28194563")
    # The one left out signs in with her own phone, the code then by e-mail to the shared address.
    own = signed_in(Client(), "31 31 31 31")
    assert list(own.relatives.all()) == [other_phone]
    assert no_phone not in PortalSession.objects.latest("started_at").relatives.all()


def test_a_patient_sharing_an_email_with_a_relative_who_has_another_phone_signs_in_alone(
    world, kirsten, second_plan
):
    add_relative(second_plan, world.coordinator, email=KIRSTEN_EMAIL, phone="31 31 31 31")

    sign_in = signed_in(Client())

    assert sign_in.patient == kirsten
    assert not sign_in.relatives.exists()
    assert sign_in.phone == "22416318"
    assert len(readers_of(PortalSession.objects.get())) == 1


def test_a_patient_with_only_an_email_shared_with_a_relative_who_has_a_phone_signs_in_by_email(
    world, kirsten, second_plan
):
    # The patient comes first and has no phone: the code goes by e-mail, and proves only those with no
    # phone. The relative (who has one) is left out and signs in with her own phone.
    kirsten.phone = ""
    kirsten.save()
    relative = add_relative(second_plan, world.coordinator, email=KIRSTEN_EMAIL, phone="31 31 31 31")

    sign_in = signed_in(Client())

    assert sign_in.patient == kirsten
    assert not sign_in.relatives.exists()
    assert (sign_in.code_channel, sign_in.phone) == (NotificationChannel.EMAIL, "")
    code = messages_of(sign_in, NotificationKind.SIGN_IN_CODE).get()
    assert (code.channel, sign_in.email) == (NotificationChannel.EMAIL, KIRSTEN_EMAIL)
    assert [reader.plan for reader in readers_of(PortalSession.objects.get())] == [world.plan]
    own = signed_in(Client(), "31 31 31 31")
    assert own.patient is None
    assert list(own.relatives.all()) == [relative]


def test_the_first_relative_without_a_phone_decides_the_code_comes_by_email(world, second_plan):
    # No patient with this address: the first relative decides. She has no phone, so the code goes by
    # e-mail and the later relative with a phone is left out of this sign-in.
    first = add_relative(world.plan, world.coordinator)
    with_phone = add_relative(second_plan, world.coordinator, name="Ib Bruun", phone="31 31 31 31")

    sign_in = signed_in(Client(), "susanne@example.dk")

    assert sign_in.code_channel == NotificationChannel.EMAIL
    assert list(sign_in.relatives.all()) == [first]
    assert with_phone not in PortalSession.objects.get().relatives.all()


def test_without_a_phone_the_code_comes_by_email_and_proves_all_with_no_phone(world, second_plan):
    first = add_relative(world.plan, world.coordinator)
    second = add_relative(second_plan, world.coordinator, name="Ib Bruun", relation=Relation.OTHER)

    sign_in = signed_in(Client(), "susanne@example.dk")

    assert sign_in.code_channel == NotificationChannel.EMAIL
    assert set(PortalSession.objects.get().relatives.all()) == {first, second}


def test_a_patient_who_is_also_a_relative_signs_in_as_both(world, kirsten, second_plan):
    relative = add_relative(second_plan, world.coordinator, email=KIRSTEN_EMAIL, phone=KIRSTEN_PHONE)

    sign_in = signed_in(Client())

    assert sign_in.patient == kirsten
    assert list(sign_in.relatives.all()) == [relative]
    assert len(readers_of(PortalSession.objects.get())) == 2


# --- the session: idle timeout, sign-out ----------------------------------------------------------


def test_a_session_idle_for_30_minutes_is_sent_to_the_sign_in_and_29_minutes_is_still_in(
    kirsten, portal_client
):
    active, idle = portal_client(patient=kirsten), portal_client(patient=kirsten)
    sessions = PortalSession.objects.order_by("pk")
    PortalSession.objects.filter(pk=sessions[0].pk).update(last_seen_at=ago(minutes=29))
    PortalSession.objects.filter(pk=sessions[1].pk).update(last_seen_at=ago(minutes=30))

    still_in = active.get(HOME)
    sent_away = idle.get(HOME)

    assert still_in.status_code == 302
    assert still_in["Location"] != SIGN_IN
    assert sent_away.status_code == 302
    assert sent_away["Location"] == SIGN_IN
    ended = PortalSession.objects.get(pk=sessions[1].pk)
    assert ended.end_reason == SessionEnd.IDLE
    assert ended.ended_at is not None
    assert PortalSession.objects.get(pk=sessions[0].pk).ended_at is None
    assert idle.get(HOME)["Location"] == SIGN_IN  # and it stays ended


def test_sign_out_ends_the_session_and_forgets_the_cookie(kirsten, portal_client):
    client = portal_client(patient=kirsten)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.post(reverse("portal:sign-out"))

    assert response.status_code == 302
    assert response["Location"].startswith(SIGN_IN)
    assert response.cookies[settings.PORTAL_SESSION_COOKIE]["max-age"] == 0
    session = PortalSession.objects.get()
    assert session.end_reason == SessionEnd.SIGNED_OUT
    assert session.ended_at is not None
    assert "You are signed out." in client.get(response["Location"]).text
    assert client.get(HOME)["Location"] == SIGN_IN
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGGED_OUT, user=None).count() == 1


def test_sign_out_opened_as_a_page_asks_first_and_changes_nothing(kirsten, portal_client):
    client = portal_client(patient=kirsten)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    sign_out = reverse("portal:sign-out")

    page = client.get(sign_out)

    assert page.status_code == 200
    assert "Do you want to sign out?" in page.text
    assert f'<form method="post" action="{sign_out}">' in page.text
    assert f'href="{HOME}"' in page.text  # no: back
    assert PortalSession.objects.get().ended_at is None
    assert client.get(HOME).status_code == 302  # still signed in: on to the plan
    assert client.get(HOME)["Location"] != SIGN_IN
    assert client.post(sign_out)["Location"] == f"{SIGN_IN}?signed-out"
    assert PortalSession.objects.get().ended_at is not None


def test_sign_out_opened_as_a_page_when_not_signed_in_goes_to_the_sign_in(kirsten, portal_client):
    client = portal_client(patient=kirsten)
    client.post(reverse("portal:sign-out"))

    for stranger in (client, Client()):
        response = stranger.get(reverse("portal:sign-out"))
        assert response.status_code == 302
        assert response["Location"] == SIGN_IN


def test_an_old_session_cookie_still_signs_nothing_in_after_sign_out(kirsten, portal_client):
    client = portal_client(patient=kirsten)
    key = client.cookies[settings.PORTAL_SESSION_COOKIE].value
    client.post(reverse("portal:sign-out"))

    replay = Client()
    replay.cookies[settings.PORTAL_SESSION_COOKIE] = key
    assert replay.get(HOME)["Location"] == SIGN_IN


# --- staff and portal never mix -------------------------------------------------------------------


def test_a_staff_sign_in_opens_nothing_in_the_portal(world, kirsten):
    client = staff_sign_in(Client(), world.coordinator)

    response = client.get(HOME)
    plan = client.get(reverse("portal:plan", args=[kirsten.plans.get().public_id]))

    assert response.status_code == 302
    assert response["Location"] == SIGN_IN
    assert plan.status_code == 302
    assert plan["Location"] == SIGN_IN


def test_a_portal_session_opens_no_staff_page(kirsten, portal_client):
    client = portal_client(patient=kirsten)

    caseload = client.get(reverse("pathways:caseload"))
    plan = client.get(reverse("pathways:plan-detail", args=[kirsten.plans.get().public_id]))

    assert caseload.status_code == 302
    assert caseload["Location"].startswith(reverse("login"))
    assert plan.status_code == 302
    assert plan["Location"].startswith(reverse("login"))


# --- every sign-in page: not cached, few queries --------------------------------------------------


def test_no_sign_in_page_may_be_cached(kirsten):
    client = Client()
    responses = [client.get(SIGN_IN), ask(client, ""), ask(client, KIRSTEN_EMAIL), client.get(SENT)]
    sign_in = PortalSignIn.objects.get()
    responses += [client.get(link_path(sign_in)), open_link(client, sign_in), open_link(client, sign_in)]
    responses += [open_link(Client(), sign_in)]
    responses += [client.get(CODE), client.post(CODE, {"code": "1"})]
    responses += [client.post(CODE, {"code": code_of(sign_in)}), Client().get(CODE)]
    responses += [client.get(reverse("portal:sign-out")), client.post(reverse("portal:sign-out"))]
    responses += [client.get(reverse("portal:sign-out"))]

    assert [r.status_code for r in responses] == [
        200,
        422,
        302,
        200,
        200,
        302,
        302,
        410,
        200,
        422,
        302,
        410,
        200,
        302,
        302,
    ]
    for response in responses:
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, response.wsgi_request.path


def test_the_sign_in_pages_use_few_queries(kirsten, django_assert_max_num_queries):
    client = Client()
    with django_assert_max_num_queries(0):
        client.get(SIGN_IN)
    with django_assert_max_num_queries(4):
        ask(client, "nobody@example.dk")  # the patient, the relatives: none
    with django_assert_max_num_queries(10):
        ask(client, KIRSTEN_EMAIL)  # + the plan, the throttle, the sign-in, the outbox row
    sign_in = PortalSignIn.objects.get()
    with django_assert_max_num_queries(1):
        client.get(link_path(sign_in))
    with django_assert_max_num_queries(7):
        open_link(client, sign_in)
    with django_assert_max_num_queries(1):
        client.get(CODE)
    with django_assert_max_num_queries(1):
        client.get(link_path(sign_in))  # tapped again: the waiting sign-in, back to the code page
    code = code_of(sign_in)
    with django_assert_max_num_queries(12):
        client.post(CODE, {"code": code})
    with django_assert_max_num_queries(2):
        client.get(reverse("portal:sign-out"))  # the session, touched
    with django_assert_max_num_queries(6):
        client.post(reverse("portal:sign-out"))


# --- the admin: read only, no secrets -------------------------------------------------------------


def test_the_admin_shows_sign_ins_and_sessions_read_only_and_never_a_secret(world, kirsten):
    signed_in(Client())
    sign_in, session = PortalSignIn.objects.get(), PortalSession.objects.get()
    admin = staff_sign_in(Client(), world.admin)

    pages = []
    for model, obj in (("portalsignin", sign_in), ("portalsession", session)):
        listing = admin.get(reverse(f"admin:portal_{model}_changelist"))
        detail = admin.get(reverse(f"admin:portal_{model}_change", args=[obj.pk]))
        assert listing.status_code == detail.status_code == 200
        pages += [listing.text, detail.text]
        assert admin.get(reverse(f"admin:portal_{model}_add")).status_code == 403
        assert admin.post(reverse(f"admin:portal_{model}_change", args=[obj.pk]), {}).status_code == 403
        assert (
            admin.post(reverse(f"admin:portal_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code
            == 403
        )

    html = "".join(pages)
    for secret in (
        sign_in.salt,
        sign_in.code_salt,
        sign_in.browser_hash,
        session.key_hash,
        sign_in.link_token(),
    ):
        assert secret not in html
    for personal in (KIRSTEN_EMAIL, "22416318", "Kirsten", kirsten.cpr):
        assert personal not in html
    assert PortalSignIn.objects.count() == PortalSession.objects.count() == 1


# --- delivered: the link by mail, the code by SMS, through the local sinks ------------------------


@pytest.mark.parametrize(
    ("environment", "site_url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),  # the links point at the server make run starts
        ({"PORT": "8123", "FF_SITE_URL": "https://forloeb.example.dk"}, "https://forloeb.example.dk"),
    ],
)
def test_make_run_puts_its_own_web_port_in_the_links_unless_ff_site_url_is_set(environment, site_url):
    stack = Path(settings.BASE_DIR) / "config" / "stack.sh"
    result = subprocess.run(
        ["bash", "-c", 'source "$1" && web_address && echo "$FF_SITE_URL"', "bash", str(stack)],
        env={"PATH": os.environ["PATH"], **environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )

    assert result.stdout.strip() == site_url


def test_the_link_arrives_by_mail_and_the_code_by_sms_and_together_they_open_the_plan(
    kirsten, mail_sink, sms_sink
):
    client = Client()
    ask(client, KIRSTEN_EMAIL)
    outbox.deliver_due()  # what the worker does when the request commits

    [mail] = mail_sink.messages()
    assert mail["to"] == [KIRSTEN_EMAIL]
    link = re.search(r"https?://\S+/portal/log-ind/link/\S+/", mail["body"])
    assert link is not None
    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    assert client.post("/" + path)["Location"] == CODE
    outbox.deliver_due()

    [sms] = sms_sink.messages()
    assert sms["msisdn"] == 4522416318
    code = re.search(r"\b(\d{6})\b", sms["message"])
    assert code is not None
    assert client.post(CODE, {"code": code.group(1)})["Location"] == HOME
    plan_page = client.get(HOME, follow=True)
    assert plan_page.status_code == 200
    assert plan_page.redirect_chain[-1][0] == reverse("portal:plan", args=[kirsten.plans.get().public_id])
    sent = Notification.objects.addressed_to(PortalSignIn.objects.get()).filter(state=NotificationState.SENT)
    assert sent.count() == 2
