"""Staff sign-in as a user meets it: password, the second step, throttling, session limits, sign-out."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from pathways.choices import SecurityEventKind
from pathways.models import SecurityEvent
from pathways.signin import services
from pathways.signin.signals import AUTH_AT, SEEN_AT
from tests.conftest import PASSWORD, sign_in

CASELOAD = reverse("pathways:caseload")
LOGIN = reverse("login")
VERIFY = reverse("pathways:mfa-verify")
SETUP = reverse("pathways:mfa-setup")


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the user's app shows. A code is accepted once; the next step's code is within tolerance."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def password_step(client, user, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": user.username, "password": password}, **extra)


def enrol(user) -> TOTPDevice:
    device = services.mfa_totp_begin(user=user)
    assert services.mfa_totp_confirm(user=user, device_id=device.pk, token=code_for(device)) is not None
    device.refresh_from_db()
    return device


def _wait_out_throttle(device):
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=5)
    )


def events(kind, user=None):
    rows = SecurityEvent.objects.filter(kind=kind)
    return rows.filter(user=user) if user is not None else rows


# --- The second step -----------------------------------------------------------------------------------


def test_administrator_must_set_up_two_step_sign_in_before_anything_else(client, world):
    response = password_step(client, world.admin)
    assert response.status_code == 302
    assert response["Location"].startswith(SETUP)

    # Every other page sends them back to the set-up, the admin included.
    for url in (CASELOAD, reverse("admin:index"), reverse("pathways:account-security")):
        blocked = client.get(url)
        assert blocked.status_code == 302, url
        assert blocked["Location"].startswith(SETUP), url

    page = client.get(SETUP)
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code, inline
    assert "Not now" not in page.content.decode()  # no way around it for an administrator
    device = TOTPDevice.objects.get(user=world.admin, confirmed=False)

    wrong = client.post(SETUP, {"code": "000000"})
    assert wrong.status_code == 200
    assert not TOTPDevice.objects.filter(user=world.admin, confirmed=True).exists()
    assert client.get(CASELOAD).status_code == 302

    _wait_out_throttle(device)  # a wrong code pauses the next try for a second
    done = client.post(SETUP, {"code": code_for(device)})
    assert done.status_code == 200
    assert len(done.context["codes"]) == 10
    assert StaticToken.objects.filter(device__user=world.admin).count() == 10
    assert client.get(reverse("admin:index")).status_code == 200
    assert events(SecurityEventKind.MFA_ENROLLED, world.admin).count() == 1


def test_enrolled_user_signs_in_with_a_code_from_the_app(client, world):
    device = enrol(world.home_nurse)
    response = password_step(client, world.home_nurse)
    assert response["Location"].startswith(VERIFY)
    assert client.get(CASELOAD)["Location"].startswith(VERIFY)

    wrong = client.post(VERIFY, {"code": "123456"})
    assert wrong.status_code == 200
    assert "not accepted" in wrong.content.decode() or "ikke godkendt" in wrong.content.decode()
    assert events(SecurityEventKind.MFA_FAILED, world.home_nurse).count() == 1

    # django-otp pauses the device after a failure (1 s, then 2, 4 …): wait it out, as the user would.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=None, throttling_failure_count=0
    )
    right = client.post(VERIFY, {"code": code_for(device, steps_ahead=1), "next": CASELOAD})
    assert right.status_code == 302
    assert right["Location"] == CASELOAD
    assert client.get(CASELOAD).status_code == 200
    assert events(SecurityEventKind.MFA_VERIFIED, world.home_nurse).count() == 1


def test_a_recovery_code_works_once(client, world):
    enrol(world.home_nurse)
    codes = services.recovery_codes_regenerate(user=world.home_nurse)
    password_step(client, world.home_nurse)
    # Typed the way it is printed: with a dash and in capitals.
    printed = f"{codes[0][:4]}-{codes[0][4:]}".upper()
    assert client.post(VERIFY, {"code": printed}).status_code == 302
    assert client.get(CASELOAD).status_code == 200
    assert events(SecurityEventKind.MFA_RECOVERY_USED, world.home_nurse).get().detail == {"left": 9}

    client.post(reverse("logout"))
    password_step(client, world.home_nurse)
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 200  # refused the second time
    assert client.get(CASELOAD).status_code == 302


def test_clinician_is_offered_two_step_sign_in_and_may_skip_it(client, world):
    response = password_step(client, world.home_nurse)
    assert response["Location"].startswith(SETUP)
    assert "offer=1" in response["Location"]
    page = client.get(response["Location"])
    assert "Not now" in page.content.decode() or "Ikke nu" in page.content.decode()
    assert client.get(CASELOAD).status_code == 200


def test_setting_makes_two_step_sign_in_mandatory_for_all_staff(client, world, settings):
    settings.MFA_REQUIRED_FOR_ALL = True
    response = password_step(client, world.home_nurse)
    assert response["Location"].startswith(SETUP)
    assert "offer=1" not in response["Location"]
    assert client.get(CASELOAD)["Location"].startswith(SETUP)


def test_password_alone_cannot_move_the_second_factor_to_another_phone(client, world):
    enrol(world.home_nurse)
    password_step(client, world.home_nurse)
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=world.home_nurse).count() == 1


def test_unverified_htmx_and_api_calls_are_refused_not_redirected_into_the_page(client, world):
    enrol(world.home_nurse)
    password_step(client, world.home_nurse)
    htmx = client.get(CASELOAD, headers={"HX-Request": "true"})
    assert htmx.status_code == 204
    assert htmx["HX-Redirect"].startswith(VERIFY)
    api = client.get(reverse("api:plan-list"))
    assert api.status_code == 401


def test_sign_in_rotates_the_session_id(client, world):
    client.get(LOGIN)
    session = client.session
    session["before"] = True
    session.save()
    before = session.session_key
    password_step(client, world.home_nurse)
    assert client.session.session_key != before


# --- Throttling ----------------------------------------------------------------------------------------


def test_repeated_failures_pause_that_account_from_that_address_then_recover(client, world):
    for _ in range(4):
        assert password_step(client, world.home_nurse, password="wrong-password").status_code == 200
    # The fifth failure pauses the account from this address; even the right password is refused now.
    assert password_step(client, world.home_nurse, password="wrong-password").status_code == 429
    paused = password_step(client, world.home_nurse)
    assert paused.status_code == 429
    assert "15" in paused.content.decode()
    assert "_auth_user_id" not in client.session
    assert events(SecurityEventKind.LOCKED_OUT).exists()

    # The real user at another address is not locked out by someone guessing elsewhere.
    elsewhere = password_step(client, world.home_nurse, REMOTE_ADDR="10.20.30.40")
    assert elsewhere.status_code == 302
    client.post(reverse("logout"))

    # After the cool-off the pause lifts by itself.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert password_step(client, world.home_nurse).status_code == 302


def test_an_account_gets_at_most_the_hourly_ceiling_of_failures_from_all_addresses(client, world, settings):
    ceiling = settings.ACCOUNT_FAILURES_PER_HOUR
    assert ceiling <= 100  # ASVS 2.2.1
    now = timezone.now()
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(
            username=world.home_nurse.username,
            ip_address=f"10.0.{i // 250}.{i % 250}",
            user_agent="spray",
            http_accept="*/*",
            path_info=LOGIN,
            attempt_time=now - timedelta(minutes=30),
        )
        for i in range(ceiling)
    )
    refused = password_step(client, world.home_nurse)
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "too many" in refused.content.decode().lower() or "for mange" in refused.content.decode().lower()

    AccessFailureLog.objects.update(attempt_time=now - timedelta(minutes=61))
    assert password_step(client, world.home_nurse).status_code == 302


def test_failed_and_successful_sign_ins_are_security_events(client, world):
    password_step(client, world.gp_doctor, password="nope")
    password_step(client, world.gp_doctor)
    failed = events(SecurityEventKind.LOGIN_FAILED).get()
    assert failed.username == world.gp_doctor.username
    assert failed.ip_address == "127.0.0.1"
    assert events(SecurityEventKind.LOGIN_SUCCEEDED, world.gp_doctor).count() == 1


# --- Session limits ------------------------------------------------------------------------------------


def _age_session(client, *, auth_ago: timedelta, seen_ago: timedelta) -> None:
    session = client.session
    now = int(time.time())
    session[AUTH_AT] = now - int(auth_ago.total_seconds())
    session[SEEN_AT] = now - int(seen_ago.total_seconds())
    session.save()


def test_session_survives_29_minutes_idle(client, world):
    sign_in(client, world.home_nurse)
    _age_session(client, auth_ago=timedelta(hours=2), seen_ago=timedelta(minutes=29))
    assert client.get(CASELOAD).status_code == 200


def test_session_ends_after_30_minutes_idle(client, world):
    sign_in(client, world.home_nurse)
    _age_session(client, auth_ago=timedelta(hours=1), seen_ago=timedelta(minutes=31))
    response = client.get(CASELOAD, follow=True)
    assert response.redirect_chain[0][0].startswith(LOGIN)
    assert "30" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert events(SecurityEventKind.SESSION_EXPIRED, world.home_nurse).get().detail == {"reason": "idle"}


def test_session_ends_12_hours_after_sign_in_however_active(client, world):
    sign_in(client, world.home_nurse)
    _age_session(client, auth_ago=timedelta(hours=12, minutes=1), seen_ago=timedelta(minutes=1))
    response = client.get(CASELOAD)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert events(SecurityEventKind.SESSION_EXPIRED, world.home_nurse).get().detail == {"reason": "absolute"}


def test_session_cookie_lasts_no_longer_than_the_absolute_limit(settings):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_sign_out_everywhere_ends_the_other_sessions_too(client, world, django_user_model):
    from django.test import Client

    phone = Client()
    sign_in(client, world.home_nurse)
    sign_in(phone, world.home_nurse)
    assert phone.get(CASELOAD).status_code == 200
    response = client.post(reverse("pathways:logout-everywhere"))
    assert response.status_code == 302
    assert phone.get(CASELOAD).status_code == 302
    assert client.get(CASELOAD).status_code == 302
    assert events(SecurityEventKind.SESSIONS_REVOKED, world.home_nurse).count() == 1
    # Signing in again works.
    assert password_step(Client(), world.home_nurse).status_code == 302


# --- The account's security page -----------------------------------------------------------------------


def test_security_page_shows_recent_sign_ins_and_makes_new_recovery_codes(client, world):
    enrol(world.home_nurse)
    old = set(StaticToken.objects.filter(device__user=world.home_nurse).values_list("token", flat=True))
    sign_in(client, world.home_nurse)
    page = client.get(reverse("pathways:account-security"))
    assert page.status_code == 200
    assert page.context["recovery_left"] == 10
    response = client.post(reverse("pathways:recovery-codes-regenerate"))
    new = set(response.context["codes"])
    assert len(new) == 10
    assert not (new & old)
    assert (
        set(StaticToken.objects.filter(device__user=world.home_nurse).values_list("token", flat=True)) == new
    )


def test_administrator_cannot_switch_off_their_own_second_factor(client, world):
    sign_in(client, world.admin)
    client.post(reverse("pathways:mfa-remove"))
    assert TOTPDevice.objects.filter(user=world.admin, confirmed=True).exists()


def test_admin_resets_a_lost_phone_and_the_user_sets_it_up_again(client, world):
    enrol(world.home_nurse)
    sign_in(client, world.admin)
    response = client.post(
        reverse("admin:pathways_user_changelist"),
        {"action": "reset_two_step", "_selected_action": [world.home_nurse.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=world.home_nurse).exists()
    assert events(SecurityEventKind.MFA_REMOVED, world.home_nurse).get().detail == {"by": "admin"}


# --- API tokens ----------------------------------------------------------------------------------------


TOKEN = reverse("api:auth-token")


@pytest.mark.parametrize("enrolled", [False, True])
def test_api_token_needs_the_second_factor_where_the_account_has_one(client, world, enrolled):
    user = world.home_nurse
    if not enrolled:
        response = client.post(TOKEN, {"username": user.username, "password": PASSWORD})
        assert response.status_code == 200
        assert len(response.json()["token"]) == 40
        return
    device = enrol(user)
    without = client.post(TOKEN, {"username": user.username, "password": PASSWORD})
    assert without.status_code == 400
    with_code = client.post(
        TOKEN, {"username": user.username, "password": PASSWORD, "code": code_for(device, 1)}
    )
    assert with_code.status_code == 200
    assert events(SecurityEventKind.API_TOKEN_ISSUED, user).count() == 1
    # The same security events as the browser's second step: the failure and the pass.
    assert events(SecurityEventKind.MFA_FAILED, user).count() == 1
    assert events(SecurityEventKind.MFA_VERIFIED, user).count() == 1


def test_api_token_refused_to_an_administrator_without_a_second_factor(client, world):
    response = client.post(TOKEN, {"username": "admin", "password": PASSWORD})
    assert response.status_code == 403


def test_api_token_sign_in_is_throttled_like_the_browser(client, world):
    for attempt in range(5):
        bad = client.post(TOKEN, {"username": world.gp_doctor.username, "password": "wrong"})
        assert bad.status_code == (429 if attempt == 4 else 400)
    paused = client.post(TOKEN, {"username": world.gp_doctor.username, "password": PASSWORD})
    assert paused.status_code == 429
    assert "token" not in paused.json()


def test_api_token_rejects_malformed_input_without_a_500(client, world):
    assert client.post(TOKEN, {"username": ""}).status_code == 400
    assert client.post(TOKEN, "not json", content_type="application/json").status_code == 400
